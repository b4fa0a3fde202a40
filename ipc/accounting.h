// Per-user RLIMIT_MSGQUEUE accounting (spec §3.5): the bytes a queue costs, charged to the
// creator's (user namespace, real uid) and, as the kernel's ucounts do, to each ancestor
// level (parent namespace, owner of the child namespace). Shared by every IPC namespace
// of a sandbox: queues left in other IPC namespaces still count.
#ifndef MQSENTRY_IPC_ACCOUNTING_H_
#define MQSENTRY_IPC_ACCOUNTING_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "kernel/credentials.h"
#include "kernel/ids.h"
#include "kernel/user_namespace.h"

namespace mqsentry::ipc {

// cost = maxmsg*48 + min(maxmsg, 32768)*48 + maxmsg*msgsize (x86-64). nullopt when the
// arithmetic overflows 64 bits (mq_attr_ok's EOVERFLOW); callers validate the attributes
// first, after which this cannot happen on 64-bit.
std::optional<uint64_t> QueueCost(int64_t maxmsg, int64_t msgsize);

// A charge made for one queue; released when the queue is destroyed.
struct Charge {
  std::shared_ptr<const kernel::UserNamespace> user_ns;
  kernel::KUid ruid;
  uint64_t bytes = 0;
};

class UserAccounting {
 public:
  UserAccounting() = default;
  UserAccounting(const UserAccounting&) = delete;
  UserAccounting& operator=(const UserAccounting&) = delete;

  // inc_rlimit_ucounts() and mqueue_get_inode()'s check: adds `bytes` at every level of
  // the creator's chain; fails (nullopt, the caller answers EMFILE) if the creator's own
  // level would exceed its soft RLIMIT_MSGQUEUE or an ancestor level would exceed the
  // limit its child namespace recorded at creation. Equality is allowed. On failure
  // nothing is charged.
  std::optional<Charge> TryCharge(const kernel::Credentials& creator, uint64_t bytes);
  // dec_rlimit_ucounts(): returns a charge at every level.
  void Release(const Charge& charge);
  // Records a charge without checking limits (restore of a checkpoint, which was
  // validated when it was made).
  void Restore(const Charge& charge);

  // Bytes currently charged to (user_ns, uid).
  uint64_t Usage(const kernel::UserNamespace& user_ns, kernel::KUid uid) const;

  struct Entry {
    std::shared_ptr<const kernel::UserNamespace> user_ns;
    kernel::KUid uid;
    uint64_t bytes = 0;
  };
  // Every non-zero counter (for checkpoints and tests), in no particular order.
  std::vector<Entry> Snapshot() const;

 private:
  struct Key {
    const kernel::UserNamespace* user_ns;
    uint32_t uid;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.user_ns, k.uid);
    }
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct Counter {
    std::shared_ptr<const kernel::UserNamespace> user_ns;  // keeps the key's pointer valid
    uint64_t bytes = 0;
  };
  void AddLocked(const std::shared_ptr<const kernel::UserNamespace>& ns, kernel::KUid uid,
                 uint64_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SubLocked(const kernel::UserNamespace* ns, kernel::KUid uid, uint64_t bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, Counter> counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mqsentry::ipc

#endif  // MQSENTRY_IPC_ACCOUNTING_H_
