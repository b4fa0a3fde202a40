// WaiterList: the parked senders or receivers of one queue, in Linux's order: by the
// task's scheduler priority (lower task->prio first), then FIFO (spec §5.4).
#ifndef MQSENTRY_IPC_WAITER_LIST_H_
#define MQSENTRY_IPC_WAITER_LIST_H_

#include <cstdint>

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

// class WaiterList — declared by the implementation.

}  // namespace mqsentry::ipc

#endif  // MQSENTRY_IPC_WAITER_LIST_H_
