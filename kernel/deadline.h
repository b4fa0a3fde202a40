// Absolute CLOCK_REALTIME deadlines, as mq_timedsend/mq_timedreceive take them (spec §5).
// kernel/ reads no clock: callers pass "now" in, so tests control time.
#ifndef MQSENTRY_KERNEL_DEADLINE_H_
#define MQSENTRY_KERNEL_DEADLINE_H_

#include <cstdint>
#include <optional>

namespace mqsentry::kernel {

// Nanoseconds since the epoch on CLOCK_REALTIME. Saturates instead of overflowing.
class Deadline {
 public:
  // No deadline (a NULL abs_timeout): wait forever.
  static constexpr Deadline Infinite() { return Deadline(kInfiniteNs); }
  static constexpr Deadline FromNanos(int64_t ns) { return Deadline(ns); }
  // Validates a timespec as the kernel does (timespec64_valid): tv_sec < 0 or tv_nsec
  // outside [0, 1e9) is EINVAL (nullopt here). A tv_sec too large to represent in
  // nanoseconds saturates to Infinite() (spec §5.4: "effectively infinite").
  static std::optional<Deadline> FromTimespec(int64_t tv_sec, int64_t tv_nsec);

  constexpr bool is_infinite() const { return ns_ == kInfiniteNs; }
  constexpr int64_t nanos() const { return ns_; }
  // True if the deadline is at or before `now_ns` (the kernel's hrtimer fires at the
  // deadline, so a deadline equal to now has expired).
  constexpr bool ExpiredAt(int64_t now_ns) const { return !is_infinite() && ns_ <= now_ns; }
  friend constexpr auto operator<=>(Deadline, Deadline) = default;

 private:
  static constexpr int64_t kInfiniteNs = INT64_MAX;
  constexpr explicit Deadline(int64_t ns) : ns_(ns) {}
  int64_t ns_;
};

}  // namespace mqsentry::kernel

#endif  // MQSENTRY_KERNEL_DEADLINE_H_
