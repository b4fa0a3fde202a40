// Export and import of a whole sandbox's queue state (ipc/state.h): the user-namespace
// table every reference points into, every IPC namespace, and the accounting counters.
// The checkpoint codec (ipc/checkpoint) turns the result into bytes and back.
#ifndef MQSENTRY_IPC_SANDBOX_SNAPSHOT_H_
#define MQSENTRY_IPC_SANDBOX_SNAPSHOT_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "ipc/accounting.h"
#include "ipc/ipc_namespace.h"
#include "ipc/notification.h"
#include "ipc/state.h"
#include "kernel/user_namespace.h"

namespace mqsentry::ipc {

// Builds the state of `namespaces`, whose queues were all charged to `accounting`.
state::SandboxState ExportSandbox(const UserAccounting& accounting,
                                  const std::vector<std::shared_ptr<IpcNamespace>>& namespaces);

struct ImportedSandbox {
  std::vector<std::shared_ptr<const kernel::UserNamespace>> user_namespaces;  // by index
  std::shared_ptr<UserAccounting> accounting;
  std::vector<std::shared_ptr<IpcNamespace>> namespaces;
  // Unlinked queues, each held by one description for the restorer (IpcNamespace::Import).
  std::vector<std::pair<std::shared_ptr<IpcNamespace>, std::shared_ptr<QueueInode>>> held;
};

// Rebuilds a validated state (DecodeCheckpoint validates). Limits become StaticLimits
// with the checkpointed sysctls. Fails with a clear error if the state is inconsistent
// (e.g. its accounting does not match the queues' charges).
absl::StatusOr<ImportedSandbox> ImportSandbox(const state::SandboxState& state,
                                              QueueEvents* events);

}  // namespace mqsentry::ipc

#endif  // MQSENTRY_IPC_SANDBOX_SNAPSHOT_H_
