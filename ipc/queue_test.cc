// Tests of Queue: send/receive (spec §5.1, §5.2), ordering (§5.3), blocking, hand-off,
// refill and timeouts (§5.4), poll wake-ups and readiness (§8.2), attributes (§7), the
// undo calls of the two-phase answer protocol (architecture "A trapped call", step 6), and
// a randomized comparison against a reference model.
#include "ipc/queue.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipc/test_events.h"

namespace mqsentry::ipc {
namespace {

using kernel::Deadline;
using kernel::SyscallResult;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int64_t kNow = 1'000'000'000'000;
constexpr int Nice(int n) { return 120 + n; }

struct SendOpts {
  bool nonblocking = false;
  Deadline deadline = Deadline::Infinite();
  int sched_prio = 120;
  uint64_t tag = 0;
  SenderIdentity sender{ProcessRef{1}, 100, kernel::KUid(1000)};
};

struct RecvOpts {
  bool nonblocking = false;
  Deadline deadline = Deadline::Infinite();
  int sched_prio = 120;
  uint64_t tag = 0;
  uint64_t buffer_len = 16;
};

SendOutcome Send(Queue& q, uint32_t prio, std::string payload, SendOpts o = {}) {
  SendRequest r;
  r.priority = prio;
  r.payload = std::move(payload);
  r.nonblocking = o.nonblocking;
  r.deadline = o.deadline;
  r.now_ns = kNow;
  r.sched_prio = o.sched_prio;
  r.tag = o.tag;
  r.sender = o.sender;
  return q.Send(std::move(r));
}

ReceiveOutcome Recv(Queue& q, RecvOpts o = {}) {
  ReceiveRequest r;
  r.buffer_len = o.buffer_len;
  r.nonblocking = o.nonblocking;
  r.deadline = o.deadline;
  r.now_ns = kNow;
  r.sched_prio = o.sched_prio;
  r.tag = o.tag;
  return q.Receive(r);
}

RecvOpts Nonblocking() {
  RecvOpts o;
  o.nonblocking = true;
  return o;
}

std::vector<std::string> Contents(const Queue& q) {
  std::vector<std::string> out;
  for (const Message& m : q.SnapshotMessages()) out.push_back(m.payload.str());
  return out;
}

// Exact content including priorities and seqs.
std::vector<std::tuple<uint32_t, uint64_t, std::string>> Exact(const Queue& q) {
  std::vector<std::tuple<uint32_t, uint64_t, std::string>> out;
  for (const Message& m : q.SnapshotMessages()) out.emplace_back(m.priority, m.seq, m.payload);
  return out;
}

std::string Take(Queue& q) {
  ReceiveOutcome r = Recv(q, Nonblocking());
  EXPECT_TRUE(r.message.has_value()) << r.result.ToString();
  return r.message.has_value() ? r.message->payload.str() : "<none>";
}

class QueueTest : public ::testing::Test {
 protected:
  std::unique_ptr<Queue> Make(int64_t maxmsg, int64_t msgsize = 16) {
    return std::make_unique<Queue>(kernel::KUid(1000), kernel::KGid(1000), 0644,
                                   QueueAttributes{maxmsg, msgsize}, &events_);
  }
  // Fills `q` to maxmsg with messages "f0", "f1", ... at priority 0.
  void Fill(Queue& q) {
    for (int i = 0; static_cast<int64_t>(i) < q.attributes().maxmsg; ++i) {
      ASSERT_TRUE(Send(q, 0, "f" + std::to_string(i)).result.ok());
    }
  }
  RecordingEvents events_;
};

// ---- Send (spec §5.1) ----

TEST_F(QueueTest, Spec5_1_SendInsertsMessage) {
  auto q = Make(3);
  SendOutcome s = Send(*q, 4, "hello");
  EXPECT_EQ(s.result, SyscallResult::Ok());
  EXPECT_FALSE(s.parked.has_value());
  EXPECT_FALSE(s.handoff.has_value());
  EXPECT_THAT(Contents(*q), ElementsAre("hello"));
  EXPECT_EQ(q->Status().curmsgs, 1);
}

TEST_F(QueueTest, Spec5_1_Step4_EmsgsizeWhenPayloadExceedsMsgsize) {
  auto q = Make(3, 16);
  EXPECT_EQ(Send(*q, 0, std::string(17, 'x')).result, SyscallResult::Error(EMSGSIZE));
  EXPECT_THAT(Contents(*q), IsEmpty());
  EXPECT_EQ(events_.poll_wakes, 0);
}

TEST_F(QueueTest, Spec5_1_Step4_PayloadEqualToMsgsizeAccepted) {
  auto q = Make(3, 16);
  EXPECT_TRUE(Send(*q, 0, std::string(16, 'x')).result.ok());
}

TEST_F(QueueTest, Spec5_1_Step4_EmsgsizeBeforeFullChecks) {
  auto q = Make(1, 16);
  Fill(*q);
  SendOpts o;
  o.nonblocking = true;
  EXPECT_EQ(Send(*q, 0, std::string(17, 'x'), o).result, SyscallResult::Error(EMSGSIZE));
  EXPECT_EQ(Send(*q, 0, std::string(17, 'x')).result, SyscallResult::Error(EMSGSIZE));
  EXPECT_EQ(q->parked_senders(), 0u);
}

TEST_F(QueueTest, Spec5_1_Step6_FullNonblockingIsEagain) {
  auto q = Make(2);
  Fill(*q);
  SendOpts o;
  o.nonblocking = true;
  EXPECT_EQ(Send(*q, 0, "x", o).result, SyscallResult::Error(EAGAIN));
  EXPECT_THAT(Contents(*q), ElementsAre("f0", "f1"));
  EXPECT_EQ(q->parked_senders(), 0u);
}

TEST_F(QueueTest, Spec5_1_Step6_EagainCheckedBeforeTimeoutExpiry) {
  auto q = Make(1);
  Fill(*q);
  SendOpts o;
  o.nonblocking = true;
  o.deadline = Deadline::FromNanos(0);
  EXPECT_EQ(Send(*q, 0, "x", o).result, SyscallResult::Error(EAGAIN));
}

TEST_F(QueueTest, Spec5_4_FullWithPastDeadlineIsEtimedout) {
  auto q = Make(1);
  Fill(*q);
  SendOpts o;
  o.deadline = Deadline::FromNanos(0);  // {0,0}
  EXPECT_EQ(Send(*q, 0, "x", o).result, SyscallResult::Error(ETIMEDOUT));
  EXPECT_EQ(q->parked_senders(), 0u);
}

TEST_F(QueueTest, Spec5_4_DeadlineEqualToNowIsEtimedout) {
  auto q = Make(1);
  Fill(*q);
  SendOpts o;
  o.deadline = Deadline::FromNanos(kNow);
  EXPECT_EQ(Send(*q, 0, "x", o).result, SyscallResult::Error(ETIMEDOUT));
}

TEST_F(QueueTest, Spec5_4_PastDeadlineIgnoredWhenSendWouldNotBlock) {
  auto q = Make(1);
  SendOpts o;
  o.deadline = Deadline::FromNanos(0);
  EXPECT_TRUE(Send(*q, 0, "x", o).result.ok());
  EXPECT_THAT(Contents(*q), ElementsAre("x"));
}

TEST_F(QueueTest, Spec5_1_Step6_FullBlockingSendParks) {
  auto q = Make(1);
  Fill(*q);
  events_.Clear();
  SendOpts o;
  o.tag = 77;
  o.deadline = Deadline::FromNanos(kNow + 1);
  SendOutcome s = Send(*q, 3, "late", o);
  ASSERT_TRUE(s.parked.has_value());
  EXPECT_FALSE(s.handoff.has_value());
  EXPECT_EQ(q->parked_senders(), 1u);
  EXPECT_THAT(q->SenderOrder(), ElementsAre(*s.parked));
  EXPECT_THAT(Contents(*q), ElementsAre("f0"));
  EXPECT_EQ(events_.poll_wakes, 0);
}

// Spec §8.2: every inserting send wakes poll waiters, even on a non-empty queue (EPOLLET).
TEST_F(QueueTest, Spec8_2_EveryInsertingSendWakesPoll) {
  auto q = Make(5);
  Send(*q, 0, "a");
  Send(*q, 0, "b");
  Send(*q, 9, "c");
  EXPECT_EQ(events_.poll_wakes, 3);
}

// Spec §5.3: a1(1), b5(5), c1(1) are received as b5, a1, c1.
TEST_F(QueueTest, Spec5_3_PriorityOrderExample) {
  auto q = Make(5);
  Send(*q, 1, "a1");
  Send(*q, 5, "b5");
  Send(*q, 1, "c1");
  EXPECT_EQ(Take(*q), "b5");
  EXPECT_EQ(Take(*q), "a1");
  EXPECT_EQ(Take(*q), "c1");
}

// Spec §5.3 / §5.2 step 7: zero-length messages; the returned length is 0.
TEST_F(QueueTest, Spec5_3_ZeroLengthMessage) {
  auto q = Make(2);
  ASSERT_TRUE(Send(*q, 0, "").result.ok());
  EXPECT_EQ(q->Status().curmsgs, 1);
  EXPECT_EQ(q->Status().qsize, 0u);
  ReceiveOutcome r = Recv(*q);
  EXPECT_EQ(r.result, SyscallResult::Value(0));
  ASSERT_TRUE(r.message.has_value());
  EXPECT_EQ(r.message->payload, "");
}

// Spec §5.3 / §8.1: QSIZE counts only payload bytes (10 + 0 bytes -> 10).
TEST_F(QueueTest, Spec8_1_QsizeIsPayloadBytes) {
  auto q = Make(3);
  Send(*q, 0, "0123456789");
  Send(*q, 0, "");
  EXPECT_EQ(q->Status().qsize, 10u);
  EXPECT_EQ(q->Status().curmsgs, 2);
  Take(*q);
  EXPECT_EQ(q->Status().qsize, 0u);
}

// ---- Receive (spec §5.2) ----

TEST_F(QueueTest, Spec5_2_Step3_EmsgsizeWhenBufferSmallerThanMsgsize) {
  auto q = Make(2, 16);
  Send(*q, 0, "x");  // a 1-byte message still needs a 16-byte buffer
  RecvOpts o;
  o.buffer_len = 15;
  EXPECT_EQ(Recv(*q, o).result, SyscallResult::Error(EMSGSIZE));
  EXPECT_THAT(Contents(*q), ElementsAre("x"));
}

TEST_F(QueueTest, Spec5_2_Step3_BufferEqualToMsgsizeAccepted) {
  auto q = Make(2, 16);
  Send(*q, 0, "x");
  RecvOpts o;
  o.buffer_len = 16;
  EXPECT_EQ(Recv(*q, o).result, SyscallResult::Value(1));
}

TEST_F(QueueTest, Spec5_2_Step3_SizeMaxBufferPasses) {
  auto q = Make(2, 16);
  Send(*q, 0, "xyz");
  RecvOpts o;
  o.buffer_len = static_cast<uint64_t>(-1);  // (size_t)-1: unsigned comparison
  EXPECT_EQ(Recv(*q, o).result, SyscallResult::Value(3));
}

TEST_F(QueueTest, Spec5_2_Step3_EmsgsizeBeforeEmptyChecks) {
  auto q = Make(2, 16);
  RecvOpts o = Nonblocking();
  o.buffer_len = 1;
  EXPECT_EQ(Recv(*q, o).result, SyscallResult::Error(EMSGSIZE));
  o.nonblocking = false;
  EXPECT_EQ(Recv(*q, o).result, SyscallResult::Error(EMSGSIZE));
  EXPECT_EQ(q->parked_receivers(), 0u);
}

TEST_F(QueueTest, Spec5_2_Step4_EmptyNonblockingIsEagain) {
  auto q = Make(2);
  ReceiveOutcome r = Recv(*q, Nonblocking());
  EXPECT_EQ(r.result, SyscallResult::Error(EAGAIN));
  EXPECT_FALSE(r.message.has_value());
  EXPECT_EQ(q->parked_receivers(), 0u);
}

TEST_F(QueueTest, Spec5_2_Step4_EagainCheckedBeforeTimeoutExpiry) {
  auto q = Make(2);
  RecvOpts o = Nonblocking();
  o.deadline = Deadline::FromNanos(0);
  EXPECT_EQ(Recv(*q, o).result, SyscallResult::Error(EAGAIN));
}

TEST_F(QueueTest, Spec5_4_EmptyWithPastDeadlineIsEtimedout) {
  auto q = Make(2);
  RecvOpts o;
  o.deadline = Deadline::FromNanos(kNow - 1);
  EXPECT_EQ(Recv(*q, o).result, SyscallResult::Error(ETIMEDOUT));
  EXPECT_EQ(q->parked_receivers(), 0u);
}

TEST_F(QueueTest, Spec5_4_PastDeadlineIgnoredWhenReceiveWouldNotBlock) {
  auto q = Make(2);
  Send(*q, 0, "x");
  RecvOpts o;
  o.deadline = Deadline::FromNanos(0);
  EXPECT_EQ(Recv(*q, o).result, SyscallResult::Value(1));
}

TEST_F(QueueTest, Spec5_2_Step4_EmptyBlockingReceiveParks) {
  auto q = Make(2);
  RecvOpts o;
  o.tag = 5;
  ReceiveOutcome r = Recv(*q, o);
  ASSERT_TRUE(r.parked.has_value());
  EXPECT_FALSE(r.message.has_value());
  EXPECT_THAT(q->ReceiverOrder(), ElementsAre(*r.parked));
  EXPECT_EQ(events_.poll_wakes, 0);
}

TEST_F(QueueTest, Spec5_2_Step5_ReceiveReturnsLengthAndPriority) {
  auto q = Make(2);
  Send(*q, 31000, "abcd");
  ReceiveOutcome r = Recv(*q);
  EXPECT_EQ(r.result, SyscallResult::Value(4));
  ASSERT_TRUE(r.message.has_value());
  EXPECT_EQ(r.message->priority, 31000u);
  EXPECT_EQ(r.message->payload, "abcd");
  EXPECT_FALSE(r.refill.has_value());
  EXPECT_EQ(q->Status().curmsgs, 0);
}

// Spec §8.2: a receive wakes poll waiters when no sender was blocked.
TEST_F(QueueTest, Spec8_2_ReceiveWithoutBlockedSenderWakesPoll) {
  auto q = Make(2);
  Send(*q, 0, "x");
  events_.Clear();
  Recv(*q);
  EXPECT_EQ(events_.poll_wakes, 1);
}

// ---- Hand-off to a parked receiver (spec §5.1 step 7, §5.4) ----

TEST_F(QueueTest, Spec5_4_SendToParkedReceiverHandsOff) {
  auto q = Make(2);
  RecvOpts ro;
  ro.tag = 900;
  ro.deadline = Deadline::FromNanos(kNow + 50);
  ro.sched_prio = Nice(3);
  ReceiveOutcome r = Recv(*q, ro);
  ASSERT_TRUE(r.parked.has_value());
  SendOpts so;
  so.sender = SenderIdentity{ProcessRef{8}, 808, kernel::KUid(4321)};
  SendOutcome s = Send(*q, 6, "direct", so);
  EXPECT_EQ(s.result, SyscallResult::Ok());
  ASSERT_TRUE(s.handoff.has_value());
  EXPECT_EQ(s.handoff->receiver, *r.parked);
  EXPECT_EQ(s.handoff->receiver_tag, 900u);
  EXPECT_EQ(s.handoff->receiver_key.sched_prio, Nice(3));
  EXPECT_EQ(s.handoff->receiver_deadline, Deadline::FromNanos(kNow + 50));
  EXPECT_EQ(s.handoff->message.priority, 6u);
  EXPECT_EQ(s.handoff->message.payload, "direct");
  EXPECT_EQ(s.handoff->sender.process, ProcessRef{8});
  EXPECT_EQ(s.handoff->sender.ruid, kernel::KUid(4321));
  // The queue is not touched.
  EXPECT_THAT(Contents(*q), IsEmpty());
  EXPECT_EQ(q->Status().qsize, 0u);
  EXPECT_EQ(q->parked_receivers(), 0u);
}

// Spec §8.2: a direct hand-off wakes nobody.
TEST_F(QueueTest, Spec8_2_HandoffWakesNobody) {
  auto q = Make(2);
  Recv(*q);
  Send(*q, 0, "x");
  EXPECT_EQ(events_.poll_wakes, 0);
}

// Spec §5.4 [E]: receivers blocked with nice 5, 0, 0, 10, -5 are served -5, 0, 0, 5, 10.
TEST_F(QueueTest, Spec5_4_ReceiversServedByNiceThenFifo) {
  auto q = Make(2);
  std::map<uint64_t, std::string> name;
  const std::vector<std::pair<int, std::string>> arrivals = {
      {5, "n5"}, {0, "n0-first"}, {0, "n0-second"}, {10, "n10"}, {-5, "n-5"}};
  for (const auto& [nice, label] : arrivals) {
    RecvOpts o;
    o.sched_prio = Nice(nice);
    name[Recv(*q, o).parked->value] = label;
  }
  std::vector<std::string> served;
  for (int i = 0; i < 5; ++i) {
    SendOutcome s = Send(*q, 0, "m");
    ASSERT_TRUE(s.handoff.has_value());
    served.push_back(name[s.handoff->receiver.value]);
  }
  EXPECT_THAT(served, ElementsAre("n-5", "n0-first", "n0-second", "n5", "n10"));
}

// Spec §5.4 [E]: blocked senders rank the same way; each refill pulls the best one.
TEST_F(QueueTest, Spec5_4_SendersServedByNiceThenFifo) {
  auto q = Make(1);
  Fill(*q);
  const std::vector<std::pair<int, std::string>> arrivals = {
      {5, "n5"}, {0, "n0-first"}, {0, "n0-second"}, {10, "n10"}, {-5, "n-5"}};
  for (const auto& [nice, label] : arrivals) {
    SendOpts o;
    o.sched_prio = Nice(nice);
    ASSERT_TRUE(Send(*q, 0, label, o).parked.has_value());
  }
  std::vector<std::string> received;
  for (int i = 0; i < 6; ++i) received.push_back(Take(*q));
  EXPECT_THAT(received, ElementsAre("f0", "n-5", "n0-first", "n0-second", "n5", "n10"));
}

// Spec §5.2 step 5 / §5.4: the refilled message enters by message priority.
TEST_F(QueueTest, Spec5_4_RefillEntersByMessagePriority) {
  auto q = Make(3);
  Send(*q, 5, "a5");
  Send(*q, 1, "b1");
  Send(*q, 1, "c1");
  SendOpts o;
  ASSERT_TRUE(Send(*q, 9, "d9", o).parked.has_value());
  ASSERT_TRUE(Send(*q, 1, "e1", o).parked.has_value());
  EXPECT_EQ(Take(*q), "a5");  // d9 is pulled in, ahead of everything
  EXPECT_THAT(Contents(*q), ElementsAre("d9", "b1", "c1"));
  EXPECT_EQ(Take(*q), "d9");  // e1 is pulled in behind c1
  EXPECT_THAT(Contents(*q), ElementsAre("b1", "c1", "e1"));
}

TEST_F(QueueTest, Spec5_2_Step5_RefillDescribesTheSender) {
  auto q = Make(1);
  Fill(*q);
  SendOpts o;
  o.tag = 31;
  o.sched_prio = Nice(-2);
  o.deadline = Deadline::FromNanos(kNow + 9);
  o.sender = SenderIdentity{ProcessRef{4}, 44, kernel::KUid(7)};
  const WaiterId parked = *Send(*q, 12, "pulled", o).parked;
  ReceiveOutcome r = Recv(*q);
  ASSERT_TRUE(r.refill.has_value());
  EXPECT_EQ(r.message->payload, "f0");
  EXPECT_EQ(r.refill->sender, parked);
  EXPECT_EQ(r.refill->sender_tag, 31u);
  EXPECT_EQ(r.refill->sender_key.sched_prio, Nice(-2));
  EXPECT_EQ(r.refill->sender_deadline, Deadline::FromNanos(kNow + 9));
  EXPECT_EQ(r.refill->sender_identity.process, ProcessRef{4});
  EXPECT_EQ(r.refill->priority, 12u);
  ASSERT_EQ(q->SnapshotMessages().size(), 1u);
  EXPECT_EQ(q->SnapshotMessages()[0].seq, r.refill->message_seq);
  EXPECT_EQ(q->parked_senders(), 0u);
}

// Spec §8.2: a receive that pulls a blocked sender's message in wakes nobody.
TEST_F(QueueTest, Spec8_2_RefillDoesNotWakePoll) {
  auto q = Make(1);
  Fill(*q);
  Send(*q, 0, "blocked");
  events_.Clear();
  Recv(*q);
  EXPECT_EQ(events_.poll_wakes, 0);
  EXPECT_THAT(Contents(*q), ElementsAre("blocked"));
}

// The invariant that lets hand-off and refill be the only resolutions: receivers park only
// on an empty queue, senders only on a full one.
TEST_F(QueueTest, ParkedWaitersOnlyAtTheBoundaries) {
  auto q = Make(2);
  Recv(*q);
  Recv(*q);
  Send(*q, 0, "a");  // hand-off
  Send(*q, 0, "b");  // hand-off
  EXPECT_EQ(q->parked_receivers(), 0u);
  Send(*q, 0, "c");
  Send(*q, 0, "d");
  Send(*q, 0, "e");  // parks
  EXPECT_EQ(q->parked_senders(), 1u);
  EXPECT_EQ(q->parked_receivers(), 0u);
  EXPECT_EQ(Take(*q), "c");
  EXPECT_EQ(Take(*q), "d");
  EXPECT_EQ(Take(*q), "e");
  EXPECT_EQ(q->parked_senders(), 0u);
}

// ---- Undo calls (architecture step 6) ----

TEST_F(QueueTest, Undo_CancelHandoffRestoresReceiverExactly) {
  auto q = Make(2);
  for (int nice : {0, -3, 0, 4}) {
    RecvOpts o;
    o.sched_prio = Nice(nice);
    o.tag = static_cast<uint64_t>(nice + 10);
    Recv(*q, o);
  }
  const std::vector<WaiterId> before = q->ReceiverOrder();
  SendOutcome s = Send(*q, 0, "dropped");
  ASSERT_TRUE(s.handoff.has_value());
  EXPECT_EQ(s.handoff->receiver, before[0]);
  q->CancelHandoff(*s.handoff);
  EXPECT_EQ(q->ReceiverOrder(), before);
  EXPECT_THAT(Contents(*q), IsEmpty());  // the message is dropped: the send never happened
  EXPECT_EQ(events_.poll_wakes, 0);
  // The restored receiver is served first again, with its tag and deadline.
  SendOutcome again = Send(*q, 0, "next");
  ASSERT_TRUE(again.handoff.has_value());
  EXPECT_EQ(again.handoff->receiver, before[0]);
  EXPECT_EQ(again.handoff->receiver_tag, 7u);
  EXPECT_EQ(again.handoff->receiver_key, s.handoff->receiver_key);
}

TEST_F(QueueTest, Undo_CancelHandoffKeepsDeadline) {
  auto q = Make(2);
  RecvOpts o;
  o.deadline = Deadline::FromNanos(kNow + 100);
  Recv(*q, o);
  SendOutcome s = Send(*q, 0, "x");
  EXPECT_FALSE(q->NextDeadline().has_value());
  q->CancelHandoff(*s.handoff);
  EXPECT_EQ(q->NextDeadline(), Deadline::FromNanos(kNow + 100));
}

TEST_F(QueueTest, Undo_RedeliverGoesToNextReceiver) {
  auto q = Make(2);
  const WaiterId r1 = *Recv(*q).parked;
  const WaiterId r2 = *Recv(*q).parked;
  SendOutcome s = Send(*q, 3, "msg");
  ASSERT_EQ(s.handoff->receiver, r1);
  std::optional<Handoff> next = q->Redeliver(*s.handoff);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->receiver, r2);
  EXPECT_EQ(next->message.payload, "msg");
  EXPECT_EQ(next->message.priority, 3u);
  EXPECT_EQ(q->parked_receivers(), 0u);
  EXPECT_THAT(Contents(*q), IsEmpty());
  EXPECT_EQ(events_.poll_wakes, 0);
}

TEST_F(QueueTest, Undo_RedeliverChainEndsInQueue) {
  auto q = Make(2);
  std::vector<WaiterId> receivers;
  for (int i = 0; i < 3; ++i) receivers.push_back(*Recv(*q).parked);
  std::optional<Handoff> h = Send(*q, 2, "hot").handoff;
  std::vector<WaiterId> offered;
  while (h.has_value()) {
    offered.push_back(h->receiver);
    h = q->Redeliver(*h);
  }
  EXPECT_EQ(offered, receivers);
  EXPECT_THAT(Contents(*q), ElementsAre("hot"));
  EXPECT_EQ(events_.poll_wakes, 1);  // the final insert wakes poll waiters
}

TEST_F(QueueTest, Undo_RedeliverWithoutReceiverInserts) {
  auto q = Make(2);
  Recv(*q);
  SendOutcome s = Send(*q, 0, "only");
  EXPECT_FALSE(q->Redeliver(*s.handoff).has_value());
  EXPECT_THAT(Contents(*q), ElementsAre("only"));
  EXPECT_EQ(q->Status().qsize, 4u);
  EXPECT_EQ(events_.poll_wakes, 1);
}

TEST_F(QueueTest, Undo_UndoPlainReceiveRestoresQueueExactly) {
  auto q = Make(4);
  Send(*q, 1, "a1");
  Send(*q, 5, "b5");
  Send(*q, 1, "c1");
  Send(*q, 5, "d5");
  const auto before = Exact(*q);
  ReceiveOutcome r = Recv(*q);
  EXPECT_EQ(r.message->payload, "b5");
  q->UndoReceive(std::move(r));
  EXPECT_EQ(Exact(*q), before);
  EXPECT_EQ(q->Status().qsize, 8u);
  EXPECT_EQ(Take(*q), "b5");
}

TEST_F(QueueTest, Undo_UndoPlainReceiveWakesPollAgain) {
  auto q = Make(1);
  Send(*q, 0, "x");
  events_.Clear();
  ReceiveOutcome r = Recv(*q);
  EXPECT_EQ(q->Readiness(), static_cast<uint32_t>(POLLOUT | POLLWRNORM));
  q->UndoReceive(std::move(r));
  EXPECT_EQ(q->Readiness(), static_cast<uint32_t>(POLLIN | POLLRDNORM));
  EXPECT_EQ(events_.poll_wakes, 2);
}

TEST_F(QueueTest, Undo_UndoReceiveWithRefillRestoresQueueAndSenders) {
  auto q = Make(2);
  Send(*q, 4, "a4");
  Send(*q, 2, "b2");
  for (auto [nice, prio, label] : std::vector<std::tuple<int, uint32_t, std::string>>{
           {0, 7, "s7"}, {-1, 1, "s1"}, {0, 4, "s4"}}) {
    SendOpts o;
    o.sched_prio = Nice(nice);
    ASSERT_TRUE(Send(*q, prio, label, o).parked.has_value());
  }
  const auto queue_before = Exact(*q);
  const std::vector<WaiterId> senders_before = q->SenderOrder();
  events_.Clear();
  ReceiveOutcome r = Recv(*q);
  ASSERT_TRUE(r.refill.has_value());
  EXPECT_EQ(r.refill->sender, senders_before[0]);  // s1 (nice -1)
  EXPECT_THAT(Contents(*q), ElementsAre("b2", "s1"));
  q->UndoReceive(std::move(r));
  EXPECT_EQ(Exact(*q), queue_before);
  EXPECT_EQ(q->SenderOrder(), senders_before);
  EXPECT_EQ(events_.poll_wakes, 0);
  // Everything then flows in the original order.
  std::vector<std::string> all;
  for (int i = 0; i < 5; ++i) all.push_back(Take(*q));
  EXPECT_THAT(all, ElementsAre("a4", "b2", "s7", "s4", "s1"));
}

TEST_F(QueueTest, Undo_UndoReceiveRestoresSenderDeadline) {
  auto q = Make(1);
  Fill(*q);
  SendOpts o;
  o.deadline = Deadline::FromNanos(kNow + 77);
  Send(*q, 0, "s", o);
  ReceiveOutcome r = Recv(*q);
  EXPECT_FALSE(q->NextDeadline().has_value());
  q->UndoReceive(std::move(r));
  EXPECT_EQ(q->NextDeadline(), Deadline::FromNanos(kNow + 77));
}

TEST_F(QueueTest, Undo_UndoOfFailedOrParkedReceiveIsNoop) {
  auto q = Make(1);
  ReceiveOutcome eagain = Recv(*q, Nonblocking());
  q->UndoReceive(eagain);
  EXPECT_THAT(Contents(*q), IsEmpty());
  ReceiveOutcome parked = Recv(*q);
  q->UndoReceive(parked);
  EXPECT_EQ(q->parked_receivers(), 1u);
  EXPECT_THAT(Contents(*q), IsEmpty());
}

TEST_F(QueueTest, Undo_RetractRefillPullsNextSender) {
  auto q = Make(1);
  Fill(*q);
  SendOpts o;
  const WaiterId s1 = *Send(*q, 3, "s1", o).parked;
  const WaiterId s2 = *Send(*q, 8, "s2", o).parked;
  ReceiveOutcome r = Recv(*q);
  ASSERT_EQ(r.refill->sender, s1);
  events_.Clear();
  std::optional<Refill> next = q->RetractRefill(*r.refill);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->sender, s2);
  EXPECT_EQ(next->priority, 8u);
  EXPECT_THAT(Contents(*q), ElementsAre("s2"));  // s1's message is discarded
  EXPECT_EQ(q->parked_senders(), 0u);
  EXPECT_EQ(events_.poll_wakes, 0);
}

