// The syscall thread's loop, parked calls and deadlines, and the model's upcalls
// (notification delivery, poll wake-ups) and mqfs's (close, release). The six handlers
// are in handlers.cc.
#include "sentry/sentry.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <ctime>
#include <vector>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "kernel/abi.h"
#include "sentry/log.h"

namespace mqsentry::sentry {
namespace {

namespace abi = kernel::abi;
using kernel::SyscallResult;

using base::MonotonicNowNanos;
using base::RealtimeNowNanos;
using base::ThreadCpuNanos;

// A bound for something that costs the supervisor one descriptor: 1/divisor of its
// RLIMIT_NOFILE, within [lo, hi].
size_t DescriptorBudget(size_t divisor, size_t lo, size_t hi) {
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) != 0) return lo;
  const size_t n = nofile.rlim_cur == RLIM_INFINITY ? hi : nofile.rlim_cur / divisor;
  return std::clamp(n, lo, hi);
}

}  // namespace

// The caller's pid as the sandbox sees it (the last NSpid entry), for --strace.
int32_t SandboxPid(int32_t tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/status", tid);
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return tid;
  char line[256];
  int32_t pid = tid;
  while (std::fgets(line, sizeof(line), f)) {
    if (std::strncmp(line, "NSpid:", 6) == 0) {
      for (char* tok = std::strtok(line + 6, " \t\n"); tok; tok = std::strtok(nullptr, " \t\n")) {
        pid = std::atoi(tok);
      }
      break;
    }
  }
  std::fclose(f);
  return pid;
}

