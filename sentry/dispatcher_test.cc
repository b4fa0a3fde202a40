// The sentry's dispatcher through a fake platform (sentry/fake_platform.h): what each kind
// of handler result becomes, and the one error rule (a supervisor failure ends the sandbox,
// the program never sees it as an errno). No root, namespaces, seccomp or FUSE.
#include <signal.h>

#include <cerrno>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "kernel/abi.h"
#include "sentry/fake_platform.h"
#include "sentry/sentry.h"

namespace mqsentry::sentry {
namespace {

namespace abi = kernel::abi;
using Kind = FakePlatform::Outcome::Kind;

constexpr int32_t kTid = 4242;

class DispatcherTest : public ::testing::Test {
 protected:
  // Runs the sentry over every call queued so far, until the queue is empty.
  absl::Status RunAll() {
    platform_.CloseQueue();
    Sentry sentry(Sentry::Options{}, &platform_, /*mqfs=*/nullptr, /*identity=*/nullptr);
    absl::Status run = sentry.Run();
    failure_ = sentry.failure();
    return run;
  }

  FakePlatform platform_;
  absl::Status failure_;
};

TEST_F(DispatcherTest, FullUserfaultfdIsAnsweredEperm) {
  const uint64_t id =
      platform_.Trap(Arch::kX86_64, abi::kX86_64UffdSyscalls.userfaultfd, {0}, kTid);
  ASSERT_TRUE(RunAll().ok());
  EXPECT_TRUE(failure_.ok()) << failure_;
  const std::vector<FakePlatform::Outcome> got = platform_.outcomes();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].kind, Kind::kAnswer);
  EXPECT_EQ(got[0].id, id);
  EXPECT_EQ(got[0].result, kernel::SyscallResult::Error(EPERM));
}

TEST_F(DispatcherTest, UserfaultfdIocNewOnEveryAbi) {
  platform_.Trap(Arch::kX86_64, abi::kX86_64UffdSyscalls.ioctl, {5, abi::kUserfaultfdIocNew, 0},
                 kTid);
  platform_.Trap(Arch::kI386, abi::kI386UffdSyscalls.ioctl, {5, abi::kUserfaultfdIocNew, 0},
                 kTid);
  platform_.Trap(Arch::kX32, abi::kX32UffdSyscalls.ioctl, {5, abi::kUserfaultfdIocNew, 0},
                 kTid);
  ASSERT_TRUE(RunAll().ok());
  const std::vector<FakePlatform::Outcome> got = platform_.outcomes();
  ASSERT_EQ(got.size(), 3u);
  for (const FakePlatform::Outcome& o : got) {
    EXPECT_EQ(o.kind, Kind::kAnswer);
    EXPECT_EQ(o.result, kernel::SyscallResult::Error(EPERM));
  }
}

TEST_F(DispatcherTest, SignalSendingCallsContinue) {
  const uint64_t kill0 =
      platform_.Trap(Arch::kX86_64, abi::kX86_64GuardSyscalls.kill, {0, 0}, kTid);
  const uint64_t tgkill = platform_.Trap(Arch::kX86_64, abi::kX86_64GuardSyscalls.tgkill,
                                         {kTid, kTid + 1, SIGUSR1}, kTid);
  ASSERT_TRUE(RunAll().ok());
  EXPECT_TRUE(failure_.ok()) << failure_;
  const std::vector<FakePlatform::Outcome> got = platform_.outcomes();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].kind, Kind::kContinue);
  EXPECT_EQ(got[0].id, kill0);
  EXPECT_EQ(got[1].kind, Kind::kContinue);
  EXPECT_EQ(got[1].id, tgkill);
}

TEST_F(DispatcherTest, CallerGoneGetsNothingAndTheSandboxGoesOn) {
  platform_.SetCallersGone(true);
  platform_.Trap(Arch::kX86_64, abi::kX86_64UffdSyscalls.userfaultfd, {0}, kTid);
  platform_.Trap(Arch::kX86_64, abi::kX86_64GuardSyscalls.kill, {0, 0}, kTid);
  ASSERT_TRUE(RunAll().ok());
  EXPECT_TRUE(failure_.ok()) << failure_;
  EXPECT_TRUE(platform_.outcomes().empty());
}

// A call the filter should never have trapped means the filter and the table disagree:
// an internal failure, never a guessed errno.
TEST_F(DispatcherTest, CallNotInTheTableEndsTheSandbox) {
  platform_.Trap(Arch::kX86_64, /*getpid*/ 39, {}, kTid);
  ASSERT_TRUE(RunAll().ok());
  EXPECT_EQ(failure_.code(), absl::StatusCode::kInternal) << failure_;
  EXPECT_TRUE(platform_.outcomes().empty());
}

// One error rule: an answer the platform fails to give (not "caller gone") is the
// supervisor's failure. The sandbox ends; no later call is served as if nothing happened.
TEST_F(DispatcherTest, FailedAnswerEndsTheSandbox) {
  platform_.FailAnswersWith(absl::InternalError("ioctl(SECCOMP_IOCTL_NOTIF_SEND): EIO"));
  platform_.Trap(Arch::kX86_64, abi::kX86_64UffdSyscalls.userfaultfd, {0}, kTid);
  platform_.Trap(Arch::kX86_64, abi::kX86_64GuardSyscalls.kill, {0, 0}, kTid);
  ASSERT_TRUE(RunAll().ok());
  EXPECT_EQ(failure_.code(), absl::StatusCode::kInternal) << failure_;
  EXPECT_TRUE(platform_.outcomes().empty());  // the kill after it was not continued
}

}  // namespace
}  // namespace mqsentry::sentry
