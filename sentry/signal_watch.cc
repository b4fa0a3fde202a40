// SignalWatch: event-driven checks of parked calls' pending signals, with a budgeted
// fallback sweep.
#include "sentry/signal_watch.h"

#include <dirent.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "sentry/proc/proc_text.h"

namespace mqsentry::sentry {
namespace {

int64_t MonotonicNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The hex mask of line "<name>:\t..." of a status text; 0 if absent. The sweeps read only
// these lines, so they skip the full parse.
uint64_t HexField(absl::string_view text, absl::string_view name) {
  size_t at = 0;
  while ((at = text.find(name, at)) != absl::string_view::npos) {
    if ((at == 0 || text[at - 1] == '\n') && at + name.size() < text.size() &&
        text[at + name.size()] == ':') {
      return std::strtoull(text.data() + at + name.size() + 1, nullptr, 16);
    }
    at += name.size();
  }
  return 0;
}

}  // namespace

bool SignalWatch::Add(uint64_t call_id, int32_t tid, int64_t now_ns) {
  Thread t;
  t.tid = tid;
  bool shared_pending = false;
  std::string text;
  if (files_.Read(tid, "status", &text) == 0) {
    absl::StatusOr<proc::Status> st = proc::ParseStatus(text);
    if (st.ok()) {
      // A signal for this thread that came after the supervisor took the call. (A shared
      // one is the process check's, below: another thread may be the one to take it.)
      if ((st->sig_pnd & ~st->sig_blk) != 0) return true;
      shared_pending = (st->shd_pnd & ~st->sig_blk) != 0;
      t.tgid = st->tgid;
      t.blocked = st->sig_blk;
      t.nspid = st->nspid;
    }
  }
  // The process's own pid numbers, read once per process (for kill(pid) targets).
  std::vector<int32_t> process_nspid;
  bool known = false;
  {
    absl::MutexLock lock(&mu_);
    known = t.tgid == 0 || processes_.contains(t.tgid);
  }
  if (!known) {
    if (t.tgid == tid) {
      process_nspid = t.nspid;
    } else if (files_.Read(t.tgid, "status", &text) == 0) {
      absl::StatusOr<proc::Status> st = proc::ParseStatus(text);
      if (st.ok()) process_nspid = st->nspid;
    }
  }
  absl::MutexLock lock(&mu_);
  if (threads_.empty()) {
    next_process_sweep_ns_ = now_ns + process_sweep_interval_ns_;
    next_thread_sweep_ns_ = now_ns + thread_sweep_interval_ns_;
  }
  if (t.tgid != 0) {
    Process& p = processes_[t.tgid];
    if (p.nspid.empty()) p.nspid = std::move(process_nspid);
    p.calls.insert(call_id);
  }
  if (shared_pending) {
    Check check;
    check.tgids.push_back(t.tgid);
    scheduled_.emplace_back(now_ns, std::move(check));
  }
  threads_[call_id] = std::move(t);
  return false;
}

void SignalWatch::Remove(uint64_t call_id) {
  absl::MutexLock lock(&mu_);
  auto it = threads_.find(call_id);
  if (it == threads_.end()) return;
  if (auto p = processes_.find(it->second.tgid); p != processes_.end()) {
    p->second.calls.erase(call_id);
    if (p->second.calls.empty()) processes_.erase(p);
  }
  threads_.erase(it);
}

void SignalWatch::NoteWakeCost(int64_t cpu_ns) {
  absl::MutexLock lock(&mu_);
  wake_cost_ns_ = cpu_ns;
  process_sweep_interval_ns_ = std::max(
      kProcessSweepMinNs, kSweepCostFactor * std::max(process_sweep_cost_ns_, wake_cost_ns_));
  if (last_process_sweep_ns_ != 0) {
    next_process_sweep_ns_ = last_process_sweep_ns_ + process_sweep_interval_ns_;
  }
}

size_t SignalWatch::parked() const {
  absl::MutexLock lock(&mu_);
  return threads_.size();
}

size_t SignalWatch::DepthOf(int32_t tid) {
  std::string text;
  if (files_.Read(tid, "status", &text) != 0) return 0;
  absl::StatusOr<proc::Status> st = proc::ParseStatus(text);
  return st.ok() ? st->nspid.size() : 0;
}

void SignalWatch::OnSignalSent(const SignalSend& send, int64_t now_ns) {
  {
    absl::MutexLock lock(&mu_);
    if (threads_.empty()) return;  // nothing parked: nothing to interrupt
  }
  Check check;
  // Numbers are the sender's: they name the task whose NSpid has them at the sender's
  // depth. (A sibling namespace at the same depth may match too: one needless check.)
  size_t depth = 0;
  if (send.target == SignalSend::Target::kProcess || send.target == SignalSend::Target::kThread) {
    depth = DepthOf(send.sender_tid);
  }
  absl::MutexLock lock(&mu_);
  if (send.target == SignalSend::Target::kHost) {
    // A pidfd names a process (shared signals) or, PIDFD_THREAD, one thread.
    if (processes_.contains(send.id)) check.tgids.push_back(send.id);
    for (const auto& [id, t] : threads_) {
      if (t.tid == send.id) check.calls.push_back(id);
    }
  } else if (depth == 0) {
    check.all_processes = true;
  } else if (send.target == SignalSend::Target::kProcess) {
    for (const auto& [tgid, p] : processes_) {
      if (p.nspid.size() >= depth && p.nspid[depth - 1] == send.id) check.tgids.push_back(tgid);
    }
  } else {
    for (const auto& [id, t] : threads_) {
      if (t.nspid.size() >= depth && t.nspid[depth - 1] == send.id) check.calls.push_back(id);
    }
  }
  if (!check.all_processes && check.tgids.empty() && check.calls.empty()) return;
  for (int64_t delay : kAfterSendNs) scheduled_.emplace_back(now_ns + delay, check);
}

std::optional<int64_t> SignalWatch::NextDue() const {
  absl::MutexLock lock(&mu_);
  std::optional<int64_t> due;
  auto consider = [&](int64_t t) { due = due ? std::min(*due, t) : t; };
  for (const auto& [at, check] : scheduled_) consider(at);
  if (!threads_.empty()) {
    consider(next_process_sweep_ns_);
    consider(next_thread_sweep_ns_);
  }
  return due;
}

std::vector<uint64_t> SignalWatch::RunDue(int64_t now_ns) {
  Check processes, threads;
  bool process_sweep = false, thread_sweep = false;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = scheduled_.begin(); it != scheduled_.end();) {
      if (it->first > now_ns) {
        ++it;
        continue;
      }
      const Check& c = it->second;
      processes.all_processes |= c.all_processes;
      processes.tgids.insert(processes.tgids.end(), c.tgids.begin(), c.tgids.end());
      threads.calls.insert(threads.calls.end(), c.calls.begin(), c.calls.end());
      it = scheduled_.erase(it);
    }
    if (threads_.empty()) {
      scheduled_.clear();
      return {};
    }
    if (now_ns >= next_process_sweep_ns_) {
      process_sweep = true;
      processes.all_processes = true;
    }
    if (now_ns >= next_thread_sweep_ns_) {
      thread_sweep = true;
      threads.calls.clear();
      for (const auto& [id, t] : threads_) threads.calls.push_back(id);
    }
  }
  std::vector<uint64_t> interrupt;
  choose_ns_ = 0;
  int64_t start = MonotonicNowNs();
  if (processes.all_processes || !processes.tgids.empty()) interrupt = Examine(processes);
  const int64_t process_cost = MonotonicNowNs() - start - choose_ns_;
  choose_ns_ = 0;
  start = MonotonicNowNs();
  if (!threads.calls.empty()) {
    std::vector<uint64_t> more = Examine(threads);
    interrupt.insert(interrupt.end(), more.begin(), more.end());
  }
  const int64_t thread_cost = MonotonicNowNs() - start;
  std::sort(interrupt.begin(), interrupt.end());
  interrupt.erase(std::unique(interrupt.begin(), interrupt.end()), interrupt.end());
  for (uint64_t id : interrupt) Remove(id);
  absl::MutexLock lock(&mu_);
  const int64_t now = MonotonicNowNs();
  if (process_sweep) {
    process_sweep_cost_ns_ = process_cost;
    process_sweep_interval_ns_ = std::max(
        kProcessSweepMinNs, kSweepCostFactor * std::max(process_cost, wake_cost_ns_));
    last_process_sweep_ns_ = now;
    next_process_sweep_ns_ = now + process_sweep_interval_ns_;
  }
  if (thread_sweep) {
    thread_sweep_interval_ns_ = std::max(kThreadSweepMinNs, kSweepCostFactor * thread_cost);
    next_thread_sweep_ns_ = now + thread_sweep_interval_ns_;
  }
  return interrupt;
}

