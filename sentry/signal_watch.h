// SignalWatch: finds the parked calls that a signal would have interrupted, without
// polling every parked thread.
//
// A parked call sleeps in the kernel's seccomp wait, which WAIT_KILLABLE_RECV makes deaf
// to non-fatal signals (sentry/seccomp_filter.cc says why it must), so the supervisor has
// to notice a signal itself and answer the call -ERESTARTSYS (spec §5.4). It looks at the
// pending sets in /proc/<tid>/status, and only when a signal can have been sent:
//
//  - at park time (a signal that arrived between RECV and the park);
//  - after a trapped signal-sending call of a sandboxed thread (kill, tkill, tgkill,
//    rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal): only the parked calls that
//    signal can reach, a few times after the caller resumed (the call itself continues
//    in the host kernel after the supervisor's answer, at a moment the supervisor cannot
//    see);
//  - in a fallback sweep for what the supervisor cannot see (kernel-generated signals:
//    timers, SIGCHLD, the terminal's; senders outside the sandbox): per process, one read
//    of the shared pending set covers all its parked threads (their blocked masks cannot
//    change while they sleep in a system call) every kProcessSweepMin or more, and per
//    thread (thread-directed signals from outside) every kThreadSweepMin or more. Each
//    sweep is spaced by kSweepCostFactor times what it cost (a process sweep: or what the
//    loop's wake-up for it cost, NoteWakeCost), which bounds the supervisor's CPU time
//    spent sweeping to about 1% however many calls are parked.
//
// A shared (process-directed) signal is handled by the one thread the kernel chose for it
// (ChooseTakers): only that thread may be answered -ERESTARTSYS, which the kernel turns
// into EINTR or a restart only for a thread with TIF_SIGPENDING.
//
// Thread-safe; /proc is never read under the lock.
#ifndef MQSENTRY_SENTRY_SIGNAL_WATCH_H_
#define MQSENTRY_SENTRY_SIGNAL_WATCH_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "sentry/proc_file_cache.h"

namespace mqsentry::sentry {

// A trapped signal-sending call, decoded (numbers as the sender's PID namespace sees them).
struct SignalSend {
  enum class Target {
    kProcess,  // kill(pid > 0), rt_sigqueueinfo: process `id`
    kThread,   // tkill, tgkill, rt_tgsigqueueinfo: thread `id`
    kHost,     // pidfd_send_signal: host pid or tid `id` (the pidfd's, from its fdinfo)
    kAny,      // kill(0), kill(-1), kill(-pgrp), an unknown pidfd: not narrowed
  };
  Target target = Target::kAny;
  int32_t id = 0;
  int32_t sender_tid = 0;  // host tid
};

class SignalWatch {
 public:
  static constexpr int64_t kProcessSweepMinNs = 5'000'000;   // 5 ms
  static constexpr int64_t kThreadSweepMinNs = 100'000'000;  // 100 ms
  static constexpr int64_t kSweepCostFactor = 200;           // <= 0.5% CPU per sweep kind
  // After a trapped signal-sending call: when to look at its targets (after the answer;
  // the sender runs the call itself when it is next scheduled, later on a loaded machine).
  static constexpr int64_t kAfterSendNs[] = {200'000, 2'000'000, 10'000'000, 50'000'000,
                                             250'000'000};

  SignalWatch() = default;

  // Starts watching parked call `call_id` of host thread `tid`. Returns true if a signal
  // for the thread itself is already pending and unblocked (interrupt it now; it is not
  // watched), false otherwise (a shared one schedules a check of the process now).
  bool Add(uint64_t call_id, int32_t tid, int64_t now_ns) ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(uint64_t call_id) ABSL_LOCKS_EXCLUDED(mu_);

  // A sandboxed thread made a signal-sending call (answered CONTINUE): schedules checks of
  // the parked calls it can reach.
  void OnSignalSent(const SignalSend& send, int64_t now_ns) ABSL_LOCKS_EXCLUDED(mu_);

  // When the next check or sweep is due (CLOCK_MONOTONIC ns), or nullopt if none is.
  std::optional<int64_t> NextDue() const ABSL_LOCKS_EXCLUDED(mu_);

  // Runs the checks and sweeps due at `now_ns`; returns the parked calls to interrupt
  // (and forgets them). One caller thread at a time (the sentry's loop).
  std::vector<uint64_t> RunDue(int64_t now_ns) ABSL_LOCKS_EXCLUDED(mu_);

  size_t parked() const ABSL_LOCKS_EXCLUDED(mu_);

  // What one idle wake-up of the caller's loop cost in CPU time (its poll included: the
  // kernel's poll of a seccomp listener walks every pending notification, parked calls
  // included), so that process sweeps are spaced by that too.
  void NoteWakeCost(int64_t cpu_ns) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Thread {
    int32_t tid = 0;
    int32_t tgid = 0;
    uint64_t blocked = 0;        // SigBlk: fixed while the thread sleeps in the call
    std::vector<int32_t> nspid;  // the thread's pid per PID namespace, outermost first
  };
  struct Process {
    std::vector<int32_t> nspid;           // the process's pid per PID namespace
    absl::flat_hash_set<uint64_t> calls;  // its parked calls
  };
  struct Member {
    uint64_t call;
    int32_t tid;
    uint64_t blocked;
  };
  // What one pass looks at.
  struct Check {
    bool all_processes = false;
    std::vector<int32_t> tgids;
    std::vector<uint64_t> calls;
  };

  // Pending-set reads and the choice of calls to interrupt; no lock held.
  std::vector<uint64_t> Examine(const Check& check);
  // The parked calls that take the shared signals `pending` of process `tgid`.
  std::vector<uint64_t> ChooseTakers(int32_t tgid, uint64_t pending,
                                     const absl::flat_hash_map<int32_t, Member>& parked);
  static std::vector<int32_t> ThreadsInListOrder(int32_t tgid);
  // The sender's depth (length of its NSpid), 0 if unknown.
  size_t DepthOf(int32_t tid);

  ProcFileCache files_{2048};
  int64_t choose_ns_ = 0;  // time in ChooseTakers during one RunDue (its caller's thread)

  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Thread> threads_ ABSL_GUARDED_BY(mu_);    // by call id
  absl::flat_hash_map<int32_t, Process> processes_ ABSL_GUARDED_BY(mu_);  // by host tgid
  std::vector<std::pair<int64_t, Check>> scheduled_ ABSL_GUARDED_BY(mu_);
  int64_t next_process_sweep_ns_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_thread_sweep_ns_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t process_sweep_interval_ns_ ABSL_GUARDED_BY(mu_) = kProcessSweepMinNs;
  int64_t last_process_sweep_ns_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t process_sweep_cost_ns_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t wake_cost_ns_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t thread_sweep_interval_ns_ ABSL_GUARDED_BY(mu_) = kThreadSweepMinNs;
};

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_SIGNAL_WATCH_H_
