// MessageStore: the queued messages of one queue, one FIFO per priority, highest priority
// served first (spec §5.3). Lookup of the highest non-empty priority is O(1); no operation
// walks the messages (except the documented fallback of remove()).
//
// Layout (why not a std::map<prio, std::deque>): a deque allocates on construction, so a
// level that empties and refills would allocate per message. Instead every message lives in
// one node pool (a vector with a free list, growth amortized), linked into a doubly linked
// FIFO per priority by index. The FIFO heads live in 512 chunks of 64 priorities, allocated
// the first time one of their priorities is used and kept until the store dies (at most
// ~260 KiB when all 32768 priorities have been used). A three-level bitmap (8 bits -> 512
// bits -> 32768 bits) finds the highest non-empty priority with three count-leading-zeros.
// So the only per-message allocation is the payload itself.
#ifndef MQSENTRY_IPC_MESSAGE_STORE_H_
#define MQSENTRY_IPC_MESSAGE_STORE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ipc/payload.h"
#include "kernel/abi.h"

namespace mqsentry::ipc {

struct Message {
  uint32_t priority = 0;
  uint64_t seq = 0;     // arrival order within the queue, assigned by the store
  Payload payload;      // the only per-message allocation; shared, never modified
};

// Not thread-safe: the owning Queue guards it with its mutex.
class MessageStore {
 public:
  MessageStore() = default;
  MessageStore(const MessageStore&) = delete;
  MessageStore& operator=(const MessageStore&) = delete;

  // Appends `message` at the tail of its priority's FIFO (priority < kMqPrioMax) and
  // assigns it the next seq, which is returned.
  uint64_t push_back(Message message);
  // Removes and returns the oldest message of the highest priority. Requires !empty().
  Message pop_front();
  // Undo of a pop_front(): puts `message` back at the head of its priority, keeping its seq.
  void push_front(Message message);
  // Undo of a push_back(): removes the message (priority, seq). That message is normally
  // the newest of its priority, found in O(1); otherwise the priority's FIFO is searched
  // from the tail (O(messages of that priority)). nullopt if it is not queued.
  std::optional<Message> remove(uint32_t priority, uint64_t seq);

  // The message pop_front() would return, or nullptr if empty.
  const Message* front() const;
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Sum of payload sizes: the QSIZE of the status line (spec §5.3, §8.1).
  uint64_t bytes() const { return bytes_; }

  // Calls fn(const Message&) for every message in receive order (priority descending, FIFO
  // within a priority).
  template <typename Fn>
  void ForEach(Fn&& fn) const;
  // Copies of all messages in receive order (checkpoint, tests).
  std::vector<Message> Snapshot() const;

 private:
  static constexpr uint32_t kNil = 0xffffffffu;
  static constexpr uint32_t kLevelsPerChunk = 64;
  static constexpr uint32_t kChunks = kernel::abi::kMqPrioMax / kLevelsPerChunk;  // 512
  static constexpr uint32_t kSummaryWords = kChunks / 64;                         // 8
  static_assert(kSummaryWords <= 8, "top_ is one byte");

  struct Node {
    Message message;
    uint32_t prev = kNil;
    uint32_t next = kNil;
  };
  struct Level {
    uint32_t head = kNil;
    uint32_t tail = kNil;
  };
  struct Chunk {
    uint64_t bits = 0;  // bit i: level i is non-empty
    std::array<Level, kLevelsPerChunk> levels;
  };

  Level& LevelFor(uint32_t priority);  // allocates the chunk on first use
  // The highest non-empty priority. Requires !empty().
  uint32_t HighestPriority() const;
  void MarkNonEmpty(uint32_t priority);
  void MarkEmpty(uint32_t priority);
  uint32_t AllocateNode(Message message);
  Message FreeNode(uint32_t index);
  // Unlinks node `index` from its level (clearing the level's bit if it empties) and
  // returns its message.
  Message Unlink(uint32_t index);

  std::vector<Node> nodes_;
  uint32_t free_ = kNil;  // free list through Node::next
  std::array<std::unique_ptr<Chunk>, kChunks> chunks_;
  std::array<uint64_t, kSummaryWords> summary_{};  // bit c%64 of word c/64: chunk c non-empty
  uint8_t top_ = 0;                                // bit w: summary_[w] != 0
  size_t size_ = 0;
  uint64_t bytes_ = 0;
  uint64_t next_seq_ = 1;
};

template <typename Fn>
void MessageStore::ForEach(Fn&& fn) const {
  for (int w = kSummaryWords - 1; w >= 0; --w) {
    if (!((top_ >> w) & 1)) continue;
    for (int cb = 63; cb >= 0; --cb) {
      if (!((summary_[w] >> cb) & 1)) continue;
      const Chunk& chunk = *chunks_[w * 64 + cb];
      for (int lb = kLevelsPerChunk - 1; lb >= 0; --lb) {
        if (!((chunk.bits >> lb) & 1)) continue;
        for (uint32_t i = chunk.levels[lb].head; i != kNil; i = nodes_[i].next) {
          fn(static_cast<const Message&>(nodes_[i].message));
        }
      }
    }
  }
}

}  // namespace mqsentry::ipc

#endif  // MQSENTRY_IPC_MESSAGE_STORE_H_
