// The mq_* handlers, and fcntl and fstatfs of mq descriptors. Each has the same shape (../shared/design/style.md habit 3):
// decode the arguments into typed locals, copy in what they point to (checking in the
// kernel's order, spec §3.1, §4, §5.1, §5.2, §6.1, §7), make one call into the model,
// return the answer (sentry/handler_result.h). Pointers are read with the platform's TraceeMemory; every read that fails is
// the caller's EFAULT.
#include <fcntl.h>
#include <linux/netlink.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/clock.h"
#include "ipc/getsetattr.h"
#include "kernel/abi.h"
#include "kernel/capabilities.h"
#include "kernel/status_macros.h"
#include "kernel/user_namespace.h"
#include "sentry/cookie_channels.h"
#include "sentry/live_namespaces.h"
#include "sentry/log.h"
#include "sentry/ns_limits.h"
#include "sentry/sentry.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {
namespace {

namespace abi = kernel::abi;
using kernel::Deadline;
using kernel::SyscallResult;

using base::RealtimeNowNanos;

// Argument i as the ABI passes it: i386 registers are 32 bits wide.
uint64_t Arg(const TrappedCall& c, const SyscallEntry& e, int i) {
  return e.compat_sizes ? static_cast<uint32_t>(c.args[i]) : c.args[i];
}
int IntArg(const TrappedCall& c, int i) { return static_cast<int>(c.args[i]); }

std::string FdTrace(int fd) { return absl::StrCat(fd); }

// The thread's task->prio (field 18 of /proc/<tid>/stat, "priority", plus 100): all a call
// that may block needs for Linux's waiter order (spec §5.4). One read, so that a caller
// interrupted over and over still gets through.
std::optional<int> SchedPrio(int32_t tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", tid);
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  const ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return std::nullopt;
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return std::nullopt;
  // Fields after "(comm)" start at 3 (state); priority is field 18.
  long value = 0;
  int field = 2;
  for (const char* c = p + 1; *c; ++c) {
    if (*c == ' ') {
      ++field;
      if (field == 18) {
        value = std::strtol(c + 1, nullptr, 10);
        return static_cast<int>(value) + 100;
      }
    }
  }
  return std::nullopt;
}

}  // namespace

// ---- Shared decoding ----

int Sentry::ReadDeadline(const TrappedCall& call, const SyscallEntry& e, uint64_t addr,
                         Deadline* out) {
  int64_t sec = 0, nsec = 0;
  if (e.time32) {
    abi::CompatTimespec ts;
    if (!platform_->memory().Read(call, addr, &ts, sizeof(ts))) return EFAULT;
    sec = ts.tv_sec;
    nsec = ts.tv_nsec;
  } else {
    abi::KernelTimespec ts;
    if (!platform_->memory().Read(call, addr, &ts, sizeof(ts))) return EFAULT;
    sec = ts.tv_sec;
    nsec = ts.tv_nsec;
  }
  std::optional<Deadline> d = Deadline::FromTimespec(sec, nsec);
  if (!d) return EINVAL;
  *out = *d;
  return 0;
}

std::optional<FdInfo> Sentry::MqFdInfo(const TrappedCall& call, int fd) {
  if (fd < 0) return std::nullopt;
  // /proc/<tid>/fdinfo/<fd> names the open description's mount, inode and f_flags without
  // touching the file (sentry/fd_info_cache.h).
  std::optional<FdInfo> info = fd_info_.Read(call.tid, fd);
  if (!info || !IdentifyFd(call, fd, *info)) return std::nullopt;
  return info;
}

std::optional<std::pair<std::shared_ptr<ipc::QueueInode>, std::shared_ptr<ipc::IpcNamespace>>>
Sentry::IdentifyFd(const TrappedCall& call, int fd, const FdInfo& info) {
  auto found = mqfs_->IdentifyMountInode(info.mnt_id, info.ino);
  if (found || !(mqfs_->IsViewMount(info.mnt_id) || mqfs_->HasQueueIno(info.ino))) return found;
  // Perhaps a file opened through a program's mount of the mqueue filesystem, or a bind
  // mount of one: such a mount's id may belong to another filesystem by now (the program
  // unmounted it), so the file itself is looked at.
  const int copy = platform_->GetFd(call.tid, fd);
  if (copy < 0) return std::nullopt;
  found = mqfs_->Identify(copy);
  close(copy);
  return found;
}

std::optional<Sentry::Descriptor> Sentry::ResolveFd(const TrappedCall& call, int fd, int* err) {
  *err = EBADF;
  if (fd < 0) return std::nullopt;
  std::optional<FdInfo> info = fd_info_.Read(call.tid, fd);  // see MqFdInfo
  if (!info) return std::nullopt;  // not open (or the caller is gone)
  const uint64_t flags = info->flags;
  auto found = IdentifyFd(call, fd, *info);
  // O_PATH descriptors of a queue answer EBADF to every mq call (spec §3.3).
  if (!found || (flags & abi::kOPath)) return std::nullopt;
  *err = 0;
  return Descriptor{found->first, found->second, static_cast<int>(flags & ~abi::kOCloexec)};
}

