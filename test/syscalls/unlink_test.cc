// Conformance tests for mq_unlink(2) (spec §4): the order of checks, the sticky-directory
// rule (EPERM from the kernel, EACCES from glibc), and what happens to a queue that is
// unlinked while descriptors are open.
#include <fcntl.h>
#include <linux/capability.h>
#include <mqueue.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/util/mq_test_util.h"

namespace mqsentry::testing {
namespace {

// §4 step 4: "Negative entry -> ENOENT."
TEST(MqUnlink, MissingNameIsEnoent_Spec4) {
  EXPECT_THAT(RawMqUnlink(UniqueName().c_str()), SyscallFailsWithErrno(ENOENT));
}

// §4 step 1: getname: "ENOENT ("")".
TEST(MqUnlink, EmptyNameIsEnoent_Spec4) {
  EXPECT_THAT(RawMqUnlink(""), SyscallFailsWithErrno(ENOENT));
}

// §4 step 1: getname: "EFAULT, ENAMETOOLONG (>= 4096)".
TEST(MqUnlink, BadPointerAndHugeNameFailInGetname_Spec4) {
  EXPECT_THAT(RawMqUnlink(static_cast<const char*>(kBadPtr)), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(RawMqUnlink(std::string(4096, 'u').c_str()), SyscallFailsWithErrno(ENAMETOOLONG));
}

// §4 step 3: "Lookup: EACCES for ., .., or names containing '/'; ENAMETOOLONG for more than
// 255 bytes."
TEST(MqUnlink, DotNamesAndSlashesAreEacces_Spec4) {
  for (const char* name : {".", "..", "a/b", "/x", "a/"}) {
    SCOPED_TRACE(name);
    EXPECT_THAT(RawMqUnlink(name), SyscallFailsWithErrno(EACCES));
  }
  std::string slashed(300, 'q');
  slashed[5] = '/';
  EXPECT_THAT(RawMqUnlink(slashed.c_str()), SyscallFailsWithErrno(EACCES));
}

// §4 step 3: "ENAMETOOLONG for more than 255 bytes" (not ENOENT, although it cannot exist).
TEST(MqUnlink, NameOver255BytesIsEnametoolong_Spec4) {
  EXPECT_THAT(RawMqUnlink(std::string(256, 'l').c_str()), SyscallFailsWithErrno(ENAMETOOLONG));
  EXPECT_THAT(RawMqUnlink(std::string(4095, 'l').c_str()), SyscallFailsWithErrno(ENAMETOOLONG));
}

// §1.6: glibc mq_unlink: "Same '/' check: EINVAL if the name does not start with '/'."
TEST(MqUnlink, GlibcRejectsNameWithoutSlash_Spec1_6) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  errno = 0;
  EXPECT_EQ(mq_unlink(q.name().c_str()), -1);
  EXPECT_EQ(errno, EINVAL);
  // The queue is still there.
  ScopedFd fd(RawMqOpen(q.name().c_str(), O_RDONLY));
  EXPECT_THAT(fd.get(), SyscallSucceeds());
  errno = 0;
  EXPECT_EQ(mq_unlink("/."), -1);
  EXPECT_EQ(errno, EACCES);
  errno = 0;
  EXPECT_EQ(mq_unlink("/"), -1);
  EXPECT_EQ(errno, ENOENT);
}

// §4: "The name is removed immediately"; a second unlink is ENOENT.
TEST(MqUnlink, NameIsRemovedImmediately_Spec4) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(RawMqUnlink(q.name().c_str()), SyscallSucceeds());
  EXPECT_THAT(RawMqOpen(q.name().c_str(), O_RDONLY), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(RawMqUnlink(q.name().c_str()), SyscallFailsWithErrno(ENOENT));
}

// §4: "The queue lives on while descriptors exist: sends and receives keep working ...
// fstat st_nlink drops from 1 to 0".
TEST(MqUnlink, UnlinkedQueueKeepsWorkingWithNlinkZero_Spec4) {
  TestQueue q(4, 32);
  ASSERT_QUEUE_OK(q);
  struct stat st;
  ASSERT_THAT(fstat(q.fd(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_nlink, 1u);
  ASSERT_THAT(Send(q.fd(), "before", 2), SyscallSucceeds());
  ASSERT_THAT(RawMqUnlink(q.name().c_str()), SyscallSucceeds());
  ASSERT_THAT(fstat(q.fd(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_nlink, 0u);
  ASSERT_THAT(Send(q.fd(), "after", 9), SyscallSucceeds());
  EXPECT_EQ(CurMsgs(q.fd()), 2);
  std::string msg;
  unsigned prio = 0;
  ASSERT_THAT(Receive(q.fd(), &msg, &prio), SyscallSucceedsWithValue(5));
  EXPECT_EQ(msg, "after");
  EXPECT_EQ(prio, 9u);
  ASSERT_THAT(Receive(q.fd(), &msg, &prio), SyscallSucceedsWithValue(6));
  EXPECT_EQ(msg, "before");
}

// §4: "A new queue with the same name can be created at once; it is completely independent."
TEST(MqUnlink, SameNameCanBeReusedForAnIndependentQueue_Spec4) {
  TestQueue q(4, 32);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "old", 1), SyscallSucceeds());
  ASSERT_THAT(RawMqUnlink(q.name().c_str()), SyscallSucceeds());
  const mq_attr attr = MakeAttr(2, 100);
  ScopedFd fresh(RawMqOpen(q.name().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr));
  ASSERT_THAT(fresh.get(), SyscallSucceeds());
  mq_attr got = GetAttr(fresh.get());
  EXPECT_EQ(got.mq_maxmsg, 2);
  EXPECT_EQ(got.mq_msgsize, 100);
  EXPECT_EQ(got.mq_curmsgs, 0);
  ASSERT_THAT(Send(fresh.get(), "new", 1), SyscallSucceeds());
  // The old queue still has exactly its own message.
  EXPECT_EQ(CurMsgs(q.fd()), 1);
  std::string msg;
  ASSERT_THAT(Receive(q.fd(), &msg), SyscallSucceeds());
  EXPECT_EQ(msg, "old");
  ASSERT_THAT(Receive(fresh.get(), &msg), SyscallSucceeds());
  EXPECT_EQ(msg, "new");
  struct stat st;
  ASSERT_THAT(fstat(fresh.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_nlink, 1u);
}

// §4: "Queues have kernel persistence: if never unlinked they remain after every process
// exits" -- a queue created by an exited child is still there with its messages.
TEST(MqUnlink, QueueOutlivesItsCreator_Spec4) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  ASSERT_CHILD_OK(RunInChild([&]() -> int {
    const mq_attr attr = MakeAttr(2, 16);
    const int fd = RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    CHILD_CHECK_OK(fd);
    CHILD_CHECK_OK(RawMqTimedSend(fd, "left", 4, 4, nullptr));
    return 0;
  }));
  ScopedFd fd(RawMqOpen(name.c_str(), O_RDONLY));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  std::string msg;
  unsigned prio = 0;
  ASSERT_THAT(Receive(fd.get(), &msg, &prio), SyscallSucceedsWithValue(4));
  EXPECT_EQ(msg, "left");
  EXPECT_EQ(prio, 4u);
}

// §4 step 5 and §1.6: "A raw syscall from uid 23456 on a queue owned by 12345 with mode 0666
// gives EPERM", and glibc "turns EPERM into EACCES".
TEST(MqUnlink, NonOwnerGetsEpermRawAndEaccesFromGlibc_Spec4) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  ASSERT_CHILD_OK(CreateQueueAs(12345, 12345, name, 0666));
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK_OK(SwitchToUser(23456, 12345));
    // Write permission on the queue itself does not matter: the sticky rule does.
    const int fd = RawMqOpen(name.c_str(), O_RDWR);
    CHILD_CHECK_OK(fd);
    close(fd);
    CHILD_CHECK_ERRNO(RawMqUnlink(name.c_str()), EPERM);
    CHILD_CHECK_ERRNO(mq_unlink(Slash(name).c_str()), EACCES);
    return 0;
  }));
  // Still linked.
  ScopedFd fd(RawMqOpen(name.c_str(), O_RDONLY));
  EXPECT_THAT(fd.get(), SyscallSucceeds());
}

