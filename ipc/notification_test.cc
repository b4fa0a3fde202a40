// Tests of notification registrations on a Queue (spec §6): EBUSY, owner-only removal,
// removal on close, one-shot firing on the empty -> non-empty transition for every type,
// suppression by hand-off, si_uid mapping through the owner's user namespace, and the
// status-line fields (spec §8.1).
#include "ipc/notification.h"

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipc/queue.h"
#include "ipc/test_events.h"
#include "kernel/abi.h"
#include "kernel/user_namespace.h"

namespace mqsentry::ipc {
namespace {

using kernel::SyscallResult;
using ::testing::ElementsAre;
namespace abi = kernel::abi;

constexpr ProcessRef kOwner{10};
constexpr ProcessRef kOther{20};

NotificationRegistration Reg(int notify, int signo = 0, ProcessRef owner = kOwner) {
  NotificationRegistration r;
  r.owner = owner;
  r.owner_host_tgid = static_cast<int32_t>(owner.id * 100);
  r.owner_user_ns = kernel::UserNamespace::Initial();
  r.owner_exec_generation = 3;
  r.notify = notify;
  r.signo = signo;
  r.value = 0x1122334455667788;
  if (notify == abi::kSigevThread) {
    r.socket = 77;
    for (size_t i = 0; i < r.cookie.size(); ++i) r.cookie[i] = static_cast<uint8_t>(0xa0 + i);
  }
  return r;
}

SenderIdentity Sender(uint32_t ruid, uint64_t process = 99) {
  return SenderIdentity{ProcessRef{process}, static_cast<int32_t>(process + 1000),
                        kernel::KUid(ruid)};
}

class NotificationTest : public ::testing::Test {
 protected:
  NotificationTest()
      : q_(kernel::KUid(0), kernel::KGid(0), 0644, QueueAttributes{2, 16}, &events_) {}

  SendOutcome Send(std::string payload, SenderIdentity sender = Sender(4321)) {
    SendRequest r;
    r.payload = std::move(payload);
    r.sender = sender;
    r.nonblocking = false;
    return q_.Send(std::move(r));
  }
  ReceiveOutcome Recv() {
    ReceiveRequest r;
    r.buffer_len = 16;
    return q_.Receive(r);
  }

  RecordingEvents events_;
  Queue q_;
};

TEST_F(NotificationTest, Spec6_1_RegisterSucceeds) {
  EXPECT_EQ(q_.RegisterNotification(Reg(abi::kSigevSignal, 10)), SyscallResult::Ok());
  QueueStatus s = q_.Status();
  EXPECT_EQ(s.notify, abi::kSigevSignal);
  EXPECT_EQ(s.signo, 10);
  EXPECT_EQ(s.notify_owner, kOwner);
  EXPECT_EQ(s.notify_owner_host_tgid, 1000);
}

// Spec §6.1 step 5: a registration already exists -> EBUSY, for other processes...
TEST_F(NotificationTest, Spec6_1_EbusyWhenAnotherProcessIsRegistered) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevNone)).ok());
  EXPECT_EQ(q_.RegisterNotification(Reg(abi::kSigevSignal, 5, kOther)),
            SyscallResult::Error(EBUSY));
  EXPECT_EQ(q_.Status().notify_owner, kOwner);
}

// ...and for the owner itself (spec §11 item 11).
TEST_F(NotificationTest, Spec6_1_EbusyForTheOwnerItself) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 5)).ok());
  EXPECT_EQ(q_.RegisterNotification(Reg(abi::kSigevSignal, 6)), SyscallResult::Error(EBUSY));
  EXPECT_EQ(q_.Status().signo, 5);
}

