// Conformance tests for mq and IPC namespaces (spec §9): one name table and one set of
// sysctls per IPC namespace, the calling thread's namespace decides, setns switches, sysctl
// validation and ownership, and descriptors that outlive their namespace.
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/util/mq_test_util.h"

namespace mqsentry::testing {
namespace {

// §9.1: "A queue in the host namespace is ENOENT from inside unshare -i"; the new namespace
// has its own, independent name table.
TEST(MqNamespace, QueueIsInvisibleFromANewIpcNamespace_Spec9_1) {
  TestQueue q(3, 30);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "host"), SyscallSucceeds());
  EXPECT_CHILD_OK(RunInFreshIpcNamespace([&]() -> int {
    CHILD_CHECK_ERRNO(RawMqOpen(q.name().c_str(), O_RDONLY), ENOENT);
    CHILD_CHECK_ERRNO(RawMqUnlink(q.name().c_str()), ENOENT);
    // The same name can be created here, independently.
    const mq_attr attr = MakeAttr(5, 50);
    const int fd = RawMqOpen(q.name().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    CHILD_CHECK_OK(fd);
    CHILD_CHECK_EQ(GetAttr(fd).mq_curmsgs, 0L);
    // The descriptor inherited from the parent still reaches the parent's queue.
    CHILD_CHECK_EQ(GetAttr(q.fd()).mq_curmsgs, 1L);
    CHILD_CHECK_EQ(GetAttr(q.fd()).mq_maxmsg, 3L);
    return 0;
  }));
  // The parent's queue is untouched.
  ScopedFd fd(RawMqOpen(q.name().c_str(), O_RDONLY));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  EXPECT_EQ(GetAttr(fd.get()).mq_maxmsg, 3);
  EXPECT_EQ(GetAttr(fd.get()).mq_curmsgs, 1);
}

// §9.1: "mq_* calls always use the calling task's current IPC namespace (setns changes it
// for later calls)."
TEST(MqNamespace, SetnsSwitchesTheNamespaceForLaterCalls_Spec9_1) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    const int nsfd = open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK_OK(nsfd);
    CHILD_CHECK_OK(unshare(CLONE_NEWIPC));
    CHILD_CHECK_ERRNO(RawMqOpen(q.name().c_str(), O_RDONLY), ENOENT);
    const std::string local = UniqueName();
    const int lfd = RawMqOpen(local.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, nullptr);
    CHILD_CHECK_OK(lfd);
    const int newns = open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK_OK(newns);
    CHILD_CHECK_OK(setns(nsfd, CLONE_NEWIPC));
    const int fd = RawMqOpen(q.name().c_str(), O_RDONLY);
    CHILD_CHECK_OK(fd);
    CHILD_CHECK_ERRNO(RawMqOpen(local.c_str(), O_RDONLY), ENOENT);
    // And back into the namespace created above.
    CHILD_CHECK_OK(setns(newns, CLONE_NEWIPC));
    CHILD_CHECK_ERRNO(RawMqOpen(q.name().c_str(), O_RDONLY), ENOENT);
    const int again = RawMqOpen(local.c_str(), O_RDONLY);
    CHILD_CHECK_OK(again);
    return 0;
  }));
}

// §9.1: the namespace is per task: a thread that unshares its IPC namespace no longer sees
// the queue, while the other threads of the process still do.
TEST(MqNamespace, NamespaceIsThatOfTheCallingThread_Spec9_1) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    int thread_result = -1;
    std::thread t([&] {
      if (unshare(CLONE_NEWIPC) != 0) {
        thread_result = 1;
        return;
      }
      errno = 0;
      const int fd = RawMqOpen(q.name().c_str(), O_RDONLY);
      thread_result = (fd == -1 && errno == ENOENT) ? 0 : 2;
    });
    t.join();
    CHILD_CHECK_EQ(thread_result, 0);
    const int fd = RawMqOpen(q.name().c_str(), O_RDONLY);
    CHILD_CHECK_OK(fd);
    return 0;
  }));
}

