// Queue: send/receive with parking, direct hand-off and refill, the undo calls of the
// two-phase answer protocol, timeouts, notification registrations, attributes, readiness.
// Spec §5, §6, §7, §8.2. No host system calls: <poll.h> is included for its constants only.
#include "ipc/queue.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <utility>
#include <vector>

#include "kernel/user_namespace.h"

namespace mqsentry::ipc {

using kernel::SyscallResult;

Queue::Queue(kernel::KUid uid, kernel::KGid gid, uint32_t mode, QueueAttributes attrs,
             QueueEvents* events)
    : attrs_(attrs),
      events_(events != nullptr ? events : &NullQueueEvents()),
      uid_(uid),
      gid_(gid),
      mode_(mode & kernel::abi::kSIallugo) {}

WaiterId Queue::NextWaiterIdLocked() { return WaiterId{next_waiter_id_++}; }

bool Queue::FullLocked() const { return static_cast<int64_t>(store_.size()) >= attrs_.maxmsg; }

InsertedMessage Queue::InsertLocked(Message message, const SenderIdentity& sender) {
  InsertedMessage inserted;
  inserted.priority = message.priority;
  inserted.seq = store_.push_back(std::move(message));
  // Spec §6.3: fires only on the empty -> non-empty transition of an inserting send, and
  // firing removes the registration whatever its type (one-shot).
  if (store_.size() == 1 && notification_.has_value()) {
    NotificationFiring firing;
    firing.registration = std::move(*notification_);
    notification_.reset();
    firing.sender = sender;
    const kernel::UserNamespace& owner_ns = firing.registration.owner_user_ns != nullptr
                                                ? *firing.registration.owner_user_ns
                                                : *kernel::UserNamespace::Initial();
    // si_uid: the sender's real uid in the owner's user namespace, 65534 if unmapped.
    firing.sender_uid = owner_ns.FromKernelOrOverflow(sender.ruid);
    inserted.consumed = firing.registration;
    events_->NotificationFired(*this, firing);
  }
  // Spec §8.2: every inserting send wakes poll waiters (the kernel's __do_notify ends with
  // wake_up(&info->wait_q) whether or not a registration fired).
  events_->PollWake(*this);
  return inserted;
}

void Queue::UndoSend(const InsertedMessage& inserted) {
  absl::MutexLock lock(&mu_);
  if (!store_.remove(inserted.priority, inserted.seq).has_value()) return;
  if (inserted.consumed.has_value() && !notification_.has_value()) {
    notification_ = inserted.consumed;
  }
}

std::optional<NotificationRegistration> Queue::UndoRegisterNotification(ProcessRef owner) {
  absl::MutexLock lock(&mu_);
  if (!notification_.has_value() || notification_->owner != owner) return std::nullopt;
  std::optional<NotificationRegistration> removed = std::move(notification_);
  notification_.reset();
  return removed;
}

Handoff Queue::HandoffLocked(Message message, const SenderIdentity& sender) {
  std::optional<Waiter> receiver = receivers_.PopBest();
  Handoff handoff;
  handoff.receiver = receiver->id;
  handoff.receiver_tag = receiver->tag;
  handoff.receiver_key = receiver->key;
  handoff.receiver_deadline = receiver->deadline;
  handoff.message = std::move(message);
  handoff.sender = sender;
  return handoff;
}

Refill Queue::RefillLocked() {
  std::optional<Waiter> sender = senders_.PopBest();
  Refill refill;
  refill.sender = sender->id;
  refill.sender_tag = sender->tag;
  refill.sender_key = sender->key;
  refill.sender_deadline = sender->deadline;
  refill.sender_identity = sender->sender;
  refill.priority = sender->message.priority;
  // Enters by message priority, behind its priority's FIFO. No notification check here
  // (spec §5.4: the queue is never observably empty on this path).
  refill.message_seq = store_.push_back(std::move(sender->message));
  return refill;
}

SendOutcome Queue::Send(SendRequest request) {
  absl::MutexLock lock(&mu_);
  SendOutcome outcome;
  // Spec §5.1 step 4: msg_len > mq_msgsize -> EMSGSIZE.
  if (request.payload.size() > static_cast<uint64_t>(attrs_.msgsize)) {
    outcome.result = SyscallResult::Error(EMSGSIZE);
    return outcome;
  }
  if (FullLocked()) {
    // Spec §5.1 step 6: O_NONBLOCK -> EAGAIN, checked before any timeout expiry.
    if (request.nonblocking) {
      outcome.result = SyscallResult::Error(EAGAIN);
      return outcome;
    }
    // Spec §5.4: a deadline already past gives ETIMEDOUT, only when the call would block.
    if (request.deadline.ExpiredAt(request.now_ns)) {
      outcome.result = SyscallResult::Error(ETIMEDOUT);
      return outcome;
    }
    const WaiterId id = NextWaiterIdLocked();
    senders_.Add(id, request.sched_prio, request.tag, request.deadline,
                 Message{request.priority, 0, std::move(request.payload)}, request.sender);
    outcome.parked = id;
    return outcome;
  }
  Message message{request.priority, 0, std::move(request.payload)};
  if (!receivers_.empty()) {
    // Spec §5.1 step 7 / §5.4: direct hand-off; queue, notification and poll untouched.
    outcome.handoff = HandoffLocked(std::move(message), request.sender);
  } else {
    outcome.inserted = InsertLocked(std::move(message), request.sender);
  }
  outcome.result = SyscallResult::Ok();
  return outcome;
}

ReceiveOutcome Queue::Receive(const ReceiveRequest& request) {
  absl::MutexLock lock(&mu_);
  ReceiveOutcome outcome;
  // Spec §5.2 step 3: msg_len < mq_msgsize -> EMSGSIZE (unsigned; (size_t)-1 passes).
  if (request.buffer_len < static_cast<uint64_t>(attrs_.msgsize)) {
    outcome.result = SyscallResult::Error(EMSGSIZE);
    return outcome;
  }
  if (store_.empty()) {
    // Spec §5.2 step 4: O_NONBLOCK -> EAGAIN before any timeout expiry.
    if (request.nonblocking) {
      outcome.result = SyscallResult::Error(EAGAIN);
      return outcome;
    }
    // Spec §5.4: a past deadline is ETIMEDOUT only when the call would block.
    if (request.deadline.ExpiredAt(request.now_ns)) {
      outcome.result = SyscallResult::Error(ETIMEDOUT);
      return outcome;
    }
    const WaiterId id = NextWaiterIdLocked();
    receivers_.Add(id, request.sched_prio, request.tag, request.deadline);
    outcome.parked = id;
    return outcome;
  }
  // Spec §5.2 step 5: the oldest message of the highest priority.
  Message message = store_.pop_front();
  outcome.result = SyscallResult::Value(static_cast<int64_t>(message.payload.size()));
  outcome.message = std::move(message);
  if (!senders_.empty()) {
    // A blocked sender's message moves in now; poll waiters are not woken (spec §8.2).
    outcome.refill = RefillLocked();
  } else {
    events_->PollWake(*this);
  }
  return outcome;
}

void Queue::CancelHandoff(Handoff handoff) {
  absl::MutexLock lock(&mu_);
  // The receiver regains its exact place; the message is dropped (the send never happened).
  Waiter receiver;
  receiver.id = handoff.receiver;
  receiver.key = handoff.receiver_key;
  receiver.tag = handoff.receiver_tag;
  receiver.deadline = handoff.receiver_deadline;
  receivers_.Reinsert(std::move(receiver));
}

std::optional<Handoff> Queue::Redeliver(Handoff handoff) {
  absl::MutexLock lock(&mu_);
  // The failed receiver is gone; the message goes on as if it had never been waiting.
  if (!receivers_.empty()) return HandoffLocked(std::move(handoff.message), handoff.sender);
  // The queue was empty when the hand-off happened (receivers were parked), so this insert
  // cannot overfill it when the protocol is followed; the sender was already answered, so
  // the message is queued in any case rather than lost.
  InsertLocked(std::move(handoff.message), handoff.sender);
  return std::nullopt;
}

void Queue::UndoReceive(ReceiveOutcome outcome) {
  absl::MutexLock lock(&mu_);
  if (!outcome.message.has_value()) return;  // failed or parked: nothing was taken
  if (outcome.refill.has_value()) {
    const Refill& refill = *outcome.refill;
    // The pulled-in message is the newest of its priority: O(1) removal.
    std::optional<Message> pulled = store_.remove(refill.priority, refill.message_seq);
    if (pulled.has_value()) {
      Waiter sender;
      sender.id = refill.sender;
      sender.key = refill.sender_key;
      sender.tag = refill.sender_tag;
      sender.deadline = refill.sender_deadline;
      sender.message = std::move(*pulled);
      sender.sender = refill.sender_identity;
      senders_.Reinsert(std::move(sender));
    }
  }
  const bool woke = !outcome.refill.has_value();
  store_.push_front(std::move(*outcome.message));
  // The receive woke poll waiters and changed readiness; putting the message back changes it
  // again, so wake them once more (never on the refill path, where readiness was unchanged).
  if (woke) events_->PollWake(*this);
}

std::optional<Refill> Queue::RetractRefill(const Refill& refill) {
  absl::MutexLock lock(&mu_);
  // The sender was interrupted: its message is discarded (spec §5.4).
  if (!store_.remove(refill.priority, refill.message_seq).has_value()) return std::nullopt;
  if (!senders_.empty()) return RefillLocked();
  // Now the receive freed a slot with no blocked sender: it wakes poll waiters (spec §8.2).
  events_->PollWake(*this);
  return std::nullopt;
}

bool Queue::CancelWaiter(WaiterId waiter) {
  absl::MutexLock lock(&mu_);
  // An interrupted sender's message is discarded with it (spec §5.4).
  if (senders_.Remove(waiter).has_value()) return true;
  return receivers_.Remove(waiter).has_value();
}

std::vector<ExpiredWaiter> Queue::ExpireWaiters(int64_t now_ns) {
  absl::MutexLock lock(&mu_);
  std::vector<Waiter> senders = senders_.PopExpired(now_ns);
  std::vector<Waiter> receivers = receivers_.PopExpired(now_ns);
  std::vector<std::pair<kernel::Deadline, ExpiredWaiter>> all;
  all.reserve(senders.size() + receivers.size());
  for (const Waiter& w : senders) all.push_back({w.deadline, {w.id, w.tag, true}});
  for (const Waiter& w : receivers) all.push_back({w.deadline, {w.id, w.tag, false}});
  // Earliest deadline first; each list is already sorted, so this is a merge.
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<ExpiredWaiter> out;
  out.reserve(all.size());
  for (const auto& [deadline, expired] : all) out.push_back(expired);
  return out;
}

std::optional<kernel::Deadline> Queue::NextDeadline() const {
  absl::MutexLock lock(&mu_);
  std::optional<kernel::Deadline> s = senders_.EarliestDeadline();
  std::optional<kernel::Deadline> r = receivers_.EarliestDeadline();
  if (!s.has_value()) return r;
  if (!r.has_value()) return s;
  return std::min(*s, *r);
}

SyscallResult Queue::RegisterNotification(NotificationRegistration registration) {
  absl::MutexLock lock(&mu_);
  // Spec §6.1 step 5: a registration already exists (any owner, the caller included).
  if (notification_.has_value()) return SyscallResult::Error(EBUSY);
  notification_ = std::move(registration);
  return SyscallResult::Ok();
}

bool Queue::UnregisterNotification(ProcessRef caller) {
  absl::MutexLock lock(&mu_);
  // Spec §6.1 step 5 / §6.2: only the owner removes; anyone else silently does nothing.
  if (!notification_.has_value() || notification_->owner != caller) return false;
  NotificationRegistration removed = std::move(*notification_);
  notification_.reset();
  events_->NotificationRemoved(*this, removed);
  return true;
}

kernel::abi::MqAttr Queue::Attributes(int file_flags) const {
  absl::MutexLock lock(&mu_);
  kernel::abi::MqAttr attr{};
  attr.mq_flags = file_flags & kernel::abi::kONonblock;
  attr.mq_maxmsg = attrs_.maxmsg;
  attr.mq_msgsize = attrs_.msgsize;
  attr.mq_curmsgs = static_cast<int64_t>(store_.size());
  return attr;  // reserved[] stays 0 (spec §1.2)
}

QueueStatus Queue::Status() const {
  absl::MutexLock lock(&mu_);
  QueueStatus status;
  status.qsize = store_.bytes();
  status.curmsgs = static_cast<int64_t>(store_.size());
  if (notification_.has_value()) {
    // Spec §8.1: NOTIFY is the registered type; SIGNO only for SIGEV_SIGNAL.
    status.notify = notification_->notify;
    status.signo = notification_->notify == kernel::abi::kSigevSignal ? notification_->signo : 0;
    status.notify_owner = notification_->owner;
    status.notify_owner_host_tgid = notification_->owner_host_tgid;
  }
  return status;
}

uint32_t Queue::Readiness() const {
  absl::MutexLock lock(&mu_);
  // Spec §8.2; never POLLERR/POLLHUP/POLLPRI.
  uint32_t mask = 0;
  if (!store_.empty()) mask |= POLLIN | POLLRDNORM;
  if (!FullLocked()) mask |= POLLOUT | POLLWRNORM;
  return mask;
}

kernel::KUid Queue::uid() const {
  absl::MutexLock lock(&mu_);
  return uid_;
}

kernel::KGid Queue::gid() const {
  absl::MutexLock lock(&mu_);
  return gid_;
}

uint32_t Queue::mode() const {
  absl::MutexLock lock(&mu_);
  return mode_;
}

void Queue::SetOwner(kernel::KUid uid, kernel::KGid gid) {
  absl::MutexLock lock(&mu_);
  uid_ = uid;
  gid_ = gid;
}

void Queue::SetMode(uint32_t mode) {
  absl::MutexLock lock(&mu_);
  mode_ = mode & kernel::abi::kSIallugo;
}

std::vector<Message> Queue::SnapshotMessages() const {
  absl::MutexLock lock(&mu_);
  return store_.Snapshot();
}

std::optional<NotificationRegistration> Queue::SnapshotNotification() const {
  absl::MutexLock lock(&mu_);
  return notification_;
}

void Queue::RestoreMessage(Message message) {
  absl::MutexLock lock(&mu_);
  store_.push_back(std::move(message));
}

void Queue::RestoreNotification(NotificationRegistration registration) {
  absl::MutexLock lock(&mu_);
  notification_ = std::move(registration);
}

size_t Queue::parked_senders() const {
  absl::MutexLock lock(&mu_);
  return senders_.size();
}

size_t Queue::parked_receivers() const {
  absl::MutexLock lock(&mu_);
  return receivers_.size();
}

std::vector<WaiterId> Queue::SenderOrder() const {
  absl::MutexLock lock(&mu_);
  return senders_.Order();
}

std::vector<WaiterId> Queue::ReceiverOrder() const {
  absl::MutexLock lock(&mu_);
  return receivers_.Order();
}

}  // namespace mqsentry::ipc