// Spec §6.3: fires when a send inserts into an empty queue; firing removes it.
TEST_F(NotificationTest, Spec6_3_FiresOnEmptyToNonEmpty) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 34)).ok());
  Send("x", Sender(4321, 7));
  ASSERT_EQ(events_.firings.size(), 1u);
  const NotificationFiring& f = events_.firings[0];
  EXPECT_EQ(f.registration.owner, kOwner);
  EXPECT_EQ(f.registration.signo, 34);
  EXPECT_EQ(f.registration.value, 0x1122334455667788u);
  EXPECT_EQ(f.registration.owner_exec_generation, 3u);
  EXPECT_EQ(f.sender.process, ProcessRef{7});
  EXPECT_EQ(f.sender.host_tgid, 1007);
  EXPECT_EQ(q_.Status().notify, 0);
  EXPECT_FALSE(q_.Status().notify_owner.has_value());
  EXPECT_FALSE(q_.SnapshotNotification().has_value());
}

// The kernel's __do_notify signals first and then wakes poll waiters.
TEST_F(NotificationTest, Spec6_3_FiresBeforePollWake) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevNone)).ok());
  Send("x");
  EXPECT_THAT(events_.log, ElementsAre("fired", "wake"));
}

// Spec §6.3: sends to a non-empty queue do not fire.
TEST_F(NotificationTest, Spec6_3_NoFiringOnNonEmptyQueue) {
  Send("first");
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 10)).ok());
  Send("second");
  EXPECT_TRUE(events_.firings.empty());
  EXPECT_EQ(q_.Status().notify_owner, kOwner);
}

// Spec §6.3: a registration made while non-empty fires only after drain and refill.
TEST_F(NotificationTest, Spec6_3_RegisteredWhileNonEmptyFiresAfterDrainAndRefill) {
  Send("a");
  Send("b");
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 10)).ok());
  Recv();
  EXPECT_TRUE(events_.firings.empty());
  Recv();
  EXPECT_TRUE(events_.firings.empty());  // draining does not fire
  Send("c");
  EXPECT_EQ(events_.firings.size(), 1u);
}

// Spec §6.3 / §11 item 13: one-shot for every type.
TEST_F(NotificationTest, Spec6_3_OneShotSigevSignal) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 10)).ok());
  Send("a");
  Recv();
  Send("b");
  EXPECT_EQ(events_.firings.size(), 1u);
}

TEST_F(NotificationTest, Spec6_3_OneShotSigevSignalWithSignoZero) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 0)).ok());
  Send("a");
  ASSERT_EQ(events_.firings.size(), 1u);
  EXPECT_EQ(events_.firings[0].registration.signo, 0);  // the sentry delivers nothing
  EXPECT_FALSE(q_.SnapshotNotification().has_value());
  Recv();
  Send("b");
  EXPECT_EQ(events_.firings.size(), 1u);
}

TEST_F(NotificationTest, Spec6_3_OneShotSigevNone) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevNone)).ok());
  Send("a");
  EXPECT_EQ(events_.firings.size(), 1u);
  EXPECT_FALSE(q_.SnapshotNotification().has_value());
  Recv();
  Send("b");
  EXPECT_EQ(events_.firings.size(), 1u);
}

TEST_F(NotificationTest, Spec6_3_OneShotSigevThreadCarriesCookie) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevThread)).ok());
  Send("a");
  ASSERT_EQ(events_.firings.size(), 1u);
  EXPECT_EQ(events_.firings[0].registration.socket, 77u);
  EXPECT_EQ(events_.firings[0].registration.cookie[0], 0xa0);
  EXPECT_EQ(events_.firings[0].registration.cookie[31], 0xa0 + 31);
  Recv();
  Send("b");
  EXPECT_EQ(events_.firings.size(), 1u);
  EXPECT_TRUE(events_.removals.empty());  // firing is not a removal
}

TEST_F(NotificationTest, Spec6_3_ReRegisterAfterFiring) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 10)).ok());
  Send("a");
  EXPECT_EQ(q_.RegisterNotification(Reg(abi::kSigevSignal, 11, kOther)), SyscallResult::Ok());
  Recv();
  Send("b");
  ASSERT_EQ(events_.firings.size(), 2u);
  EXPECT_EQ(events_.firings[1].registration.owner, kOther);
}

