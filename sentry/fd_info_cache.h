// FdInfoCache: what the sentry needs to know about a descriptor argument of a trapped
// call — the mount, inode and f_flags of the open description — read from
// /proc/<tid>/fdinfo/<fd> without touching the file itself (a pidfd_getfd duplicate would
// cost an mqfs flush round trip when closed).
//
// The fdinfo files stay open in a ProcFileCache (sentry/proc_file_cache.h): one pread per
// call instead of a procfs open, read and close.
//
// Thread-safe.
#ifndef MQSENTRY_SENTRY_FD_INFO_CACHE_H_
#define MQSENTRY_SENTRY_FD_INFO_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "sentry/proc_file_cache.h"

namespace mqsentry::sentry {

struct FdInfo {
  uint64_t flags = 0;  // f_flags, octal "flags:" line (O_CLOEXEC included)
  uint64_t mnt_id = 0;
  uint64_t ino = 0;
};

// Parses the text of an fdinfo file; nullopt if a field is missing.
std::optional<FdInfo> ParseFdInfo(std::string_view text);

class FdInfoCache {
 public:
  explicit FdInfoCache(size_t capacity = 256) : files_(capacity) {}

  // Descriptor `fd` of host thread `tid`; nullopt if it is not open (or the thread is
  // gone).
  std::optional<FdInfo> Read(int32_t tid, int fd);

  size_t size() const { return files_.size(); }

 private:
  ProcFileCache files_;
};

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_FD_INFO_CACHE_H_
