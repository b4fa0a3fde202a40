// Notification registrations (mq_notify, spec §6) and the interface through which a queue
// reaches up to the sentry to deliver them and to wake poll waiters.
#ifndef MQSENTRY_IPC_NOTIFICATION_H_
#define MQSENTRY_IPC_NOTIFICATION_H_

#include <array>
#include <cstdint>
#include <memory>

#include "kernel/ids.h"
#include "kernel/user_namespace.h"

namespace mqsentry::ipc {

// Identity of a process (thread group) as the sentry tracks it: an opaque handle that is
// never reused for another process (pids are reused; this is not a pid).
struct ProcessRef {
  uint64_t id = 0;
  friend auto operator<=>(const ProcessRef&, const ProcessRef&) = default;
};

// Who sent the message that fires a notification (spec §6.3: si_pid, si_uid).
struct SenderIdentity {
  ProcessRef process;
  int32_t host_tgid = 0;  // the sender's tgid in the supervisor's PID namespace
  kernel::KUid ruid{0};   // real uid
};

struct NotificationRegistration {
  ProcessRef owner;
  int32_t owner_host_tgid = 0;                                 // for NOTIFY_PID in the status line
  std::shared_ptr<const kernel::UserNamespace> owner_user_ns;  // for si_uid
  uint64_t owner_exec_generation = 0;  // a signal is sent only if unchanged (spec §6.2)
  int notify = 0;                      // kSigevSignal / kSigevNone / kSigevThread
  int signo = 0;                       // SIGEV_SIGNAL only; 0 delivers nothing
  uint64_t value = 0;                  // sigev_value
  uint64_t socket = 0;                 // SIGEV_THREAD: the sentry's handle of the netlink socket
  std::array<uint8_t, 32> cookie{};    // SIGEV_THREAD: copied at registration (spec §6.1)
};

// What the sentry must deliver when a registration fires (spec §6.3).
struct NotificationFiring {
  NotificationRegistration registration;
  SenderIdentity sender;
  // si_uid: the sender's real uid as the owner's user namespace sees it (65534 if
  // unmapped). Not named si_uid: that is a macro in <signal.h>.
  kernel::NsUid sender_uid{kernel::kOverflowId};
};

class Queue;

// Implemented by the sentry (and by recorders in tests). Called with the queue's lock
// held: implementations must not call back into the queue.
class QueueEvents {
 public:
  virtual ~QueueEvents() = default;
  // A registration fired (it has already been removed from the queue: one-shot).
  virtual void NotificationFired(const Queue& queue, const NotificationFiring& firing) = 0;
  // A registration was removed without firing (NULL unregister or close by the owner);
  // for SIGEV_THREAD the sentry sends the cookie with byte 31 = NOTIFY_REMOVED.
  virtual void NotificationRemoved(const Queue& queue,
                                   const NotificationRegistration& registration) = 0;
  // Poll waiters must be woken (spec §8.2: every inserting send; a receive that did not
  // pull in a blocked sender). Hand-offs wake nobody.
  virtual void PollWake(const Queue& queue) = 0;
};

// A QueueEvents that does nothing, for queues nobody watches.
QueueEvents& NullQueueEvents();

}  // namespace mqsentry::ipc

#endif  // MQSENTRY_IPC_NOTIFICATION_H_
