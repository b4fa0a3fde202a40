// ProcFileCache: files under /proc/<tid>/ of traced threads, kept open and re-read from
// offset 0 with pread(2), which regenerates a procfs file's text from the task's current
// state. Re-reading costs one system call where open+read+close cost three and a procfs
// path walk, and the sentry reads the same few files (status, limits, fdinfo/N) on every
// trapped call.
//
// Only for files whose whole text is one seq_file record (single_open: status, stat,
// limits, fdinfo/N): a read shorter than asked is then the end of the text, so a re-read
// is a single pread. Multi-record files (maps, uid_map) return a page at a time and would
// be cut short.
//
// An open procfs file is bound to its task (struct pid), not to the number: once the task
// is gone it reads ESRCH/ENOENT even if the tid has been reused, and the entry is then
// reopened by number, for the new task. So a successful read always shows the task that
// holds the number at that moment. Bounded LRU.
//
// Thread-safe; the lock is never held during a read (a procfs read can wait for a task's
// exec, which can wait for an mqfs flush).
#ifndef MQSENTRY_SENTRY_PROC_FILE_CACHE_H_
#define MQSENTRY_SENTRY_PROC_FILE_CACHE_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {

class ProcFileCache {
 public:
  explicit ProcFileCache(size_t capacity);
  ProcFileCache(const ProcFileCache&) = delete;
  ProcFileCache& operator=(const ProcFileCache&) = delete;

  // The whole text of /proc/<tid>/<name> (a single-record file, see above) into *out: 0, or -errno (ENOENT for a file or
  // thread that does not exist).
  int Read(int32_t tid, std::string_view name, std::string* out) ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Key = std::pair<int32_t, std::string>;
  struct Entry {
    std::shared_ptr<const UniqueFd> file;
    std::list<Key>::iterator lru;
  };
  std::shared_ptr<const UniqueFd> Find(const Key& key) ABSL_LOCKS_EXCLUDED(mu_);
  void Insert(const Key& key, std::shared_ptr<const UniqueFd> file) ABSL_LOCKS_EXCLUDED(mu_);
  void Erase(const Key& key, const UniqueFd* file) ABSL_LOCKS_EXCLUDED(mu_);

  const size_t capacity_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<Key> lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
};

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_PROC_FILE_CACHE_H_
