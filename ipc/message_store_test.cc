// Tests of MessageStore: priority order and FIFO (spec §5.3), QSIZE bytes, the undo
// operations (push_front, remove), and a randomized comparison with a std::map model.
#include "ipc/message_store.h"

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mqsentry::ipc {
namespace {

using ::testing::ElementsAre;

Message Msg(uint32_t priority, std::string payload) {
  return Message{priority, 0, std::move(payload)};
}

std::vector<std::string> Payloads(const MessageStore& store) {
  std::vector<std::string> out;
  store.ForEach([&out](const Message& m) { out.push_back(m.payload.str()); });
  return out;
}

std::vector<std::string> Drain(MessageStore& store) {
  std::vector<std::string> out;
  while (!store.empty()) out.push_back(store.pop_front().payload.str());
  return out;
}

TEST(MessageStoreTest, StartsEmpty) {
  MessageStore store;
  EXPECT_TRUE(store.empty());
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.bytes(), 0u);
  EXPECT_EQ(store.front(), nullptr);
  EXPECT_TRUE(store.Snapshot().empty());
}

// Spec §5.3: a1(1), b5(5), c1(1) are received as b5, a1, c1.
TEST(MessageStoreTest, Spec5_3_HighestPriorityFirstThenFifo) {
  MessageStore store;
  store.push_back(Msg(1, "a1"));
  store.push_back(Msg(5, "b5"));
  store.push_back(Msg(1, "c1"));
  EXPECT_THAT(Payloads(store), ElementsAre("b5", "a1", "c1"));
  EXPECT_THAT(Drain(store), ElementsAre("b5", "a1", "c1"));
}

// Spec §5.3: strictly FIFO within one priority.
TEST(MessageStoreTest, Spec5_3_FifoWithinPriority) {
  MessageStore store;
  for (int i = 0; i < 100; ++i) store.push_back(Msg(7, std::to_string(i)));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(store.pop_front().payload, std::to_string(i));
}

// Spec §5.3: zero-length messages are allowed and counted.
TEST(MessageStoreTest, Spec5_3_ZeroLengthMessages) {
  MessageStore store;
  store.push_back(Msg(0, ""));
  store.push_back(Msg(0, ""));
  EXPECT_EQ(store.size(), 2u);
  EXPECT_EQ(store.bytes(), 0u);
  EXPECT_EQ(store.pop_front().payload, "");
  EXPECT_EQ(store.size(), 1u);
}

// Spec §5.3/§8.1: QSIZE is the sum of payload bytes (10 + 0 bytes shows QSIZE:10).
TEST(MessageStoreTest, Spec8_1_BytesIsPayloadSum) {
  MessageStore store;
  store.push_back(Msg(3, "0123456789"));
  store.push_back(Msg(1, ""));
  EXPECT_EQ(store.bytes(), 10u);
  store.push_back(Msg(9, "abc"));
  EXPECT_EQ(store.bytes(), 13u);
  store.pop_front();
  EXPECT_EQ(store.bytes(), 10u);
  store.pop_front();
  store.pop_front();
  EXPECT_EQ(store.bytes(), 0u);
}

TEST(MessageStoreTest, PushBackAssignsIncreasingSeq) {
  MessageStore store;
  const uint64_t a = store.push_back(Msg(1, "a"));
  const uint64_t b = store.push_back(Msg(30000, "b"));
  const uint64_t c = store.push_back(Msg(1, "c"));
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(store.pop_front().seq, b);
  EXPECT_EQ(store.pop_front().seq, a);
  EXPECT_EQ(store.pop_front().seq, c);
}

TEST(MessageStoreTest, PushBackIgnoresCallerSeq) {
  MessageStore store;
  const uint64_t seq = store.push_back(Message{4, 999999, "x"});
  EXPECT_NE(seq, 999999u);
  EXPECT_EQ(store.front()->seq, seq);
}

TEST(MessageStoreTest, ExtremePriorities) {
  MessageStore store;
  store.push_back(Msg(0, "low"));
  store.push_back(Msg(kernel::abi::kMqPrioMax - 1, "high"));
  store.push_back(Msg(16384, "mid"));
  EXPECT_THAT(Drain(store), ElementsAre("high", "mid", "low"));
}

TEST(MessageStoreTest, AllPrioritiesServedDescending) {
  MessageStore store;
  // Insert in a scrambled order; one message per priority.
  for (uint32_t i = 0; i < kernel::abi::kMqPrioMax; ++i) {
    store.push_back(Msg((i * 7919u) % kernel::abi::kMqPrioMax, ""));
  }
  ASSERT_EQ(store.size(), kernel::abi::kMqPrioMax);
  for (int64_t p = kernel::abi::kMqPrioMax - 1; p >= 0; --p) {
    ASSERT_EQ(store.pop_front().priority, static_cast<uint32_t>(p));
  }
  EXPECT_TRUE(store.empty());
}

TEST(MessageStoreTest, FrontMatchesPopFront) {
  MessageStore store;
  store.push_back(Msg(2, "x"));
  store.push_back(Msg(8, "y"));
  ASSERT_NE(store.front(), nullptr);
  EXPECT_EQ(store.front()->payload, "y");
  store.pop_front();
  EXPECT_EQ(store.front()->payload, "x");
}

// Undo of a receive: the message returns to the head of its priority (architecture step 6).
TEST(MessageStoreTest, PushFrontRestoresHeadOfPriority) {
  MessageStore store;
  store.push_back(Msg(3, "a"));
  store.push_back(Msg(3, "b"));
  store.push_back(Msg(1, "z"));
  const std::vector<Message> before = store.Snapshot();
  Message head = store.pop_front();
  EXPECT_EQ(head.payload, "a");
  store.push_front(std::move(head));
  const std::vector<Message> after = store.Snapshot();
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(before[i].payload, after[i].payload);
    EXPECT_EQ(before[i].seq, after[i].seq);
    EXPECT_EQ(before[i].priority, after[i].priority);
  }
  EXPECT_EQ(store.bytes(), 3u);
}

