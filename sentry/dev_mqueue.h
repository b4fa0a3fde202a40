// ProvideDevMqueue: gives the sandbox a /dev/mqueue directory when its /dev has none, so
// that the supervisor can mount the sandbox's queues there (Sentry::MountDevMqueue), as
// every distribution and container runtime does. The host's /dev is never written: a
// tmpfs replaces /dev in the sandbox's mount namespace, holding a bind of each entry of
// the old /dev (with whatever is mounted below it) and the new directory.
#ifndef MQSENTRY_SENTRY_DEV_MQUEUE_H_
#define MQSENTRY_SENTRY_DEV_MQUEUE_H_

#include "absl/status/status.h"

namespace mqsentry::sentry {

// In init, after the sandbox's mount namespace is private and the host's mqueue mounts
// are gone. A no-op if there is no /dev directory or /dev/mqueue exists.
absl::Status ProvideDevMqueue();

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_DEV_MQUEUE_H_
