// RLIMIT_MSGQUEUE accounting: the cost formula of mqueue_get_inode() and the hierarchical
// counters of kernel/ucount.c (inc_rlimit_ucounts / dec_rlimit_ucounts).
#include "ipc/accounting.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernel/abi.h"

namespace mqsentry::ipc {
namespace {

namespace abi = kernel::abi;
using kernel::KUid;
using kernel::UserNamespace;

// get_userns_rlimit_max(): the creator's RLIMIT_MSGQUEUE recorded at creation, clamped to
// LONG_MAX as set_userns_rlimit_max() does.
uint64_t RecordedMax(const UserNamespace& ns) {
  return std::min<uint64_t>(ns.rlimit_msgqueue(), std::numeric_limits<int64_t>::max());
}

}  // namespace

std::optional<uint64_t> QueueCost(int64_t maxmsg, int64_t msgsize) {
  if (maxmsg <= 0 || msgsize <= 0) return std::nullopt;
  const uint64_t m = static_cast<uint64_t>(maxmsg);
  const uint64_t s = static_cast<uint64_t>(msgsize);
  uint64_t payload = 0;
  if (__builtin_mul_overflow(m, s, &payload)) return std::nullopt;  // EOVERFLOW
  const uint64_t tree = m * abi::kMsgMsgSize +
                        std::min<uint64_t>(m, abi::kAccountingPrioCap) * abi::kMsgTreeNodeSize;
  if (m > std::numeric_limits<uint64_t>::max() / (abi::kMsgMsgSize + abi::kMsgTreeNodeSize)) {
    return std::nullopt;
  }
  uint64_t total = 0;
  if (__builtin_add_overflow(payload, tree, &total)) return std::nullopt;  // EOVERFLOW
  return total;
}

std::optional<Charge> UserAccounting::TryCharge(const kernel::Credentials& creator,
                                                uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  // Walk the chain as inc_rlimit_ucounts() does: level 0 is (own ns, ruid), checked by
  // mqueue against the task's soft limit; level k+1 is (parent, owner of the level-k
  // namespace), checked against the limit recorded when that child namespace was created.
  constexpr uint64_t kLongMax = std::numeric_limits<int64_t>::max();
  const UserNamespace* ns = creator.user_ns.get();
  KUid uid = creator.ruid;
  uint64_t max = creator.rlimit_msgqueue;  // RLIM_INFINITY never fails (spec §3.5)
  bool first = true;
  while (true) {
    auto it = counters_.find(Key{ns, uid.value()});
    const uint64_t current = it == counters_.end() ? 0 : it->second.bytes;
    uint64_t next = 0;
    // The kernel's counters are longs: going past LONG_MAX fails at any level.
    if (__builtin_add_overflow(current, bytes, &next) || next > kLongMax) return std::nullopt;
    if (first) {
      if (max != kernel::Credentials::kRlimInfinity && next > max) return std::nullopt;
      first = false;
    } else if (next > max) {
      return std::nullopt;
    }
    if (ns->parent() == nullptr) break;
    max = RecordedMax(*ns);
    uid = ns->owner();
    ns = ns->parent().get();
  }
  Charge charge{creator.user_ns, creator.ruid, bytes};
  AddLocked(charge.user_ns, charge.ruid, bytes);
  return charge;
}

void UserAccounting::Restore(const Charge& charge) {
  absl::MutexLock lock(&mu_);
  AddLocked(charge.user_ns, charge.ruid, charge.bytes);
}

void UserAccounting::Release(const Charge& charge) {
  absl::MutexLock lock(&mu_);
  const UserNamespace* ns = charge.user_ns.get();
  KUid uid = charge.ruid;
  while (ns != nullptr) {
    SubLocked(ns, uid, charge.bytes);
    uid = ns->owner();
    ns = ns->parent().get();
  }
}

void UserAccounting::AddLocked(const std::shared_ptr<const UserNamespace>& start, KUid start_uid,
                               uint64_t bytes) {
  std::shared_ptr<const UserNamespace> ns = start;
  KUid uid = start_uid;
  while (ns != nullptr) {
    Counter& c = counters_[Key{ns.get(), uid.value()}];
    if (c.user_ns == nullptr) c.user_ns = ns;
    c.bytes += bytes;
    uid = ns->owner();
    ns = ns->parent();
  }
}

void UserAccounting::SubLocked(const UserNamespace* ns, KUid uid, uint64_t bytes) {
  auto it = counters_.find(Key{ns, uid.value()});
  if (it == counters_.end()) return;
  it->second.bytes -= std::min(bytes, it->second.bytes);
  if (it->second.bytes == 0) counters_.erase(it);
}

uint64_t UserAccounting::Usage(const UserNamespace& user_ns, KUid uid) const {
  absl::MutexLock lock(&mu_);
  auto it = counters_.find(Key{&user_ns, uid.value()});
  return it == counters_.end() ? 0 : it->second.bytes;
}

std::vector<UserAccounting::Entry> UserAccounting::Snapshot() const {
  absl::MutexLock lock(&mu_);
  std::vector<Entry> out;
  out.reserve(counters_.size());
  for (const auto& [key, counter] : counters_) {
    out.push_back(Entry{counter.user_ns, KUid(key.uid), counter.bytes});
  }
  return out;
}

}  // namespace mqsentry::ipc