Sentry::Sentry(Options options, Platform* platform, vfs::Mqfs* mqfs, IdentityReader* identity)
    : options_(options),
      platform_(platform),
      mqfs_(mqfs),
      identity_(identity),
      strace_(options.strace),
      max_namespaces_(DescriptorBudget(8, 64, 4096)),
      cookie_channels_(DescriptorBudget(8, 16, 1024)) {
  timer_fd_ = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

Sentry::~Sentry() {
  if (timer_fd_ >= 0) close(timer_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

absl::Status Sentry::failure() const {
  absl::MutexLock lock(&mu_);
  return failure_;
}

void Sentry::Stop() {
  uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof(one));
}

absl::Status Sentry::Run() {
  if (timer_fd_ < 0 || stop_fd_ < 0) {
    return absl::InternalError(absl::StrCat("timerfd/eventfd: ", std::strerror(errno)));
  }
  while (true) {
    while (!taken_.empty()) {
      const TrappedCall call = taken_.front();
      taken_.pop_front();
      Dispatch(call);
      FlushDeliveries();
    }
    pollfd fds[3] = {{platform_->poll_fd(), POLLIN, 0},
                     {timer_fd_, POLLIN, 0},
                     {stop_fd_, POLLIN, 0}};
    // Parked calls cost nothing while no signal can have reached them: the loop wakes for
    // the signal checks only when one is due (sentry/signal_watch.h).
    timespec timeout{};
    const timespec* wait = nullptr;
    if (std::optional<int64_t> due = signal_watch_.NextDue()) {
      const int64_t ns = std::max<int64_t>(0, *due - MonotonicNowNanos());
      timeout.tv_sec = ns / 1'000'000'000;
      timeout.tv_nsec = ns % 1'000'000'000;
      wait = &timeout;
    }
    const int64_t cpu_before = ThreadCpuNanos();
    if (ppoll(fds, 3, wait, nullptr) < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("ppoll: ", std::strerror(errno)));
    }
    const int64_t poll_cpu = ThreadCpuNanos() - cpu_before;
    if (fds[2].revents) return absl::OkStatus();
    if (fds[1].revents & POLLIN) {
      uint64_t ticks;
      (void)!read(timer_fd_, &ticks, sizeof(ticks));
      absl::MutexLock paused(&calls_mu_);
      ExpireDeadlines();
    }
    if (fds[0].revents & POLLIN) {
      absl::StatusOr<std::optional<TrappedCall>> call = platform_->Receive();
      if (!call.ok()) return call.status();
      if (call->has_value()) {
        absl::MutexLock paused(&calls_mu_);
        Dispatch(**call);
        FlushDeliveries();
      }
    } else if (fds[0].revents & (POLLHUP | POLLERR)) {
      return absl::OkStatus();  // no process is left under the filter
    }
    RunSignalChecks();
    // A wake-up for the checks: what the poll cost (the checks measure themselves).
    if (!fds[0].revents && !fds[1].revents) signal_watch_.NoteWakeCost(poll_cpu);
  }
}

void Sentry::Dispatch(const TrappedCall& call) {
  // A thread has at most one trapped call in flight: anything still parked for it was
  // interrupted (EINTR or a restart) and must not be completed (architecture step 6).
  DropStaleParkedFor(call.tid);
  const SyscallEntry* e = LookupSyscall(call.arch, call.nr);
  if (e == nullptr) {
    // The filter only traps the table's calls: anything else means the filter and the
    // table disagree, an internal failure (never a guessed errno).
    return Fail(absl::InternalError(absl::StrCat("trapped a call not in the table (arch ",
                                                 ArchName(call.arch), " nr ", call.nr, ")")));
  }
  switch (e->call) {
    case MqCall::kOpen: return Finish(call, HandleOpen(call, *e));
    case MqCall::kUnlink: return Finish(call, HandleUnlink(call, *e));
    case MqCall::kTimedSend: return Finish(call, HandleTimedSend(call, *e));
    case MqCall::kTimedReceive: return Finish(call, HandleTimedReceive(call, *e));
    case MqCall::kNotify: return Finish(call, HandleNotify(call, *e));
    case MqCall::kGetSetAttr: return Finish(call, HandleGetSetAttr(call, *e));
    case MqCall::kMount:
    case MqCall::kFsopen: return Finish(call, HandleMountGuard(call, *e));
    case MqCall::kFcntl: return Finish(call, HandleFcntl(call, *e));
    case MqCall::kFstatfs: return Finish(call, HandleFstatfs(call, *e));
    case MqCall::kMmap: return Finish(call, HandleMmap(call, *e));
    case MqCall::kSendfile: return Finish(call, HandleSendfile(call, *e));
    case MqCall::kSplice: return Finish(call, HandleSplice(call, *e));
    case MqCall::kLinkat: return Finish(call, HandleLinkat(call, *e));
    case MqCall::kNameToHandleAt: return Finish(call, HandleNameToHandleAt(call, *e));
    case MqCall::kOpenByHandleAt: return Finish(call, HandleOpenByHandleAt(call, *e));
    case MqCall::kFstatfsCompat: return Finish(call, HandleFstatfsCompat(call, *e));
    case MqCall::kUserfaultfd: return Finish(call, HandleUserfaultfd(call, *e));
    case MqCall::kKill:
    case MqCall::kTkill:
    case MqCall::kTgkill:
    case MqCall::kRtSigqueueinfo:
    case MqCall::kRtTgsigqueueinfo:
    case MqCall::kPidfdSendSignal: return Finish(call, HandleSignalSend(call, *e));
  }
}

void Sentry::Finish(const TrappedCall& call, HandlerResult result) {
  if (Answer* a = std::get_if<Answer>(&result)) {
    if (Reply(call, a->trace, a->result)) {
      if (a->delivered) a->delivered();
    } else if (a->undo) {
      a->undo();
    }
  } else if (NewDescriptor* n = std::get_if<NewDescriptor>(&result)) {
    InstallDescriptor(call, std::move(*n));
  } else if (Park* p = std::get_if<Park>(&result)) {
    ParkCall(std::move(*p));
  } else if (ContinueToHost* c = std::get_if<ContinueToHost>(&result)) {
    absl::StatusOr<bool> continued = platform_->Continue(call);
    if (!continued.ok()) return Fail(continued.status());
    if (*continued && c->continued) c->continued();
  } else if (InternalFailure* f = std::get_if<InternalFailure>(&result)) {
    Fail(std::move(f->status));
  }  // CallGone: nothing to deliver.
}

void Sentry::InstallDescriptor(const TrappedCall& call, NewDescriptor n) {
  // Translated before answering, as in Reply: the caller may exit right after.
  const int32_t pid = strace_.enabled() ? SandboxPid(call.tid) : 0;
  absl::StatusOr<std::optional<SyscallResult>> installed =
      platform_->AnswerWithNewFd(call, n.fd.get(), n.cloexec);
  n.fd.reset();  // the supervisor's copy; the caller has its own, or nothing was installed
  if (!installed.ok()) return Fail(installed.status());
  if (strace_.enabled()) {
    strace_.Complete(pid, n.trace,
                     installed->has_value() ? **installed : SyscallResult::Error(EINTR));
  }
}

bool Sentry::Reply(const TrappedCall& call, const std::string& trace, SyscallResult r) {
  // Translated before answering: a caller that exits right after has no /proc entry.
  const int32_t pid = strace_.enabled() ? SandboxPid(call.tid) : 0;
  const bool sent = Deliver(call, r);
  if (strace_.enabled()) {
    strace_.Complete(pid, trace, sent ? r : SyscallResult::Error(EINTR));
  }
  return sent;
}

bool Sentry::Deliver(const TrappedCall& call, SyscallResult r) {
  absl::StatusOr<bool> sent = platform_->Answer(call, r);
  if (sent.ok()) return *sent;
  Fail(sent.status());  // the one error rule: never shown to the program as an errno
  return false;
}

// ---- Parked calls ----

void Sentry::ParkCall(Parked parked) {
  if (strace_.enabled()) strace_.Unfinished(SandboxPid(parked.call.tid), parked.trace);
  const uint64_t id = parked.call.id;
  const int32_t tid = parked.call.tid;
  {
    absl::MutexLock lock(&mu_);
    parked_by_tid_[tid] = id;
    if (!parked.deadline.is_infinite()) deadlines_.emplace(parked.deadline.nanos(), id);
    parked_.emplace(id, std::move(parked));
    ArmTimer();
  }
  // A signal that arrived after the call was taken interrupts it now (spec §5.4).
  if (signal_watch_.Add(id, tid, MonotonicNowNanos())) return InterruptParked(id);
  bool still_parked;
  {
    absl::MutexLock lock(&mu_);
    still_parked = parked_.contains(id);
  }
  if (!still_parked) signal_watch_.Remove(id);  // completed meanwhile
}

std::optional<Sentry::Parked> Sentry::Unpark(uint64_t call_id) {
  signal_watch_.Remove(call_id);
  absl::MutexLock lock(&mu_);
  auto it = parked_.find(call_id);
  if (it == parked_.end()) return std::nullopt;
  Parked p = std::move(it->second);
  parked_.erase(it);
  if (auto t = parked_by_tid_.find(p.call.tid); t != parked_by_tid_.end() && t->second == call_id) {
    parked_by_tid_.erase(t);
  }
  if (!p.deadline.is_infinite()) {
    auto range = deadlines_.equal_range(p.deadline.nanos());
    for (auto d = range.first; d != range.second; ++d) {
      if (d->second == call_id) {
        deadlines_.erase(d);
        break;
      }
    }
  }
  return p;
}

void Sentry::RunSignalChecks() {
  for (uint64_t id : signal_watch_.RunDue(MonotonicNowNanos())) InterruptParked(id);
}

void Sentry::InterruptParked(uint64_t call_id) {
  std::optional<Parked> p = Unpark(call_id);
  if (!p || !p->inode->queue().CancelWaiter(p->waiter)) return;
  // -ERESTARTSYS: the kernel turns it into EINTR, or restarts the call under SA_RESTART
  // (and after a stop), exactly as for a wait the signal interrupted. An interrupted
  // sender's message is discarded with its waiter (spec §5.4).
  // Translated before answering, as in Reply: the caller may exit right after.
  const int32_t pid = strace_.enabled() ? SandboxPid(p->call.tid) : 0;
  Deliver(p->call, SyscallResult::Error(kErestartsys));
  if (strace_.enabled()) strace_.Resumed(pid, p->entry->name, SyscallResult::Error(EINTR));
}

namespace {

// The host pid that pidfd `fd` of thread `tid` refers to ("Pid:" of its fdinfo, as the
// supervisor's procfs shows it), or 0.
int32_t PidfdTarget(int32_t tid, uint64_t fd) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", tid, static_cast<int>(fd));
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return 0;
  char line[256];
  int32_t pid = 0;
  while (std::fgets(line, sizeof(line), f)) {
    if (std::strncmp(line, "Pid:", 4) == 0) {
      pid = static_cast<int32_t>(std::atoi(line + 4));
      break;
    }
  }
  std::fclose(f);
  return pid > 0 ? pid : 0;
}

}  // namespace