absl::StatusOr<std::shared_ptr<ipc::IpcNamespace>> Sentry::NamespaceOf(
    const CallerIdentity& id) {
  std::vector<std::shared_ptr<ipc::IpcNamespace>> dead;
  absl::StatusOr<std::shared_ptr<ipc::IpcNamespace>> ns = FindOrAddNamespace(id, dead);
  // mqfs closes descriptors of its own for them: never under mu_ (see sentry.h).
  for (const std::shared_ptr<ipc::IpcNamespace>& d : dead) mqfs_->ForgetNamespace(*d);
  return ns;
}

absl::StatusOr<std::shared_ptr<ipc::IpcNamespace>> Sentry::FindOrAddNamespace(
    const CallerIdentity& id, std::vector<std::shared_ptr<ipc::IpcNamespace>>& dead) {
  absl::MutexLock lock(&mu_);
  if (auto it = registries_.find(id.ipc_ns); it != registries_.end()) return it->second.ns;
  // A namespace seen for the first time: release the state of those that died since the
  // registry last grew this much, then bound the rest.
  if (registries_.size() >= namespace_sweep_at_ || registries_.size() >= max_namespaces_) {
    dead = SweepDeadNamespacesLocked();
  }
  if (registries_.size() >= max_namespaces_) return std::shared_ptr<ipc::IpcNamespace>();
  const std::string path = absl::StrCat("/proc/", id.tid, "/ns/ipc");
  UniqueFd ns_fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns_fd.valid()) return absl::InternalError(absl::StrCat(path, ": ", std::strerror(errno)));
  // The limits source holds the namespace open while its registry lives, so that its
  // inode number cannot be recycled for another namespace meanwhile.
  ASSIGN_OR_RETURN(std::unique_ptr<NamespaceLimits> opened, NamespaceLimits::Open(ns_fd.get()));
  std::shared_ptr<NamespaceLimits> limits = std::move(opened);
  ipc::IpcNamespace::Options o;
  o.id = next_namespace_id_++;
  // The user namespace that owns the IPC namespace (NS_GET_USERNS).
  ASSIGN_OR_RETURN(o.owner_user_ns, identity_->OwnerOfNamespace(ns_fd.get(), id.cred.egid));
  // The sandbox's first namespace was created by its init, whose creator we know; for
  // namespaces the program creates, the first caller stands in for the creator.
  const bool first = first_namespace_;
  o.root_uid = first ? options_.root_uid : id.cred.fsuid;
  o.root_gid = first ? options_.root_gid : id.cred.fsgid;
  first_namespace_ = false;
  o.limits = limits;
  o.accounting = accounting_;
  o.events = this;
  auto ns = std::make_shared<ipc::IpcNamespace>(std::move(o));
  if (first) RETURN_IF_ERROR(ApplyRestoreLocked(*ns));
  registries_.emplace(id.ipc_ns, Registry{std::move(limits), ns, first});
  return ns;
}

std::vector<std::shared_ptr<ipc::IpcNamespace>> Sentry::SweepDeadNamespacesLocked() {
  std::vector<std::shared_ptr<ipc::IpcNamespace>> dead;
  // Two scans: a task moving into a namespace during one is seen by the other
  // (sentry/live_namespaces.h).
  const absl::flat_hash_set<NsId> live = LiveIpcNamespaces();
  const absl::flat_hash_set<NsId> live_again = LiveIpcNamespaces();
  for (auto it = registries_.begin(); it != registries_.end();) {
    const Registry& r = it->second;
    // A namespace whose mqueue filesystem a program mounted keeps its queues: on Linux
    // that mount holds them (spec §9.3: existing files still open through it).
    if (live.contains(it->first) || live_again.contains(it->first) || mqfs_->HasView(*r.ns)) {
      ++it;
      continue;
    }
    // No task is in it: Linux has destroyed it (spec §9.3). Its queues without open
    // descriptions go now (with their RLIMIT_MSGQUEUE charges), the others on their last
    // close; the namespace's descriptor is closed.
    r.ns->Die();
    r.limits->Release();
    dead.push_back(r.ns);
    registries_.erase(it++);
  }
  namespace_sweep_at_ = std::max<size_t>(kMinNamespaceSweep, 2 * registries_.size());
  return dead;
}

absl::StatusOr<CallerIdentity> Sentry::ReadIdentity(int32_t tid, IdentityReader::Parts parts) {
  return identity_->Read(tid, parts);
}

void Sentry::Fail(absl::Status status) {
  MQ_LOG("mqsentry: internal failure: ", status.ToString());
  {
    absl::MutexLock lock(&mu_);
    if (failure_.ok()) failure_ = std::move(status);
  }
  Stop();
}

// ---- mq_open ----

