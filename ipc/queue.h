// Queue: one POSIX message queue (the kernel's mqueue inode info): messages in one FIFO per
// priority, the blocked senders and receivers, the notification registration, and the
// inode's ownership and mode. Spec §2, §5, §6, §7, §8.
//
// Blocking is modelled without threads. Send and Receive complete, fail with an errno, or
// park the caller and return a WaiterId; a later Send/Receive resolves parked waiters
// (returned to the caller as wake-ups), ExpireWaiters times them out and CancelWaiter
// removes an interrupted one.
//
// Interruption is undoable, so nothing is ever lost or duplicated (architecture "A trapped
// call", step 6). The sentry answers in this order and uses these undo calls:
//   Send handing off to a parked receiver: answer the sender first; if that fails call
//     CancelHandoff (the receiver goes back to exactly where it was, the message is
//     dropped as if the send never happened). Then deliver to the receiver; if that fails
//     call Redeliver (as if that receiver had not been waiting).
//   Receive that pulled a parked sender's message in: answer the receiver first; if that
//     fails call UndoReceive (message back at the head of its priority, the sender parked
//     again where it was). Then answer the sender; if that fails call RetractRefill (its
//     message leaves the queue and the next parked sender is pulled in instead).
// An undo call must come right after the call it undoes, with no other Send, Receive or
// undo on this queue in between (the sentry's single syscall thread guarantees this):
// it restores the state that call saw. Undo calls never drop a message that a successful
// answer already accounted for.
//
// Invariants: receivers are parked only while the queue is empty, senders only while it is
// full; waiter ids are unique across both lists.
//
// Thread safety: every public method takes mu_. QueueEvents callbacks run under mu_.
#ifndef MQSENTRY_IPC_QUEUE_H_
#define MQSENTRY_IPC_QUEUE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "ipc/message_store.h"
#include "ipc/notification.h"
#include "ipc/waiter_list.h"
#include "kernel/abi.h"
#include "kernel/deadline.h"
#include "kernel/ids.h"
#include "kernel/syscall_result.h"

namespace mqsentry::ipc {

struct QueueAttributes {
  int64_t maxmsg = 0;
  int64_t msgsize = 0;
};

struct SendRequest {
  uint32_t priority = 0;     // validated by the caller (< kMqPrioMax, spec §5.1 step 2)
  Payload payload;           // size validated against msgsize by Send too (EMSGSIZE)
  bool nonblocking = false;  // O_NONBLOCK sampled at the start of the call
  kernel::Deadline deadline = kernel::Deadline::Infinite();
  int64_t now_ns = 0;    // CLOCK_REALTIME now
  int sched_prio = 120;  // the calling thread's task->prio (spec §5.4)
  uint64_t tag = 0;      // the caller's handle (e.g. seccomp notification id), echoed back
  SenderIdentity sender;
};

struct ReceiveRequest {
  uint64_t buffer_len = 0;  // msg_len; < msgsize is EMSGSIZE (spec §5.2 step 3)
  bool nonblocking = false;
  kernel::Deadline deadline = kernel::Deadline::Infinite();
  int64_t now_ns = 0;
  int sched_prio = 120;
  uint64_t tag = 0;
};

// A parked receiver that a Send handed a message to.
struct Handoff {
  WaiterId receiver;
  uint64_t receiver_tag = 0;
  WaiterKey receiver_key;  // where it was in the list, for CancelHandoff
  kernel::Deadline receiver_deadline = kernel::Deadline::Infinite();
  Message message;
  SenderIdentity sender;  // for Redeliver's notification check
};

// A parked sender whose message a Receive pulled into the queue.
struct Refill {
  WaiterId sender;
  uint64_t sender_tag = 0;
  WaiterKey sender_key;
  kernel::Deadline sender_deadline = kernel::Deadline::Infinite();
  SenderIdentity sender_identity;
  uint32_t priority = 0;
  uint64_t message_seq = 0;  // identifies the message in the store
};

// A message a Send put straight into the queue, for UndoSend.
struct InsertedMessage {
  uint32_t priority = 0;
  uint64_t seq = 0;
  // The registration this insert fired (and so consumed), restored by UndoSend.
  std::optional<NotificationRegistration> consumed;
};

struct SendOutcome {
  kernel::SyscallResult result = kernel::SyscallResult::Ok();  // valid unless parked
  std::optional<WaiterId> parked;
  std::optional<Handoff> handoff;
  std::optional<InsertedMessage> inserted;
};

struct ReceiveOutcome {
  kernel::SyscallResult result = kernel::SyscallResult::Ok();  // value = message length
  std::optional<WaiterId> parked;
  std::optional<Message> message;  // set when the receive completed
  std::optional<Refill> refill;
};

// A parked waiter whose deadline passed (answer ETIMEDOUT).
struct ExpiredWaiter {
  WaiterId waiter;
  uint64_t tag = 0;
  bool is_sender = false;
};

// A parked receiver resolved later by someone else's send, or a parked sender resolved by
// someone else's receive: see Send/Receive outcomes (handoff/refill).

struct QueueStatus {
  uint64_t qsize = 0;  // payload bytes queued
  int64_t curmsgs = 0;
  int notify = 0;  // registered sigev_notify, or 0 (spec §8.1)
  int signo = 0;   // SIGEV_SIGNAL only
  std::optional<ProcessRef> notify_owner;
  int32_t notify_owner_host_tgid = 0;
};

class Queue {
 public:
  // `events` may be null (NullQueueEvents()); otherwise it must outlive the queue.
  Queue(kernel::KUid uid, kernel::KGid gid, uint32_t mode, QueueAttributes attrs,
        QueueEvents* events);
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  // mq_timedsend(2) from step 4 of spec §5.1 (the caller has checked timeout, priority
  // and the descriptor): EMSGSIZE, then full -> EAGAIN / ETIMEDOUT / park, else hand-off
  // or insert (notification check, poll wake).
  SendOutcome Send(SendRequest request);
  // mq_timedreceive(2) from step 3 of spec §5.2: EMSGSIZE, then empty -> EAGAIN /
  // ETIMEDOUT / park, else take the oldest message of the highest priority, and pull in
  // the best parked sender if any.
  ReceiveOutcome Receive(const ReceiveRequest& request);

