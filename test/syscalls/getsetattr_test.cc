// Conformance tests for mq_getsetattr(2) (spec §7): flag validation before the fd check,
// the snapshot-then-apply order, O_NONBLOCK as a property of the open file description
// (shared by dup and fork, not by another mq_open), and the fcntl(F_SETFL) interplay.
#include <fcntl.h>
#include <mqueue.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/util/mq_test_util.h"

namespace mqsentry::testing {
namespace {

constexpr int kBadFd = 999;

mq_attr FlagsAttr(long flags) {
  mq_attr attr{};
  attr.mq_flags = flags;
  return attr;
}

// §7 step 2: "newattr->mq_flags & ~O_NONBLOCK -> EINVAL, before the fd check. This covers
// O_NONBLOCK|O_APPEND, and also 1<<40, because the full 64-bit long is tested."
TEST(MqGetSetAttr, InvalidFlagsAreEinvalBeforeEbadf_Spec7) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  for (long flags : {static_cast<long>(O_NONBLOCK | O_APPEND), 1L << 40, -1L,
                     static_cast<long>(O_RDWR), static_cast<long>(O_CLOEXEC)}) {
    SCOPED_TRACE(flags);
    const mq_attr attr = FlagsAttr(flags);
    EXPECT_THAT(RawMqGetSetAttr(kBadFd, &attr, nullptr), SyscallFailsWithErrno(EINVAL));
    EXPECT_THAT(RawMqGetSetAttr(q.fd(), &attr, nullptr), SyscallFailsWithErrno(EINVAL));
  }
  // Nothing was applied.
  EXPECT_EQ(GetAttr(q.fd()).mq_flags, 0);
}

// §7 step 1: "Copy newattr if non-NULL (EFAULT, before the fd check)."
TEST(MqGetSetAttr, BadNewattrPointerIsEfaultBeforeEbadf_Spec7) {
  EXPECT_THAT(RawMqGetSetAttr(kBadFd, static_cast<mq_attr*>(kBadPtr), nullptr),
              SyscallFailsWithErrno(EFAULT));
}

// §7 step 3: "Both pointers NULL on fd 999 -> EBADF. Both pointers NULL on a valid fd -> 0."
TEST(MqGetSetAttr, NullPointersCheckOnlyTheFd_Spec7) {
  EXPECT_THAT(RawMqGetSetAttr(kBadFd, nullptr, nullptr), SyscallFailsWithErrno(EBADF));
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  EXPECT_THAT(RawMqGetSetAttr(q.fd(), nullptr, nullptr), SyscallSucceedsWithValue(0));
}

// §7 step 3: "The fd is bad, or not an mq fd -> EBADF" (with valid flags).
TEST(MqGetSetAttr, NonMqFdIsEbadf_Spec7) {
  int pipefd[2];
  ASSERT_THAT(pipe2(pipefd, O_CLOEXEC), SyscallSucceeds());
  ScopedFd r(pipefd[0]), w(pipefd[1]);
  mq_attr old{};
  EXPECT_THAT(RawMqGetSetAttr(r.get(), nullptr, &old), SyscallFailsWithErrno(EBADF));
  const mq_attr attr = FlagsAttr(O_NONBLOCK);
  EXPECT_THAT(RawMqGetSetAttr(r.get(), &attr, nullptr), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(RawMqGetSetAttr(kBadFd, &attr, &old), SyscallFailsWithErrno(EBADF));
}

// §7 step 4: the snapshot is "{flags = f_flags & O_NONBLOCK (0 or 2048), maxmsg, msgsize,
// curmsgs, reserved = 0}"; §1.2 "__reserved ... Always 0 on output."
TEST(MqGetSetAttr, GetattrReportsAllFieldsAndZeroReserved_Spec7) {
  TestQueue q(5, 123);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "a"), SyscallSucceeds());
  ASSERT_THAT(Send(q.fd(), "bb"), SyscallSucceeds());
  mq_attr got;
  memset(&got, 0xff, sizeof(got));
  ASSERT_THAT(RawMqGetSetAttr(q.fd(), nullptr, &got), SyscallSucceeds());
  EXPECT_EQ(got.mq_flags, 0);
  EXPECT_EQ(got.mq_maxmsg, 5);
  EXPECT_EQ(got.mq_msgsize, 123);
  EXPECT_EQ(got.mq_curmsgs, 2);
  for (long pad : got.__pad) EXPECT_EQ(pad, 0);
}

