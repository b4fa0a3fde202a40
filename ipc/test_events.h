// RecordingEvents: a QueueEvents for tests that records every notification firing, every
// registration removal and every poll wake, in order.
#ifndef MQSENTRY_IPC_TEST_EVENTS_H_
#define MQSENTRY_IPC_TEST_EVENTS_H_

#include <string>
#include <vector>

#include "ipc/notification.h"
#include "ipc/queue.h"

namespace mqsentry::ipc {

class RecordingEvents : public QueueEvents {
 public:
  void NotificationFired(const Queue& queue, const NotificationFiring& firing) override {
    firings.push_back(firing);
    log.push_back("fired");
  }
  void NotificationRemoved(const Queue& queue,
                           const NotificationRegistration& registration) override {
    removals.push_back(registration);
    log.push_back("removed");
  }
  void PollWake(const Queue& queue) override {
    ++poll_wakes;
    log.push_back("wake");
  }

  void Clear() {
    firings.clear();
    removals.clear();
    poll_wakes = 0;
    log.clear();
  }

  std::vector<NotificationFiring> firings;
  std::vector<NotificationRegistration> removals;
  int poll_wakes = 0;
  std::vector<std::string> log;  // "fired" / "removed" / "wake" in call order
};

}  // namespace mqsentry::ipc

#endif  // MQSENTRY_IPC_TEST_EVENTS_H_
