// Tests of WaiterList: Linux's waiter order (scheduler priority, then FIFO; spec §5.4),
// exact re-insertion for the undo calls, removal by id and the deadline index.
#include "ipc/waiter_list.h"

#include <cstdint>
#include <optional>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mqsentry::ipc {
namespace {

using ::testing::ElementsAre;

constexpr int Nice(int n) { return 120 + n; }  // task->prio of a normal task
kernel::Deadline At(int64_t ns) { return kernel::Deadline::FromNanos(ns); }
const kernel::Deadline kNever = kernel::Deadline::Infinite();

std::vector<uint64_t> Ids(const WaiterList& list) {
  std::vector<uint64_t> out;
  for (WaiterId id : list.Order()) out.push_back(id.value);
  return out;
}

TEST(WaiterListTest, EmptyList) {
  WaiterList list;
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.Best(), nullptr);
  EXPECT_FALSE(list.PopBest().has_value());
  EXPECT_FALSE(list.Remove(WaiterId{1}).has_value());
  EXPECT_FALSE(list.EarliestDeadline().has_value());
  EXPECT_TRUE(list.PopExpired(INT64_MAX - 1).empty());
}

// Spec §5.4 [E]: blocked with nice 5, 0, 0, 10, -5 -> served -5, 0 (first), 0 (second), 5, 10.
TEST(WaiterListTest, Spec5_4_NiceExampleOrder) {
  WaiterList list;
  list.Add(WaiterId{1}, Nice(5), 0, kNever);
  list.Add(WaiterId{2}, Nice(0), 0, kNever);
  list.Add(WaiterId{3}, Nice(0), 0, kNever);
  list.Add(WaiterId{4}, Nice(10), 0, kNever);
  list.Add(WaiterId{5}, Nice(-5), 0, kNever);
  EXPECT_THAT(Ids(list), ElementsAre(5, 2, 3, 1, 4));
  std::vector<uint64_t> served;
  while (auto w = list.PopBest()) served.push_back(w->id.value);
  EXPECT_THAT(served, ElementsAre(5, 2, 3, 1, 4));
}

// Spec §5.4: a new waiter goes behind every waiter with equal or better priority.
TEST(WaiterListTest, Spec5_4_NewWaiterBehindEqualAndBetter) {
  WaiterList list;
  list.Add(WaiterId{1}, Nice(0), 0, kNever);
  list.Add(WaiterId{2}, Nice(5), 0, kNever);
  list.Add(WaiterId{3}, Nice(-5), 0, kNever);
  list.Add(WaiterId{4}, Nice(0), 0, kNever);
  EXPECT_THAT(Ids(list), ElementsAre(3, 1, 4, 2));
}

// Spec §5.4: RT tasks have task->prio 99 - rt_priority, below every normal task; DEADLINE -1.
TEST(WaiterListTest, Spec5_4_RealtimeAndDeadlineBeforeNormal) {
  WaiterList list;
  list.Add(WaiterId{1}, Nice(-20), 0, kNever);
  list.Add(WaiterId{2}, 99 - 10, 0, kNever);
  list.Add(WaiterId{3}, -1, 0, kNever);
  EXPECT_THAT(Ids(list), ElementsAre(3, 2, 1));
}

TEST(WaiterListTest, AddReturnsKeyWithIncreasingSeq) {
  WaiterList list;
  const WaiterKey a = list.Add(WaiterId{1}, Nice(0), 0, kNever);
  const WaiterKey b = list.Add(WaiterId{2}, Nice(0), 0, kNever);
  EXPECT_EQ(a.sched_prio, Nice(0));
  EXPECT_LT(a.seq, b.seq);
  EXPECT_LT(a, b);
}

TEST(WaiterListTest, CarriesTagDeadlineAndSenderMessage) {
  WaiterList list;
  SenderIdentity sender{ProcessRef{42}, 4242, kernel::KUid(1000)};
  list.Add(WaiterId{9}, Nice(0), 0xfeed, At(500), Message{7, 0, "hello"}, sender);
  const Waiter* w = list.Find(WaiterId{9});
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->tag, 0xfeedu);
  EXPECT_EQ(w->deadline, At(500));
  EXPECT_EQ(w->message.priority, 7u);
  EXPECT_EQ(w->message.payload, "hello");
  EXPECT_EQ(w->sender.process, ProcessRef{42});
  EXPECT_EQ(w->sender.host_tgid, 4242);
  EXPECT_EQ(w->sender.ruid, kernel::KUid(1000));
}

TEST(WaiterListTest, RemoveById) {
  WaiterList list;
  list.Add(WaiterId{1}, Nice(0), 0, kNever);
  list.Add(WaiterId{2}, Nice(0), 0, At(10));
  list.Add(WaiterId{3}, Nice(0), 0, kNever);
  std::optional<Waiter> w = list.Remove(WaiterId{2});
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->id, WaiterId{2});
  EXPECT_FALSE(list.Contains(WaiterId{2}));
  EXPECT_THAT(Ids(list), ElementsAre(1, 3));
  EXPECT_FALSE(list.EarliestDeadline().has_value());  // its deadline left with it
  EXPECT_FALSE(list.Remove(WaiterId{2}).has_value());
}

