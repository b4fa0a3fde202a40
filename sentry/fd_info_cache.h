// FdInfoCache: what the sentry needs to know about a descriptor argument of a trapped
// call — the mount, inode and f_flags of the open description — read from
// /proc/<tid>/fdinfo/<fd> without touching the file itself (a pidfd_getfd duplicate would
// cost an mqfs flush round trip when closed).
//
// Opening the fdinfo file costs a procfs path walk and a close per call; instead the
// files stay open and are re-read with pread(.., 0), which regenerates the text from the
// thread's current descriptor table. An open fdinfo file is bound to its task (struct
// pid), not to the number: once the thread is gone it reads ESRCH/ENOENT even if the tid
// is reused, and the entry is then reopened for the new thread. Bounded LRU.
//
// Thread-compatible: the syscall thread is its only user.
#ifndef MQSENTRY_SENTRY_FD_INFO_CACHE_H_
#define MQSENTRY_SENTRY_FD_INFO_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"

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
  explicit FdInfoCache(size_t capacity = 256);
  ~FdInfoCache();
  FdInfoCache(const FdInfoCache&) = delete;
  FdInfoCache& operator=(const FdInfoCache&) = delete;

  // Descriptor `fd` of host thread `tid`; nullopt if it is not open (or the thread is
  // gone).
  std::optional<FdInfo> Read(int32_t tid, int fd);

  size_t size() const { return entries_.size(); }

 private:
  using Key = std::pair<int32_t, int>;
  struct Entry {
    int file = -1;
    std::list<Key>::iterator lru;
  };
  // Reads an open fdinfo file from offset 0.
  static std::optional<FdInfo> ReadFile(int file);
  void Erase(const Key& key);

  const size_t capacity_;
  absl::flat_hash_map<Key, Entry> entries_;
  std::list<Key> lru_;  // most recently used first
};

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_FD_INFO_CACHE_H_
