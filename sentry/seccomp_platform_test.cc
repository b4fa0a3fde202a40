// SeccompPlatform against forked children under the mq notify filter: answers, new
// descriptors, the callers' descriptors, interruption, death.
#include "sentry/seccomp_platform.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "kernel/syscall_result.h"
#include "sentry/platform.h"
#include "sentry/test_support.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {
namespace {

using kernel::SyscallResult;
using testing::AllMqRules;
using testing::ForkFilteredChild;
using testing::ReceiveWithin;
using testing::WaitForExit;

constexpr int kChildFd = 42;

// A child under the filter running `body`, and a platform on its listener.
struct Fixture {
  pid_t pid = -1;
  std::unique_ptr<SeccompPlatform> platform;
};

Fixture Start(const std::function<int()>& body) {
  Fixture f;
  absl::StatusOr<testing::FilteredChild> child = ForkFilteredChild(AllMqRules(), body);
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) return f;
  f.pid = child->pid;
  absl::StatusOr<std::unique_ptr<SeccompPlatform>> p =
      SeccompPlatform::Create(child->listener.release());
  EXPECT_TRUE(p.ok()) << p.status();
  if (p.ok()) f.platform = std::move(*p);
  return f;
}

std::string FdLink(int fd) {
  char buf[256];
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

long MqGetSetAttr(int fd) { return syscall(SYS_mq_getsetattr, fd, nullptr, nullptr); }

TEST(SeccompPlatformTest, CreateChecksTheListener) {
  EXPECT_FALSE(CreateSeccompPlatform(-1).ok());
  EXPECT_FALSE(CreateSeccompPlatform(open("/dev/null", O_RDONLY | O_CLOEXEC)).ok());
}

TEST(SeccompPlatformTest, SetsSyncWakeUp) {
  Fixture f = Start([] { return MqGetSetAttr(3) == 0 ? 0 : 1; });
  ASSERT_TRUE(f.platform);
  EXPECT_TRUE(f.platform->sync_wake_up());  // kernel >= 6.6
  absl::StatusOr<TrappedCall> call = ReceiveWithin(*f.platform);
  ASSERT_TRUE(call.ok()) << call.status();
  ASSERT_TRUE(f.platform->Answer(*call, SyscallResult::Ok()).ok());
  EXPECT_EQ(WaitForExit(f.pid), 0);
}

void ExpectNewFd(bool cloexec) {
  Fixture f = Start([cloexec] {
    const long fd = syscall(SYS_mq_open, "/q", O_RDONLY, 0, nullptr);
    if (fd < 0) return 1;
    if (fcntl(static_cast<int>(fd), F_GETFD) != (cloexec ? FD_CLOEXEC : 0)) return 2;
    if (FdLink(static_cast<int>(fd)).find("mqsentry-installed") == std::string::npos) return 3;
    return 0;
  });
  ASSERT_TRUE(f.platform);
  UniqueFd memfd(static_cast<int>(syscall(SYS_memfd_create, "mqsentry-installed", MFD_CLOEXEC)));
  ASSERT_TRUE(memfd.valid());
  absl::StatusOr<TrappedCall> call = ReceiveWithin(*f.platform);
  ASSERT_TRUE(call.ok()) << call.status();
  absl::StatusOr<std::optional<SyscallResult>> r =
      f.platform->AnswerWithNewFd(*call, memfd.get(), cloexec);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_value());
  EXPECT_TRUE((*r)->ok());
  EXPECT_GE((*r)->value(), 3);
  EXPECT_EQ(WaitForExit(f.pid), 0);
  EXPECT_GE(fcntl(memfd.get(), F_GETFD), 0);  // still ours
}

TEST(SeccompPlatformTest, AnswerWithNewFdCloexec) { ExpectNewFd(true); }
TEST(SeccompPlatformTest, AnswerWithNewFdWithoutCloexec) { ExpectNewFd(false); }