// HandleOpen implements mq_open(2) (spec §3.1).
HandlerResult Sentry::HandleOpen(const TrappedCall& call, const SyscallEntry& e) {
  const uint64_t name_ptr = Arg(call, e, 0);
  const int oflag = IntArg(call, 1);
  const uint32_t mode = static_cast<uint32_t>(call.args[2]);
  const uint64_t attr_ptr = Arg(call, e, 3);
  std::string trace;
  auto fail = [&](int err) -> HandlerResult { return AnswerError(err, trace); };

  // Step 1: attr. The native call copies it whenever non-NULL; compat only with O_CREAT.
  std::optional<abi::MqAttr> attr;
  if (attr_ptr != 0 && (!e.compat_attr || (oflag & abi::kOCreat))) {
    abi::MqAttr a{};
    if (e.compat_attr) {
      abi::CompatMqAttr c;
      if (!platform_->memory().Read(call, attr_ptr, &c, sizeof(c))) {
        trace = absl::StrCat(e.name, "(", PointerString(name_ptr), ", ", OpenFlagsString(oflag),
                             ", ", absl::StrFormat("%#o", mode & 0xffff), ", ",
                             PointerString(attr_ptr), ")");
        return fail(EFAULT);
      }
      a.mq_flags = c.mq_flags;
      a.mq_maxmsg = c.mq_maxmsg;
      a.mq_msgsize = c.mq_msgsize;
      a.mq_curmsgs = c.mq_curmsgs;
    } else if (!platform_->memory().Read(call, attr_ptr, &a, sizeof(a))) {
      trace = absl::StrCat(e.name, "(", PointerString(name_ptr), ", ", OpenFlagsString(oflag),
                           ", ", absl::StrFormat("%#o", mode & 0xffff), ", ",
                           PointerString(attr_ptr), ")");
      return fail(EFAULT);
    }
    attr = a;
  }
  // Step 2: getname().
  std::string name;
  const int name_err = platform_->memory().ReadName(call, name_ptr, &name);
  if (strace_.enabled()) {
    trace = absl::StrCat(e.name, "(", name_err ? PointerString(name_ptr) : QuotedString(name),
                         ", ", OpenFlagsString(oflag));
    if (oflag & abi::kOCreat) {
      absl::StrAppend(&trace, ", ", absl::StrFormat("%#o", mode & 0xffff), ", ",
                      attr ? AttrString(*attr, false) : PointerString(attr_ptr));
    }
    absl::StrAppend(&trace, ")");
  }
  if (name_err) return fail(name_err);
  if (name.empty()) return fail(ENOENT);
  // Only a creation is charged to the caller's RLIMIT_MSGQUEUE (spec §3.5).
  absl::StatusOr<CallerIdentity> id = ReadIdentity(
      call.tid,
      {.rlimit = (oflag & abi::kOCreat) != 0, .process = false, .free_descriptor = true});
  // Check the call again after reading /proc: a recycled pid must not lend its identity.
  if (!platform_->StillValid(call.id)) return CallGone{};
  if (!id.ok()) return InternalFailure{id.status()};
  // Step 3: a free descriptor, before the name is looked up.
  if (!id->has_free_descriptor) return fail(EMFILE);
  absl::StatusOr<std::shared_ptr<ipc::IpcNamespace>> ns = NamespaceOf(*id);
  if (!ns.ok()) return InternalFailure{ns.status()};
  if (*ns == nullptr) {
    // A new namespace past the bound of live ones: no queue exists in it; a creation
    // fails as at queues_max (spec §3.1 step 6.6).
    if (int err = ipc::CheckQueueName(name)) return fail(err);
    return fail((oflag & abi::kOCreat) ? ENOSPC : ENOENT);
  }

  ipc::OpenOutcome o = (*ns)->Open(id->cred, name, oflag, mode, attr ? &*attr : nullptr);
  // queues_max (ENOSPC) and RLIMIT_MSGQUEUE (EMFILE) may still count a queue whose last
  // descriptor the caller has closed: Linux frees it before close(2) returns, FUSE sends
  // the release after. Let the releases in flight arrive, then decide again.
  if (!o.result.ok() && (o.result.error() == ENOSPC || o.result.error() == EMFILE) &&
      mqfs_->WaitForQueuedRequests(kReleaseWaitMs)) {
    o = (*ns)->Open(id->cred, name, oflag, mode, attr ? &*attr : nullptr);
  }
  if (!o.result.ok()) return Answer{o.result, trace};
  mqfs_->AddQueue(o.inode, *ns);
  // The open description on mqfs carries the whole oflag for F_GETFL (Mqfs::Open), but
  // never O_PATH: an O_PATH file would never tell mqfs that it was closed. (Linux gives an
  // O_PATH description here, on which every mq call is EBADF; ours is an ordinary one.)
  absl::StatusOr<int> fd = mqfs_->Open(*o.inode, oflag & ~abi::kOPath);
  if (!fd.ok()) {
    (*ns)->ReleaseDescription(o.inode);
    return InternalFailure{fd.status()};
  }
  // If the caller is interrupted, the dispatcher's close of the description is its last,
  // and mqfs's release gives the description back to the namespace.
  return NewDescriptor{UniqueFd(*fd), /*cloexec=*/true, trace};
}

// ---- mq_unlink ----