TEST_F(QueueTest, Undo_RetractLastRefillFreesSlotAndWakes) {
  auto q = Make(2);
  Fill(*q);
  Send(*q, 0, "s");
  ReceiveOutcome r = Recv(*q);
  events_.Clear();
  EXPECT_FALSE(q->RetractRefill(*r.refill).has_value());
  EXPECT_THAT(Contents(*q), ElementsAre("f1"));
  EXPECT_EQ(events_.poll_wakes, 1);
  EXPECT_EQ(q->Readiness(), static_cast<uint32_t>(POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM));
}

TEST_F(QueueTest, Undo_RetractRefillChainKeepsWaiterOrder) {
  auto q = Make(1);
  Fill(*q);
  std::vector<WaiterId> senders;
  for (int nice : {2, 1, 0}) {
    SendOpts o;
    o.sched_prio = Nice(nice);
    senders.push_back(*Send(*q, 0, "n" + std::to_string(nice), o).parked);
  }
  std::optional<Refill> refill = Recv(*q).refill;
  std::vector<WaiterId> pulled;
  while (refill.has_value()) {
    pulled.push_back(refill->sender);
    refill = q->RetractRefill(*refill);
  }
  EXPECT_THAT(pulled, ElementsAre(senders[2], senders[1], senders[0]));
  EXPECT_THAT(Contents(*q), IsEmpty());
}

