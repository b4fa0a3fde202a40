// Tests for Deadline: validation of an absolute timeout as on every mq_timedsend /
// mq_timedreceive call (spec §5.1 step 1, §5.2 step 1) and expiry (spec §5.4 "Timeouts").
#include "kernel/deadline.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "gtest/gtest.h"

namespace mqsentry::kernel {
namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
// KTIME_SEC_MAX: the first tv_sec that timespec64_to_ktime() saturates.
constexpr int64_t kKtimeSecMax = kMax / kNsPerSec;

struct Timespec {
  int64_t tv_sec;
  int64_t tv_nsec;
};

struct NamedTimespec {
  const char* name;
  Timespec ts;
};

// spec §5.1 step 1: tv_sec < 0 or tv_nsec outside [0, 1e9) is EINVAL.
class InvalidTimespecTest : public testing::TestWithParam<NamedTimespec> {};

TEST_P(InvalidTimespecTest, IsEinval) {
  EXPECT_EQ(Deadline::FromTimespec(GetParam().ts.tv_sec, GetParam().ts.tv_nsec), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(Spec51, InvalidTimespecTest,
                         testing::Values(NamedTimespec{"NegativeSec", {-1, 0}},
                                         NamedTimespec{"MinSec", {kMin, 0}},
                                         NamedTimespec{"NsecMinusOne", {0, -1}},
                                         NamedTimespec{"NsecOneBillion", {0, kNsPerSec}},
                                         NamedTimespec{"NsecMax", {0, kMax}},
                                         NamedTimespec{"BothWrong", {-1, kNsPerSec}}),
                         [](const testing::TestParamInfo<NamedTimespec>& info) {
                           return std::string(info.param.name);
                         });

// Validation happens before saturation: a huge tv_sec does not hide a bad tv_nsec.
TEST(DeadlineTest, HugeSecondsWithBadNanosIsStillEinval) {
  EXPECT_EQ(Deadline::FromTimespec(kMax, -1), std::nullopt);
  EXPECT_EQ(Deadline::FromTimespec(kMax, kNsPerSec), std::nullopt);
}

TEST(DeadlineTest, LargestValidNanosIsAccepted) {
  std::optional<Deadline> d = Deadline::FromTimespec(0, kNsPerSec - 1);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->nanos(), kNsPerSec - 1);
}

TEST(DeadlineTest, ConvertsToNanosecondsSinceTheEpoch) {
  std::optional<Deadline> d = Deadline::FromTimespec(1'700'000'000, 250);
  ASSERT_TRUE(d.has_value());
  EXPECT_FALSE(d->is_infinite());
  EXPECT_EQ(d->nanos(), 1'700'000'000 * kNsPerSec + 250);
}

// spec §5.4: a deadline already in the past, including {0,0}, times out at once.
TEST(DeadlineTest, ZeroIsValidAndExpiredAtAnyNonNegativeNow) {
  std::optional<Deadline> d = Deadline::FromTimespec(0, 0);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->nanos(), 0);
  EXPECT_TRUE(d->ExpiredAt(0));
  EXPECT_TRUE(d->ExpiredAt(1));
  EXPECT_TRUE(d->ExpiredAt(1'700'000'000 * kNsPerSec));
  EXPECT_TRUE(d->ExpiredAt(kMax));
}

// spec §5.4: the hrtimer fires at the deadline, so "now == deadline" has expired.
TEST(DeadlineTest, ExpiresExactlyAtTheDeadline) {
  const Deadline d = Deadline::FromNanos(5 * kNsPerSec);
  EXPECT_FALSE(d.ExpiredAt(5 * kNsPerSec - 1));
  EXPECT_TRUE(d.ExpiredAt(5 * kNsPerSec));
  EXPECT_TRUE(d.ExpiredAt(5 * kNsPerSec + 1));
}

// spec §5.4: a tv_sec so large that it saturates is effectively infinite.
TEST(DeadlineTest, HugeSecondsSaturateToInfinite) {
  std::optional<Deadline> d = Deadline::FromTimespec(kMax, 0);
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->is_infinite());
  EXPECT_EQ(*d, Deadline::Infinite());
  EXPECT_FALSE(d->ExpiredAt(kMax));
}

// timespec64_to_ktime() saturates from KTIME_SEC_MAX on; one second less is still finite.
TEST(DeadlineTest, SaturationStartsAtKtimeSecMax) {
  std::optional<Deadline> below = Deadline::FromTimespec(kKtimeSecMax - 1, kNsPerSec - 1);
  ASSERT_TRUE(below.has_value());
  EXPECT_FALSE(below->is_infinite());
  EXPECT_EQ(below->nanos(), (kKtimeSecMax - 1) * kNsPerSec + kNsPerSec - 1);
  std::optional<Deadline> at = Deadline::FromTimespec(kKtimeSecMax, 0);
  ASSERT_TRUE(at.has_value());
  EXPECT_TRUE(at->is_infinite());
}

// spec §5.4: a NULL timeout waits forever.
TEST(DeadlineTest, InfiniteNeverExpires) {
  EXPECT_TRUE(Deadline::Infinite().is_infinite());
  EXPECT_FALSE(Deadline::Infinite().ExpiredAt(0));
  EXPECT_FALSE(Deadline::Infinite().ExpiredAt(kMax));
}

// The earliest deadline arms the timer (architecture: one timerfd for the earliest).
TEST(DeadlineTest, OrdersByTimeWithInfiniteLast) {
  EXPECT_LT(Deadline::FromNanos(1), Deadline::FromNanos(2));
  EXPECT_LT(Deadline::FromNanos(kMax - 1), Deadline::Infinite());
  EXPECT_EQ(Deadline::FromNanos(7), Deadline::FromNanos(7));
}

}  // namespace
}  // namespace mqsentry::kernel