// HandleUnlink implements mq_unlink(2) (spec §4).
HandlerResult Sentry::HandleUnlink(const TrappedCall& call, const SyscallEntry& e) {
  const uint64_t name_ptr = Arg(call, e, 0);
  std::string name;
  const int name_err = platform_->memory().ReadName(call, name_ptr, &name);
  std::string trace;
  if (strace_.enabled()) {
    trace = absl::StrCat(e.name, "(", name_err ? PointerString(name_ptr) : QuotedString(name), ")");
  }
  if (name_err) return AnswerError(name_err, trace);
  if (name.empty()) return AnswerError(ENOENT, trace);
  absl::StatusOr<CallerIdentity> id = ReadIdentity(call.tid, {.rlimit = false, .process = false});
  if (!platform_->StillValid(call.id)) return CallGone{};
  if (!id.ok()) return InternalFailure{id.status()};
  absl::StatusOr<std::shared_ptr<ipc::IpcNamespace>> ns = NamespaceOf(*id);
  if (!ns.ok()) return InternalFailure{ns.status()};
  if (*ns == nullptr) {  // past the bound of live namespaces: a new one, with no queue
    const int err = ipc::CheckQueueName(name);
    return AnswerError(err ? err : ENOENT, trace);
  }
  const SyscallResult r = (*ns)->Unlink(id->cred, name);
  // Before the answer: open descriptors read "/NAME (deleted)" once it returns (§8.3).
  if (r.ok()) mqfs_->QueueUnlinked(**ns, name);
  return Answer{r, trace};
}

// ---- mq_timedsend ----

// HandleTimedSend implements mq_timedsend(2) (spec §5.1).
HandlerResult Sentry::HandleTimedSend(const TrappedCall& call, const SyscallEntry& e) {
  const int fd = IntArg(call, 0);
  const uint64_t msg_ptr = Arg(call, e, 1);
  const uint64_t msg_len = Arg(call, e, 2);
  const uint32_t prio = static_cast<uint32_t>(call.args[3]);
  const uint64_t ts_ptr = Arg(call, e, 4);
  std::string trace;
  if (strace_.enabled()) {
    trace = absl::StrCat(e.name, "(", FdTrace(fd), ", ", PointerString(msg_ptr), ", ", msg_len,
                         ", ", prio, ", ", PointerString(ts_ptr), ")");
  }
  auto fail = [&](int err) -> HandlerResult { return AnswerError(err, trace); };

  // Step 1: the timeout is checked on every call (spec §5.1, §11.1).
  Deadline deadline = Deadline::Infinite();
  if (ts_ptr != 0) {
    if (int err = ReadDeadline(call, e, ts_ptr, &deadline)) return fail(err);
  }
  // Step 2: priority before the descriptor.
  if (prio >= abi::kMqPrioMax) return fail(EINVAL);
  // Step 3: an mq descriptor open for writing.
  int err = 0;
  std::optional<Descriptor> d = ResolveFd(call, fd, &err);
  if (!d) return fail(err);
  const int acc = d->flags & abi::kOAccmode;
  if (acc != abi::kOWronly && acc != abi::kORdwr) return fail(EBADF);
  ipc::Queue& queue = d->inode->queue();
  // Step 4: EMSGSIZE before the buffer is touched.
  if (msg_len > static_cast<uint64_t>(queue.attributes().msgsize)) return fail(EMSGSIZE);
  // Step 5: copy the message.
  ipc::SendRequest req;
  req.payload = ipc::Payload::Uninitialized(msg_len);
  if (msg_len > 0 &&
      !platform_->memory().Read(call, msg_ptr, req.payload.mutable_data(), msg_len)) {
    return fail(EFAULT);
  }
  req.priority = prio;
  req.nonblocking = d->flags & abi::kONonblock;
  req.deadline = deadline;
  req.now_ns = RealtimeNowNanos();
  req.tag = call.id;
  // Who is sending matters only if a notification can fire (empty queue) or the call
  // can block (full queue); /proc is read only then.
  const ipc::QueueStatus status = queue.Status();
  const bool may_fire = status.curmsgs == 0 && status.notify_owner.has_value();
  const bool may_block = status.curmsgs >= queue.attributes().maxmsg && !req.nonblocking;
  if (may_fire) {
    absl::StatusOr<CallerIdentity> id = ReadIdentity(call.tid);
    if (!platform_->StillValid(call.id)) return CallGone{};
    if (!id.ok()) return InternalFailure{id.status()};
    req.sender = ipc::SenderIdentity{id->process, id->tgid, id->cred.ruid};
    req.sched_prio = id->sched_prio;
  } else if (may_block) {
    std::optional<int> prio = SchedPrio(call.tid);
    if (!platform_->StillValid(call.id)) return CallGone{};
    if (prio) req.sched_prio = *prio;
  }
  ipc::SendOutcome out = queue.Send(std::move(req));
  if (out.parked) {
    Park p;
    p.call = call;
    p.entry = &e;
    p.inode = d->inode;
    p.waiter = *out.parked;
    p.is_send = true;
    p.deadline = deadline;
    p.trace = trace;
    return p;
  }
  if (out.handoff) {
    // The sender is answered first; only then may the receiver have the message
    // (ipc/queue.h: nothing lost, nothing duplicated).
    // Times change before the answer: the caller may stat the file right after it.
    mqfs_->Touch(*d->inode, /*modified=*/true);  // the sender's side of a hand-off (spec §8.3)
    auto handoff = std::make_shared<ipc::Handoff>(std::move(*out.handoff));
    std::shared_ptr<ipc::QueueInode> inode = d->inode;
    return Answer{SyscallResult::Ok(), trace,
                  /*undo=*/[inode, handoff] { inode->queue().CancelHandoff(std::move(*handoff)); },
                  /*delivered=*/[this, inode, handoff] {
                    DeliverHandoff(inode->queue(), std::move(*handoff));
                  }};
  }
  if (out.result.ok()) mqfs_->Touch(*d->inode, /*modified=*/true);
  // A notification this send fired is queued (the signal pending at its owner, or the
  // cookie in its socket) before the send returns, as Linux does it inside the call
  // (spec §6.3). Only a send that fired pays for it.
  const bool fired = out.inserted && out.inserted->consumed;
  if (fired) FlushDeliveries();
  Answer answer{out.result, trace};
  if (out.inserted && !fired) {
    // If a signal lands during our round trip, the caller sees EINTR (or restarts), so
    // the message must not stay queued, or a retry would duplicate it. (The times it set
    // stay: they only say when the queue was last touched.) A send whose notification
    // was delivered keeps its message: with WAIT_KILLABLE_RECV the answer fails only when
    // the sender is being killed, so no retry can duplicate it, and the owner that got
    // the notification finds the message, as after Linux's send completed.
    answer.undo = [inode = d->inode, inserted = *out.inserted] {
      inode->queue().UndoSend(inserted);
    };
  }
  return answer;
}

