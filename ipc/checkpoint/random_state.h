// A generator of random but valid SandboxStates for property and corruption tests: user
// namespace trees with maps nested inside their parents', IPC namespaces with random
// sysctls, linked and unlinked queues with random attributes, messages in receive order,
// notifications of every kind, the matching charges and accounting. Deterministic per seed.
#ifndef MQSENTRY_IPC_CHECKPOINT_RANDOM_STATE_H_
#define MQSENTRY_IPC_CHECKPOINT_RANDOM_STATE_H_

#include <cstdint>

#include "ipc/state.h"

namespace mqsentry::ipc::checkpoint_testing {

struct RandomStateOptions {
  int max_user_namespaces = 8;  // including the initial one
  int max_ipc_namespaces = 4;
  int max_queues_per_namespace = 6;
  int max_messages_per_queue = 8;  // also bounded by the queue's maxmsg
  int max_payload = 64;            // bytes; also bounded by the queue's msgsize
};

state::SandboxState RandomValidState(uint64_t seed, const RandomStateOptions& options = {});

}  // namespace mqsentry::ipc::checkpoint_testing

#endif  // MQSENTRY_IPC_CHECKPOINT_RANDOM_STATE_H_
