// MessageStore: per-priority FIFOs in a node pool, indexed by a three-level bitmap (see the
// header for why this layout).
#include "ipc/message_store.h"

#include <bit>
#include <cassert>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace mqsentry::ipc {
namespace {

// Index of the highest set bit of a non-zero word.
inline uint32_t HighBit(uint64_t word) { return std::bit_width(word) - 1; }

}  // namespace

MessageStore::Level& MessageStore::LevelFor(uint32_t priority) {
  assert(priority < kernel::abi::kMqPrioMax);
  std::unique_ptr<Chunk>& chunk = chunks_[priority / kLevelsPerChunk];
  if (chunk == nullptr) chunk = std::make_unique<Chunk>();
  return chunk->levels[priority % kLevelsPerChunk];
}

uint32_t MessageStore::HighestPriority() const {
  const uint32_t w = HighBit(top_);
  const uint32_t c = w * 64 + HighBit(summary_[w]);
  return c * kLevelsPerChunk + HighBit(chunks_[c]->bits);
}

void MessageStore::MarkNonEmpty(uint32_t priority) {
  const uint32_t c = priority / kLevelsPerChunk;
  chunks_[c]->bits |= uint64_t{1} << (priority % kLevelsPerChunk);
  summary_[c / 64] |= uint64_t{1} << (c % 64);
  top_ |= static_cast<uint8_t>(1u << (c / 64));
}

void MessageStore::MarkEmpty(uint32_t priority) {
  const uint32_t c = priority / kLevelsPerChunk;
  Chunk& chunk = *chunks_[c];
  chunk.bits &= ~(uint64_t{1} << (priority % kLevelsPerChunk));
  if (chunk.bits != 0) return;
  summary_[c / 64] &= ~(uint64_t{1} << (c % 64));
  if (summary_[c / 64] != 0) return;
  top_ &= static_cast<uint8_t>(~(1u << (c / 64)));
}

uint32_t MessageStore::AllocateNode(Message message) {
  uint32_t index;
  if (free_ != kNil) {
    index = free_;
    free_ = nodes_[index].next;
  } else {
    index = static_cast<uint32_t>(nodes_.size());
    nodes_.emplace_back();
  }
  Node& node = nodes_[index];
  node.message = std::move(message);
  node.prev = kNil;
  node.next = kNil;
  ++size_;
  bytes_ += node.message.payload.size();
  return index;
}

Message MessageStore::FreeNode(uint32_t index) {
  Node& node = nodes_[index];
  Message message = std::move(node.message);
  node.message.payload = Payload();  // the payload left with `message`
  node.prev = kNil;
  node.next = free_;
  free_ = index;
  --size_;
  bytes_ -= message.payload.size();
  return message;
}

uint64_t MessageStore::push_back(Message message) {
  message.seq = next_seq_++;
  const uint64_t seq = message.seq;
  const uint32_t priority = message.priority;
  Level& level = LevelFor(priority);
  const uint32_t index = AllocateNode(std::move(message));
  if (level.tail == kNil) {
    level.head = level.tail = index;
    MarkNonEmpty(priority);
  } else {
    nodes_[level.tail].next = index;
    nodes_[index].prev = level.tail;
    level.tail = index;
  }
  return seq;
}

void MessageStore::push_front(Message message) {
  const uint32_t priority = message.priority;
  // A message put back keeps its seq; later push_backs must still sort after it.
  if (message.seq >= next_seq_) next_seq_ = message.seq + 1;
  Level& level = LevelFor(priority);
  const uint32_t index = AllocateNode(std::move(message));
  if (level.head == kNil) {
    level.head = level.tail = index;
    MarkNonEmpty(priority);
  } else {
    nodes_[level.head].prev = index;
    nodes_[index].next = level.head;
    level.head = index;
  }
}

Message MessageStore::Unlink(uint32_t index) {
  Node& node = nodes_[index];
  const uint32_t priority = node.message.priority;
  Level& level = chunks_[priority / kLevelsPerChunk]->levels[priority % kLevelsPerChunk];
  if (node.prev != kNil) {
    nodes_[node.prev].next = node.next;
  } else {
    level.head = node.next;
  }
  if (node.next != kNil) {
    nodes_[node.next].prev = node.prev;
  } else {
    level.tail = node.prev;
  }
  if (level.head == kNil) MarkEmpty(priority);
  return FreeNode(index);
}

Message MessageStore::pop_front() {
  assert(!empty());
  const uint32_t priority = HighestPriority();
  const Level& level = chunks_[priority / kLevelsPerChunk]->levels[priority % kLevelsPerChunk];
  return Unlink(level.head);
}

std::optional<Message> MessageStore::remove(uint32_t priority, uint64_t seq) {
  if (priority >= kernel::abi::kMqPrioMax) return std::nullopt;
  const Chunk* chunk = chunks_[priority / kLevelsPerChunk].get();
  if (chunk == nullptr) return std::nullopt;
  // The undo of a refill removes the newest message of its level: the first probe hits.
  for (uint32_t i = chunk->levels[priority % kLevelsPerChunk].tail; i != kNil; i = nodes_[i].prev) {
    if (nodes_[i].message.seq == seq) return Unlink(i);
  }
  return std::nullopt;
}

const Message* MessageStore::front() const {
  if (empty()) return nullptr;
  const uint32_t priority = HighestPriority();
  const Level& level = chunks_[priority / kLevelsPerChunk]->levels[priority % kLevelsPerChunk];
  return &nodes_[level.head].message;
}

std::vector<Message> MessageStore::Snapshot() const {
  std::vector<Message> out;
  out.reserve(size_);
  ForEach([&out](const Message& m) { out.push_back(m); });
  return out;
}

}  // namespace mqsentry::ipc
