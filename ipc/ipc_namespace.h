// IpcNamespace: one IPC namespace's message-queue registry: the name table of linked
// queues, queues_count, the mqueue root directory's owner, the owning user namespace and
// the limits source (spec §2, §3, §4, §9). mq_open and mq_unlink run here with every check
// in the kernel's order; descriptors (open descriptions) are counted so that a queue is
// destroyed, and its RLIMIT_MSGQUEUE charge released, exactly when Linux would: unlinked
// and no description left (spec §3.5).
//
// Steps that belong to the caller, not to the model: copying attr and the name in
// (EFAULT, ENAMETOOLONG >= PATH_MAX, ENOENT for ""), allocating the fd (EMFILE), EROFS,
// and O_PATH descriptors. Open() repeats the cheap name checks so it is safe on its own.
//
// Lock order: IpcNamespace::mu_ -> Queue::mu_ -> UserAccounting::mu_.
#ifndef MQSENTRY_IPC_IPC_NAMESPACE_H_
#define MQSENTRY_IPC_IPC_NAMESPACE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ipc/accounting.h"
#include "ipc/queue.h"
#include "ipc/state.h"
#include "ipc/sysctls.h"
#include "kernel/abi.h"
#include "kernel/credentials.h"
#include "kernel/ids.h"
#include "kernel/permission.h"
#include "kernel/syscall_result.h"
#include "kernel/user_namespace.h"

namespace mqsentry::ipc {

class IpcNamespace;

// One queue inode as its namespace knows it. Descriptions hold it by shared_ptr; the
// namespace's bookkeeping (name, link state, description count) is guarded by the
// namespace's mutex and read through it.
class QueueInode {
 public:
  QueueInode(uint64_t id, std::string name, std::unique_ptr<Queue> queue, Charge charge)
      : id_(id), queue_(std::move(queue)), name_(std::move(name)), charge_(std::move(charge)) {}
  uint64_t id() const { return id_; }
  Queue& queue() const { return *queue_; }

 private:
  friend class IpcNamespace;
  const uint64_t id_;
  const std::unique_ptr<Queue> queue_;
  // Guarded by the owning namespace's mu_.
  std::string name_;
  bool linked_ = true;
  int64_t descriptions_ = 0;
  Charge charge_;
  bool destroyed_ = false;
};

// The result of mq_open(2) in the model.
struct OpenOutcome {
  kernel::SyscallResult result = kernel::SyscallResult::Ok();
  std::shared_ptr<QueueInode> inode;  // set on success: one description is counted
  bool created = false;               // also true when step 8 failed after creating
  int file_flags = 0;                 // F_GETFL: oflag minus O_CREAT|O_EXCL|O_NOCTTY|O_TRUNC
  bool readable = false;              // access mode 3 gives neither (spec §3.3)
  bool writable = false;
};

class IpcNamespace {
 public:
  struct Options {
    uint64_t id = 0;
    // The user namespace that owns this IPC namespace (EOVERFLOW check, spec §3.1 6.3).
    std::shared_ptr<const kernel::UserNamespace> owner_user_ns;
    // Owner of the mqueue root directory: the creator's fsuid/fsgid (spec §9.1).
    kernel::KUid root_uid{0};
    kernel::KGid root_gid{0};
    std::shared_ptr<LimitsSource> limits;
    std::shared_ptr<UserAccounting> accounting;
    QueueEvents* events = nullptr;  // nullptr: NullQueueEvents()
  };

  explicit IpcNamespace(Options options);
  IpcNamespace(const IpcNamespace&) = delete;
  IpcNamespace& operator=(const IpcNamespace&) = delete;

  // mq_open(2) from step 5 of spec §3.1 (see the file comment for earlier steps).
  // `attr` is the copied-in mq_attr or null.
  OpenOutcome Open(const kernel::Credentials& cred, absl::string_view name, int oflag,
                   uint32_t mode, const kernel::abi::MqAttr* attr);
  // mq_unlink(2) from step 3 of spec §4: EACCES/ENAMETOOLONG, ENOENT, EPERM (sticky).
  kernel::SyscallResult Unlink(const kernel::Credentials& cred, absl::string_view name);

  // Another description of an existing inode (open("/proc/self/fd/N") reopen).
  void AddDescription(const std::shared_ptr<QueueInode>& inode);
  // The last fd of one description was closed. Destroys the queue if it is unlinked (or
  // its namespace died) and this was its last description.
  void ReleaseDescription(const std::shared_ptr<QueueInode>& inode);

  // The last reference to the namespace went (spec §9.3): names become unreachable,
  // queues without descriptions are destroyed now, the rest on their last close; new
  // creations through a leftover mount get EACCES.
  void Die();
  bool dead() const;

  // Queue lookup by name (for mqfs lookup/readdir), nullptr if absent.
  std::shared_ptr<QueueInode> Lookup(absl::string_view name) const;
  std::vector<std::string> Names() const;  // sorted
  bool linked(const QueueInode& inode) const;
  std::string name(const QueueInode& inode) const;
  uint32_t queues_count() const;

  uint64_t id() const { return options_.id; }
  const std::shared_ptr<const kernel::UserNamespace>& owner_user_ns() const {
    return options_.owner_user_ns;
  }
  kernel::KUid root_uid() const { return options_.root_uid; }
  kernel::KGid root_gid() const { return options_.root_gid; }
  MqSysctls limits() const { return options_.limits->Read(); }
  UserAccounting& accounting() const { return *options_.accounting; }

  // Checkpoint: this namespace's state; user namespaces are written as indices given by
  // `user_ns_index`.
  using UserNsIndex = std::function<int32_t(const kernel::UserNamespace*)>;
  state::IpcNamespaceState Export(const UserNsIndex& user_ns_index) const;
  // Rebuilds the queues of `st` (already validated) into this empty namespace, recording
  // their charges in the accounting without limit checks. Unlinked queues come back held
  // by one description each, which the restorer releases once it has reattached (or
  // dropped) their descriptors; they are returned for that purpose.
  using UserNsResolver =
      std::function<std::shared_ptr<const kernel::UserNamespace>(int32_t index)>;
  absl::StatusOr<std::vector<std::shared_ptr<QueueInode>>> Import(
      const state::IpcNamespaceState& st, const UserNsResolver& user_ns);

 private:
  // Destroys the inode: releases its charge and its queues_count slot.
  void DestroyLocked(QueueInode& inode) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  OpenOutcome CreateLocked(const kernel::Credentials& cred, absl::string_view name, int oflag,
                           uint32_t mode, const kernel::abi::MqAttr* attr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  kernel::InodeOwnership RootDirectory() const;

  const Options options_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<QueueInode>> names_ ABSL_GUARDED_BY(mu_);
  // Unsigned as in the kernel (mq_queues_count); counts until destruction, not unlink.
  uint32_t queues_count_ ABSL_GUARDED_BY(mu_) = 0;
  // Every queue not yet destroyed, linked or not, by id: queues have kernel persistence.
  absl::flat_hash_map<uint64_t, std::shared_ptr<QueueInode>> live_ ABSL_GUARDED_BY(mu_);
  bool dead_ ABSL_GUARDED_BY(mu_) = false;
};

// Lookup-time name checks shared by mq_open and mq_unlink (spec §3.2): "." / ".." or a
// '/' anywhere -> EACCES, then more than 255 bytes -> ENAMETOOLONG; "" -> ENOENT.
int CheckQueueName(absl::string_view name);

}  // namespace mqsentry::ipc

#endif  // MQSENTRY_IPC_IPC_NAMESPACE_H_