void Sentry::TakeWaitingCalls() {
  while (taken_.size() < kMaxTaken) {
    pollfd p{platform_->poll_fd(), POLLIN, 0};
    if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN)) return;
    absl::StatusOr<std::optional<TrappedCall>> call = platform_->Receive();
    if (!call.ok()) return Fail(call.status());
    if (call->has_value()) taken_.push_back(**call);
  }
}

HandlerResult Sentry::HandleSignalSend(const TrappedCall& call, const SyscallEntry& e) {
  TakeWaitingCalls();
  const auto arg = [&](int i) { return static_cast<int32_t>(call.args[i]); };
  SignalSend send;
  send.sender_tid = call.tid;
  int sig = 0;
  switch (e.call) {
    case MqCall::kKill:
      sig = arg(1);
      // kill(pid > 0) is one process; 0, -1 and -pgrp are not narrowed.
      if (arg(0) > 0) {
        send.target = SignalSend::Target::kProcess;
        send.id = arg(0);
      }
      break;
    case MqCall::kRtSigqueueinfo:
      sig = arg(1);
      send.target = SignalSend::Target::kProcess;
      send.id = arg(0);
      break;
    case MqCall::kTkill:
      sig = arg(1);
      send.target = SignalSend::Target::kThread;
      send.id = arg(0);
      break;
    case MqCall::kTgkill:
    case MqCall::kRtTgsigqueueinfo:
      sig = arg(2);
      send.target = SignalSend::Target::kThread;
      send.id = arg(1);
      break;
    case MqCall::kPidfdSendSignal:
      sig = arg(1);
      if (const int32_t host = PidfdTarget(call.tid, call.args[0]); host > 0) {
        send.target = SignalSend::Target::kHost;
        send.id = host;
      }
      break;
    default:
      return ContinueToHost{};
  }
  // Signal 0 sends nothing; SIGKILL ends a parked call's wait in the kernel by itself.
  if (sig <= 0 || sig == SIGKILL) return ContinueToHost{};
  // The host kernel checks and sends the signal; only after that can it be pending, so
  // the checks come once the call has continued.
  return ContinueToHost{[this, send] { signal_watch_.OnSignalSent(send, MonotonicNowNanos()); }};
}

