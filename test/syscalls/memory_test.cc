// Whose memory a call's results reach, and what a program can do to the memory accesses
// of a blocked call (spec §5.2 step 6, §5.4). A receiver that leaves its wait (killed, or
// killed by another thread's exec) gets nothing, and the message goes to the next
// receiver or stays queued; a sender that dies while blocked enqueues nothing; a buffer on
// a userfaultfd page faults (user-mode-only userfaultfd) and never stalls anyone else.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "test/util/mq_test_util.h"

namespace mqsentry::testing {
namespace {

constexpr int kIterations = 20;
constexpr char kMessage[] = "for whoever still waits";
// A fixed address, free in both images of the exec test (below the usual mmap base and
// above the executable).
constexpr uintptr_t kExecBuffer = 0x5e0000000000;
constexpr char kExecImageEnv[] = "MQ_MEMORY_TEST_EXEC_IMAGE";

// The image another thread's exec starts (chosen by the environment, before main): maps a
// zeroed page at kExecBuffer, says so on fd 3's pipe, waits for a byte on fd 4, then
// reports whether the page is still all zero ('0') or has bytes in it ('1').
[[maybe_unused]] const bool kExecImageRan = [] {
  if (std::getenv(kExecImageEnv) == nullptr) return false;
  const long page = sysconf(_SC_PAGESIZE);
  void* p = mmap(reinterpret_cast<void*>(kExecBuffer), page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  char verdict = 'm';  // could not map
  if (p == reinterpret_cast<void*>(kExecBuffer)) {
    (void)!write(3, "r", 1);
    char c;
    (void)!read(4, &c, 1);
    verdict = '0';
    for (long i = 0; i < page; ++i) {
      if (static_cast<const char*>(p)[i] != 0) verdict = '1';
    }
  }
  (void)!write(3, &verdict, 1);
  _exit(0);
}();

// A child blocked receiving on q into buf (nullptr: its own stack buffer); exits 0 if it
// got kMessage, 2 on any other result.
pid_t BlockedReceiver(int q, void* buf = nullptr) {
  return ForkChild([q, buf] {
    char own[64];
    char* b = buf ? static_cast<char*>(buf) : own;
    const ssize_t n = RawMqTimedReceive(q, b, 64, nullptr, nullptr);
    return n == static_cast<ssize_t>(sizeof(kMessage)) && std::memcmp(b, kMessage, n) == 0 ? 0
                                                                                             : 2;
  });
}

// WaitChild, but a child still running after timeout_ms is killed: -1.
int WaitChildWithin(pid_t pid, int timeout_ms = 5000) {
  for (int waited = 0; waited < timeout_ms; ++waited) {
    int status;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    }
    if (r < 0) return -1;
    SleepMs(1);
  }
  kill(pid, SIGKILL);
  WaitChild(pid);
  return -1;
}

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  EXPECT_EQ(WaitChild(pid), 128 + SIGKILL);
}

TEST(MqMemory, MessageSentAfterABlockedReceiverWasKilledStaysQueued_Spec5_4) {
  TestQueue q(10, 64);
  ASSERT_QUEUE_OK(q);
  for (int i = 0; i < kIterations; ++i) {
    const pid_t r = BlockedReceiver(q.fd());
    ASSERT_TRUE(WaitUntilBlockedInSyscall(r, SYS_mq_timedreceive));
    KillAndReap(r);
    ASSERT_THAT(RawMqTimedSend(q.fd(), kMessage, sizeof(kMessage), 0, nullptr), SyscallSucceeds());
    ASSERT_EQ(CurMsgs(q.fd()), 1) << "iteration " << i << ": the message was lost";
    std::string got;
    ASSERT_THAT(Receive(q.fd(), &got), SyscallSucceedsWithValue(sizeof(kMessage)));
  }
}

TEST(MqMemory, MessageSentAfterABlockedReceiverWasKilledGoesToTheNextReceiver_Spec5_4) {
  TestQueue q(10, 64);
  ASSERT_QUEUE_OK(q);
  for (int i = 0; i < kIterations; ++i) {
    // The first to wait is the first offered the message (same priority: FIFO).
    const pid_t dead = BlockedReceiver(q.fd());
    ASSERT_TRUE(WaitUntilBlockedInSyscall(dead, SYS_mq_timedreceive));
    const pid_t next = BlockedReceiver(q.fd());
    ASSERT_TRUE(WaitUntilBlockedInSyscall(next, SYS_mq_timedreceive));
    KillAndReap(dead);
    ASSERT_THAT(RawMqTimedSend(q.fd(), kMessage, sizeof(kMessage), 0, nullptr), SyscallSucceeds());
    ASSERT_EQ(WaitChildWithin(next), 0) << "iteration " << i << ": the next receiver got nothing";
    ASSERT_EQ(CurMsgs(q.fd()), 0);
  }
}

TEST(MqMemory, SenderKilledWhileBlockedEnqueuesNothing_Spec5_4) {
  TestQueue q(1, 64);
  ASSERT_QUEUE_OK(q);
  for (int i = 0; i < kIterations; ++i) {
    ASSERT_THAT(Send(q.fd(), "first"), SyscallSucceeds());
    const pid_t s = ForkChild([fd = q.fd()] {
      return RawMqTimedSend(fd, "dead", 4, 0, nullptr) == 0 ? 0 : 2;
    });
    ASSERT_TRUE(WaitUntilBlockedInSyscall(s, SYS_mq_timedsend));
    KillAndReap(s);
    std::string got;
    ASSERT_THAT(Receive(q.fd(), &got), SyscallSucceedsWithValue(5));
    EXPECT_EQ(got, "first");
    ASSERT_EQ(CurMsgs(q.fd()), 0) << "iteration " << i << ": a dead sender's message was queued";
  }
}

// The waiting thread is the thread-group leader: a non-leader's exec takes over its tid,
// so a write aimed at that tid would land in the new image.
TEST(MqMemory, WaiterKilledByAnotherThreadsExecGetsNothingAndTheMessageStaysQueued_Spec5_4) {
  TestQueue q(10, 64);
  ASSERT_QUEUE_OK(q);
  int to_parent[2], to_image[2];
  ASSERT_EQ(pipe(to_parent), 0);
  ASSERT_EQ(pipe(to_image), 0);
  const pid_t child = ForkChild([&] {
    close(to_parent[0]);
    close(to_image[1]);
    const long page = sysconf(_SC_PAGESIZE);
    void* buf = mmap(reinterpret_cast<void*>(kExecBuffer), page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHILD_CHECK(buf == reinterpret_cast<void*>(kExecBuffer));
    const pid_t leader = getpid();
    std::thread([&] {
      if (!WaitUntilBlockedInSyscall(leader, SYS_mq_timedreceive)) _exit(3);
      if (dup2(to_parent[1], 3) != 3 || dup2(to_image[0], 4) != 4) _exit(4);
      setenv(kExecImageEnv, "1", 1);
      char self[] = "/proc/self/exe";
      char* argv[] = {self, nullptr};
      execve(self, argv, environ);
      _exit(5);
    }).detach();
    RawMqTimedReceive(q.fd(), buf, 64, nullptr, nullptr);
    return 6;  // never: the exec kills this thread
  });
  close(to_parent[1]);
  close(to_image[0]);
  char c = 0;
  ASSERT_EQ(read(to_parent[0], &c, 1), 1);
  ASSERT_EQ(c, 'r') << "the new image could not map the page";
  ASSERT_THAT(RawMqTimedSend(q.fd(), kMessage, sizeof(kMessage), 0, nullptr), SyscallSucceeds());
  EXPECT_EQ(CurMsgs(q.fd()), 1) << "the message was lost";
  ASSERT_EQ(write(to_image[1], "c", 1), 1);
  ASSERT_EQ(read(to_parent[0], &c, 1), 1);
  EXPECT_EQ(c, '0') << "the new image found bytes at the old buffer address";
  EXPECT_EQ(WaitChildWithin(child), 0);
  close(to_parent[0]);
  close(to_image[1]);
}

// ---- userfaultfd ----

// A user-mode-only userfaultfd (any user may have one) with one registered, never served
// page; nullptr if the kernel refuses.
struct UffdPage {
  ScopedFd uffd;
  char* page = nullptr;
};

UffdPage UserModeOnlyUffdPage() {
  UffdPage u;
  u.uffd.reset(static_cast<int>(
      syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY)));
  if (u.uffd.get() < 0) return u;
  uffdio_api api{};
  api.api = UFFD_API;
  if (ioctl(u.uffd.get(), UFFDIO_API, &api) != 0) return u;
  const long size = sysconf(_SC_PAGESIZE);
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return u;
  uffdio_register reg{};
  reg.range.start = reinterpret_cast<uintptr_t>(p);
  reg.range.len = size;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  if (ioctl(u.uffd.get(), UFFDIO_REGISTER, &reg) != 0) return u;
  u.page = static_cast<char*>(p);
  return u;
}

TEST(MqMemory, BuffersOnAUserModeOnlyUserfaultfdPageFault_Spec5_2) {
  UffdPage u = UserModeOnlyUffdPage();
  ASSERT_NE(u.page, nullptr) << ErrnoName(errno);
  TestQueue q(10, 64);
  ASSERT_QUEUE_OK(q);
  // Kernel-mode faults on the page are not the userfaultfd's: EFAULT at once.
  EXPECT_THAT(RawMqTimedSend(q.fd(), u.page, 8, 0, nullptr), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(RawMqTimedSend(q.fd(), "x", 1, 0, reinterpret_cast<timespec*>(u.page)),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(RawMqGetSetAttr(q.fd(), nullptr, reinterpret_cast<mq_attr*>(u.page)),
              SyscallFailsWithErrno(EFAULT));
  // A receive takes the message, then fails to copy it out: the message is lost.
  ASSERT_THAT(Send(q.fd(), kMessage), SyscallSucceeds());
  EXPECT_THAT(RawMqTimedReceive(q.fd(), u.page, 64, nullptr, nullptr),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_EQ(CurMsgs(q.fd()), 0);
  // The same for a blocked receiver that a send wakes (a thread: a fork's copy of the page
  // is not registered).
  std::atomic<pid_t> tid{0};
  long result = 0;
  int error = 0;
  std::thread r([&] {
    tid = static_cast<pid_t>(syscall(SYS_gettid));
    result = RawMqTimedReceive(q.fd(), u.page, 64, nullptr, nullptr);
    error = errno;
  });
  while (tid == 0) SleepMs(1);
  ASSERT_TRUE(WaitUntilBlockedInSyscall(tid, SYS_mq_timedreceive));
  ASSERT_THAT(Send(q.fd(), kMessage), SyscallSucceeds());
  r.join();
  EXPECT_EQ(result, -1);
  EXPECT_EQ(error, EFAULT) << ErrnoName(error);
  EXPECT_EQ(CurMsgs(q.fd()), 0);
}

// Without CAP_SYS_PTRACE (and with vm.unprivileged_userfaultfd 0) a full userfaultfd is
// EPERM (fs/userfaultfd.c userfaultfd_syscall_allowed()); user-mode-only is allowed.
TEST(MqMemory, FullUserfaultfdNeedsPtraceCapability) {
  if (ReadFile("/proc/sys/vm/unprivileged_userfaultfd") != "0\n") {
    GTEST_SKIP() << "vm.unprivileged_userfaultfd is not 0";
  }
  EXPECT_CHILD_OK(RunInChild([] {
    if (HaveEffectiveCapability(CAP_SYS_PTRACE)) {
      CHILD_CHECK(DropCapabilities({CAP_SYS_PTRACE}) == 0);
    }
    CHILD_CHECK_ERRNO(syscall(SYS_userfaultfd, O_CLOEXEC), EPERM);
    CHILD_CHECK_ERRNO(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK), EPERM);
    const int u = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY));
    CHILD_CHECK(u >= 0);
    close(u);
    return 0;
  }));
}

// With CAP_SYS_PTRACE, Linux hands out full userfaultfds; mqsentry refuses them to every
// program (sandbox_known_gaps.txt).
TEST(MqMemory, FullUserfaultfdWithPtraceCapability) {
  if (!HaveEffectiveCapability(CAP_SYS_PTRACE)) GTEST_SKIP() << "needs CAP_SYS_PTRACE";
  ScopedFd u(static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC)));
  EXPECT_GE(u.get(), 0) << ErrnoName(errno);
}