// Spec §5.4 / §6.3 / §11 item 14: a hand-off suppresses notification and keeps it.
TEST_F(NotificationTest, Spec5_4_HandoffSuppressesNotificationAndKeepsRegistration) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 10)).ok());
  ASSERT_TRUE(Recv().parked.has_value());
  SendOutcome s = Send("direct");
  ASSERT_TRUE(s.handoff.has_value());
  EXPECT_TRUE(events_.firings.empty());
  EXPECT_EQ(q_.Status().notify_owner, kOwner);
  Send("queued");  // the next inserting send fires it
  EXPECT_EQ(events_.firings.size(), 1u);
}

// Spec §5.4: a refill never checks the notification (the queue is never observably empty).
TEST_F(NotificationTest, Spec5_4_RefillDoesNotFire) {
  Queue q(kernel::KUid(0), kernel::KGid(0), 0644, QueueAttributes{1, 16}, &events_);
  SendRequest first;
  first.payload = "full";
  q.Send(first);
  ASSERT_TRUE(q.RegisterNotification(Reg(abi::kSigevSignal, 10)).ok());
  SendRequest blocked;
  blocked.payload = "blocked";
  ASSERT_TRUE(q.Send(blocked).parked.has_value());
  ReceiveRequest r;
  r.buffer_len = 16;
  ReceiveOutcome out = q.Receive(r);
  ASSERT_TRUE(out.refill.has_value());
  EXPECT_TRUE(events_.firings.empty());
  EXPECT_TRUE(q.SnapshotNotification().has_value());
}

// Redeliver after a failed receiver answer inserts like a send: it may fire.
TEST_F(NotificationTest, RedeliverInsertFiresWithOriginalSender) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 10)).ok());
  Recv();
  SendOutcome s = Send("x", Sender(555, 42));
  EXPECT_TRUE(events_.firings.empty());
  EXPECT_FALSE(q_.Redeliver(*s.handoff).has_value());
  ASSERT_EQ(events_.firings.size(), 1u);
  EXPECT_EQ(events_.firings[0].sender.process, ProcessRef{42});
  EXPECT_EQ(events_.firings[0].sender_uid, kernel::NsUid(555));
}

// Undoing a receive is not a send: it never fires.
TEST_F(NotificationTest, UndoReceiveDoesNotFire) {
  Send("x");
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 10)).ok());
  ReceiveOutcome out = Recv();
  q_.UndoReceive(std::move(out));
  EXPECT_TRUE(events_.firings.empty());
  EXPECT_TRUE(q_.SnapshotNotification().has_value());
}

TEST_F(NotificationTest, CancelHandoffDoesNotFire) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 10)).ok());
  Recv();
  SendOutcome s = Send("x");
  q_.CancelHandoff(*s.handoff);
  EXPECT_TRUE(events_.firings.empty());
  EXPECT_TRUE(q_.SnapshotNotification().has_value());
}

// ---- si_uid (spec §6.3) ----

TEST_F(NotificationTest, Spec6_3_SiUidInInitialNamespaceIsRuid) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 10)).ok());
  Send("x", Sender(4321));
  ASSERT_EQ(events_.firings.size(), 1u);
  EXPECT_EQ(events_.firings[0].sender_uid, kernel::NsUid(4321));
}

std::shared_ptr<const kernel::UserNamespace> ChildMappingOnly0To1000() {
  auto uid_map = kernel::IdMap::Create({{0, 1000, 1}});
  auto gid_map = kernel::IdMap::Create({{0, 1000, 1}});
  EXPECT_TRUE(uid_map.ok());
  EXPECT_TRUE(gid_map.ok());
  auto ns = kernel::UserNamespace::Create(kernel::UserNamespace::Initial(), kernel::KUid(1000),
                                          kernel::KGid(1000), *uid_map, *gid_map, abi::kMqBytesMax);
  EXPECT_TRUE(ns.ok()) << ns.status();
  return ns.ok() ? *ns : nullptr;
}