void Sentry::DropStaleParkedFor(int32_t tid) {
  uint64_t stale = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = parked_by_tid_.find(tid);
    if (it == parked_by_tid_.end()) return;
    stale = it->second;
  }
  if (std::optional<Parked> p = Unpark(stale)) {
    // The kernel already returned EINTR (or restarted the call, which is this new one);
    // an interrupted sender's message is discarded (spec §5.4).
    p->inode->queue().CancelWaiter(p->waiter);
    if (strace_.enabled()) strace_.Resumed(SandboxPid(p->call.tid), p->entry->name, SyscallResult::Error(EINTR));
  }
}

void Sentry::ArmTimer() {
  itimerspec its{};
  if (!deadlines_.empty()) {
    const int64_t ns = deadlines_.begin()->first;
    its.it_value.tv_sec = ns / 1'000'000'000;
    its.it_value.tv_nsec = ns % 1'000'000'000;
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
  }
  timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
}

void Sentry::ExpireDeadlines() {
  const int64_t now = RealtimeNowNanos();
  std::vector<uint64_t> expired;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = deadlines_.begin(); it != deadlines_.end() && it->first <= now; ++it) {
      expired.push_back(it->second);
    }
  }
  for (uint64_t id : expired) {
    std::optional<Parked> p = Unpark(id);
    if (!p) continue;
    if (!p->inode->queue().CancelWaiter(p->waiter)) continue;
    // ETIMEDOUT at the deadline (spec §5.4); if the caller was interrupted meanwhile, the
    // answer simply does not arrive.
    const int32_t pid = strace_.enabled() ? SandboxPid(p->call.tid) : 0;  // before answering
    const bool sent = Deliver(p->call, SyscallResult::Error(ETIMEDOUT));
    if (strace_.enabled()) {
      strace_.Resumed(pid, p->entry->name,
                      sent ? SyscallResult::Error(ETIMEDOUT) : SyscallResult::Error(EINTR));
    }
  }
  absl::MutexLock lock(&mu_);
  ArmTimer();
}