// ---- mq_timedreceive ----

// HandleTimedReceive implements mq_timedreceive(2) (spec §5.2).
HandlerResult Sentry::HandleTimedReceive(const TrappedCall& call, const SyscallEntry& e) {
  const int fd = IntArg(call, 0);
  const uint64_t msg_ptr = Arg(call, e, 1);
  const uint64_t msg_len = Arg(call, e, 2);
  const uint64_t prio_ptr = Arg(call, e, 3);
  const uint64_t ts_ptr = Arg(call, e, 4);
  std::string trace;
  if (strace_.enabled()) {
    trace = absl::StrCat(e.name, "(", FdTrace(fd), ", ", PointerString(msg_ptr), ", ", msg_len,
                         ", ", PointerString(prio_ptr), ", ", PointerString(ts_ptr), ")");
  }
  auto fail = [&](int err) -> HandlerResult { return AnswerError(err, trace); };

  Deadline deadline = Deadline::Infinite();
  if (ts_ptr != 0) {
    if (int err = ReadDeadline(call, e, ts_ptr, &deadline)) return fail(err);
  }
  int err = 0;
  std::optional<Descriptor> d = ResolveFd(call, fd, &err);
  if (!d) return fail(err);
  const int acc = d->flags & abi::kOAccmode;
  if (acc != abi::kORdonly && acc != abi::kORdwr) return fail(EBADF);
  ipc::Queue& queue = d->inode->queue();

  ipc::ReceiveRequest req;
  req.buffer_len = msg_len;
  req.nonblocking = d->flags & abi::kONonblock;
  req.deadline = deadline;
  req.now_ns = RealtimeNowNanos();
  req.tag = call.id;
  if (queue.Status().curmsgs == 0 && !req.nonblocking) {
    std::optional<int> prio = SchedPrio(call.tid);
    if (!platform_->StillValid(call.id)) return CallGone{};
    if (prio) req.sched_prio = *prio;
  }
  ipc::ReceiveOutcome out = queue.Receive(req);
  if (out.parked) {
    Park p;
    p.call = call;
    p.entry = &e;
    p.inode = d->inode;
    p.waiter = *out.parked;
    p.buffer = msg_ptr;
    p.prio_ptr = prio_ptr;
    p.deadline = deadline;
    p.trace = trace;
    return p;
  }
  if (!out.message) return Answer{out.result, trace};
  const WriteOutcome copied = CopyOutMessage(call, msg_ptr, prio_ptr, *out.message);
  // A caller that no longer waits gets nothing: the message goes back.
  if (copied == WriteOutcome::kGone) {
    queue.UndoReceive(std::move(out));
    return CallGone{};
  }
  if (copied == WriteOutcome::kError) {
    queue.UndoReceive(std::move(out));
    return InternalFailure{absl::ResourceExhaustedError("cannot open a receiver's memory")};
  }
  // A fault on the buffer or the prio pointer loses the message (spec §5.2 step 6); the
  // times were set when it was taken, as in do_mq_timedreceive().
  mqfs_->Touch(*d->inode, /*modified=*/true);  // spec §8.3 (not on the waking side)
  const SyscallResult r =
      copied == WriteOutcome::kDone ? out.result : SyscallResult::Error(EFAULT);
  auto taken = std::make_shared<ipc::ReceiveOutcome>(std::move(out));
  std::shared_ptr<ipc::QueueInode> inode = d->inode;
  return Answer{r, trace,
                /*undo=*/[inode, taken] { inode->queue().UndoReceive(std::move(*taken)); },
                /*delivered=*/[this, inode, taken] {
                  CompleteRefill(inode->queue(), std::move(taken->refill));
                }};
}

// ---- mq_notify ----