// §9.2: "A fresh namespace always starts from these defaults; nothing is inherited from the
// parent."
TEST(MqNamespace, SysctlsStartAtDefaultsInEveryNewNamespace_Spec9_2) {
  EXPECT_CHILD_OK(RunInFreshIpcNamespace([]() -> int {
    CHILD_CHECK_EQ(ReadSysctl("msg_max"), std::string("10"));
    CHILD_CHECK_EQ(ReadSysctl("msgsize_max"), std::string("8192"));
    CHILD_CHECK_EQ(ReadSysctl("msg_default"), std::string("10"));
    CHILD_CHECK_EQ(ReadSysctl("msgsize_default"), std::string("8192"));
    CHILD_CHECK_EQ(ReadSysctl("queues_max"), std::string("256"));
    CHILD_CHECK_OK(WriteSysctl("msg_max", "20"));
    CHILD_CHECK_OK(WriteSysctl("msgsize_max", "16384"));
    CHILD_CHECK_OK(WriteSysctl("msg_default", "5"));
    CHILD_CHECK_OK(WriteSysctl("msgsize_default", "1000"));
    CHILD_CHECK_OK(WriteSysctl("queues_max", "7"));
    CHILD_CHECK_EQ(ReadSysctl("msg_max"), std::string("20"));
    // A namespace created from this one starts from the defaults again.
    CHILD_CHECK_EQ(RunInFreshIpcNamespace([]() -> int {
                     CHILD_CHECK_EQ(ReadSysctl("msg_max"), std::string("10"));
                     CHILD_CHECK_EQ(ReadSysctl("msgsize_max"), std::string("8192"));
                     CHILD_CHECK_EQ(ReadSysctl("msg_default"), std::string("10"));
                     CHILD_CHECK_EQ(ReadSysctl("msgsize_default"), std::string("8192"));
                     CHILD_CHECK_EQ(ReadSysctl("queues_max"), std::string("256"));
                     return 0;
                   }),
                   0);
    // And this namespace kept its values.
    CHILD_CHECK_EQ(ReadSysctl("queues_max"), std::string("7"));
    return 0;
  }));
  // The test's own namespace was not changed by the children.
  EXPECT_EQ(ReadSysctl("msg_max"), "10");
  EXPECT_EQ(ReadSysctl("queues_max"), "256");
}

// §9.2 table: msg_max and msg_default accept 1..65536; msgsize_max and msgsize_default
// 128..16777216; queues_max any int; "Only the first integer of a write is parsed ("12 13"
// sets 12). Non-numeric input -> EINVAL." (The write then reports 3 bytes written.)
TEST(MqNamespace, SysctlWritesAreValidated_Spec9_2) {
  EXPECT_CHILD_OK(RunInFreshIpcNamespace([]() -> int {
    for (const char* name : {"msg_max", "msg_default"}) {
      CHILD_CHECK_ERRNO(WriteSysctl(name, "0"), EINVAL);
      CHILD_CHECK_ERRNO(WriteSysctl(name, "65537"), EINVAL);
      CHILD_CHECK_ERRNO(WriteSysctl(name, "-1"), EINVAL);
      CHILD_CHECK_OK(WriteSysctl(name, "1"));
      CHILD_CHECK_OK(WriteSysctl(name, "65536"));
      CHILD_CHECK_EQ(ReadSysctl(name), std::string("65536"));
    }
    for (const char* name : {"msgsize_max", "msgsize_default"}) {
      CHILD_CHECK_ERRNO(WriteSysctl(name, "127"), EINVAL);
      CHILD_CHECK_ERRNO(WriteSysctl(name, "16777217"), EINVAL);
      CHILD_CHECK_OK(WriteSysctl(name, "128"));
      CHILD_CHECK_OK(WriteSysctl(name, "16777216"));
      CHILD_CHECK_EQ(ReadSysctl(name), std::string("16777216"));
    }
    CHILD_CHECK_ERRNO(WriteSysctl("queues_max", "2147483648"), EINVAL);
    CHILD_CHECK_OK(WriteSysctl("queues_max", "-1"));
    CHILD_CHECK_EQ(ReadSysctl("queues_max"), std::string("-1"));
    // The write consumes "12 " (3 of 5 bytes) and stops.
    const int fd = open("/proc/sys/fs/mqueue/queues_max", O_WRONLY | O_CLOEXEC);
    CHILD_CHECK_OK(fd);
    CHILD_CHECK_EQ(write(fd, "12 13", 5), 3);
    close(fd);
    CHILD_CHECK_EQ(ReadSysctl("queues_max"), std::string("12"));
    CHILD_CHECK_ERRNO(WriteSysctl("queues_max", "abc"), EINVAL);
    CHILD_CHECK_EQ(ReadSysctl("queues_max"), std::string("12"));
    return 0;
  }));
}