// So does /dev/userfaultfd to whoever may open it (root: the node is 0600 root).
TEST(MqMemory, DevUserfaultfdHandsOutFullUserfaultfds) {
  ScopedFd dev(open("/dev/userfaultfd", O_RDWR | O_CLOEXEC));
  if (dev.get() < 0) GTEST_SKIP() << "/dev/userfaultfd: " << ErrnoName(errno);
  ScopedFd full(ioctl(dev.get(), USERFAULTFD_IOC_NEW, O_CLOEXEC));
  EXPECT_GE(full.get(), 0) << ErrnoName(errno);
}

// A user-mode-only one through the device is not refused anywhere.
TEST(MqMemory, DevUserfaultfdUserModeOnly) {
  ScopedFd dev(open("/dev/userfaultfd", O_RDWR | O_CLOEXEC));
  if (dev.get() < 0) GTEST_SKIP() << "/dev/userfaultfd: " << ErrnoName(errno);
  ScopedFd u(ioctl(dev.get(), USERFAULTFD_IOC_NEW, O_CLOEXEC | UFFD_USER_MODE_ONLY));
  EXPECT_GE(u.get(), 0) << ErrnoName(errno);
}

// The attack: a message buffer on a page of a full userfaultfd nobody serves. Natively
// only the sender waits (its own copy_from_user faults into the userfaultfd); another
// process's calls go on. The attacker takes whatever userfaultfd it can get.
TEST(MqMemory, AnUnservedUserfaultfdPageStallsNoOneElse) {
  TestQueue victim_q(10, 64);
  ASSERT_QUEUE_OK(victim_q);
  TestQueue attack_q(10, 64);
  ASSERT_QUEUE_OK(attack_q);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t attacker = ForkChild([&] {
    close(ready[0]);
    int u = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
    if (u < 0) {
      const int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
      if (dev >= 0) u = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
    }
    if (u < 0) {
      u = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
    }
    CHILD_CHECK(u >= 0);
    uffdio_api api{};
    api.api = UFFD_API;
    CHILD_CHECK(ioctl(u, UFFDIO_API, &api) == 0);
    const long size = sysconf(_SC_PAGESIZE);
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHILD_CHECK(p != MAP_FAILED);
    uffdio_register reg{};
    reg.range.start = reinterpret_cast<uintptr_t>(p);
    reg.range.len = size;
    reg.mode = UFFDIO_REGISTER_MODE_MISSING;
    CHILD_CHECK(ioctl(u, UFFDIO_REGISTER, &reg) == 0);
    (void)!write(ready[1], "r", 1);
    // Faults (user-mode-only) or waits for a handler that never comes (full).
    RawMqTimedSend(attack_q.fd(), p, 8, 0, nullptr);
    pause();
    return 0;
  });
  close(ready[1]);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);
  SleepMs(50);  // the attacker's send is under way
  // Whatever the attacker's send does, it is killed after 3 s: a victim that waited for
  // that shows the stall.
  const pid_t reaper = ForkChild([attacker] {
    SleepMs(3000);
    kill(attacker, SIGKILL);
    return 0;
  });
  int64_t worst_ns = 0;
  for (int i = 0; i < 20; ++i) {
    const int64_t start = MonotonicNowNs();
    ASSERT_NE(GetAttr(victim_q.fd()).mq_maxmsg, -1);
    worst_ns = std::max(worst_ns, MonotonicNowNs() - start);
    SleepMs(5);
  }
  kill(attacker, SIGKILL);
  WaitChild(attacker);
  kill(reaper, SIGKILL);
  WaitChild(reaper);
  EXPECT_LT(worst_ns, 500'000'000) << "an unrelated mq_getattr waited " << worst_ns / 1000000
                                   << " ms";
}

}  // namespace
}  // namespace mqsentry::testing