// §7 step 4: "if oldattr is wanted, snapshot ... before applying the change".
TEST(MqGetSetAttr, OldattrIsTheStateBeforeTheChange_Spec7) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const mq_attr set = FlagsAttr(O_NONBLOCK);
  mq_attr old{};
  ASSERT_THAT(RawMqGetSetAttr(q.fd(), &set, &old), SyscallSucceeds());
  EXPECT_EQ(old.mq_flags, 0);
  ASSERT_THAT(RawMqGetSetAttr(q.fd(), &set, &old), SyscallSucceeds());
  EXPECT_EQ(old.mq_flags, O_NONBLOCK);
  const mq_attr clear = FlagsAttr(0);
  ASSERT_THAT(RawMqGetSetAttr(q.fd(), &clear, &old), SyscallSucceeds());
  EXPECT_EQ(old.mq_flags, 2048);
  EXPECT_EQ(GetAttr(q.fd()).mq_flags, 0);
}

// §7 step 4: "Every other field of newattr is ignored."
TEST(MqGetSetAttr, OtherNewattrFieldsAreIgnored_Spec7) {
  TestQueue q(4, 64);
  ASSERT_QUEUE_OK(q);
  mq_attr set;
  memset(&set, 0x7f, sizeof(set));
  set.mq_flags = O_NONBLOCK;
  set.mq_maxmsg = 1;
  set.mq_msgsize = 1;
  set.mq_curmsgs = 3;
  ASSERT_THAT(RawMqGetSetAttr(q.fd(), &set, nullptr), SyscallSucceeds());
  const mq_attr got = GetAttr(q.fd());
  EXPECT_EQ(got.mq_flags, O_NONBLOCK);
  EXPECT_EQ(got.mq_maxmsg, 4);
  EXPECT_EQ(got.mq_msgsize, 64);
  EXPECT_EQ(got.mq_curmsgs, 0);
}

// §7 step 5: "If this [oldattr copy-out] faults, the result is EFAULT, but the O_NONBLOCK
// change has already been applied."
TEST(MqGetSetAttr, OldattrFaultStillAppliesTheChange_Spec7) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const mq_attr set = FlagsAttr(O_NONBLOCK);
  EXPECT_THAT(RawMqGetSetAttr(q.fd(), &set, static_cast<mq_attr*>(kBadPtr)),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_EQ(GetAttr(q.fd()).mq_flags, O_NONBLOCK);
}

// O_NONBLOCK set by mq_setattr changes how send and receive behave (§5.1/§5.2 EAGAIN).
TEST(MqGetSetAttr, NonblockAffectsSendAndReceive_Spec7) {
  TestQueue q(1, 16);
  ASSERT_QUEUE_OK(q);
  const mq_attr set = FlagsAttr(O_NONBLOCK);
  ASSERT_THAT(RawMqGetSetAttr(q.fd(), &set, nullptr), SyscallSucceeds());
  std::string msg;
  EXPECT_THAT(Receive(q.fd(), &msg), SyscallFailsWithErrno(EAGAIN));
  ASSERT_THAT(Send(q.fd(), "x"), SyscallSucceeds());
  EXPECT_THAT(Send(q.fd(), "y"), SyscallFailsWithErrno(EAGAIN));
  // Cleared again: a past deadline now times out rather than EAGAIN.
  const mq_attr clear = FlagsAttr(0);
  ASSERT_THAT(RawMqGetSetAttr(q.fd(), &clear, nullptr), SyscallSucceeds());
  const struct timespec past = {0, 0};
  EXPECT_THAT(RawMqTimedSend(q.fd(), "y", 1, 0, &past), SyscallFailsWithErrno(ETIMEDOUT));
}

