// Deadline: validation and saturation of absolute timespecs (spec §5.1 step 1, §5.4).
#include "kernel/deadline.h"

#include <cstdint>
#include <limits>

namespace mqsentry::kernel {

std::optional<Deadline> Deadline::FromTimespec(int64_t tv_sec, int64_t tv_nsec) {
  // timespec64_valid(): negative seconds or nanoseconds outside [0, 1e9) are EINVAL.
  if (tv_sec < 0 || tv_nsec < 0 || tv_nsec >= 1'000'000'000) return std::nullopt;
  // timespec64_to_ktime() saturates at KTIME_MAX: such a deadline never fires.
  constexpr int64_t kMaxSec = std::numeric_limits<int64_t>::max() / 1'000'000'000;
  if (tv_sec >= kMaxSec) return Infinite();
  return Deadline(tv_sec * 1'000'000'000 + tv_nsec);
}

}  // namespace mqsentry::kernel