TEST_F(NotificationTest, Spec6_3_SiUidMappedIntoOwnersNamespace) {
  NotificationRegistration r = Reg(abi::kSigevSignal, 10);
  r.owner_user_ns = ChildMappingOnly0To1000();
  ASSERT_NE(r.owner_user_ns, nullptr);
  ASSERT_TRUE(q_.RegisterNotification(std::move(r)).ok());
  Send("x", Sender(1000));
  ASSERT_EQ(events_.firings.size(), 1u);
  EXPECT_EQ(events_.firings[0].sender_uid, kernel::NsUid(0));
}

// Spec §6.3 / §11 item 15: unmapped in the owner's namespace -> 65534 (overflowuid).
TEST_F(NotificationTest, Spec6_3_SiUidUnmappedIsOverflow65534) {
  NotificationRegistration r = Reg(abi::kSigevSignal, 10);
  r.owner_user_ns = ChildMappingOnly0To1000();
  ASSERT_NE(r.owner_user_ns, nullptr);
  ASSERT_TRUE(q_.RegisterNotification(std::move(r)).ok());
  Send("x", Sender(4321));
  ASSERT_EQ(events_.firings.size(), 1u);
  EXPECT_EQ(events_.firings[0].sender_uid, kernel::NsUid(65534));
  EXPECT_EQ(events_.firings[0].sender_uid.value(), kernel::kOverflowId);
}

TEST_F(NotificationTest, Spec6_3_SiUidRootSenderUnmappedInChild) {
  NotificationRegistration r = Reg(abi::kSigevSignal, 10);
  r.owner_user_ns = ChildMappingOnly0To1000();
  ASSERT_TRUE(q_.RegisterNotification(std::move(r)).ok());
  Send("x", Sender(0));
  ASSERT_EQ(events_.firings.size(), 1u);
  EXPECT_EQ(events_.firings[0].sender_uid, kernel::NsUid(65534));
}

TEST_F(NotificationTest, NullOwnerNamespaceIsTreatedAsInitial) {
  NotificationRegistration r = Reg(abi::kSigevSignal, 10);
  r.owner_user_ns = nullptr;
  ASSERT_TRUE(q_.RegisterNotification(std::move(r)).ok());
  Send("x", Sender(4321));
  ASSERT_EQ(events_.firings.size(), 1u);
  EXPECT_EQ(events_.firings[0].sender_uid, kernel::NsUid(4321));
}

// ---- Removal (spec §6.1 NULL unregister, §6.2 close) ----

TEST_F(NotificationTest, Spec6_1_UnregisterByOwnerRemoves) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 10)).ok());
  q_.UnregisterNotification(kOwner);
  EXPECT_FALSE(q_.SnapshotNotification().has_value());
  ASSERT_EQ(events_.removals.size(), 1u);
  EXPECT_EQ(events_.removals[0].owner, kOwner);
  Send("x");
  EXPECT_TRUE(events_.firings.empty());
}

// Spec §6.2: removing a SIGEV_THREAD registration is reported so that the sentry sends
// the cookie with byte 31 = NOTIFY_REMOVED.
TEST_F(NotificationTest, Spec6_2_ThreadRemovalReportsCookie) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevThread)).ok());
  q_.UnregisterNotification(kOwner);
  ASSERT_EQ(events_.removals.size(), 1u);
  EXPECT_EQ(events_.removals[0].notify, abi::kSigevThread);
  EXPECT_EQ(events_.removals[0].socket, 77u);
  EXPECT_EQ(events_.removals[0].cookie[5], 0xa5);
  EXPECT_THAT(events_.log, ElementsAre("removed"));
}

// Spec §6.1 step 5: NULL unregister by a non-owner silently does nothing.
TEST_F(NotificationTest, Spec6_1_UnregisterByNonOwnerIsSilent) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 10)).ok());
  EXPECT_FALSE(q_.UnregisterNotification(kOther));
  EXPECT_TRUE(events_.removals.empty());
  EXPECT_EQ(q_.Status().notify_owner, kOwner);
}