TEST_F(QueueTest, Undo_RetractRefillTwiceIsNoop) {
  auto q = Make(2);
  Fill(*q);
  Send(*q, 0, "s");
  Refill refill = *Recv(*q).refill;
  q->RetractRefill(refill);
  const auto before = Exact(*q);
  events_.Clear();
  EXPECT_FALSE(q->RetractRefill(refill).has_value());
  EXPECT_EQ(Exact(*q), before);
  EXPECT_EQ(events_.poll_wakes, 0);
}

// ---- CancelWaiter (spec §5.4 "Signals") ----

TEST_F(QueueTest, Spec5_4_CancelledSenderMessageIsDiscarded) {
  auto q = Make(1);
  Fill(*q);
  const WaiterId s = *Send(*q, 9, "interrupted").parked;
  EXPECT_TRUE(q->CancelWaiter(s));
  EXPECT_EQ(q->parked_senders(), 0u);
  ReceiveOutcome r = Recv(*q);
  EXPECT_FALSE(r.refill.has_value());
  EXPECT_THAT(Contents(*q), IsEmpty());
}

TEST_F(QueueTest, Spec5_4_CancelledReceiverGetsNoHandoff) {
  auto q = Make(2);
  const WaiterId r = *Recv(*q).parked;
  EXPECT_TRUE(q->CancelWaiter(r));
  SendOutcome s = Send(*q, 0, "x");
  EXPECT_FALSE(s.handoff.has_value());
  EXPECT_THAT(Contents(*q), ElementsAre("x"));
}