// §4 step 5: "allowed if the caller's fsuid equals the queue's uid".
TEST(MqUnlink, OwnerCanUnlinkWithoutPrivilege_Spec4) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  ASSERT_CHILD_OK(CreateQueueAs(12345, 12345, name, 0));
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK_OK(SwitchToUser(12345, 999));
    // Mode 0 does not matter either.
    CHILD_CHECK_OK(RawMqUnlink(name.c_str()));
    return 0;
  }));
  EXPECT_THAT(RawMqOpen(name.c_str(), O_RDONLY), SyscallFailsWithErrno(ENOENT));
}

// §4: "In the initial namespace the root directory is owned by uid 0, so any fsuid-0 process
// can unlink every queue even without CAP_FOWNER" -- the root directory of this test's IPC
// namespace belongs to its creator, which ran with fsuid 0.
TEST(MqUnlink, Fsuid0CanUnlinkAnyQueueWithoutCapabilities_Spec4) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  ASSERT_CHILD_OK(CreateQueueAs(12345, 12345, name, 0600));
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK_OK(DropCapabilities({CAP_FOWNER, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH}));
    CHILD_CHECK(!HaveEffectiveCapability(CAP_FOWNER));
    // Cannot open it (mode 0600, owner 12345) ...
    CHILD_CHECK_ERRNO(RawMqOpen(name.c_str(), O_RDONLY), EACCES);
    // ... but can unlink it.
    CHILD_CHECK_OK(RawMqUnlink(name.c_str()));
    return 0;
  }));
}

