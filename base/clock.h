// The supervisor's clocks, in nanoseconds: one definition instead of one per file.
#ifndef MQSENTRY_BASE_CLOCK_H_
#define MQSENTRY_BASE_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace mqsentry::base {

inline int64_t ClockNanos(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Deadlines of parked calls and the signal checks' schedule (never jumps).
inline int64_t MonotonicNowNanos() { return ClockNanos(CLOCK_MONOTONIC); }
// Wall-clock time: mq_timed* timeouts are absolute CLOCK_REALTIME (spec §5.1).
inline int64_t RealtimeNowNanos() { return ClockNanos(CLOCK_REALTIME); }
// CPU time the calling thread has used.
inline int64_t ThreadCpuNanos() { return ClockNanos(CLOCK_THREAD_CPUTIME_ID); }

}  // namespace mqsentry::base

#endif  // MQSENTRY_BASE_CLOCK_H_
