// Plain-data snapshot of all queue state of a sandbox: what ipc/checkpoint encodes and
// decodes, and what the model exports (IpcNamespace::Export) and rebuilds from
// (IpcNamespace::Import). Mutexes, waiters, host fds and timers are not state: parked
// calls are re-issued by their callers after a restore; nothing else is rebuilt.
#ifndef MQSENTRY_IPC_STATE_H_
#define MQSENTRY_IPC_STATE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ipc/payload.h"

#include "kernel/user_namespace.h"

namespace mqsentry::ipc::state {

// A user namespace, referenced by its index in SandboxState::user_namespaces. Index 0 is
// always the initial namespace; parents come before children.
struct UserNamespaceState {
  int32_t parent = -1;  // index; -1 only for index 0
  uint32_t owner_uid = 0;  // kernel ids
  uint32_t owner_gid = 0;
  uint64_t rlimit_msgqueue = 0;
  std::vector<kernel::IdMapExtent> uid_map;
  std::vector<kernel::IdMapExtent> gid_map;
};

struct SysctlsState {
  int32_t queues_max = 256;  // int; compared unsigned (-1 = unlimited)
  int32_t msg_max = 10;
  int32_t msgsize_max = 8192;
  int32_t msg_default = 10;
  int32_t msgsize_default = 8192;
};

struct MessageState {
  uint32_t priority = 0;
  Payload payload;  // shared with the queue: a capture takes references, not copies
};

struct NotificationState {
  uint64_t owner_process = 0;  // ProcessRef.id
  int32_t owner_host_tgid = 0;
  int32_t owner_user_ns = 0;  // index
  uint64_t owner_exec_generation = 0;
  int32_t notify = 0;
  int32_t signo = 0;
  uint64_t value = 0;
  uint64_t socket = 0;
  std::array<uint8_t, 32> cookie{};
};

// Where a queue's RLIMIT_MSGQUEUE charge went (spec §3.5).
struct ChargeState {
  int32_t user_ns = 0;  // index of the creator's user namespace
  uint32_t ruid = 0;    // creator's real uid (kernel id)
  uint64_t bytes = 0;   // must equal the formula for the queue's attributes
};

// The queue file's atime, mtime and ctime (spec §8.3 "Timestamps"): whole seconds since the
// epoch, as the mqueue superblock keeps them.
// Each in 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z, the range RFC 3339 (and so
// inspect's JSON and date(1)) can show. Linux keeps any 64-bit time (utimensat), but one
// outside this was set for no reason a restore must honour: the sentry clamps it when it
// saves (sentry/checkpoint_hooks.cc) and the decoder refuses it.
inline constexpr int64_t kMinQueueTime = -62135596800;
inline constexpr int64_t kMaxQueueTime = 253402300799;
struct QueueTimesState {
  int64_t atime = 0;
  int64_t mtime = 0;
  int64_t ctime = 0;
  bool operator==(const QueueTimesState&) const = default;
};

struct QueueState {
  std::optional<std::string> name;  // nullopt: unlinked (kept alive by descriptors)
  uint64_t id = 0;                  // stable identity, unique in the sandbox
  uint32_t uid = 0;                 // kernel ids
  uint32_t gid = 0;
  uint32_t mode = 0;                // 07777 bits
  int64_t maxmsg = 0;
  int64_t msgsize = 0;
  std::vector<MessageState> messages;  // in receive order (priority desc, FIFO)
  std::optional<NotificationState> notification;
  ChargeState charge;
  // nullopt: not recorded (a file of format version 1); a restore then gives the queue
  // the time of the restore, as a new queue gets.
  std::optional<QueueTimesState> times;
};

struct IpcNamespaceState {
  uint64_t id = 0;
  int32_t owner_user_ns = 0;  // index
  uint32_t root_uid = 0;      // owner of the mqueue root directory (kernel ids)
  uint32_t root_gid = 0;
  SysctlsState sysctls;
  std::vector<QueueState> queues;
};

// Per (user namespace, real uid) bytes charged; must equal the sum of the charges of the
// queues plus the hierarchical charges to ancestors (see ipc/accounting.h).
struct AccountingEntry {
  int32_t user_ns = 0;
  uint32_t uid = 0;
  uint64_t bytes = 0;
};

struct SandboxState {
  uint32_t version = 1;
  std::vector<UserNamespaceState> user_namespaces;
  std::vector<IpcNamespaceState> ipc_namespaces;
  std::vector<AccountingEntry> accounting;
};

}  // namespace mqsentry::ipc::state

#endif  // MQSENTRY_IPC_STATE_H_
