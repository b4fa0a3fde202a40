// The checkpoint file: a stream of framed records, written and read in constant memory
// beyond the state itself (no single protobuf message for the whole file, which protobuf
// caps at 2 GiB).
//
//   file    = header record*
//   header  = "MQCKPT\r\n" (8 bytes), format version (u32 LE), CRC-32C of those 12 bytes
//   record  = length (u32 LE), type (u32 LE), payload (`length` bytes, a checkpoint.proto
//             message given by `type`), CRC-32C of length, type and payload (u32 LE; last,
//             so that a writer checksums and copies each payload in one pass)
//   records = SandboxInfo, UserNamespace+ (index order), then per IPC namespace:
//             IpcNamespace, then per queue: QueueRecord, MessageChunk* (its messages, in
//             receive order); then AccountingEntry*, then EndRecord (the totals), then EOF.
//
// The reader trusts nothing: each record's length is bounded before anything is read, its
// CRC checked before it is parsed, the order above enforced, every count checked against
// what the records before it declared, and the whole state finally goes through
// ValidateSandboxState(). Every failure is one line naming the offset and record or the
// field, and the limit it breaks.
#ifndef MQSENTRY_IPC_CHECKPOINT_STREAM_H_
#define MQSENTRY_IPC_CHECKPOINT_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ipc/state.h"

namespace mqsentry::ipc::checkpoint {

inline constexpr std::string_view kFileMagic{"MQCKPT\r\n", 8};
// The file layout version this build writes, and the oldest it reads. Version 2 added the
// queues' times (checkpoint.proto QueueTimes); a version-1 file has none, and a restore
// gives its queues the restore time. A version-1 reader refuses a version-2 file by its
// header ("written by a newer mqsentry") rather than by an unknown field deep inside.
inline constexpr uint32_t kFileVersion = 2;
inline constexpr uint32_t kOldestFileVersion = 1;
inline constexpr size_t kFileHeaderBytes = 16;
inline constexpr size_t kRecordHeaderBytes = 8;
inline constexpr size_t kRecordTrailerBytes = 4;
// A record never exceeds this: one message of HARD_MSGSIZEMAX (16 MiB) plus framing fits.
inline constexpr uint32_t kMaxRecordBytes = 32u << 20;
// The writer closes a message chunk once it holds this many payload bytes.
inline constexpr size_t kChunkTargetBytes = 1u << 20;

enum class RecordType : uint32_t {
  kSandboxInfo = 1,
  kUserNamespace = 2,
  kIpcNamespace = 3,
  kQueue = 4,
  kMessages = 5,
  kAccounting = 6,
  kEnd = 7,
};

// Not state: where it came from, for restore and inspect.
struct SandboxInfo {
  uint64_t own_ipc_namespace = 0;  // IpcNamespaceState::id, 0: none
  std::string program;
  int64_t taken_at_unix = 0;
  bool live = false;
};

struct CheckpointFile {
  uint32_t version = kFileVersion;  // the file header's format version
  SandboxInfo info;
  state::SandboxState state;
  uint64_t file_bytes = 0;
  uint64_t records = 0;
};

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual absl::Status Write(std::string_view bytes) = 0;
  // Called once after the last Write.
  virtual absl::Status Flush() { return absl::OkStatus(); }
};

class StringSink : public ByteSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  absl::Status Write(std::string_view bytes) override {
    out_->append(bytes);
    return absl::OkStatus();
  }

 private:
  std::string* out_;
};

// Writes everything to `fd` (retrying short writes and EINTR), small pieces gathered in a
// buffer, large ones written straight from the caller's memory.
class FdSink : public ByteSink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  absl::Status Write(std::string_view bytes) override;
  absl::Status Flush() override;

 private:
  absl::Status WriteDirect(std::string_view bytes);
  static constexpr size_t kBufferBytes = 1 << 20;
  int fd_;
  std::string buffer_;
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `n` bytes; fewer only at the end of the input.
  virtual absl::StatusOr<size_t> Read(char* buffer, size_t n) = 0;
  // The next `n` bytes (fewer only at the end) without a copy, valid until the next call,
  // if the source holds them in memory; nullopt otherwise (the caller uses Read).
  virtual std::optional<std::string_view> View(size_t n) { return std::nullopt; }
};

class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string_view bytes) : bytes_(bytes) {}
  absl::StatusOr<size_t> Read(char* buffer, size_t n) override;
  std::optional<std::string_view> View(size_t n) override;

 private:
  std::string_view bytes_;
};

class FdSource : public ByteSource {
 public:
  explicit FdSource(int fd) : fd_(fd) {}
  absl::StatusOr<size_t> Read(char* buffer, size_t n) override;

 private:
  int fd_;
};

// Writes `state` after ValidateSandboxState() accepts it. Deterministic.
absl::Status WriteCheckpoint(const state::SandboxState& state, const SandboxInfo& info,
                             ByteSink& sink);
// Without validation: for tests that play a hostile writer.
absl::Status WriteCheckpointUnvalidated(const state::SandboxState& state, const SandboxInfo& info,
                                        ByteSink& sink);
// Reads and validates a whole file; InvalidArgumentError on any damage or hostility.
absl::StatusOr<CheckpointFile> ReadCheckpoint(ByteSource& source);

// In-memory conveniences.
absl::StatusOr<std::string> EncodeCheckpointFile(const state::SandboxState& state,
                                                 const SandboxInfo& info);
absl::StatusOr<CheckpointFile> DecodeCheckpointFile(std::string_view bytes);

struct WriteStats {
  uint64_t bytes = 0;
  double write_seconds = 0;  // encoding and write(2)
  double fsync_seconds = 0;  // fsync of the file and its directory
};
// Atomically: a temporary file beside `path`, fsync, rename over `path`, fsync of the
// directory. On failure `path` is untouched and the temporary file removed.
absl::StatusOr<WriteStats> WriteCheckpointFileAtomically(const std::string& path,
                                                         const state::SandboxState& state,
                                                         const SandboxInfo& info);
// The same for file `name` of the directory open as `dir_fd` (for a writer whose mount
// namespace no longer shows the path it was given).
absl::StatusOr<WriteStats> WriteCheckpointFileAtomicallyAt(int dir_fd, const std::string& name,
                                                           const state::SandboxState& state,
                                                           const SandboxInfo& info);
// Errors name the file.
absl::StatusOr<CheckpointFile> ReadCheckpointFile(const std::string& path);

}  // namespace mqsentry::ipc::checkpoint

#endif  // MQSENTRY_IPC_CHECKPOINT_STREAM_H_
