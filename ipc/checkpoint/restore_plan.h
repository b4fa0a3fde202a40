// What `mqsentry run --restore` brings back from a checkpoint, and what it cannot: a new
// sandbox has one IPC namespace and none of the old processes, so it gets the old
// sandbox's own namespace's sysctls and named queues (owner, mode, attributes, messages in
// order); nested namespaces, unlinked queues (held only by descriptors) and mq_notify
// registrations (of processes that are gone) are listed as not restored.
#ifndef MQSENTRY_IPC_CHECKPOINT_RESTORE_PLAN_H_
#define MQSENTRY_IPC_CHECKPOINT_RESTORE_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ipc/checkpoint/stream.h"
#include "ipc/state.h"

namespace mqsentry::ipc::checkpoint {

struct RestorePlan {
  // The own namespace to import: named queues only, without registrations, each charged
  // to user namespace index `charge_user_ns` (the namespace's owner). nullopt: the old
  // sandbox never used a queue in its own namespace.
  std::optional<state::IpcNamespaceState> own;
  int32_t charge_user_ns = 0;
  // One line per piece of state that is not restored.
  std::vector<std::string> not_restored;
};

RestorePlan PlanRestore(const CheckpointFile& file);

// The new sandbox's limits a restore must respect (spec §3.1, §3.5).
struct RestoreLimits {
  int32_t queues_max = 256;
  int32_t msg_max = 10;
  int32_t msgsize_max = 8192;
  uint64_t rlimit_msgqueue = 819200;  // RLIM_INFINITY for none
};

// A queue that would break a limit of the new sandbox: an error naming it and the limit
// (and the flag that raises it).
absl::Status CheckRestoreLimits(const state::IpcNamespaceState& own, const RestoreLimits& limits);

// "/name" with bytes outside printable ASCII escaped.
std::string QueueDisplayName(const state::QueueState& q);

}  // namespace mqsentry::ipc::checkpoint

#endif  // MQSENTRY_IPC_CHECKPOINT_RESTORE_PLAN_H_
