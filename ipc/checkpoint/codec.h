// The checkpoint codec: state::SandboxState <-> checkpoint.proto messages, and the
// validation of a SandboxState against Linux's limits and invariants. Files are streams of
// framed records (stream.h), built from the per-part conversions below; the whole-state
// Checkpoint message (EncodeCheckpoint) remains for tools and tests of small states. The decoder takes
// hostile input: it answers a state that passes ValidateSandboxState() or an
// InvalidArgumentError naming the offending field, and never crashes or hangs. Memory grows
// with the input's size only: no count, index or size field drives an allocation.
#ifndef MQSENTRY_IPC_CHECKPOINT_CODEC_H_
#define MQSENTRY_IPC_CHECKPOINT_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ipc/checkpoint/checkpoint.pb.h"
#include "ipc/checkpoint/crc32c.h"
#include "ipc/state.h"

namespace mqsentry::ipc::checkpoint {

// Checkpoint.magic: the bytes "MQCK" as a little-endian fixed32.
inline constexpr uint32_t kMagic = 0x4b43514d;
// The format_version this build writes and the only one it reads.
inline constexpr uint32_t kFormatVersion = 1;

// Bounds that Linux does not impose (or only through memory), chosen far above any real
// sandbox so that validation work and memory stay bounded on hostile input.
inline constexpr size_t kMaxUserNamespaces = 1 << 16;
inline constexpr size_t kMaxIpcNamespaces = 1 << 16;
inline constexpr size_t kMaxQueues = 1 << 20;  // in the whole sandbox
// create_user_ns() refuses a child of a namespace whose level is above 32, so the deepest
// namespace has level 33 (the initial one has level 0); kernel::UserNamespace::Create()
// models exactly that, and a checkpoint must hold whatever the model can build.
inline constexpr int kMaxUserNamespaceLevel = 33;
// PID_MAX_LIMIT on 64-bit: the largest pid (and so tgid) Linux hands out.
inline constexpr int32_t kPidMaxLimit = 4 * 1024 * 1024;

// Serializes `state` after ValidateSandboxState() accepts it; the output is deterministic
// (the same state always gives the same bytes). Fails without writing anything for an
// invalid state, or for one whose encoding would pass protobuf's 2 GiB message limit.
absl::StatusOr<std::string> EncodeCheckpoint(const state::SandboxState& state);

// Parses and validates a checkpoint. Every failure is an InvalidArgumentError: not a
// checkpoint (empty, unparsable, wrong magic), an unknown format_version, a damaged file
// (crc32c trailer missing or wrong), a field this version does not know, or a state
// ValidateSandboxState() rejects.
absl::StatusOr<state::SandboxState> DecodeCheckpoint(std::string_view bytes);

// Checks every field against Linux's hard limits and every cross-reference (indices,
// uniqueness, charges, accounting sums). The first failure is returned as an
// InvalidArgumentError whose message starts with the path of the field, e.g.
// "ipc_namespaces[0].queues[3].messages[7]: priority 40000 >= MQ_PRIO_MAX 32768".
absl::Status ValidateSandboxState(const state::SandboxState& state);

// The pieces of the codec without validation, for tools and tests. ToProto mirrors the
// state field for field (crc32c unset). FromProto only checks what a SandboxState cannot
// express: magic, format_version, unknown fields, missing sub-messages, the cookie's
// length; it ignores crc32c, which only has a meaning in bytes.
::mqsentry::checkpoint::Checkpoint ToProto(const state::SandboxState& state);
absl::StatusOr<state::SandboxState> FromProto(const ::mqsentry::checkpoint::Checkpoint& proto);

// Serializes `proto` deterministically and appends the crc32c trailer (replacing any
// crc32c it holds). EncodeCheckpoint(s) is SerializeCheckpoint(ToProto(s)) once s is valid.
absl::StatusOr<std::string> SerializeCheckpoint(::mqsentry::checkpoint::Checkpoint proto);

// One part of a state <-> its record payload, for the streamed file format (stream.h).
// The FromProto halves check what FromProto() checks for the part (unknown fields,
// missing sub-messages, cookie length); `path` names the part in errors.
::mqsentry::checkpoint::UserNamespace UserNamespaceToProto(const state::UserNamespaceState& u);
absl::StatusOr<state::UserNamespaceState> UserNamespaceFromProto(
    const std::string& path, const ::mqsentry::checkpoint::UserNamespace& p);
// Without its queues.
::mqsentry::checkpoint::IpcNamespace IpcNamespaceToProto(const state::IpcNamespaceState& ipc);
// Refuses a namespace that carries queues (they have records of their own).
absl::StatusOr<state::IpcNamespaceState> IpcNamespaceFromProto(
    const std::string& path, const ::mqsentry::checkpoint::IpcNamespace& p);
// Without its messages.
::mqsentry::checkpoint::Queue QueueToProto(const state::QueueState& q);
absl::StatusOr<state::QueueState> QueueFromProto(const std::string& path,
                                                 const ::mqsentry::checkpoint::Queue& p);
// Fails on fields this version does not know: dropping them would lose state silently.
absl::Status CheckNoUnknownFields(absl::string_view path, const google::protobuf::Message& m);

// The RLIMIT_MSGQUEUE cost of a queue (spec §3.5), for maxmsg and msgsize already within
// 1..HARD_MSGMAX and 1..HARD_MSGSIZEMAX (the result then fits easily in 64 bits).
uint64_t QueueChargeBytes(int64_t maxmsg, int64_t msgsize);

}  // namespace mqsentry::ipc::checkpoint

#endif  // MQSENTRY_IPC_CHECKPOINT_CODEC_H_