// §9.2: "a non-root uid inside a new IPC namespace gets EACCES when writing" (mode 0644,
// owned by root); reading is allowed.
TEST(MqNamespace, NonRootCannotWriteSysctls_Spec9_2) {
  EXPECT_CHILD_OK(RunInFreshIpcNamespace([]() -> int {
    struct stat st;
    CHILD_CHECK_OK(stat("/proc/sys/fs/mqueue/msg_max", &st));
    CHILD_CHECK_EQ(st.st_mode & 07777, 0644u);
    CHILD_CHECK_EQ(st.st_uid, 0u);
    CHILD_CHECK_OK(SwitchToUser(12345, 12345));
    CHILD_CHECK_ERRNO(open("/proc/sys/fs/mqueue/msg_max", O_WRONLY), EACCES);
    CHILD_CHECK_ERRNO(open("/proc/sys/fs/mqueue/queues_max", O_RDWR), EACCES);
    CHILD_CHECK_EQ(ReadSysctl("msg_max"), std::string("10"));
    return 0;
  }));
}

// §9.2: "queues_max ... Counts queues" per namespace: a full namespace does not limit another.
TEST(MqNamespace, QueueCountIsPerNamespace_Spec9_2) {
  EXPECT_CHILD_OK(RunInFreshIpcNamespace([]() -> int {
    CHILD_CHECK_OK(WriteSysctl("queues_max", "1"));
    const mq_attr attr = MakeAttr(1, 16);
    CHILD_CHECK_OK(RawMqOpen(UniqueName().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr));
    CHILD_CHECK_ERRNO(RawMqOpen(UniqueName().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr),
                      ENOSPC);
    CHILD_CHECK_EQ(
        RunInFreshIpcNamespace([&]() -> int {
          CHILD_CHECK_OK(RawMqOpen(UniqueName().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr));
          CHILD_CHECK_OK(RawMqOpen(UniqueName().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr));
          return 0;
        }),
        0);
    return 0;
  }));
}

// §9.3: "Descriptors that are already open keep working: a fd passed out by SCM_RIGHTS from
// a namespace that then died could receive ("from-dead-ns", prio 7), send and read();
// st_nlink stayed 1."
TEST(MqNamespace, DescriptorFromADeadNamespaceKeepsWorking_Spec9_3) {
  int sv[2];
  ASSERT_THAT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), SyscallSucceeds());
  ScopedFd parent_sock(sv[0]), child_sock(sv[1]);
  const std::string name = UniqueName();
  const pid_t child = ForkChild([&]() -> int {
    parent_sock.reset();
    CHILD_CHECK_OK(unshare(CLONE_NEWIPC));
    const mq_attr attr = MakeAttr(4, 32);
    const int fd = RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    CHILD_CHECK_OK(fd);
    CHILD_CHECK_OK(RawMqTimedSend(fd, "from-dead-ns", 12, 7, nullptr));
    CHILD_CHECK_OK(SendFd(child_sock.get(), fd));
    return 0;  // the namespace dies with this process
  });
  ASSERT_GT(child, 0);
  child_sock.reset();
  ScopedFd fd(RecvFd(parent_sock.get()));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  ASSERT_CHILD_OK(WaitChild(child));
  // The queue's name never existed here.
  EXPECT_THAT(RawMqOpen(name.c_str(), O_RDONLY), SyscallFailsWithErrno(ENOENT));
  std::string msg;
  unsigned prio = 0;
  ASSERT_THAT(Receive(fd.get(), &msg, &prio), SyscallSucceedsWithValue(12));
  EXPECT_EQ(msg, "from-dead-ns");
  EXPECT_EQ(prio, 7u);
  ASSERT_THAT(Send(fd.get(), "still-works", 1), SyscallSucceeds());
  EXPECT_EQ(CurMsgs(fd.get()), 1);
  char buf[128];
  const ssize_t n = read(fd.get(), buf, sizeof(buf));
  ASSERT_THAT(n, SyscallSucceedsWithValue(60));
  EXPECT_EQ(std::string(buf, 17), "QSIZE:11         ");
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_nlink, 1u);
  ASSERT_THAT(Receive(fd.get(), &msg, &prio), SyscallSucceedsWithValue(11));
}