std::vector<int32_t> SignalWatch::ThreadsInListOrder(int32_t tgid) {
  std::vector<int32_t> tids;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/task", tgid);
  DIR* dir = opendir(path);
  if (dir == nullptr) return tids;
  while (dirent* e = readdir(dir)) {
    char* end;
    const long tid = std::strtol(e->d_name, &end, 10);
    if (*end == '\0' && tid > 0) tids.push_back(static_cast<int32_t>(tid));
  }
  closedir(dir);
  return tids;
}

std::vector<uint64_t> SignalWatch::ChooseTakers(
    int32_t tgid, uint64_t pending, const absl::flat_hash_map<int32_t, Member>& parked) {
  // Only the thread the kernel chose for a shared signal has TIF_SIGPENDING, and only a
  // thread that has it may be answered -ERESTARTSYS: for any other the value would reach
  // user space as is (errno 512). complete_signal() chooses the leader if it does not block
  // the signal, else the next thread in the group's list that does not (from
  // signal->curr_target, which is the leader until a signal has rotated it; the supervisor
  // cannot see it). If the chosen thread is not parked it takes the signal itself and no
  // parked call is interrupted, as on Linux.
  std::vector<uint64_t> takers;
  const std::vector<int32_t> tids = ThreadsInListOrder(tgid);
  absl::flat_hash_map<int32_t, uint64_t> blocked_of;  // threads not parked, read on demand
  std::string text;
  for (int sig = 1; sig <= 64; ++sig) {
    const uint64_t bit = uint64_t{1} << (sig - 1);
    if ((pending & bit) == 0) continue;
    for (int32_t tid : tids) {
      uint64_t blocked;
      auto p = parked.find(tid);
      if (p != parked.end()) {
        blocked = p->second.blocked;
      } else if (auto b = blocked_of.find(tid); b != blocked_of.end()) {
        blocked = b->second;
      } else {
        if (files_.Read(tid, "status", &text) != 0) continue;  // gone
        blocked = HexField(text, "SigBlk");
        blocked_of[tid] = blocked;
      }
      if (blocked & bit) continue;
      if (p != parked.end()) takers.push_back(p->second.call);
      break;
    }
  }
  std::sort(takers.begin(), takers.end());
  takers.erase(std::unique(takers.begin(), takers.end()), takers.end());
  return takers;
}