WriteOutcome Sentry::CopyOutMessage(const TrappedCall& call, uint64_t buffer,
                                    uint64_t prio_ptr, const ipc::Message& m) {
  // The priority is written first, then the payload (spec §5.2 step 6).
  const uint32_t prio = m.priority;
  // put_user() of the priority: all four bytes or none.
  const MemoryWrite writes[] = {
      {prio_ptr, &prio, prio_ptr != 0 ? sizeof(prio) : 0, /*all_or_nothing=*/true},
      {buffer, m.payload.data(), m.payload.size()}};
  return platform_->memory().WriteAll(call, writes);
}

void Sentry::DeliverHandoff(ipc::Queue& queue, ipc::Handoff handoff) {
  // The sender has been answered; now the receiver. A receiver that no longer waits
  // (interrupted, killed, or its process exec'd) gets nothing: the message is offered again
  // as if it had not been waiting (ipc/queue.h), as Linux, where such a waiter has left the
  // queue, gives it to the next receiver or queues it.
  while (true) {
    if (std::optional<Parked> p = Unpark(handoff.receiver_tag)) {
      const WriteOutcome copied =
          CopyOutMessage(p->call, p->buffer, p->prio_ptr, handoff.message);
      if (copied == WriteOutcome::kError) {
        return Fail(absl::ResourceExhaustedError("cannot open a receiver's memory"));
      }
      bool delivered = false;
      SyscallResult r = SyscallResult::Error(EINTR);  // as strace shows a call that left
      if (copied != WriteOutcome::kGone) {
        // A fault loses the message, as on Linux (spec §5.2 step 6), if the answer arrives.
        r = copied == WriteOutcome::kDone
                ? SyscallResult::Value(static_cast<int64_t>(handoff.message.payload.size()))
                : SyscallResult::Error(EFAULT);
        // Translated before answering: the receiver may exit right after (pmqtest does).
        const int32_t pid = strace_.enabled() ? SandboxPid(p->call.tid) : 0;
        delivered = Deliver(p->call, r);
        if (strace_.enabled()) {
          strace_.Resumed(pid, p->entry->name, delivered ? r : SyscallResult::Error(EINTR));
        }
      } else if (strace_.enabled()) {
        strace_.Resumed(p->call.tid, p->entry->name, r);
      }
      if (delivered) return;
    }
    std::optional<ipc::Handoff> next = queue.Redeliver(std::move(handoff));
    if (!next) return;
    handoff = std::move(*next);
  }
}

void Sentry::CompleteRefill(ipc::Queue& queue, std::optional<ipc::Refill> refill) {
  while (refill) {
    std::optional<Parked> p = Unpark(refill->sender_tag);
    bool delivered = false;
    if (p) {
      const int32_t pid = strace_.enabled() ? SandboxPid(p->call.tid) : 0;  // before answering
      delivered = Deliver(p->call, SyscallResult::Ok());
      if (strace_.enabled()) {
        strace_.Resumed(pid, p->entry->name,
                        delivered ? SyscallResult::Ok() : SyscallResult::Error(EINTR));
      }
    }
    if (delivered) return;
    refill = queue.RetractRefill(*refill);
  }
}