// §3.1 step 6.3: "may_create on the root directory: EOVERFLOW if the caller's fsuid/fsgid has
// no mapping in the user namespace that owns the IPC namespace". The IPC namespace here is
// owned by a user namespace that maps only uid 0 and gid 0; root from the initial user
// namespace joins it and creates with fsuid 4321.
TEST(MqNamespace, CreatingWithUnmappedFsuidIsEoverflow_Spec3_1) {
  int ready[2], done[2];
  ASSERT_THAT(pipe2(ready, O_CLOEXEC), SyscallSucceeds());
  ASSERT_THAT(pipe2(done, O_CLOEXEC), SyscallSucceeds());
  ScopedFd ready_r(ready[0]), ready_w(ready[1]), done_r(done[0]), done_w(done[1]);
  const pid_t holder = ForkChild([&]() -> int {
    ready_r.reset();
    done_w.reset();
    CHILD_CHECK_OK(unshare(CLONE_NEWUSER));
    auto write_file = [](const char* path, const char* text) {
      const int fd = open(path, O_WRONLY | O_CLOEXEC);
      if (fd < 0) return -1;
      const ssize_t n = write(fd, text, strlen(text));
      close(fd);
      return n == static_cast<ssize_t>(strlen(text)) ? 0 : -1;
    };
    CHILD_CHECK_OK(write_file("/proc/self/uid_map", "0 0 1"));
    CHILD_CHECK_OK(write_file("/proc/self/setgroups", "deny"));
    CHILD_CHECK_OK(write_file("/proc/self/gid_map", "0 0 1"));
    CHILD_CHECK_OK(unshare(CLONE_NEWIPC));
    CHILD_CHECK_EQ(write(ready_w.get(), "r", 1), 1);
    char c;
    CHILD_CHECK_EQ(read(done_r.get(), &c, 1), 0);  // until the test closes its end
    return 0;
  });
  ASSERT_GT(holder, 0);
  ready_w.reset();
  done_r.reset();
  char c;
  ASSERT_THAT(read(ready_r.get(), &c, 1), SyscallSucceedsWithValue(1));
  const std::string ns_path = "/proc/" + std::to_string(holder) + "/ns/ipc";
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    const int nsfd = open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
    CHILD_CHECK_OK(nsfd);
    CHILD_CHECK_OK(setns(nsfd, CLONE_NEWIPC));
    const std::string name = UniqueName();
    CHILD_CHECK_OK(syscall(SYS_setfsuid, 4321));
    CHILD_CHECK_ERRNO(RawMqOpen(name.c_str(), O_RDWR | O_CREAT, 0600, nullptr), EOVERFLOW);
    CHILD_CHECK_ERRNO(RawMqOpen(name.c_str(), O_RDONLY), ENOENT);
    // fsuid 0 and fsgid 0 are mapped: creation works.
    CHILD_CHECK_OK(syscall(SYS_setfsuid, 0));
    CHILD_CHECK_OK(RawMqOpen(name.c_str(), O_RDWR | O_CREAT, 0600, nullptr));
    // An unmapped fsgid is refused the same way.
    CHILD_CHECK_OK(syscall(SYS_setfsgid, 4321));
    CHILD_CHECK_ERRNO(RawMqOpen(UniqueName().c_str(), O_RDWR | O_CREAT, 0600, nullptr), EOVERFLOW);
    return 0;
  }));
  done_w.reset();
  EXPECT_CHILD_OK(WaitChild(holder));
}

}  // namespace
}  // namespace mqsentry::testing