TEST_F(QueueTest, CancelUnknownOrTwiceIsFalse) {
  auto q = Make(2);
  EXPECT_FALSE(q->CancelWaiter(WaiterId{12345}));
  const WaiterId r = *Recv(*q).parked;
  EXPECT_TRUE(q->CancelWaiter(r));
  EXPECT_FALSE(q->CancelWaiter(r));
}

TEST_F(QueueTest, CancelMiddleWaiterKeepsOthersInOrder) {
  auto q = Make(2);
  const WaiterId a = *Recv(*q).parked;
  const WaiterId b = *Recv(*q).parked;
  const WaiterId c = *Recv(*q).parked;
  EXPECT_TRUE(q->CancelWaiter(b));
  EXPECT_THAT(q->ReceiverOrder(), ElementsAre(a, c));
}

// Spec §5.4: a restarted call joins the list again at the back of its priority class.
TEST_F(QueueTest, Spec5_4_RestartedCallJoinsAtBack) {
  auto q = Make(2);
  const WaiterId a = *Recv(*q).parked;
  const WaiterId b = *Recv(*q).parked;
  q->CancelWaiter(a);
  const WaiterId a2 = *Recv(*q).parked;
  EXPECT_THAT(q->ReceiverOrder(), ElementsAre(b, a2));
}

