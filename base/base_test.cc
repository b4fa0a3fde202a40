#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "base/clock.h"
#include "base/errno_status.h"
#include "gtest/gtest.h"

namespace mqsentry::base {
namespace {

TEST(ClockTest, MonotonicDoesNotGoBack) {
  const int64_t a = MonotonicNowNanos();
  const int64_t b = MonotonicNowNanos();
  EXPECT_GT(a, 0);
  EXPECT_GE(b, a);
}

TEST(ClockTest, RealtimeMatchesTime) {
  const int64_t before = static_cast<int64_t>(time(nullptr));
  const int64_t now = RealtimeNowNanos() / 1'000'000'000;
  const int64_t after = static_cast<int64_t>(time(nullptr));
  EXPECT_GE(now, before);
  EXPECT_LE(now, after);
}

TEST(ClockTest, ThreadCpuGrowsWithWork) {
  const int64_t a = ThreadCpuNanos();
  volatile uint64_t x = 0;
  for (int i = 0; i < 10'000'000; ++i) x = x + i;
  EXPECT_GT(ThreadCpuNanos(), a);
}

TEST(ErrnoTest, CarriesErrnoAndWhat) {
  ASSERT_LT(open("/nonexistent/mqsentry-base-test", O_RDONLY), 0);
  const absl::Status s = Errno("open x");
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_NE(s.message().find("open x"), absl::string_view::npos) << s;
  errno = EACCES;
  EXPECT_TRUE(absl::IsPermissionDenied(Errno("y")));
}

}  // namespace
}  // namespace mqsentry::base
