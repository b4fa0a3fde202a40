// mq_open / mq_unlink in one IPC namespace, queue lifetime, and checkpoint export/import.
// Every errno cites the step of spec §3.1 / §4 it implements.
#include "ipc/ipc_namespace.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kernel/capabilities.h"
#include "kernel/permission.h"

namespace mqsentry::ipc {
namespace {

namespace abi = kernel::abi;
using kernel::Capability;
using kernel::Credentials;
using kernel::KGid;
using kernel::KUid;
using kernel::SyscallResult;

// Queue ids are unique in the whole sandbox (checkpoint identity, mqfs inode numbers).
std::atomic<uint64_t> next_queue_id{1};

uint64_t NewQueueId() { return next_queue_id.fetch_add(1, std::memory_order_relaxed); }

void SeeQueueId(uint64_t id) {
  uint64_t cur = next_queue_id.load(std::memory_order_relaxed);
  while (cur <= id && !next_queue_id.compare_exchange_weak(cur, id + 1)) {
  }
}

OpenOutcome Fail(int err, bool created = false) {
  OpenOutcome out;
  out.result = SyscallResult::Error(err);
  out.created = created;
  return out;
}

}  // namespace

int CheckQueueName(absl::string_view name) {
  if (name.empty()) return ENOENT;  // getname() of "" (spec §3.1 step 2)
  // lookup_one_len(): "." and ".." and any '/' are EACCES before the length check.
  if (name == "." || name == "..") return EACCES;
  if (name.find('/') != absl::string_view::npos) return EACCES;
  if (name.find('\0') != absl::string_view::npos) return EACCES;
  if (name.size() > abi::kNameMax) return ENAMETOOLONG;
  return 0;
}

IpcNamespace::IpcNamespace(Options options) : options_(std::move(options)) {}

kernel::InodeOwnership IpcNamespace::RootDirectory() const {
  return kernel::InodeOwnership{options_.root_uid, options_.root_gid, abi::kMqueueRootMode,
                                /*is_directory=*/true};
}

OpenOutcome IpcNamespace::Open(const Credentials& cred, absl::string_view name, int oflag,
                               uint32_t mode, const abi::MqAttr* attr) {
  // Step 5: lookup.
  if (int err = CheckQueueName(name)) return Fail(err);
  absl::MutexLock lock(&mu_);
  auto it = dead_ ? names_.end() : names_.find(name);
  if (it == names_.end()) {
    // Step 6.1: no such queue and no O_CREAT.
    if (!(oflag & abi::kOCreat)) return Fail(ENOENT);
    return CreateLocked(cred, name, oflag, mode, attr);
  }
  std::shared_ptr<QueueInode> inode = it->second;
  // Step 7.1: EEXIST comes before the access-mode check.
  if ((oflag & (abi::kOCreat | abi::kOExcl)) == (abi::kOCreat | abi::kOExcl)) {
    return Fail(EEXIST);
  }
  // Step 7.2: access mode 3 on an existing queue.
  const int acc = oflag & abi::kOAccmode;
  if (acc == abi::kOAccmode) return Fail(EINVAL);
  // Step 7.3: permission on the queue inode (spec §3.6); attr/mode are ignored (7.4).
  const int want = acc == abi::kORdonly   ? kernel::kMayRead
                   : acc == abi::kOWronly ? kernel::kMayWrite
                                          : kernel::kMayRead | kernel::kMayWrite;
  Queue& q = inode->queue();
  if (int err = kernel::GenericPermission(
          cred, kernel::InodeOwnership{q.uid(), q.gid(), q.mode(), false}, want)) {
    return Fail(err);
  }
  // Step 8: O_DIRECT fails in dentry_open.
  if (oflag & abi::kODirect) return Fail(EINVAL);
  OpenOutcome out;
  out.inode = inode;
  out.file_flags = oflag & ~abi::kOpenOnlyFlags;
  out.readable = acc == abi::kORdonly || acc == abi::kORdwr;
  out.writable = acc == abi::kOWronly || acc == abi::kORdwr;
  ++inode->descriptions_;
  return out;
}

OpenOutcome IpcNamespace::CreateLocked(const Credentials& cred, absl::string_view name,
                                       int oflag, uint32_t mode, const abi::MqAttr* attr) {
  // Step 6.3: may_create(): the caller's fsuid/fsgid must be mapped in the user namespace
  // that owns the IPC namespace (EOVERFLOW), then write+exec on the 1777 directory.
  const auto& owner_ns = *options_.owner_user_ns;
  if (!owner_ns.HasMapping(cred.fsuid) || !owner_ns.HasMapping(cred.fsgid)) {
    return Fail(EOVERFLOW);
  }
  if (int err = kernel::GenericPermission(cred, RootDirectory(),
                                          kernel::kMayWrite | kernel::kMayExec)) {
    return Fail(err);
  }
  // Step 6.4: umode_t is 16 bits; then umask and S_IALLUGO.
  const uint32_t masked_mode = (mode & 0xffff) & ~cred.umask & abi::kSIallugo;
  // Step 6.5: the namespace died; only a leftover mount reaches it (spec §9.3).
  if (dead_) return Fail(EACCES);
  // Step 6.6: queues_max, compared unsigned, before attribute validation; only
  // CAP_SYS_RESOURCE in the initial user namespace bypasses it.
  const MqSysctls limits = options_.limits->Read();
  if (queues_count_ >= static_cast<uint32_t>(limits.queues_max) &&
      !cred.Capable(Capability::kSysResource)) {
    return Fail(ENOSPC);
  }
  // Step 6.7 (spec §3.4): attributes, defaults capped at the maxima.
  QueueAttributes attrs;
  if (attr != nullptr) {
    attrs.maxmsg = attr->mq_maxmsg;
    attrs.msgsize = attr->mq_msgsize;
  } else {
    attrs.maxmsg = std::min(limits.msg_max, limits.msg_default);
    attrs.msgsize = std::min(limits.msgsize_max, limits.msgsize_default);
  }
  if (attrs.maxmsg <= 0 || attrs.msgsize <= 0) return Fail(EINVAL);
  if (cred.Capable(Capability::kSysResource)) {
    if (attrs.maxmsg > abi::kHardMsgMax || attrs.msgsize > abi::kHardMsgSizeMax) {
      return Fail(EINVAL);
    }
  } else if (attrs.maxmsg > limits.msg_max || attrs.msgsize > limits.msgsize_max) {
    return Fail(EINVAL);
  }
  std::optional<uint64_t> cost = QueueCost(attrs.maxmsg, attrs.msgsize);
  if (!cost) return Fail(EOVERFLOW);
  // RLIMIT_MSGQUEUE, charged to the real uid (spec §3.5).
  std::optional<Charge> charge = options_.accounting->TryCharge(cred, *cost);
  if (!charge) return Fail(EMFILE);

  // Step 6.8: create and link. The creator's fd is not permission-checked.
  ++queues_count_;
  auto queue = std::make_unique<Queue>(cred.fsuid, cred.fsgid, masked_mode, attrs,
                                       options_.events ? options_.events : &NullQueueEvents());
  auto inode = std::make_shared<QueueInode>(NewQueueId(), std::string(name), std::move(queue),
                                            std::move(*charge));
  names_.emplace(std::string(name), inode);
  live_.emplace(inode->id(), inode);
  // Step 8: O_DIRECT fails in dentry_open, after the queue was created and linked.
  if (oflag & abi::kODirect) return Fail(EINVAL, /*created=*/true);
  const int acc = oflag & abi::kOAccmode;
  OpenOutcome out;
  out.inode = inode;
  out.created = true;
  out.file_flags = oflag & ~abi::kOpenOnlyFlags;
  out.readable = acc == abi::kORdonly || acc == abi::kORdwr;
  out.writable = acc == abi::kOWronly || acc == abi::kORdwr;
  ++inode->descriptions_;
  return out;
}

SyscallResult IpcNamespace::Unlink(const Credentials& cred, absl::string_view name) {
  // Step 3: lookup.
  if (int err = CheckQueueName(name)) return SyscallResult::Error(err);
  absl::MutexLock lock(&mu_);
  auto it = dead_ ? names_.end() : names_.find(name);
  // Step 4: negative entry.
  if (it == names_.end()) return SyscallResult::Error(ENOENT);
  std::shared_ptr<QueueInode> inode = it->second;
  Queue& q = inode->queue();
  const kernel::InodeOwnership victim{q.uid(), q.gid(), q.mode(), false};
  // Step 5: may_delete(): write+exec on the directory, then the sticky rule -> EPERM.
  if (int err = kernel::GenericPermission(cred, RootDirectory(),
                                          kernel::kMayWrite | kernel::kMayExec)) {
    return SyscallResult::Error(err);
  }
  if (int err = kernel::CheckSticky(cred, RootDirectory(), victim)) {
    return SyscallResult::Error(err);
  }
  // The name goes now; the queue lives while descriptions exist (spec §4 "Effect").
  names_.erase(it);
  inode->linked_ = false;
  if (inode->descriptions_ == 0) DestroyLocked(*inode);
  return SyscallResult::Ok();
}

void IpcNamespace::AddDescription(const std::shared_ptr<QueueInode>& inode) {
  absl::MutexLock lock(&mu_);
  ++inode->descriptions_;
}

void IpcNamespace::ReleaseDescription(const std::shared_ptr<QueueInode>& inode) {
  absl::MutexLock lock(&mu_);
  if (inode->descriptions_ > 0) --inode->descriptions_;
  if (inode->descriptions_ == 0 && (!inode->linked_ || dead_)) DestroyLocked(*inode);
}

void IpcNamespace::DestroyLocked(QueueInode& inode) {
  if (inode.destroyed_) return;
  inode.destroyed_ = true;
  live_.erase(inode.id());
  // mqueue_evict_inode(): the charge and the queues_count slot go together (spec §3.5);
  // a dead namespace has no counter left to decrement (spec §9.3).
  options_.accounting->Release(inode.charge_);
  if (!dead_ && queues_count_ > 0) --queues_count_;
}

void IpcNamespace::Die() {
  absl::MutexLock lock(&mu_);
  if (dead_) return;
  // Linked queues stay reachable through descriptors only.
  for (auto& [name, inode] : names_) {
    inode->linked_ = false;
    if (inode->descriptions_ == 0) DestroyLocked(*inode);
  }
  names_.clear();
  dead_ = true;
}

bool IpcNamespace::dead() const {
  absl::MutexLock lock(&mu_);
  return dead_;
}

std::shared_ptr<QueueInode> IpcNamespace::Lookup(absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = names_.find(name);
  return it == names_.end() ? nullptr : it->second;
}

std::vector<std::string> IpcNamespace::Names() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  out.reserve(names_.size());
  for (const auto& [name, inode] : names_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

bool IpcNamespace::linked(const QueueInode& inode) const {
  absl::MutexLock lock(&mu_);
  return inode.linked_;
}

std::string IpcNamespace::name(const QueueInode& inode) const {
  absl::MutexLock lock(&mu_);
  return inode.name_;
}

uint32_t IpcNamespace::queues_count() const {
  absl::MutexLock lock(&mu_);
  return queues_count_;
}

state::IpcNamespaceState IpcNamespace::Export(const UserNsIndex& user_ns_index) const {
  absl::MutexLock lock(&mu_);
  state::IpcNamespaceState st;
  st.id = options_.id;
  st.owner_user_ns = user_ns_index(options_.owner_user_ns.get());
  st.root_uid = options_.root_uid.value();
  st.root_gid = options_.root_gid.value();
  const MqSysctls s = options_.limits->Read();
  st.sysctls = {s.queues_max, s.msg_max, s.msgsize_max, s.msg_default, s.msgsize_default};
  std::vector<const QueueInode*> inodes;
  inodes.reserve(live_.size());
  for (const auto& [id, inode] : live_) inodes.push_back(inode.get());
  std::sort(inodes.begin(), inodes.end(),
            [](const QueueInode* a, const QueueInode* b) { return a->id() < b->id(); });
  for (const QueueInode* inode : inodes) {
    const Queue& q = inode->queue();
    state::QueueState qs;
    if (inode->linked_) qs.name = inode->name_;
    qs.id = inode->id();
    qs.uid = q.uid().value();
    qs.gid = q.gid().value();
    qs.mode = q.mode();
    qs.maxmsg = q.attributes().maxmsg;
    qs.msgsize = q.attributes().msgsize;
    // References to the payloads, not copies: this runs while a live checkpoint pauses calls.
    qs.messages.reserve(static_cast<size_t>(q.Status().curmsgs));
    q.ForEachMessage([&qs](const Message& m) {
      qs.messages.push_back(state::MessageState{m.priority, m.payload});
    });
    if (std::optional<NotificationRegistration> r = q.SnapshotNotification()) {
      state::NotificationState ns;
      ns.owner_process = r->owner.id;
      ns.owner_host_tgid = r->owner_host_tgid;
      ns.owner_user_ns = user_ns_index(r->owner_user_ns.get());
      ns.owner_exec_generation = r->owner_exec_generation;
      ns.notify = r->notify;
      ns.signo = r->signo;
      ns.value = r->value;
      ns.socket = r->socket;
      ns.cookie = r->cookie;
      qs.notification = ns;
    }
    qs.charge = {user_ns_index(inode->charge_.user_ns.get()), inode->charge_.ruid.value(),
                 inode->charge_.bytes};
    st.queues.push_back(std::move(qs));
  }
  return st;
}

absl::StatusOr<std::vector<std::shared_ptr<QueueInode>>> IpcNamespace::Import(
    const state::IpcNamespaceState& st, const UserNsResolver& user_ns) {
  absl::MutexLock lock(&mu_);
  if (!live_.empty() || dead_) {
    return absl::FailedPreconditionError("import into a namespace that is not new");
  }
  std::vector<std::shared_ptr<QueueInode>> held;
  for (const state::QueueState& qs : st.queues) {
    auto charge_ns = user_ns(qs.charge.user_ns);
    if (charge_ns == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("queue ", qs.id, ": unknown user namespace ", qs.charge.user_ns));
    }
    if (live_.contains(qs.id)) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate queue id ", qs.id));
    }
    if (qs.name && names_.contains(*qs.name)) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate queue name '", *qs.name, "'"));
    }
    auto queue = std::make_unique<Queue>(KUid(qs.uid), KGid(qs.gid), qs.mode,
                                         QueueAttributes{qs.maxmsg, qs.msgsize},
                                         options_.events ? options_.events
                                                         : &NullQueueEvents());
    for (const state::MessageState& m : qs.messages) {
      queue->RestoreMessage(Message{m.priority, 0, m.payload});
    }
    if (qs.notification) {
      const state::NotificationState& ns = *qs.notification;
      NotificationRegistration r;
      r.owner = ProcessRef{ns.owner_process};
      r.owner_host_tgid = ns.owner_host_tgid;
      r.owner_user_ns = user_ns(ns.owner_user_ns);
      if (r.owner_user_ns == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "queue ", qs.id, ": unknown notification user namespace ", ns.owner_user_ns));
      }
      r.owner_exec_generation = ns.owner_exec_generation;
      r.notify = ns.notify;
      r.signo = ns.signo;
      r.value = ns.value;
      r.socket = ns.socket;
      r.cookie = ns.cookie;
      queue->RestoreNotification(std::move(r));
    }
    Charge charge{charge_ns, KUid(qs.charge.ruid), qs.charge.bytes};
    options_.accounting->Restore(charge);
    auto inode = std::make_shared<QueueInode>(qs.id, qs.name.value_or(""), std::move(queue),
                                              std::move(charge));
    SeeQueueId(qs.id);
    live_.emplace(qs.id, inode);
    ++queues_count_;
    if (qs.name) {
      names_.emplace(*qs.name, inode);
    } else {
      inode->linked_ = false;
      inode->descriptions_ = 1;  // held for the restorer
      held.push_back(inode);
    }
  }
  return held;
}

}  // namespace mqsentry::ipc