TEST_F(QueueTest, WaiterIdsUniqueAcrossLists) {
  auto q = Make(1);
  const WaiterId r = *Recv(*q).parked;
  Send(*q, 0, "x");  // hand-off to r
  Send(*q, 0, "y");  // fills
  const WaiterId s = *Send(*q, 0, "z").parked;
  EXPECT_NE(r, s);
  EXPECT_FALSE(q->CancelWaiter(r));
  EXPECT_TRUE(q->CancelWaiter(s));
}

// ---- Timeouts (spec §5.4) ----

TEST_F(QueueTest, Spec5_4_NextDeadlineNoneWithoutFiniteDeadlines) {
  auto q = Make(2);
  EXPECT_FALSE(q->NextDeadline().has_value());
  Recv(*q);  // infinite
  EXPECT_FALSE(q->NextDeadline().has_value());
}

TEST_F(QueueTest, Spec5_4_NextDeadlineIsEarliestReceiver) {
  auto q = Make(2);
  for (int64_t d : {300, 100, 200}) {
    RecvOpts o;
    o.deadline = Deadline::FromNanos(kNow + d);
    Recv(*q, o);
  }
  EXPECT_EQ(q->NextDeadline(), Deadline::FromNanos(kNow + 100));
}

TEST_F(QueueTest, Spec5_4_NextDeadlineIsEarliestSender) {
  auto q = Make(1);
  Fill(*q);
  for (int64_t d : {50, 20}) {
    SendOpts o;
    o.deadline = Deadline::FromNanos(kNow + d);
    Send(*q, 0, "s", o);
  }
  EXPECT_EQ(q->NextDeadline(), Deadline::FromNanos(kNow + 20));
}