// HandleNotify implements mq_notify(2) (spec §6.1).
HandlerResult Sentry::HandleNotify(const TrappedCall& call, const SyscallEntry& e) {
  const int mqdes = IntArg(call, 0);
  const uint64_t sev_ptr = Arg(call, e, 1);
  std::string trace;
  if (strace_.enabled()) trace = absl::StrCat(e.name, "(", mqdes, ", ", PointerString(sev_ptr), ")");
  auto fail = [&](int err) -> HandlerResult { return AnswerError(err, trace); };

  int notify = 0, signo = 0;
  uint64_t value = 0;
  std::array<uint8_t, 32> cookie{};
  CookieSocket thread;  // SIGEV_THREAD only
  if (sev_ptr != 0) {
    if (e.compat_sigevent) {
      // get_compat_sigevent() reads sigev_value, sigev_signo, sigev_notify and the tid (16
      // bytes), not the whole struct: a compat sigevent may end right after them.
      abi::CompatSigEvent s{};
      constexpr size_t kCompatRead = offsetof(abi::CompatSigEvent, un) + sizeof(s.un.tid);
      if (!platform_->memory().Read(call, sev_ptr, &s, kCompatRead)) return fail(EFAULT);
      notify = s.sigev_notify;
      signo = s.sigev_signo;
      value = s.sigev_value;
    } else {
      abi::SigEvent s;
      if (!platform_->memory().Read(call, sev_ptr, &s, sizeof(s))) return fail(EFAULT);
      notify = s.sigev_notify;
      signo = s.sigev_signo;
      value = s.sigev_value;
    }
    if (strace_.enabled()) {
      trace = absl::StrCat(e.name, "(", mqdes, ", ", SigeventString(notify, signo, value), ")");
    }
    // Steps 1-2: EINVAL before the descriptor is looked at.
    if (notify != abi::kSigevNone && notify != abi::kSigevSignal && notify != abi::kSigevThread) {
      return fail(EINVAL);
    }
    if (notify == abi::kSigevSignal && static_cast<unsigned>(signo) > abi::kNsig) {
      return fail(EINVAL);
    }
    if (notify == abi::kSigevThread) {
      // Step 3: the cookie, then the netlink socket named by sigev_signo.
      const uint64_t cookie_ptr = e.compat_sigevent ? static_cast<uint32_t>(value) : value;
      if (!platform_->memory().Read(call, cookie_ptr, cookie.data(), cookie.size())) {
        return fail(EFAULT);
      }
      if (int err = ResolveCookieSocket(call, signo, thread)) return fail(err);
    }
  }
  // Step 4: the descriptor; no access mode is needed.
  int err = 0;
  std::optional<Descriptor> d = ResolveFd(call, mqdes, &err);
  if (!d) return fail(err);
  absl::StatusOr<CallerIdentity> id = ReadIdentity(call.tid);
  if (!platform_->StillValid(call.id)) return CallGone{};
  if (!id.ok()) return InternalFailure{id.status()};
  ipc::Queue& queue = d->inode->queue();
  // Step 5.
  if (sev_ptr == 0) {
    if (queue.UnregisterNotification(id->process)) {
      mqfs_->Touch(*d->inode, /*modified=*/false);
      FlushDeliveries();  // a SIGEV_THREAD NOTIFY_REMOVED cookie: queued before the answer
    }
    return Answer{SyscallResult::Ok(), trace};
  }
  // The owner's pid numbers, while it surely lives (NOTIFY_PID outlives it, spec §6.2),
  // and its image (a signal goes only to the image that registered).
  absl::StatusOr<IdentityReader::PidChain> owner_pids = identity_->PidChainOf(id->tgid);
  absl::StatusOr<uint64_t> exec_token = identity_->ExecToken(id->tgid);
  if (!platform_->StillValid(call.id)) return CallGone{};
  ipc::NotificationRegistration r;
  r.owner = id->process;
  r.owner_host_tgid = id->tgid;
  r.owner_user_ns = id->cred.user_ns;
  r.owner_exec_generation = exec_token.ok() ? *exec_token : 0;
  r.notify = notify;
  r.signo = notify == abi::kSigevSignal ? signo : 0;
  r.value = value;
  r.socket = thread.channel;
  r.cookie = cookie;
  SyscallResult result = queue.RegisterNotification(std::move(r));
  if (result.ok() && thread.created) {
    // The program's socket becomes the channel's end, at the same number.
    absl::StatusOr<std::optional<int>> installed = platform_->InstallFdAt(
        call, thread.created->program_end.get(), signo, thread.cloexec);
    if (!installed.ok() || !installed->has_value() || **installed != 0) {
      queue.UndoRegisterNotification(id->process);
      if (!installed.ok()) return InternalFailure{installed.status()};
      if (!installed->has_value()) return CallGone{};  // interrupted: nothing was installed
      return fail(**installed);
    }
    WakeReceiversOf(thread.sock.get());
  }
  if (result.ok() && owner_pids.ok()) RememberOwnerPids(id->tgid, std::move(*owner_pids));
  if (result.ok()) mqfs_->Touch(*d->inode, /*modified=*/false);  // before the answer
  Answer answer{result, trace};
  if (result.ok()) {
    // Interrupted before the answer arrives: a restarted call must not meet its own
    // registration (EBUSY).
    answer.undo = [inode = d->inode, owner = id->process] {
      inode->queue().UndoRegisterNotification(owner);
    };
  }
  return answer;
}

