// WaiterList: the parked senders or receivers of one queue, in Linux's order: by the
// task's scheduler priority (lower task->prio first), then FIFO (spec §5.4).
#ifndef MQSENTRY_IPC_WAITER_LIST_H_
#define MQSENTRY_IPC_WAITER_LIST_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "ipc/message_store.h"
#include "ipc/notification.h"
#include "kernel/deadline.h"

namespace mqsentry::ipc {

struct WaiterId {
  uint64_t value = 0;
  friend auto operator<=>(const WaiterId&, const WaiterId&) = default;
};

// A waiter's place in the list. Re-inserting with the same key restores the exact place
// (used by the undo calls of Queue).
struct WaiterKey {
  int sched_prio = 120;
  uint64_t seq = 0;
  friend auto operator<=>(const WaiterKey&, const WaiterKey&) = default;
};

// One parked call.
struct Waiter {
  WaiterId id;
  WaiterKey key;
  uint64_t tag = 0;  // the caller's handle, echoed back
  kernel::Deadline deadline = kernel::Deadline::Infinite();
  Message message;        // parked senders only: the message to queue when pulled in
  SenderIdentity sender;  // parked senders only
};

// Not thread-safe: the owning Queue guards it with its mutex. The seq counter lives here
// (one FIFO order per list); waiter ids are assigned by the Queue so that they are unique
// across its two lists.
//
// Costs: Add/PopBest/Remove/Reinsert O(log n); Best and EarliestDeadline O(1).
class WaiterList {
 public:
  WaiterList() = default;
  WaiterList(const WaiterList&) = delete;
  WaiterList& operator=(const WaiterList&) = delete;

  // Parks a new waiter behind every waiter whose sched_prio is equal or better (lower) and
  // ahead of worse ones (spec §5.4), by assigning it the next seq. `id` must not be parked.
  // Returns the waiter's key.
  WaiterKey Add(WaiterId id, int sched_prio, uint64_t tag, kernel::Deadline deadline,
                Message message = {}, SenderIdentity sender = {});
  // Puts back a waiter taken out by PopBest/Remove with its original key: it regains exactly
  // its old place. False (and nothing changes) if its id or key is already parked.
  bool Reinsert(Waiter waiter);

  // The best-ranked waiter (lowest sched_prio, then oldest), or nullptr.
  const Waiter* Best() const;
  std::optional<Waiter> PopBest();
  // Takes out a waiter by id; nullopt if it is not parked here.
  std::optional<Waiter> Remove(WaiterId id);
  bool Contains(WaiterId id) const { return by_id_.contains(id.value); }
  const Waiter* Find(WaiterId id) const;

  // The earliest finite deadline of any waiter; nullopt if none has one.
  std::optional<kernel::Deadline> EarliestDeadline() const;
  // Takes out every waiter whose deadline is at or before now_ns, earliest deadline first.
  std::vector<Waiter> PopExpired(int64_t now_ns);

  size_t size() const { return by_key_.size(); }
  bool empty() const { return by_key_.empty(); }
  // Calls fn(const Waiter&) in service order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& [key, waiter] : by_key_) fn(waiter);
  }
  // Ids in service order (tests, debugging).
  std::vector<WaiterId> Order() const;

 private:
  Waiter Take(std::map<WaiterKey, Waiter>::iterator it);

  std::map<WaiterKey, Waiter> by_key_;                            // service order
  absl::flat_hash_map<uint64_t, WaiterKey> by_id_;                // WaiterId -> key
  std::set<std::pair<kernel::Deadline, WaiterKey>> by_deadline_;  // finite deadlines only
  uint64_t next_seq_ = 1;
};

}  // namespace mqsentry::ipc

#endif  // MQSENTRY_IPC_WAITER_LIST_H_