// The caller has no free descriptor: the installation fails in the caller, and the call
// is answered with that errno, as an open(2) would fail.
TEST(SeccompPlatformTest, AnswerWithNewFdReportsEmfile) {
  Fixture f = Start([] {
    rlimit lim{32, 32};
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) return 1;
    while (open("/dev/null", O_RDONLY) >= 0) {
    }
    if (errno != EMFILE) return 2;
    const long fd = syscall(SYS_mq_open, "/q", O_RDONLY, 0, nullptr);
    return fd == -1 && errno == EMFILE ? 0 : 3;
  });
  ASSERT_TRUE(f.platform);
  UniqueFd memfd(static_cast<int>(syscall(SYS_memfd_create, "x", MFD_CLOEXEC)));
  absl::StatusOr<TrappedCall> call = ReceiveWithin(*f.platform);
  ASSERT_TRUE(call.ok()) << call.status();
  absl::StatusOr<std::optional<SyscallResult>> r =
      f.platform->AnswerWithNewFd(*call, memfd.get(), true);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, SyscallResult::Error(EMFILE));
  EXPECT_EQ(WaitForExit(f.pid), 0);
}

int ChildWithFd42(bool from_thread) {
  const int memfd = static_cast<int>(syscall(SYS_memfd_create, "mqsentry-target", 0));
  if (memfd < 0 || dup2(memfd, kChildFd) != kChildFd) return 1;
  auto call = [] { return MqGetSetAttr(kChildFd) == 7 ? 0 : 2; };
  if (!from_thread) return call();
  int result = 3;
  std::thread t([&] { result = call(); });
  t.join();
  return result;
}

void ExpectGetFd(bool from_thread) {
  Fixture f = Start([from_thread] { return ChildWithFd42(from_thread); });
  ASSERT_TRUE(f.platform);
  absl::StatusOr<TrappedCall> call = ReceiveWithin(*f.platform);
  ASSERT_TRUE(call.ok()) << call.status();
  if (from_thread) {
    EXPECT_NE(call->tid, f.pid);
  } else {
    EXPECT_EQ(call->tid, f.pid);
  }
  for (int round = 0; round < 2; ++round) {  // the second one is served from the cache
    UniqueFd fd(f.platform->GetFd(call->tid, kChildFd));
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    EXPECT_EQ(syscall(SYS_kcmp, getpid(), f.pid, KCMP_FILE, fd.get(), kChildFd), 0);
    EXPECT_EQ(fcntl(fd.get(), F_GETFD), FD_CLOEXEC);
    EXPECT_NE(FdLink(fd.get()).find("mqsentry-target"), std::string::npos);
  }
  errno = 0;
  EXPECT_EQ(f.platform->GetFd(call->tid, kChildFd + 1), -1);
  EXPECT_EQ(errno, EBADF);
  EXPECT_TRUE(f.platform->StillValid(call->id));
  const int32_t tid = call->tid;
  ASSERT_TRUE(f.platform->Answer(*call, SyscallResult::Value(7)).ok());
  EXPECT_EQ(WaitForExit(f.pid), 0);
  // The thread is gone: its (cached) pidfd is stale and the tid names nothing.
  errno = 0;
  EXPECT_EQ(f.platform->GetFd(tid, kChildFd), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(SeccompPlatformTest, GetFdFromTheMainThread) { ExpectGetFd(false); }
TEST(SeccompPlatformTest, GetFdFromAnotherThread) { ExpectGetFd(true); }

void OnSignal(int) {}

int InterruptibleChild(bool restart) {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sa.sa_flags = restart ? SA_RESTART : 0;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGUSR1, &sa, nullptr) != 0) return 1;
  const long r = MqGetSetAttr(3);
  if (restart) return r == 5 ? 0 : 2;  // the restarted call got the answer
  if (r != -1 || errno != EINTR) return 3;
  // Tell the parent, through a second trapped call, that EINTR arrived.
  return syscall(SYS_mq_unlink, "/done") == 0 ? 0 : 4;
}

// The filter waits killably once a call is received (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV):
// a signal does not interrupt it, so no answer can be lost to a racing signal. The
// supervisor interrupts it itself with -ERESTARTSYS, which the kernel turns into EINTR for
// a handler without SA_RESTART.
constexpr int kErestartsys = 512;