  // The undo calls described at the top of this file.
  // A send that inserted its message could not be answered (the caller was interrupted
  // and will see EINTR, or restart): the message leaves the queue and a registration it
  // fired is restored, as if the call had never run.
  void UndoSend(const InsertedMessage& inserted);
  void CancelHandoff(Handoff handoff);
  // Re-offers a handed-off message: to the next parked receiver (returned) or into the
  // queue (with the notification check and poll wake).
  std::optional<Handoff> Redeliver(Handoff handoff);
  // Puts the received message back at the head of its priority and, if the receive pulled a
  // sender in, takes that message out again and re-parks the sender at its old place.
  void UndoReceive(ReceiveOutcome outcome);
  // Discards the pulled-in message of an interrupted sender and pulls in the next parked
  // sender (returned; answer it the same way), or wakes poll waiters if there is none.
  // nullopt, with nothing changed, if that message is no longer queued.
  std::optional<Refill> RetractRefill(const Refill& refill);

  // Removes a parked waiter (its call was interrupted). A parked sender's message is
  // discarded (spec §5.4). False if it is no longer parked.
  bool CancelWaiter(WaiterId waiter);
  // Removes and returns every parked waiter whose deadline is at or before now_ns.
  std::vector<ExpiredWaiter> ExpireWaiters(int64_t now_ns);
  // The earliest deadline of any parked waiter, for the timer; nullopt if no parked waiter
  // has a finite deadline.
  std::optional<kernel::Deadline> NextDeadline() const;

  // mq_notify(2) from step 5 of spec §6.1: EBUSY if any registration exists.
  kernel::SyscallResult RegisterNotification(NotificationRegistration registration);
  // mq_notify(NULL): removes the registration if `caller` owns it, else nothing (spec §6.1).
  // True if one was removed.
  bool UnregisterNotification(ProcessRef caller);
  // A registration whose mq_notify could not be answered (the caller was interrupted):
  // removed silently, without NotificationRemoved. Returns it if `owner` held it.
  std::optional<NotificationRegistration> UndoRegisterNotification(ProcessRef owner);
  // A descriptor of this queue was closed by `closer` (spec §6.2): same rule.
  void OnClose(ProcessRef closer) { UnregisterNotification(closer); }

  // mq_getsetattr(2) snapshot: {flags, maxmsg, msgsize, curmsgs, 0...}; flags come from
  // the open description (spec §7).
  kernel::abi::MqAttr Attributes(int file_flags) const;
  QueueStatus Status() const;
  // poll mask: POLLIN|POLLRDNORM if curmsgs > 0, POLLOUT|POLLWRNORM if curmsgs < maxmsg.
  uint32_t Readiness() const;

  // Inode metadata (fchmod/fchown and permission checks).
  kernel::KUid uid() const;
  kernel::KGid gid() const;
  uint32_t mode() const;
  void SetOwner(kernel::KUid uid, kernel::KGid gid);
  void SetMode(uint32_t mode);
  QueueAttributes attributes() const { return attrs_; }  // immutable after creation

  // Checkpoint support: messages in receive order, the registration, parked-waiter counts.
  std::vector<Message> SnapshotMessages() const;
  // Calls fn(const Message&) for each message in receive order, under the queue's lock
  // (a capture takes payload references without an intermediate copy of the messages).
  template <typename Fn>
  void ForEachMessage(Fn&& fn) const {
    absl::MutexLock lock(&mu_);
    store_.ForEach(fn);
  }
  std::optional<NotificationRegistration> SnapshotNotification() const;
  // Restore: appends a message without notification or waiters (the queue must be new).
  void RestoreMessage(Message message);
  void RestoreNotification(NotificationRegistration registration);
  size_t parked_senders() const;
  size_t parked_receivers() const;
  // Parked waiters in service order (tests and debugging).
  std::vector<WaiterId> SenderOrder() const;
  std::vector<WaiterId> ReceiverOrder() const;

 private:
  // Queues `message` (spec §5.1 step 7): notification check (§6.3) and poll wake (§8.2).
  InsertedMessage InsertLocked(Message message, const SenderIdentity& sender)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pulls the best parked sender's message into the queue (spec §5.2 step 5). Requires a
  // parked sender.
  Refill RefillLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands `message` to the best parked receiver. Requires a parked receiver.
  Handoff HandoffLocked(Message message, const SenderIdentity& sender)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  WaiterId NextWaiterIdLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool FullLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const QueueAttributes attrs_;
  QueueEvents* const events_;

  mutable absl::Mutex mu_;
  kernel::KUid uid_ ABSL_GUARDED_BY(mu_);
  kernel::KGid gid_ ABSL_GUARDED_BY(mu_);
  uint32_t mode_ ABSL_GUARDED_BY(mu_);
  MessageStore store_ ABSL_GUARDED_BY(mu_);
  WaiterList senders_ ABSL_GUARDED_BY(mu_);  // parked senders carry their message
  WaiterList receivers_ ABSL_GUARDED_BY(mu_);
  std::optional<NotificationRegistration> notification_ ABSL_GUARDED_BY(mu_);
  uint64_t next_waiter_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace mqsentry::ipc

#endif  // MQSENTRY_IPC_QUEUE_H_
