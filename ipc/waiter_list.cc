// WaiterList: an ordered map by (sched_prio, seq), an id index and a deadline index.
#include "ipc/waiter_list.h"

#include <cassert>
#include <optional>
#include <utility>
#include <vector>

namespace mqsentry::ipc {

WaiterKey WaiterList::Add(WaiterId id, int sched_prio, uint64_t tag, kernel::Deadline deadline,
                          Message message, SenderIdentity sender) {
  assert(!Contains(id));
  Waiter waiter;
  waiter.id = id;
  // A fresh seq is larger than every seq in the list, so among equal sched_prio the new
  // waiter sorts last: behind equal and better, ahead of worse (spec §5.4).
  waiter.key = WaiterKey{sched_prio, next_seq_++};
  waiter.tag = tag;
  waiter.deadline = deadline;
  waiter.message = std::move(message);
  waiter.sender = sender;
  const WaiterKey key = waiter.key;
  const bool reinserted = Reinsert(std::move(waiter));
  assert(reinserted);
  (void)reinserted;
  return key;
}

bool WaiterList::Reinsert(Waiter waiter) {
  if (by_id_.contains(waiter.id.value) || by_key_.contains(waiter.key)) return false;
  // Keep later Adds behind a restored key even if it came from elsewhere (restore).
  if (waiter.key.seq >= next_seq_) next_seq_ = waiter.key.seq + 1;
  const WaiterKey key = waiter.key;
  by_id_.emplace(waiter.id.value, key);
  if (!waiter.deadline.is_infinite()) by_deadline_.emplace(waiter.deadline, key);
  by_key_.emplace(key, std::move(waiter));
  return true;
}

Waiter WaiterList::Take(std::map<WaiterKey, Waiter>::iterator it) {
  Waiter waiter = std::move(it->second);
  by_key_.erase(it);
  by_id_.erase(waiter.id.value);
  if (!waiter.deadline.is_infinite()) by_deadline_.erase({waiter.deadline, waiter.key});
  return waiter;
}

const Waiter* WaiterList::Best() const {
  return by_key_.empty() ? nullptr : &by_key_.begin()->second;
}

std::optional<Waiter> WaiterList::PopBest() {
  if (by_key_.empty()) return std::nullopt;
  return Take(by_key_.begin());
}

std::optional<Waiter> WaiterList::Remove(WaiterId id) {
  auto found = by_id_.find(id.value);
  if (found == by_id_.end()) return std::nullopt;
  auto it = by_key_.find(found->second);
  assert(it != by_key_.end());
  return Take(it);
}

const Waiter* WaiterList::Find(WaiterId id) const {
  auto found = by_id_.find(id.value);
  if (found == by_id_.end()) return nullptr;
  return &by_key_.at(found->second);
}

std::optional<kernel::Deadline> WaiterList::EarliestDeadline() const {
  if (by_deadline_.empty()) return std::nullopt;
  return by_deadline_.begin()->first;
}

std::vector<Waiter> WaiterList::PopExpired(int64_t now_ns) {
  std::vector<Waiter> expired;
  while (!by_deadline_.empty() && by_deadline_.begin()->first.ExpiredAt(now_ns)) {
    auto it = by_key_.find(by_deadline_.begin()->second);
    assert(it != by_key_.end());
    expired.push_back(Take(it));
  }
  return expired;
}

std::vector<WaiterId> WaiterList::Order() const {
  std::vector<WaiterId> ids;
  ids.reserve(by_key_.size());
  for (const auto& [key, waiter] : by_key_) ids.push_back(waiter.id);
  return ids;
}

}  // namespace mqsentry::ipc