// §7: "O_NONBLOCK belongs to the open file description: it is shared with dup() copies".
TEST(MqGetSetAttr, NonblockIsSharedWithDup_Spec7) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  ScopedFd dupfd(dup(q.fd()));
  ASSERT_THAT(dupfd.get(), SyscallSucceeds());
  const mq_attr set = FlagsAttr(O_NONBLOCK);
  ASSERT_THAT(RawMqGetSetAttr(dupfd.get(), &set, nullptr), SyscallSucceeds());
  EXPECT_EQ(GetAttr(q.fd()).mq_flags, O_NONBLOCK);
}

// §7: "... and across fork()".
TEST(MqGetSetAttr, NonblockIsSharedAcrossFork_Spec7) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  ASSERT_CHILD_OK(RunInChild([&]() -> int {
    const mq_attr set = FlagsAttr(O_NONBLOCK);
    CHILD_CHECK_OK(RawMqGetSetAttr(q.fd(), &set, nullptr));
    return 0;
  }));
  EXPECT_EQ(GetAttr(q.fd()).mq_flags, O_NONBLOCK);
  const mq_attr clear = FlagsAttr(0);
  ASSERT_THAT(RawMqGetSetAttr(q.fd(), &clear, nullptr), SyscallSucceeds());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK_EQ(GetAttr(q.fd()).mq_flags, 0L);
    return 0;
  }));
}

// §7: "it is not shared with another mq_open of the same queue."
TEST(MqGetSetAttr, NonblockIsNotSharedWithAnotherOpen_Spec7) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  ScopedFd other(RawMqOpen(q.name().c_str(), O_RDWR));
  ASSERT_THAT(other.get(), SyscallSucceeds());
  const mq_attr set = FlagsAttr(O_NONBLOCK);
  ASSERT_THAT(RawMqGetSetAttr(q.fd(), &set, nullptr), SyscallSucceeds());
  EXPECT_EQ(GetAttr(q.fd()).mq_flags, O_NONBLOCK);
  EXPECT_EQ(GetAttr(other.get()).mq_flags, 0);
}

// §7: "fcntl(F_SETFL) works on the same flag. F_SETFL,0 clears it, as seen in mq_getattr.
// F_SETFL,O_NONBLOCK|O_APPEND sets it, and F_GETFL then shows O_APPEND. mq_setattr(flags=0)
// leaves O_APPEND alone."
TEST(MqGetSetAttr, FcntlSetflSharesTheFlag_Spec7) {
  TestQueue q(kDefaultMaxMsg, 64, O_RDWR | O_NONBLOCK);
  ASSERT_QUEUE_OK(q);
  EXPECT_EQ(GetAttr(q.fd()).mq_flags, O_NONBLOCK);
  ASSERT_THAT(fcntl(q.fd(), F_SETFL, 0), SyscallSucceeds());
  EXPECT_EQ(GetAttr(q.fd()).mq_flags, 0);
  ASSERT_THAT(fcntl(q.fd(), F_SETFL, O_NONBLOCK | O_APPEND), SyscallSucceeds());
  EXPECT_EQ(GetAttr(q.fd()).mq_flags, O_NONBLOCK);
  EXPECT_THAT(fcntl(q.fd(), F_GETFL), SyscallSucceedsWithValue(O_RDWR | O_NONBLOCK | O_APPEND));
  const mq_attr clear = FlagsAttr(0);
  ASSERT_THAT(RawMqGetSetAttr(q.fd(), &clear, nullptr), SyscallSucceeds());
  EXPECT_THAT(fcntl(q.fd(), F_GETFL), SyscallSucceedsWithValue(O_RDWR | O_APPEND));
  const mq_attr set = FlagsAttr(O_NONBLOCK);
  ASSERT_THAT(RawMqGetSetAttr(q.fd(), &set, nullptr), SyscallSucceeds());
  EXPECT_THAT(fcntl(q.fd(), F_GETFL), SyscallSucceedsWithValue(O_RDWR | O_NONBLOCK | O_APPEND));
}

