// Parsing of /proc/<pid>/mountinfo (proc(5)), for finding the mounts a sandbox inherits.
#ifndef MQSENTRY_SENTRY_MOUNTINFO_H_
#define MQSENTRY_SENTRY_MOUNTINFO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mqsentry::sentry {

struct MountInfo {
  int mount_id = 0;
  int parent_id = 0;
  uint32_t major = 0;
  uint32_t minor = 0;
  std::string root;         // unescaped
  std::string mount_point;  // unescaped, relative to the reader's root
  std::string fs_type;
  std::string source;  // unescaped
};

// Parses the whole file. Octal escapes (\040 and the like) are decoded.
absl::StatusOr<std::vector<MountInfo>> ParseMountInfo(absl::string_view text);

// Reads and parses /proc/self/mountinfo.
absl::StatusOr<std::vector<MountInfo>> ReadSelfMountInfo();

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_MOUNTINFO_H_