// §4 step 5: "... or the caller has CAP_FOWNER" -- a non-zero fsuid with CAP_FOWNER.
TEST(MqUnlink, CapFownerOverridesStickyRule_Spec4) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  ASSERT_CHILD_OK(CreateQueueAs(12345, 12345, name, 0600));
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    // fsuid 23456 with euid 0: CAP_FOWNER is dropped from the effective set by the
    // fsuid change, so put it back explicitly.
    CHILD_CHECK_OK(syscall(SYS_setfsuid, 23456));
    CHILD_CHECK_EQ(syscall(SYS_setfsuid, -1), 23456);
    CHILD_CHECK(!HaveEffectiveCapability(CAP_FOWNER));
    CHILD_CHECK_ERRNO(RawMqUnlink(name.c_str()), EPERM);
    return 0;
  }));
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK_OK(syscall(SYS_setfsuid, 23456));
    CHILD_CHECK(!HaveEffectiveCapability(CAP_FOWNER));
    // Re-raise CAP_FOWNER (still permitted) in the effective set.
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    CHILD_CHECK_OK(syscall(SYS_capget, &header, data));
    data[0].effective |= 1u << CAP_FOWNER;
    CHILD_CHECK_OK(syscall(SYS_capset, &header, data));
    CHILD_CHECK(HaveEffectiveCapability(CAP_FOWNER));
    CHILD_CHECK_OK(RawMqUnlink(name.c_str()));
    return 0;
  }));
}

// §4: "blocked waiters are not woken" by unlink; the queue keeps serving them.
TEST(MqUnlink, UnlinkDoesNotWakeBlockedReceiver_Spec4) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  std::atomic<pid_t> tid{0};
  std::atomic<ssize_t> result{-2};
  std::string got;
  std::thread receiver([&] {
    tid = gettid();
    result = Receive(q.fd(), &got);
  });
  while (tid == 0) SleepMs(1);
  ASSERT_TRUE(WaitUntilBlockedInSyscall(tid, SYS_mq_timedreceive));
  ASSERT_THAT(RawMqUnlink(q.name().c_str()), SyscallSucceeds());
  SleepMs(50);
  EXPECT_EQ(result.load(), -2) << "the receiver returned after unlink";
  EXPECT_TRUE(Asleep(tid));
  ASSERT_THAT(Send(q.fd(), "wake", 0), SyscallSucceeds());
  receiver.join();
  EXPECT_EQ(result.load(), 4);
  EXPECT_EQ(got, "wake");
}

}  // namespace
}  // namespace mqsentry::testing