TEST(SeccompPlatformTest, ReceivedCallWaitsForTheAnswerAndErestartsysGivesEintr) {
  Fixture f = Start([] { return InterruptibleChild(false); });
  ASSERT_TRUE(f.platform);
  absl::StatusOr<TrappedCall> call = ReceiveWithin(*f.platform);
  ASSERT_TRUE(call.ok()) << call.status();
  ASSERT_EQ(kill(f.pid, SIGUSR1), 0);
  usleep(100 * 1000);
  EXPECT_TRUE(f.platform->StillValid(call->id)) << "a non-fatal signal interrupted the call";
  absl::StatusOr<bool> sent = f.platform->Answer(*call, SyscallResult::Error(kErestartsys));
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_TRUE(*sent);

  absl::StatusOr<TrappedCall> done = ReceiveWithin(*f.platform);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->nr, SYS_mq_unlink) << "the child saw EINTR";
  ASSERT_TRUE(f.platform->Answer(*done, SyscallResult::Ok()).ok());
  EXPECT_EQ(WaitForExit(f.pid), 0);
}

// With SA_RESTART, -ERESTARTSYS makes the kernel re-issue the call: a new notification.
TEST(SeccompPlatformTest, ErestartsysUnderSaRestartRestartsTheCall) {
  Fixture f = Start([] { return InterruptibleChild(true); });
  ASSERT_TRUE(f.platform);
  absl::StatusOr<TrappedCall> first = ReceiveWithin(*f.platform);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(kill(f.pid, SIGUSR1), 0);
  usleep(100 * 1000);
  ASSERT_TRUE(f.platform->StillValid(first->id));
  ASSERT_TRUE(*f.platform->Answer(*first, SyscallResult::Error(kErestartsys)));
  absl::StatusOr<TrappedCall> second = ReceiveWithin(*f.platform);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(second->id, first->id);
  EXPECT_EQ(second->nr, first->nr);
  EXPECT_EQ(second->tid, first->tid);
  EXPECT_TRUE(*f.platform->Answer(*second, SyscallResult::Value(5)));
  EXPECT_EQ(WaitForExit(f.pid), 0);
}

TEST(SeccompPlatformTest, ContinueRunsTheCallInTheHostKernel) {
  Fixture f = Start([] {
    const long r = syscall(SYS_mq_unlink, "mqsentry-platform-test-no-such-queue");
    return r == -1 && errno == ENOENT ? 0 : 1;
  });
  ASSERT_TRUE(f.platform);
  absl::StatusOr<TrappedCall> call = ReceiveWithin(*f.platform);
  ASSERT_TRUE(call.ok()) << call.status();
  absl::StatusOr<bool> sent = f.platform->Continue(*call);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_TRUE(*sent);
  EXPECT_EQ(WaitForExit(f.pid), 0);
}

TEST(SeccompPlatformTest, KilledCaller) {
  Fixture f = Start([] { return MqGetSetAttr(3) == 0 ? 0 : 1; });
  ASSERT_TRUE(f.platform);
  absl::StatusOr<TrappedCall> call = ReceiveWithin(*f.platform);
  ASSERT_TRUE(call.ok()) << call.status();
  kill(f.pid, SIGKILL);
  EXPECT_EQ(WaitForExit(f.pid), 128 + SIGKILL);
  EXPECT_FALSE(f.platform->StillValid(call->id));
  absl::StatusOr<bool> sent = f.platform->Answer(*call, SyscallResult::Ok());
  ASSERT_TRUE(sent.ok());
  EXPECT_FALSE(*sent);
  pollfd p{f.platform->poll_fd(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 1000), 1);
  EXPECT_NE(p.revents & POLLHUP, 0);
}

// The caller died after the kernel queued its call but before Receive: ENOENT, nullopt.
TEST(SeccompPlatformTest, ReceiveAfterTheCallerVanished) {
  Fixture f = Start([] { return MqGetSetAttr(3) == 0 ? 0 : 1; });
  ASSERT_TRUE(f.platform);
  pollfd p{f.platform->poll_fd(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1);
  kill(f.pid, SIGKILL);
  EXPECT_EQ(WaitForExit(f.pid), 128 + SIGKILL);
  absl::StatusOr<std::optional<TrappedCall>> call = f.platform->Receive();
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_FALSE(call->has_value());
}

}  // namespace
}  // namespace mqsentry::sentry