// Undo calls: re-inserting with the original key restores the exact place.
TEST(WaiterListTest, ReinsertRestoresExactPlace) {
  WaiterList list;
  list.Add(WaiterId{1}, Nice(0), 0, kNever);
  list.Add(WaiterId{2}, Nice(0), 0, kNever);
  list.Add(WaiterId{3}, Nice(5), 0, kNever);
  const std::vector<uint64_t> before = Ids(list);
  std::optional<Waiter> best = list.PopBest();
  ASSERT_TRUE(best.has_value());
  list.Add(WaiterId{4}, Nice(0), 0, kNever);  // arrives meanwhile: still behind 1
  EXPECT_TRUE(list.Reinsert(*std::move(best)));
  EXPECT_THAT(Ids(list), ElementsAre(1, 2, 4, 3));
  list.Remove(WaiterId{4});
  EXPECT_EQ(Ids(list), before);
}

TEST(WaiterListTest, ReinsertMiddleWaiter) {
  WaiterList list;
  for (uint64_t i = 1; i <= 5; ++i) list.Add(WaiterId{i}, Nice(0), 0, kNever);
  std::optional<Waiter> w = list.Remove(WaiterId{3});
  ASSERT_TRUE(list.Reinsert(*std::move(w)));
  EXPECT_THAT(Ids(list), ElementsAre(1, 2, 3, 4, 5));
}

TEST(WaiterListTest, ReinsertRejectsDuplicates) {
  WaiterList list;
  const WaiterKey key = list.Add(WaiterId{1}, Nice(0), 0, kNever);
  Waiter dup_id;
  dup_id.id = WaiterId{1};
  dup_id.key = WaiterKey{Nice(0), key.seq + 100};
  EXPECT_FALSE(list.Reinsert(dup_id));
  Waiter dup_key;
  dup_key.id = WaiterId{2};
  dup_key.key = key;
  EXPECT_FALSE(list.Reinsert(dup_key));
  EXPECT_EQ(list.size(), 1u);
}

TEST(WaiterListTest, ReinsertOfForeignKeyKeepsLaterAddsBehind) {
  WaiterList list;
  Waiter restored;
  restored.id = WaiterId{7};
  restored.key = WaiterKey{Nice(0), 1000};
  ASSERT_TRUE(list.Reinsert(restored));
  const WaiterKey next = list.Add(WaiterId{8}, Nice(0), 0, kNever);
  EXPECT_GT(next.seq, 1000u);
  EXPECT_THAT(Ids(list), ElementsAre(7, 8));
}

TEST(WaiterListTest, EarliestDeadlineIgnoresInfinite) {
  WaiterList list;
  list.Add(WaiterId{1}, Nice(0), 0, kNever);
  EXPECT_FALSE(list.EarliestDeadline().has_value());
  list.Add(WaiterId{2}, Nice(0), 0, At(300));
  list.Add(WaiterId{3}, Nice(0), 0, At(100));
  list.Add(WaiterId{4}, Nice(0), 0, At(200));
  EXPECT_EQ(list.EarliestDeadline(), At(100));
  list.Remove(WaiterId{3});
  EXPECT_EQ(list.EarliestDeadline(), At(200));
  list.PopBest();  // waiter 1, no deadline
  list.PopBest();  // waiter 2 (deadline 300)
  EXPECT_EQ(list.EarliestDeadline(), At(200));
}

// A deadline equal to now has expired (the hrtimer fires at the deadline).
TEST(WaiterListTest, PopExpiredAtAndBeforeNow) {
  WaiterList list;
  list.Add(WaiterId{1}, Nice(0), 0, At(100));
  list.Add(WaiterId{2}, Nice(0), 0, At(50));
  list.Add(WaiterId{3}, Nice(0), 0, At(101));
  list.Add(WaiterId{4}, Nice(0), 0, kNever);
  EXPECT_TRUE(list.PopExpired(49).empty());
  std::vector<Waiter> expired = list.PopExpired(100);
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].id, WaiterId{2});  // earliest deadline first
  EXPECT_EQ(expired[1].id, WaiterId{1});
  EXPECT_THAT(Ids(list), ElementsAre(3, 4));
  EXPECT_EQ(list.EarliestDeadline(), At(101));
}

TEST(WaiterListTest, EqualDeadlinesExpireInServiceOrder) {
  WaiterList list;
  list.Add(WaiterId{1}, Nice(5), 0, At(10));
  list.Add(WaiterId{2}, Nice(0), 0, At(10));
  std::vector<Waiter> expired = list.PopExpired(10);
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].id, WaiterId{2});
  EXPECT_EQ(expired[1].id, WaiterId{1});
  EXPECT_TRUE(list.empty());
}

TEST(WaiterListTest, InfiniteNeverExpires) {
  WaiterList list;
  list.Add(WaiterId{1}, Nice(0), 0, kNever);
  EXPECT_TRUE(list.PopExpired(INT64_MAX).empty());
  EXPECT_EQ(list.size(), 1u);
}

TEST(WaiterListTest, ForEachInServiceOrder) {
  WaiterList list;
  list.Add(WaiterId{1}, Nice(3), 11, kNever);
  list.Add(WaiterId{2}, Nice(1), 22, kNever);
  std::vector<uint64_t> tags;
  list.ForEach([&tags](const Waiter& w) { tags.push_back(w.tag); });
  EXPECT_THAT(tags, ElementsAre(22, 11));
}

TEST(WaiterListTest, ManyWaitersStayOrdered) {
  WaiterList list;
  for (uint64_t i = 0; i < 1000; ++i) list.Add(WaiterId{i + 1}, Nice(int(i % 7)), 0, kNever);
  WaiterKey last{-1000, 0};
  while (auto w = list.PopBest()) {
    EXPECT_LT(last, w->key);
    last = w->key;
  }
}

}  // namespace
}  // namespace mqsentry::ipc