std::vector<uint64_t> SignalWatch::Examine(const Check& check) {
  // Processes first: one read each; their members are looked at only when something is
  // pending, so a sweep costs O(processes), not O(parked calls).
  std::vector<std::pair<int32_t, int32_t>> groups;  // tgid, a parked thread of it
  std::vector<Member> singles;                      // thread-directed
  {
    absl::MutexLock lock(&mu_);
    auto add_group = [&](int32_t tgid, const Process& p) {
      if (!p.calls.empty()) groups.emplace_back(tgid, threads_.at(*p.calls.begin()).tid);
    };
    if (check.all_processes) {
      for (const auto& [tgid, p] : processes_) add_group(tgid, p);
    } else {
      for (int32_t tgid : check.tgids) {
        if (auto it = processes_.find(tgid); it != processes_.end()) add_group(tgid, it->second);
      }
    }
    for (uint64_t id : check.calls) {
      if (auto it = threads_.find(id); it != threads_.end()) {
        singles.push_back({id, it->second.tid, it->second.blocked});
      }
    }
  }
  std::vector<uint64_t> interrupt;
  std::string text;
  for (const auto& [tgid, some_tid] : groups) {
    // The shared pending set is the thread group's: any member's status shows it (the
    // leader's may be gone while other threads live).
    if (files_.Read(tgid, "status", &text) != 0 && files_.Read(some_tid, "status", &text) != 0) {
      continue;
    }
    const uint64_t pending = HexField(text, "ShdPnd");
    if (pending == 0) continue;
    absl::flat_hash_map<int32_t, Member> parked;  // by tid
    {
      absl::MutexLock lock(&mu_);
      auto it = processes_.find(tgid);
      if (it == processes_.end()) continue;
      for (uint64_t id : it->second.calls) {
        const Thread& t = threads_.at(id);
        parked[t.tid] = {id, t.tid, t.blocked};
      }
    }
    // Not part of a sweep's cost: it runs only when a signal is there to be taken.
    const int64_t choose_start = MonotonicNowNs();
    for (uint64_t call : ChooseTakers(tgid, pending, parked)) interrupt.push_back(call);
    choose_ns_ += MonotonicNowNs() - choose_start;
  }
  for (const Member& m : singles) {
    if (files_.Read(m.tid, "status", &text) != 0) continue;
    if ((HexField(text, "SigPnd") & ~m.blocked) != 0) interrupt.push_back(m.call);
  }
  return interrupt;
}

}  // namespace mqsentry::sentry