TEST_F(NotificationTest, Spec6_1_UnregisterWithoutRegistrationIsSilent) {
  q_.UnregisterNotification(kOwner);
  EXPECT_TRUE(events_.removals.empty());
  EXPECT_TRUE(events_.log.empty());
}

TEST_F(NotificationTest, Spec6_1_UnregisterThenRegisterAgain) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 10)).ok());
  q_.UnregisterNotification(kOwner);
  EXPECT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 10, kOther)).ok());
}

// Spec §6.2: a close of any descriptor of the queue by the owner removes the registration.
TEST_F(NotificationTest, Spec6_2_CloseByOwnerRemoves) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevThread)).ok());
  q_.OnClose(kOwner);
  EXPECT_FALSE(q_.SnapshotNotification().has_value());
  ASSERT_EQ(events_.removals.size(), 1u);
  EXPECT_EQ(events_.removals[0].notify, abi::kSigevThread);
}

// Spec §6.2: closes by other processes (a forked child, say) have no effect.
TEST_F(NotificationTest, Spec6_2_CloseByNonOwnerHasNoEffect) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 10)).ok());
  q_.OnClose(kOther);
  EXPECT_TRUE(events_.removals.empty());
  Send("x");
  EXPECT_EQ(events_.firings.size(), 1u);
}

// Spec §6.2 "stale owner": a registration whose owner is gone still blocks others with
// EBUSY until the next empty -> non-empty transition consumes it.
TEST_F(NotificationTest, Spec6_2_StaleRegistrationBlocksUntilItFires) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 10)).ok());
  EXPECT_EQ(q_.RegisterNotification(Reg(abi::kSigevNone, 0, kOther)), SyscallResult::Error(EBUSY));
  Send("x");
  EXPECT_TRUE(q_.RegisterNotification(Reg(abi::kSigevNone, 0, kOther)).ok());
}

// ---- Status fields (spec §8.1) ----

TEST_F(NotificationTest, Spec8_1_StatusForEachType) {
  EXPECT_EQ(q_.Status().notify, 0);
  EXPECT_EQ(q_.Status().signo, 0);
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevSignal, 64)).ok());
  EXPECT_EQ(q_.Status().notify, 0);  // SIGEV_SIGNAL is 0 too: NOTIFY_PID tells them apart
  EXPECT_EQ(q_.Status().signo, 64);
  q_.UnregisterNotification(kOwner);
  NotificationRegistration none = Reg(abi::kSigevNone, 9);  // signo ignored
  ASSERT_TRUE(q_.RegisterNotification(none).ok());
  EXPECT_EQ(q_.Status().notify, 1);
  EXPECT_EQ(q_.Status().signo, 0);
  q_.UnregisterNotification(kOwner);
  NotificationRegistration thread = Reg(abi::kSigevThread, 5);  // signo was the socket fd
  ASSERT_TRUE(q_.RegisterNotification(thread).ok());
  EXPECT_EQ(q_.Status().notify, 2);
  EXPECT_EQ(q_.Status().signo, 0);
}

// ---- Checkpoint ----

TEST_F(NotificationTest, SnapshotAndRestoreRegistration) {
  ASSERT_TRUE(q_.RegisterNotification(Reg(abi::kSigevThread)).ok());
  std::optional<NotificationRegistration> snap = q_.SnapshotNotification();
  ASSERT_TRUE(snap.has_value());
  RecordingEvents other_events;
  Queue restored(kernel::KUid(0), kernel::KGid(0), 0644, QueueAttributes{2, 16}, &other_events);
  restored.RestoreNotification(*snap);
  EXPECT_EQ(restored.Status().notify, abi::kSigevThread);
  EXPECT_TRUE(other_events.log.empty());
  SendRequest r;
  r.payload = "x";
  restored.Send(r);
  ASSERT_EQ(other_events.firings.size(), 1u);
  EXPECT_EQ(other_events.firings[0].registration.cookie, snap->cookie);
}

}  // namespace
}  // namespace mqsentry::ipc