// ---- Model upcalls ----

void Sentry::NotificationFired(const ipc::Queue&, const ipc::NotificationFiring& f) {
  absl::MutexLock lock(&deliveries_mu_);
  deliveries_.push_back(PendingDelivery{f, false});
}

void Sentry::NotificationRemoved(const ipc::Queue&, const ipc::NotificationRegistration& r) {
  ipc::NotificationFiring f;
  f.registration = r;
  absl::MutexLock lock(&deliveries_mu_);
  deliveries_.push_back(PendingDelivery{f, true});
}

void Sentry::PollWake(const ipc::Queue& queue) {
  if (mqfs_ != nullptr) mqfs_->PollWake(queue);
}

namespace {

// NSpid of host process `pid` (/proc/<pid>/status): its pid in each PID namespace, from
// the supervisor's procfs mount's inwards. Empty if unreadable.
std::vector<int32_t> ReadNsPid(int32_t pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/status", pid);
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return {};
  std::vector<int32_t> ids;
  char line[256];
  while (std::fgets(line, sizeof(line), f)) {
    if (std::strncmp(line, "NSpid:", 6) != 0) continue;
    char* p = line + 6;
    while (true) {
      char* end;
      const long id = std::strtol(p, &end, 10);
      if (end == p) break;
      ids.push_back(static_cast<int32_t>(id));
      p = end;
    }
    break;
  }
  std::fclose(f);
  return ids;
}

// The pid of host process `host_tgid` in the PID namespace of the sandbox's init, where
// init's rt_sigqueueinfo() looks it up (QueueSignal); 0 if unknown. Not
// IdentityReader::PidAsSeenBy(host_tgid, init): that proves the nesting through
// /proc/<init>/ns/pid, and init is not dumpable (launcher.cc), so that link needs
// CAP_SYS_PTRACE in the user namespace of init's memory, which is the host's (a copy of
// the supervisor's, mapped before it entered its own user namespace): EACCES for an
// unprivileged supervisor, which then sent no notification signal at all. (The program's
// memory is mapped by its exec inside the sandbox: its links stay readable even when it
// is not dumpable.) No proof is needed here: every process under the filter
// descends from init, and PID namespaces are only entered downwards (clone and unshare
// make a child namespace; setns accepts only the caller's own or a descendant), so the
// process is in init's namespace or below it, and its NSpid entry at init's depth is its
// pid there. /proc/<pid>/status is readable whatever the dumpable flag.
int32_t PidInInitNamespace(int32_t host_tgid, int32_t init_host_pid) {
  const std::vector<int32_t> init = ReadNsPid(init_host_pid);
  const std::vector<int32_t> target = ReadNsPid(host_tgid);
  if (init.empty() || target.size() < init.size()) return 0;
  return target[init.size() - 1];
}

}  // namespace

