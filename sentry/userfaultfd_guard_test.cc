// The userfaultfd guard through the real filter (FilterRules()) in the kernel: only
// userfaultfd(2) and ioctl(USERFAULTFD_IOC_NEW) without UFFD_USER_MODE_ONLY reach the
// supervisor; the user-mode-only ones, and other ioctls, run in the kernel untouched.
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "kernel/syscall_result.h"
#include "sentry/seccomp_platform.h"
#include "sentry/syscall_table.h"
#include "sentry/test_support.h"

namespace mqsentry::sentry {
namespace {

TEST(UserfaultfdGuardTest, OnlyFullUserfaultfdsAreTrapped) {
  const bool have_dev = access("/dev/userfaultfd", R_OK | W_OK) == 0;
  absl::StatusOr<testing::FilteredChild> child =
      testing::ForkFilteredChild(FilterRules(KernelRunsX32()), [have_dev] {
        // Not trapped: they return at once without a supervisor.
        const int mode_only =
            static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY));
        if (mode_only < 0) return 1;
        int dev = -1;
        if (have_dev) {
          dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
          if (dev < 0 || ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | UFFD_USER_MODE_ONLY) < 0) {
            return 2;
          }
          int n;
          if (ioctl(mode_only, FIONREAD, &n) < 0 && errno == EPERM) return 3;
        }
        // Trapped: the test answers EPERM.
        if (syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK) != -1 || errno != EPERM) return 4;
        if (have_dev && (ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC) != -1 || errno != EPERM)) {
          return 5;
        }
        return 0;
      });
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<std::unique_ptr<SeccompPlatform>> platform =
      SeccompPlatform::Create(child->listener.release());
  ASSERT_TRUE(platform.ok()) << platform.status();
  absl::StatusOr<TrappedCall> create = testing::ReceiveWithin(**platform);
  ASSERT_TRUE(create.ok()) << create.status();
  EXPECT_EQ(create->nr, SYS_userfaultfd);
  EXPECT_EQ(create->args[0], static_cast<uint64_t>(O_CLOEXEC | O_NONBLOCK));
  const SyscallEntry* e = LookupSyscall(create->arch, create->nr);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->call, MqCall::kUserfaultfd);
  ASSERT_TRUE((*platform)->Answer(*create, kernel::SyscallResult::Error(EPERM)).ok());
  if (have_dev) {
    absl::StatusOr<TrappedCall> ioc = testing::ReceiveWithin(**platform);
    ASSERT_TRUE(ioc.ok()) << ioc.status();
    EXPECT_EQ(ioc->nr, SYS_ioctl);
    EXPECT_EQ(ioc->args[1], static_cast<uint64_t>(USERFAULTFD_IOC_NEW));
    ASSERT_TRUE((*platform)->Answer(*ioc, kernel::SyscallResult::Error(EPERM)).ok());
  }
  EXPECT_EQ(testing::WaitForExit(child->pid), 0);
}

}  // namespace
}  // namespace mqsentry::sentry