TEST_F(QueueTest, Spec5_4_ExpireReceivers) {
  auto q = Make(2);
  std::map<int64_t, WaiterId> by_deadline;
  for (int64_t d : {300, 100, 200}) {
    RecvOpts o;
    o.deadline = Deadline::FromNanos(kNow + d);
    o.tag = static_cast<uint64_t>(d);
    by_deadline[d] = *Recv(*q, o).parked;
  }
  const WaiterId forever = *Recv(*q).parked;
  EXPECT_THAT(q->ExpireWaiters(kNow + 99), IsEmpty());
  std::vector<ExpiredWaiter> expired = q->ExpireWaiters(kNow + 200);
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].waiter, by_deadline[100]);
  EXPECT_EQ(expired[0].tag, 100u);
  EXPECT_FALSE(expired[0].is_sender);
  EXPECT_EQ(expired[1].waiter, by_deadline[200]);
  EXPECT_THAT(q->ReceiverOrder(), ElementsAre(by_deadline[300], forever));
  EXPECT_EQ(q->NextDeadline(), Deadline::FromNanos(kNow + 300));
}

TEST_F(QueueTest, Spec5_4_ExpiredSenderMessageIsDiscarded) {
  auto q = Make(1);
  Fill(*q);
  SendOpts o;
  o.deadline = Deadline::FromNanos(kNow + 10);
  o.tag = 3;
  const WaiterId s = *Send(*q, 0, "timed", o).parked;
  std::vector<ExpiredWaiter> expired = q->ExpireWaiters(kNow + 10);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].waiter, s);
  EXPECT_EQ(expired[0].tag, 3u);
  EXPECT_TRUE(expired[0].is_sender);
  EXPECT_EQ(Take(*q), "f0");
  EXPECT_THAT(Contents(*q), IsEmpty());
}

TEST_F(QueueTest, Spec5_4_ExpiredReceiverGetsNoHandoff) {
  auto q = Make(2);
  RecvOpts o;
  o.deadline = Deadline::FromNanos(kNow + 1);
  Recv(*q, o);
  q->ExpireWaiters(kNow + 1);
  EXPECT_FALSE(Send(*q, 0, "x").handoff.has_value());
}

// ---- Attributes and readiness (spec §7, §8.2) ----

TEST_F(QueueTest, Spec7_AttributesSnapshot) {
  auto q = Make(7, 99);
  Send(*q, 0, "a");
  Send(*q, 0, "b");
  kernel::abi::MqAttr a = q->Attributes(kernel::abi::kORdwr | kernel::abi::kONonblock |
                                        kernel::abi::kOAppend | kernel::abi::kOCloexec);
  EXPECT_EQ(a.mq_flags, 2048);
  EXPECT_EQ(a.mq_maxmsg, 7);
  EXPECT_EQ(a.mq_msgsize, 99);
  EXPECT_EQ(a.mq_curmsgs, 2);
  for (int64_t r : a.reserved) EXPECT_EQ(r, 0);
  EXPECT_EQ(q->Attributes(kernel::abi::kOWronly).mq_flags, 0);
}

// Spec §8.2 [E]: full = 0x41, 1 of 2 = 0x145, empty = 0x104.
TEST_F(QueueTest, Spec8_2_ReadinessValues) {
  auto q = Make(2);
  EXPECT_EQ(q->Readiness(), 0x104u);
  Send(*q, 0, "a");
  EXPECT_EQ(q->Readiness(), 0x145u);
  Send(*q, 0, "b");
  EXPECT_EQ(q->Readiness(), 0x41u);
  Take(*q);
  EXPECT_EQ(q->Readiness(), 0x145u);
}

TEST_F(QueueTest, Spec8_2_ReadinessUsesPollConstants) {
  auto q = Make(1);
  EXPECT_EQ(q->Readiness(), static_cast<uint32_t>(POLLOUT | POLLWRNORM));
  Send(*q, 0, "a");
  EXPECT_EQ(q->Readiness(), static_cast<uint32_t>(POLLIN | POLLRDNORM));
}

TEST_F(QueueTest, Spec8_2_ReadinessUnchangedByParkedWaiters) {
  auto q = Make(1);
  Recv(*q);
  EXPECT_EQ(q->Readiness(), 0x104u);
  Send(*q, 0, "a");  // hand-off
  EXPECT_EQ(q->Readiness(), 0x104u);
  Send(*q, 0, "b");
  Send(*q, 0, "c");  // parks
  EXPECT_EQ(q->Readiness(), 0x41u);
}

TEST_F(QueueTest, AttributesAreImmutable) {
  auto q = Make(4, 128);
  EXPECT_EQ(q->attributes().maxmsg, 4);
  EXPECT_EQ(q->attributes().msgsize, 128);
}

// ---- Inode metadata (spec §2, §8.3 fchmod/fchown) ----

TEST_F(QueueTest, Spec8_3_OwnerAndMode) {
  auto q = Make(2);
  EXPECT_EQ(q->uid(), kernel::KUid(1000));
  EXPECT_EQ(q->gid(), kernel::KGid(1000));
  EXPECT_EQ(q->mode(), 0644u);
  q->SetOwner(kernel::KUid(5), kernel::KGid(6));
  EXPECT_EQ(q->uid(), kernel::KUid(5));
  EXPECT_EQ(q->gid(), kernel::KGid(6));
  q->SetMode(07755);
  EXPECT_EQ(q->mode(), 07755u);  // setuid/setgid/sticky kept
  q->SetMode(0170644);
  EXPECT_EQ(q->mode(), 0644u);  // only S_IALLUGO
}

TEST_F(QueueTest, NullEventsAccepted) {
  Queue q(kernel::KUid(0), kernel::KGid(0), 0600, QueueAttributes{1, 8}, nullptr);
  EXPECT_TRUE(Send(q, 0, "x").result.ok());
  EXPECT_EQ(Take(q), "x");
}

// ---- Checkpoint support (architecture "Checkpoint and restore") ----

TEST_F(QueueTest, SnapshotMessagesInReceiveOrder) {
  auto q = Make(5);
  Send(*q, 1, "a1");
  Send(*q, 5, "b5");
  Send(*q, 1, "c1");
  std::vector<Message> snap = q->SnapshotMessages();
  ASSERT_EQ(snap.size(), 3u);
  EXPECT_EQ(snap[0].payload, "b5");
  EXPECT_EQ(snap[0].priority, 5u);
  EXPECT_EQ(snap[1].payload, "a1");
  EXPECT_EQ(snap[2].payload, "c1");
  EXPECT_EQ(q->Status().curmsgs, 3);  // snapshot does not consume
}

TEST_F(QueueTest, RestoreMessagesRoundTrip) {
  auto q = Make(5);
  Send(*q, 1, "a1");
  Send(*q, 5, "b5");
  Send(*q, 1, "c1");
  auto restored = Make(5);
  events_.Clear();
  for (Message m : q->SnapshotMessages()) restored->RestoreMessage(std::move(m));
  EXPECT_EQ(Contents(*restored), Contents(*q));
  EXPECT_EQ(restored->Status().qsize, q->Status().qsize);
  EXPECT_EQ(events_.poll_wakes, 0);  // restore wakes nobody
}