// Spec §6.1 step 3.2: sigev_signo must name a netlink socket (EBADF, ENOTSOCK, EINVAL),
// or one that already carries cookies (a channel's end, which to the program is that
// netlink socket). For a netlink socket not yet replaced, a new channel is made (ENOMEM
// at the bound, as the kernel when it cannot allocate the cookie's skb).
int Sentry::ResolveCookieSocket(const TrappedCall& call, int signo, CookieSocket& out) {
  out.sock = UniqueFd(platform_->GetFd(call.tid, signo));
  if (!out.sock.valid()) return EBADF;
  if (std::optional<uint64_t> found = cookie_channels_.Find(out.sock.get())) {
    out.channel = *found;
    return 0;
  }
  int domain = 0;
  socklen_t len = sizeof(domain);
  if (getsockopt(out.sock.get(), SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) {
    return errno == ENOTSOCK ? ENOTSOCK : EBADF;
  }
  if (domain != AF_NETLINK) return EINVAL;
  std::optional<FdInfo> info = fd_info_.Read(call.tid, signo);
  if (!info) return EBADF;  // closed meanwhile by another thread
  out.cloexec = (info->flags & abi::kOCloexec) != 0;
  out.created = cookie_channels_.Create((info->flags & abi::kONonblock) != 0);
  if (!out.created) return ENOMEM;
  out.channel = out.created->id;
  return 0;
}

// A thread of the program blocked in recv() on the netlink socket just replaced (glibc's
// SIGEV_THREAD helper is, from before its first mq_notify) keeps waiting on the old socket
// and would never see a cookie. The kernel can still write to that socket: a NLMSG_NOOP
// request with NLM_F_ACK, sent from the socket itself to the kernel (portid 0, no group,
// which needs no privilege), makes rtnetlink queue a 36-byte acknowledgement on it. The
// waiting recv() returns, and glibc's helper, which ignores a datagram whose byte 31 is not
// NOTIFY_WOKENUP or NOTIFY_REMOVED (the ack's is the top byte of the sequence number, 0),
// calls recv() again on its descriptor number: now the channel. Only NETLINK_ROUTE, glibc's
// protocol, whose NOOP does nothing but the ack.
void Sentry::WakeReceiversOf(int netlink_sock) {
  int protocol = -1;
  socklen_t len = sizeof(protocol);
  if (getsockopt(netlink_sock, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0 ||
      protocol != NETLINK_ROUTE) {
    return;
  }
  nlmsghdr noop{};
  noop.nlmsg_len = sizeof(noop);
  noop.nlmsg_type = NLMSG_NOOP;
  noop.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  (void)!sendto(netlink_sock, &noop, sizeof(noop), MSG_DONTWAIT | MSG_NOSIGNAL,
                reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel));
}

// ---- mq_getsetattr ----

// HandleGetSetAttr implements mq_getsetattr(2) (spec §7).
HandlerResult Sentry::HandleGetSetAttr(const TrappedCall& call, const SyscallEntry& e) {
  const int mqdes = IntArg(call, 0);
  const uint64_t new_ptr = Arg(call, e, 1);
  const uint64_t old_ptr = Arg(call, e, 2);
  std::string trace;
  if (strace_.enabled()) {
    trace = absl::StrCat(e.name, "(", mqdes, ", ", PointerString(new_ptr), ", ",
                         PointerString(old_ptr), ")");
  }
  auto fail = [&](int err) -> HandlerResult { return AnswerError(err, trace); };

  // Steps 1-2: copy and validate newattr before the descriptor.
  std::optional<abi::MqAttr> new_attr;
  if (new_ptr != 0) {
    abi::MqAttr a{};
    if (e.compat_attr) {
      abi::CompatMqAttr c;
      if (!platform_->memory().Read(call, new_ptr, &c, sizeof(c))) return fail(EFAULT);
      a.mq_flags = c.mq_flags;
    } else if (!platform_->memory().Read(call, new_ptr, &a, sizeof(a))) {
      return fail(EFAULT);
    }
    if (SyscallResult v = ipc::ValidateNewAttr(a); !v.ok()) return fail(v.error());
    new_attr = a;
  }
  // Step 3: the descriptor, read from fdinfo (no access mode is needed).
  int err = 0;
  std::optional<Descriptor> d = ResolveFd(call, mqdes, &err);
  if (!d) return fail(err);
  // Step 4: snapshot, then apply O_NONBLOCK only. It lives in the open description, which
  // only a descriptor of it can change: a copy (whose close costs a flush round trip, so
  // only when the flag really changes).
  const abi::MqAttr old = d->inode->queue().Attributes(d->flags);
  if (new_attr) {
    const int wanted = (d->flags & ~abi::kONonblock) | (new_attr->mq_flags & abi::kONonblock);
    if (wanted != d->flags) {
      const int host_fd = platform_->GetFd(call.tid, mqdes);
      if (host_fd < 0) return fail(EBADF);  // closed meanwhile by another thread
      // Replaced meanwhile by another thread: never change another file's flags.
      auto same = mqfs_->Identify(host_fd);
      if (!same || same->first != d->inode) {
        close(host_fd);
        return fail(EBADF);
      }
      const int now = fcntl(host_fd, F_GETFL);
      if (now < 0 || fcntl(host_fd, F_SETFL, (now & ~abi::kONonblock) |
                                                  (new_attr->mq_flags & abi::kONonblock)) != 0) {
        const int saved = errno;
        close(host_fd);
        return InternalFailure{absl::InternalError(absl::StrCat("F_SETFL: ", std::strerror(saved)))};
      }
      close(host_fd);
    }
    mqfs_->Touch(*d->inode, /*modified=*/false);  // do_mq_getsetattr(), with a new attr
  }
  // Step 5: a fault here is EFAULT, with the change already applied.
  if (old_ptr != 0) {
    bool ok;
    if (e.compat_attr) {
      abi::CompatMqAttr c{};
      c.mq_flags = static_cast<int32_t>(old.mq_flags);
      c.mq_maxmsg = static_cast<int32_t>(old.mq_maxmsg);
      c.mq_msgsize = static_cast<int32_t>(old.mq_msgsize);
      c.mq_curmsgs = static_cast<int32_t>(old.mq_curmsgs);
      ok = platform_->memory().Write(call, old_ptr, &c, sizeof(c));
    } else {
      ok = platform_->memory().Write(call, old_ptr, &old, sizeof(old));
    }
    if (!ok) return fail(EFAULT);
    if (strace_.enabled()) {
      trace = absl::StrCat(e.name, "(", mqdes, ", ",
                           new_attr ? AttrString(*new_attr, true) : "NULL", ", ",
                           AttrString(old, true), ")");
    }
  }
  return Answer{SyscallResult::Ok(), trace};
}

// ---- fcntl of mq descriptors ----

// HandleFcntl answers F_GETFL, and F_SETFL with O_DIRECT, for mq descriptors (spec §3.3,
// §7); for every other descriptor the call continues to the host kernel. F_GETFL of an
// mq_open description is its oflag without the creation flags: O_CLOEXEC and bits open(2)
// would drop included, no O_LARGEFILE added. Its bits that F_SETFL changes are the file's
// own (fdinfo "flags", which also shows the descriptor's close-on-exec bit as O_CLOEXEC);
// the others are carried by the mqfs view it was opened through (Mqfs::Open).
HandlerResult Sentry::HandleFcntl(const TrappedCall& call, const SyscallEntry& e) {
  const int fd = IntArg(call, 0);
  const uint32_t cmd = static_cast<uint32_t>(call.args[1]);
  const uint64_t arg = Arg(call, e, 2);
  std::optional<FdInfo> info = MqFdInfo(call, fd);
  const bool mq = info.has_value() && !(info->flags & abi::kOPath);
  const int extra = mq ? mqfs_->ExtraFlagsOfMount(info->mnt_id).value_or(0) : 0;
  std::string trace;
  if (mq && cmd == F_GETFL) {
    if (strace_.enabled()) trace = absl::StrCat(e.name, "(", fd, ", F_GETFL)");
    const uint32_t file_flags =
        static_cast<uint32_t>(info->flags) & ~static_cast<uint32_t>(abi::kOCloexec | abi::kOLargefile);
    // f_flags is an unsigned int, returned as a non-negative long.
    const uint32_t flags = file_flags | static_cast<uint32_t>(extra);
    return Answer{SyscallResult::Value(static_cast<int64_t>(flags)), trace};
  }
  if (mq && cmd == F_SETFL && (arg & abi::kODirect)) {
    // setfl(): O_DIRECT needs FMODE_CAN_ODIRECT, which an mqueue file lacks.
    if (strace_.enabled()) {
      trace = absl::StrCat(e.name, "(", fd, ", F_SETFL, ", OpenFlagsString(static_cast<int>(arg)),
                           ")");
    }
    return Answer{SyscallResult::Error(EINVAL), trace};
  }
  return ContinueToHost{};
}

// ---- fstatfs of mq descriptors ----

// HandleFstatfs answers fstatfs(2) for mq descriptors as simple_statfs() does for the
// mqueue superblock (spec §8.3): its magic, PAGE_SIZE blocks, NAME_MAX, the device as
// f_fsid, and only ST_VALID in f_flags (the internal mqueue mount has no flags). Every
// other descriptor's call continues to the host kernel.
HandlerResult Sentry::HandleFstatfs(const TrappedCall& call, const SyscallEntry& e) {
  const int fd = IntArg(call, 0);
  const uint64_t buf = Arg(call, e, 1);
  if (!MqFdInfo(call, fd)) return ContinueToHost{};
  std::string trace;
  if (strace_.enabled()) trace = absl::StrCat(e.name, "(", fd, ", ", PointerString(buf), ")");
  struct statfs st {};
  st.f_type = abi::kMqueueMagic;
  st.f_bsize = 4096;
  st.f_namelen = 255;
  st.f_frsize = 4096;
  st.f_flags = 0x0020;  // ST_VALID (include/linux/statfs.h): f_flags is meaningful
  // huge_encode_dev(s_dev), split into two 32-bit words.
  const dev_t dev = mqfs_->device();
  const uint64_t id = abi::HugeEncodeDev(major(dev), minor(dev));
  st.f_fsid.__val[0] = static_cast<int>(id & 0xffffffffu);
  st.f_fsid.__val[1] = static_cast<int>(id >> 32);
  if (!platform_->memory().Write(call, buf, &st, sizeof(st))) {
    return Answer{SyscallResult::Error(EFAULT), trace};
  }
  return Answer{SyscallResult::Ok(), trace};
}

}  // namespace mqsentry::sentry