// §7: "F_SETFL O_DIRECT -> EINVAL."
TEST(MqGetSetAttr, FcntlSetflODirectIsEinval_Spec7) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  EXPECT_THAT(fcntl(q.fd(), F_SETFL, O_DIRECT), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(fcntl(q.fd(), F_GETFL), SyscallSucceedsWithValue(O_RDWR));
}

// §7: "The call needs no access mode: it works on O_WRONLY and access-mode-3 fds."
TEST(MqGetSetAttr, WorksOnWriteOnlyAndAccessMode3_Spec7) {
  TestQueue q(3, 33);
  ASSERT_QUEUE_OK(q);
  ScopedFd wo(RawMqOpen(q.name().c_str(), O_WRONLY));
  ASSERT_THAT(wo.get(), SyscallSucceeds());
  const mq_attr set = FlagsAttr(O_NONBLOCK);
  mq_attr old{};
  ASSERT_THAT(RawMqGetSetAttr(wo.get(), &set, &old), SyscallSucceeds());
  EXPECT_EQ(old.mq_maxmsg, 3);
  EXPECT_EQ(GetAttr(wo.get()).mq_flags, O_NONBLOCK);

  const std::string name3 = UniqueName();
  QueueCleanup cleanup(name3);
  const mq_attr attr = MakeAttr(2, 22);
  ScopedFd m3(RawMqOpen(name3.c_str(), 3 | O_CREAT | O_EXCL, 0600, &attr));
  ASSERT_THAT(m3.get(), SyscallSucceeds());
  ASSERT_THAT(RawMqGetSetAttr(m3.get(), &set, &old), SyscallSucceeds());
  EXPECT_EQ(old.mq_maxmsg, 2);
  EXPECT_EQ(old.mq_msgsize, 22);
  EXPECT_EQ(old.mq_flags, 0);
  EXPECT_EQ(GetAttr(m3.get()).mq_flags, O_NONBLOCK);
}

// §7 / §5.1: curmsgs follows sends and receives, seen through any descriptor.
TEST(MqGetSetAttr, CurmsgsTracksTheQueue_Spec7) {
  TestQueue q(4, 16);
  ASSERT_QUEUE_OK(q);
  ScopedFd ro(RawMqOpen(q.name().c_str(), O_RDONLY));
  ASSERT_THAT(ro.get(), SyscallSucceeds());
  EXPECT_EQ(CurMsgs(ro.get()), 0);
  ASSERT_THAT(Send(q.fd(), "1"), SyscallSucceeds());
  ASSERT_THAT(Send(q.fd(), "2"), SyscallSucceeds());
  ASSERT_THAT(Send(q.fd(), "3"), SyscallSucceeds());
  EXPECT_EQ(CurMsgs(ro.get()), 3);
  std::string msg;
  ASSERT_THAT(Receive(ro.get(), &msg), SyscallSucceeds());
  EXPECT_EQ(CurMsgs(q.fd()), 2);
}

// §1.6: "mq_getattr(q, a) is mq_getsetattr(q, NULL, a). mq_setattr(q, n, o) is
// mq_getsetattr(q, n, o)." glibc passes invalid flags straight through.
TEST(MqGetSetAttr, GlibcGetattrAndSetattr_Spec1_6) {
  TestQueue q(6, 60);
  ASSERT_QUEUE_OK(q);
  mq_attr got{};
  ASSERT_EQ(mq_getattr(q.fd(), &got), 0);
  EXPECT_EQ(got.mq_maxmsg, 6);
  EXPECT_EQ(got.mq_msgsize, 60);
  mq_attr set = FlagsAttr(O_NONBLOCK), old{};
  ASSERT_EQ(mq_setattr(q.fd(), &set, &old), 0);
  EXPECT_EQ(old.mq_flags, 0);
  ASSERT_EQ(mq_getattr(q.fd(), &got), 0);
  EXPECT_EQ(got.mq_flags, O_NONBLOCK);
  set.mq_flags = O_NONBLOCK | O_APPEND;
  errno = 0;
  EXPECT_EQ(mq_setattr(kBadFd, &set, nullptr), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(mq_getattr(kBadFd, &got), -1);
  EXPECT_EQ(errno, EBADF);
}

}  // namespace
}  // namespace mqsentry::testing