TEST(MessageStoreTest, PushFrontIntoEmptyLevel) {
  MessageStore store;
  store.push_back(Msg(2, "low"));
  store.push_front(Message{9, 77, "high"});
  EXPECT_THAT(Payloads(store), ElementsAre("high", "low"));
  EXPECT_EQ(store.front()->seq, 77u);
}

TEST(MessageStoreTest, PushFrontKeepsLaterSeqsUnique) {
  MessageStore store;
  store.push_front(Message{1, 500, "restored"});
  const uint64_t next = store.push_back(Msg(1, "new"));
  EXPECT_GT(next, 500u);
}

// Undo of a refill: the pulled-in message is the newest of its priority.
TEST(MessageStoreTest, RemoveNewestOfPriority) {
  MessageStore store;
  store.push_back(Msg(4, "a"));
  store.push_back(Msg(2, "b"));
  const uint64_t seq = store.push_back(Msg(4, "c"));
  std::optional<Message> removed = store.remove(4, seq);
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(removed->payload, "c");
  EXPECT_THAT(Payloads(store), ElementsAre("a", "b"));
  EXPECT_EQ(store.bytes(), 2u);
}

TEST(MessageStoreTest, RemoveFallbackFindsOlderMessage) {
  MessageStore store;
  const uint64_t a = store.push_back(Msg(4, "a"));
  store.push_back(Msg(4, "b"));
  store.push_back(Msg(4, "c"));
  ASSERT_TRUE(store.remove(4, a).has_value());
  EXPECT_THAT(Payloads(store), ElementsAre("b", "c"));
}

