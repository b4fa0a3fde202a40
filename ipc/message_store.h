// MessageStore: the queued messages of one queue, one FIFO per priority, highest priority
// served first (spec §5.3). Lookup of the highest non-empty priority is O(1) or O(log P);
// no operation walks the messages.
#ifndef MQSENTRY_IPC_MESSAGE_STORE_H_
#define MQSENTRY_IPC_MESSAGE_STORE_H_

#include <cstdint>
#include <string>

namespace mqsentry::ipc {

struct Message {
  uint32_t priority = 0;
  uint64_t seq = 0;     // arrival order within the queue, assigned by the store
  std::string payload;  // the only per-message allocation
};

// class MessageStore — declared by the implementation (see message_store.cc):
//   push_back(Message) assigning seq; pop_front() of the highest priority;
//   push_front(Message) (undo of a receive); remove(priority, seq) (undo of a refill:
//   the message is the newest of its priority); size(), bytes(), ForEach in receive order.

}  // namespace mqsentry::ipc

#endif  // MQSENTRY_IPC_MESSAGE_STORE_H_
