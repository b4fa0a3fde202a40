// Pure parsers of the /proc text the supervisor reads: /proc/<tid>/status and
// /proc/<tid>/stat. No file is opened here: callers read the text (usually through
// ProcFileCache) and parse it, so every parser is unit-tested on captured text.
#ifndef MQSENTRY_SENTRY_PROC_PROC_TEXT_H_
#define MQSENTRY_SENTRY_PROC_PROC_TEXT_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mqsentry::sentry::proc {

// The fields of /proc/<tid>/status the supervisor uses (proc(5)). Ids are as the reader's
// user namespace sees them; NSpid as the procfs mount's PID namespace sees them, outermost
// first (the last entry is the pid in the task's own PID namespace).
struct Status {
  int32_t tgid = 0;
  uint32_t uid[4] = {};  // real, effective, saved, filesystem
  uint32_t gid[4] = {};
  std::vector<uint32_t> groups;
  uint64_t cap_inh = 0;
  uint64_t cap_prm = 0;
  uint64_t cap_eff = 0;
  uint64_t cap_bnd = 0;
  std::optional<uint32_t> umask;
  std::vector<int32_t> nspid;
  uint64_t sig_pnd = 0;  // signals pending for the thread
  uint64_t shd_pnd = 0;  // signals pending for the thread group
  uint64_t sig_blk = 0;  // the thread's blocked mask
};

// Parses a whole status file. An error if Tgid, Uid or Gid is missing or a parsed line is
// malformed (the kernel's format changed: an internal failure, not the caller's errno).
absl::StatusOr<Status> ParseStatus(absl::string_view text);

// Whether the thread has a signal pending that it does not block: what would have
// interrupted a blocked mq call (spec §5.4).
inline bool HasUnblockedSignalPending(const Status& s) {
  return ((s.sig_pnd | s.shd_pnd) & ~s.sig_blk) != 0;
}

// The fields of /proc/<tid>/stat after "(comm)" (comm may hold spaces and parentheses).
struct Stat {
  int64_t priority = 0;     // field 18: task->prio - 100
  uint64_t start_time = 0;  // field 22: clock ticks after boot
};

absl::StatusOr<Stat> ParseStat(absl::string_view text);

}  // namespace mqsentry::sentry::proc

#endif  // MQSENTRY_SENTRY_PROC_PROC_TEXT_H_
