// NullQueueEvents: the QueueEvents of queues nobody watches.
#include "ipc/notification.h"

namespace mqsentry::ipc {
namespace {

class NullEvents final : public QueueEvents {
 public:
  void NotificationFired(const Queue&, const NotificationFiring&) override {}
  void NotificationRemoved(const Queue&, const NotificationRegistration&) override {}
  void PollWake(const Queue&) override {}
};

}  // namespace

QueueEvents& NullQueueEvents() {
  static NullEvents* const events = new NullEvents();  // never destroyed
  return *events;
}

}  // namespace mqsentry::ipc