TEST(MessageStoreTest, RemoveUnknownIsNullopt) {
  MessageStore store;
  const uint64_t a = store.push_back(Msg(4, "a"));
  EXPECT_FALSE(store.remove(5, a).has_value());        // wrong priority
  EXPECT_FALSE(store.remove(4, a + 100).has_value());  // unknown seq
  EXPECT_FALSE(store.remove(kernel::abi::kMqPrioMax, a).has_value());
  EXPECT_FALSE(store.remove(20000, 1).has_value());  // never-used chunk
  EXPECT_EQ(store.size(), 1u);
}

TEST(MessageStoreTest, RemoveLastOfLevelUpdatesHighest) {
  MessageStore store;
  store.push_back(Msg(1, "low"));
  const uint64_t seq = store.push_back(Msg(30000, "high"));
  ASSERT_TRUE(store.remove(30000, seq).has_value());
  EXPECT_EQ(store.front()->payload, "low");
}

TEST(MessageStoreTest, NodesAreReused) {
  MessageStore store;
  for (int round = 0; round < 1000; ++round) {
    store.push_back(Msg(round % 50, std::string(round % 7, 'x')));
    store.push_back(Msg(round % 13, "y"));
    store.pop_front();
    store.pop_front();
  }
  EXPECT_TRUE(store.empty());
  EXPECT_EQ(store.bytes(), 0u);
}

TEST(MessageStoreTest, PopFrontMovesPayloadOut) {
  MessageStore store;
  const std::string big(1 << 20, 'q');
  store.push_back(Msg(0, big));
  Message m = store.pop_front();
  EXPECT_EQ(m.payload, big);
  EXPECT_EQ(m.priority, 0u);
}

// Randomized: push_back / pop_front / push_front / remove against a std::map keyed by
// (-priority, position) checking order, sizes and bytes after every step.
TEST(MessageStoreTest, RandomizedAgainstModel) {
  std::mt19937_64 rng(12345);
  MessageStore store;
  // Model: key (-(priority), order), value payload. `order` is a double-ended counter so
  // push_front can go before everything of its level.
  std::map<std::pair<int64_t, int64_t>, std::pair<uint64_t, std::string>> model;
  int64_t back = 0, front = 0;
  uint64_t bytes = 0;
  for (int step = 0; step < 20000; ++step) {
    const int op = static_cast<int>(rng() % 10);
    const uint32_t prio = static_cast<uint32_t>(rng() % 3 == 0 ? rng() % 32768 : rng() % 8);
    if (op < 5 || model.empty()) {
      std::string payload = std::to_string(step);
      const uint64_t seq = store.push_back(Msg(prio, payload));
      bytes += payload.size();
      model[{-static_cast<int64_t>(prio), ++back}] = {seq, payload};
    } else if (op < 8) {
      Message m = store.pop_front();
      auto it = model.begin();
      ASSERT_EQ(m.payload, it->second.second);
      ASSERT_EQ(m.seq, it->second.first);
      ASSERT_EQ(m.priority, static_cast<uint32_t>(-it->first.first));
      model.erase(it);
      bytes -= m.payload.size();
      if (op == 7) {  // undo the receive
        model[{-static_cast<int64_t>(m.priority), --front}] = {m.seq, m.payload.str()};
        bytes += m.payload.size();
        store.push_front(std::move(m));
      }
    } else {
      // Remove the newest message of a random existing level.
      auto it = model.begin();
      std::advance(it, rng() % model.size());
      const int64_t level = it->first.first;
      auto last = model.lower_bound({level + 1, INT64_MIN});
      --last;
      std::optional<Message> m = store.remove(static_cast<uint32_t>(-level), last->second.first);
      ASSERT_TRUE(m.has_value());
      ASSERT_EQ(m->payload, last->second.second);
      bytes -= m->payload.size();
      model.erase(last);
    }
    ASSERT_EQ(store.size(), model.size());
    ASSERT_EQ(store.bytes(), bytes);
  }
  std::vector<std::string> expected;
  for (const auto& [key, value] : model) expected.push_back(value.second);
  EXPECT_EQ(Payloads(store), expected);
  EXPECT_EQ(Drain(store), expected);
}

}  // namespace
}  // namespace mqsentry::ipc