// ---- Randomized model test: nothing lost, nothing duplicated, order kept ----

// A reference model of one queue, written for clarity rather than speed: messages in a
// std::multimap keyed by (-priority, arrival), waiters in std::maps keyed by
// (sched_prio, arrival). Copyable, so undo calls are checked against the saved copy.
struct Model {
  struct ParkedSender {
    uint64_t id;
    uint32_t prio;
    std::string payload;
    int64_t deadline;
  };
  struct ParkedReceiver {
    uint64_t id;
    int64_t deadline;
  };
  int64_t maxmsg = 1;
  std::multimap<std::pair<int64_t, int64_t>, std::pair<uint32_t, std::string>> messages;
  std::map<std::pair<int, int64_t>, ParkedSender> senders;
  std::map<std::pair<int, int64_t>, ParkedReceiver> receivers;
  int64_t back = 0;   // arrival counter for messages (push_back)
  int64_t front = 0;  // decreasing counter (push_front)
  int64_t waiter_arrival = 0;

  void Insert(uint32_t prio, std::string payload) {
    messages.emplace(std::make_pair(-static_cast<int64_t>(prio), ++back),
                     std::make_pair(prio, std::move(payload)));
  }
  std::vector<std::string> Contents() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : messages) out.push_back(v.second);
    return out;
  }
  std::vector<uint64_t> SenderIds() const {
    std::vector<uint64_t> out;
    for (const auto& [k, v] : senders) out.push_back(v.id);
    return out;
  }
  std::vector<uint64_t> ReceiverIds() const {
    std::vector<uint64_t> out;
    for (const auto& [k, v] : receivers) out.push_back(v.id);
    return out;
  }
  // Moves the best parked sender's message in; returns its id.
  uint64_t Refill() {
    auto it = senders.begin();
    Insert(it->second.prio, it->second.payload);
    const uint64_t id = it->second.id;
    senders.erase(it);
    return id;
  }
};

std::vector<uint64_t> Values(const std::vector<WaiterId>& ids) {
  std::vector<uint64_t> out;
  for (WaiterId id : ids) out.push_back(id.value);
  return out;
}

class QueueModelTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(QueueModelTest, RandomOperationsMatchModel) {
  std::mt19937_64 rng(GetParam());
  auto pick = [&rng](uint64_t n) { return n == 0 ? 0 : rng() % n; };
  RecordingEvents events;
  const int64_t maxmsg = 1 + static_cast<int64_t>(pick(4));
  Queue q(kernel::KUid(0), kernel::KGid(0), 0600, QueueAttributes{maxmsg, 8}, &events);
  Model m;
  m.maxmsg = maxmsg;
  int64_t now = 1000;
  int next_payload = 0;
  std::set<std::string> delivered;  // payloads answered to a receiver: each exactly once
  std::set<std::string> discarded;  // payloads of interrupted/expired/cancelled sends
  auto deliver = [&delivered](const std::string& p) {
    ASSERT_TRUE(delivered.insert(p).second) << "duplicated " << p;
  };