void Sentry::FlushDeliveries() {
  std::vector<PendingDelivery> batch;
  {
    absl::MutexLock lock(&deliveries_mu_);
    batch.swap(deliveries_);
  }
  for (PendingDelivery& d : batch) {
    const ipc::NotificationRegistration& r = d.firing.registration;
    if (r.notify == abi::kSigevThread) {
      // glibc's helper thread waits for the 32-byte cookie, byte 31 the status (spec §6.3),
      // on the socket the channel replaced (sentry/cookie_channels.h).
      std::array<uint8_t, 32> cookie = r.cookie;
      cookie[31] = d.removed ? abi::kNotifyRemoved : abi::kNotifyWokenUp;
      cookie_channels_.Send(r.socket, cookie);
      continue;
    }
    if (d.removed || r.notify != abi::kSigevSignal || r.signo == 0) continue;
    // Only to the owner that registered (not a process that reused its pid).
    absl::StatusOr<CallerIdentity> owner = ReadIdentity(r.owner_host_tgid);
    if (!owner.ok() || owner->process != r.owner) continue;
    // Nor to a new image of it: an owner that exec'd since it registered gets nothing
    // (notify_self_exec_id, spec §6.2).
    if (r.owner_exec_generation != 0) {
      absl::StatusOr<uint64_t> now = identity_->ExecToken(r.owner_host_tgid);
      if (!now.ok() || *now != r.owner_exec_generation) continue;
    }
    abi::SiginfoMesgq info{};
    info.si_signo = r.signo;
    info.si_errno = 0;
    info.si_code = abi::kSiMesgq;
    // si_pid: the sender as the owner's PID namespace sees it (0 if invisible).
    absl::StatusOr<int32_t> pid =
        identity_->PidAsSeenBy(d.firing.sender.host_tgid, r.owner_host_tgid);
    info.pid = pid.ok() ? *pid : 0;
    // si_uid: the sender's kernel real uid. init re-expresses it in its own user namespace
    // (QueueSignal), and the kernel maps that into the owner's (65534 when unmapped), as
    // Linux does.
    info.uid = d.firing.sender.ruid.value();
    info.value = r.value;
    const int32_t target = PidInInitNamespace(r.owner_host_tgid, options_.init_host_pid);
    if (target <= 0 || !options_.queue_signal) continue;
    if (absl::Status s = options_.queue_signal(target, r.signo, &info); !s.ok()) {
      MQ_LOG("mqsentry: notification signal to ", r.owner_host_tgid, ": ", s.ToString());
    }
  }
}

// ---- mqfs hooks ----

void Sentry::OnFlush(const std::shared_ptr<ipc::QueueInode>& inode, ipc::IpcNamespace&,
                     int32_t tid) {
  // Only a registration's owner closing a descriptor changes anything (spec §6.2), so
  // most closes need no /proc read at all.
  ipc::Queue& queue = inode->queue();
  const ipc::QueueStatus status = queue.Status();
  if (!status.notify_owner.has_value() || tid <= 0) return;
  if (tid == static_cast<int32_t>(getpid())) return;  // the supervisor's own closes
  // The closer may be in the middle of an exec or an exit: read only what cannot wait
  // for its exec locks (IdentityReader::ProcessOf).
  absl::StatusOr<IdentityReader::ProcessOfThread> who = identity_->ProcessOf(tid);
  if (!who.ok() || who->tgid == static_cast<int32_t>(getpid())) return;
  queue.OnClose(who->process);
  FlushDeliveries();
}

void Sentry::OnRelease(const std::shared_ptr<ipc::QueueInode>& inode, ipc::IpcNamespace& ns) {
  ns.ReleaseDescription(inode);
}

void Sentry::RememberOwnerPids(int32_t owner_host_tgid, IdentityReader::PidChain chain) {
  absl::MutexLock lock(&owner_pids_mu_);
  if (owner_pids_.size() >= kMaxRememberedOwners && !owner_pids_.contains(owner_host_tgid)) {
    owner_pids_.erase(owner_pids_.begin());  // any: an evicted owner falls back to /proc
  }
  owner_pids_[owner_host_tgid] = std::move(chain);
}

int32_t Sentry::NotifyPidFor(int32_t reader_tid, int32_t owner_host_tgid) {
  // The numbers recorded at registration, which outlive the owner as Linux's struct pid
  // does; /proc for an owner registered before the record was evicted.
  std::optional<IdentityReader::PidChain> chain;
  {
    absl::MutexLock lock(&owner_pids_mu_);
    if (auto it = owner_pids_.find(owner_host_tgid); it != owner_pids_.end()) chain = it->second;
  }
  absl::StatusOr<int32_t> pid = chain ? identity_->PidInChainAsSeenBy(*chain, reader_tid)
                                      : identity_->PidAsSeenBy(owner_host_tgid, reader_tid);
  return pid.ok() ? *pid : 0;
}

}  // namespace mqsentry::sentry