  for (int step = 0; step < 3000; ++step) {
    const int op = static_cast<int>(pick(100));
    const bool nonblocking = pick(4) == 0;
    const int sched_prio = Nice(static_cast<int>(pick(3)) - 1);
    const int64_t deadline_ns = pick(3) == 0 ? INT64_MAX : now + 1 + static_cast<int64_t>(pick(50));
    const Deadline deadline =
        deadline_ns == INT64_MAX ? Deadline::Infinite() : Deadline::FromNanos(deadline_ns);
    if (op < 40) {
      // ---- send ----
      const uint32_t prio = static_cast<uint32_t>(pick(4));
      const std::string payload = "p" + std::to_string(next_payload++);
      SendRequest r;
      r.priority = prio;
      r.payload = payload;
      r.nonblocking = nonblocking;
      r.deadline = deadline;
      r.now_ns = now;
      r.sched_prio = sched_prio;
      const Model saved = m;
      SendOutcome s = q.Send(std::move(r));
      if (static_cast<int64_t>(m.messages.size()) >= m.maxmsg) {
        if (nonblocking) {
          ASSERT_EQ(s.result, SyscallResult::Error(EAGAIN));
          discarded.insert(payload);
        } else {
          ASSERT_TRUE(s.parked.has_value());
          m.senders[{sched_prio, ++m.waiter_arrival}] = {s.parked->value, prio, payload,
                                                         deadline_ns};
        }
      } else if (!m.receivers.empty()) {
        ASSERT_TRUE(s.handoff.has_value());
        ASSERT_EQ(s.handoff->receiver.value, m.receivers.begin()->second.id);
        m.receivers.erase(m.receivers.begin());
        const int fate = static_cast<int>(pick(4));
        if (fate == 0) {
          // The sender's answer failed: undo everything.
          q.CancelHandoff(*s.handoff);
          m = saved;
          discarded.insert(payload);
        } else {
          // Receivers' answers fail `fate - 1` times in a row.
          std::optional<Handoff> h = s.handoff;
          for (int fails = fate - 1; fails > 0 && h.has_value(); --fails) {
            h = q.Redeliver(*h);
            if (h.has_value()) {
              ASSERT_FALSE(m.receivers.empty());
              ASSERT_EQ(h->receiver.value, m.receivers.begin()->second.id);
              m.receivers.erase(m.receivers.begin());
            } else {
              ASSERT_TRUE(m.receivers.empty());
              m.Insert(prio, payload);
            }
          }
          if (h.has_value()) deliver(h->message.payload.str());
        }
      } else {
        ASSERT_TRUE(s.result.ok());
        ASSERT_FALSE(s.parked.has_value());
        m.Insert(prio, payload);
      }
    } else if (op < 80) {
      // ---- receive ----
      ReceiveRequest r;
      r.buffer_len = 8;
      r.nonblocking = nonblocking;
      r.deadline = deadline;
      r.now_ns = now;
      r.sched_prio = sched_prio;
      const Model saved = m;
      ReceiveOutcome out = q.Receive(r);
      if (m.messages.empty()) {
        if (nonblocking) {
          ASSERT_EQ(out.result, SyscallResult::Error(EAGAIN));
        } else {
          ASSERT_TRUE(out.parked.has_value());
          m.receivers[{sched_prio, ++m.waiter_arrival}] = {out.parked->value, deadline_ns};
        }
      } else {
        ASSERT_TRUE(out.message.has_value());
        auto head = m.messages.begin();
        ASSERT_EQ(out.message->payload, head->second.second);
        ASSERT_EQ(out.message->priority, head->second.first);
        m.messages.erase(head);
        if (!m.senders.empty()) {
          ASSERT_TRUE(out.refill.has_value());
          ASSERT_EQ(out.refill->sender.value, m.Refill());
        } else {
          ASSERT_FALSE(out.refill.has_value());
        }
        const int fate = static_cast<int>(pick(4));
        if (fate == 0) {
          // The receiver's answer failed: undo everything.
          q.UndoReceive(std::move(out));
          m = saved;
        } else {
          deliver(out.message->payload.str());
          // Senders' answers fail `fate - 1` times in a row.
          std::optional<Refill> refill = out.refill;
          for (int fails = fate - 1; fails > 0 && refill.has_value(); --fails) {
            // The failing sender's message (the newest of its priority) leaves the model.
            auto it = m.messages.end();
            for (auto i = m.messages.begin(); i != m.messages.end(); ++i) {
              if (i->first.first == -static_cast<int64_t>(refill->priority)) it = i;
            }
            ASSERT_NE(it, m.messages.end());
            discarded.insert(it->second.second);
            m.messages.erase(it);
            refill = q.RetractRefill(*refill);
            if (refill.has_value()) {
              ASSERT_FALSE(m.senders.empty());
              ASSERT_EQ(refill->sender.value, m.Refill());
            } else {
              ASSERT_TRUE(m.senders.empty());
            }
          }
        }
      }
    } else if (op < 88) {
      // ---- interrupt a parked waiter (or a bogus id) ----
      std::vector<std::pair<uint64_t, bool>> parked;
      for (const auto& [k, v] : m.senders) parked.push_back({v.id, true});
      for (const auto& [k, v] : m.receivers) parked.push_back({v.id, false});
      if (parked.empty() || pick(5) == 0) {
        ASSERT_FALSE(q.CancelWaiter(WaiterId{1'000'000'000}));
      } else {
        const auto [id, is_sender] = parked[pick(parked.size())];
        ASSERT_TRUE(q.CancelWaiter(WaiterId{id}));
        if (is_sender) {
          std::erase_if(m.senders, [&](const auto& kv) {
            if (kv.second.id != id) return false;
            discarded.insert(kv.second.payload);
            return true;
          });
        } else {
          std::erase_if(m.receivers, [&](const auto& kv) { return kv.second.id == id; });
        }
      }
    } else {
      // ---- time passes ----
      now += static_cast<int64_t>(pick(20));
      std::set<uint64_t> expected;
      std::erase_if(m.senders, [&](const auto& kv) {
        if (kv.second.deadline > now) return false;
        expected.insert(kv.second.id);
        discarded.insert(kv.second.payload);
        return true;
      });
      std::erase_if(m.receivers, [&](const auto& kv) {
        if (kv.second.deadline > now) return false;
        expected.insert(kv.second.id);
        return true;
      });
      std::set<uint64_t> got;
      for (const ExpiredWaiter& e : q.ExpireWaiters(now)) got.insert(e.waiter.value);
      ASSERT_EQ(got, expected);
    }
    // Full state comparison after every step.
    ASSERT_EQ(Contents(q), m.Contents()) << "step " << step;
    ASSERT_EQ(Values(q.SenderOrder()), m.SenderIds()) << "step " << step;
    ASSERT_EQ(Values(q.ReceiverOrder()), m.ReceiverIds()) << "step " << step;
    ASSERT_LE(q.Status().curmsgs, maxmsg);
    ASSERT_TRUE(m.receivers.empty() || m.messages.empty());
    ASSERT_TRUE(m.senders.empty() || static_cast<int64_t>(m.messages.size()) == maxmsg);
  }
  // Conservation: every payload ever sent is delivered, queued, parked or discarded, once.
  std::multiset<std::string> accounted(delivered.begin(), delivered.end());
  for (const std::string& p : m.Contents()) accounted.insert(p);
  for (const auto& [k, v] : m.senders) accounted.insert(v.payload);
  for (const std::string& p : discarded) accounted.insert(p);
  ASSERT_EQ(accounted.size(), static_cast<size_t>(next_payload));
  for (int i = 0; i < next_payload; ++i) {
    ASSERT_EQ(accounted.count("p" + std::to_string(i)), 1u) << "p" << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, QueueModelTest, ::testing::Values(1, 2, 3, 4, 5, 6, 7, 8));

}  // namespace
}  // namespace mqsentry::ipc

namespace mqsentry::ipc {
namespace {

// Architecture step 6: a send whose answer failed is undone exactly, so a restarted call
// does not duplicate its message; the registration it fired comes back.
TEST(QueueUndoSendTest, RemovesTheMessageAndRestoresTheRegistration) {
  RecordingEvents events;
  Queue q(kernel::KUid(0), kernel::KGid(0), 0600, QueueAttributes{4, 16}, &events);
  SendRequest first;
  first.priority = 3;
  first.payload = "keep";
  ASSERT_TRUE(q.Send(std::move(first)).result.ok());
  ReceiveRequest drain;
  drain.buffer_len = 16;
  drain.nonblocking = true;
  ASSERT_TRUE(q.Receive(drain).message.has_value());
  NotificationRegistration reg;
  reg.owner = ProcessRef{7};
  reg.notify = kernel::abi::kSigevNone;
  ASSERT_TRUE(q.RegisterNotification(reg).ok());
  SendRequest a;
  a.priority = 3;
  a.payload = "a";
  SendOutcome out = q.Send(std::move(a));
  ASSERT_TRUE(out.inserted.has_value());
  ASSERT_TRUE(out.inserted->consumed.has_value());
  EXPECT_FALSE(q.Status().notify_owner.has_value()) << "the send fired the registration";
  q.UndoSend(*out.inserted);
  EXPECT_EQ(q.Status().curmsgs, 0);
  ASSERT_TRUE(q.Status().notify_owner.has_value());
  EXPECT_EQ(*q.Status().notify_owner, ProcessRef{7});
}

TEST(QueueUndoSendTest, KeepsOlderMessagesOfTheSamePriority) {
  Queue q(kernel::KUid(0), kernel::KGid(0), 0600, QueueAttributes{4, 16}, nullptr);
  for (const char* p : {"x", "y"}) {
    SendRequest r;
    r.priority = 1;
    r.payload = p;
    ASSERT_TRUE(q.Send(std::move(r)).result.ok());
  }
  SendRequest z;
  z.priority = 1;
  z.payload = "z";
  SendOutcome out = q.Send(std::move(z));
  ASSERT_TRUE(out.inserted.has_value());
  EXPECT_FALSE(out.inserted->consumed.has_value());
  q.UndoSend(*out.inserted);
  std::vector<Message> left = q.SnapshotMessages();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].payload, "x");
  EXPECT_EQ(left[1].payload, "y");
}

TEST(QueueUndoRegisterTest, RemovesSilentlyOnlyForTheOwner) {
  RecordingEvents events;
  Queue q(kernel::KUid(0), kernel::KGid(0), 0600, QueueAttributes{4, 16}, &events);
  NotificationRegistration reg;
  reg.owner = ProcessRef{7};
  reg.notify = kernel::abi::kSigevThread;
  ASSERT_TRUE(q.RegisterNotification(reg).ok());
  EXPECT_FALSE(q.UndoRegisterNotification(ProcessRef{8}).has_value());
  EXPECT_TRUE(q.UndoRegisterNotification(ProcessRef{7}).has_value());
  EXPECT_FALSE(q.Status().notify_owner.has_value());
  EXPECT_TRUE(events.removals.empty()) << "no NOTIFY_REMOVED for an undone registration";
}

}  // namespace
}  // namespace mqsentry::ipc
