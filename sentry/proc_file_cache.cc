#include "sentry/proc_file_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace mqsentry::sentry {
namespace {

// The whole text from offset 0; 0 or -errno.
int ReadWhole(int fd, std::string* out) {
  out->clear();
  char buf[8192];
  for (;;) {
    const ssize_t n = pread(fd, buf, sizeof(buf), static_cast<off_t>(out->size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    out->append(buf, static_cast<size_t>(n));
    // A single-record seq_file returns all it has left: a short read is the end.
    if (n < static_cast<ssize_t>(sizeof(buf))) return 0;
  }
}

}  // namespace

ProcFileCache::ProcFileCache(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

size_t ProcFileCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

std::shared_ptr<const UniqueFd> ProcFileCache::Find(const Key& key) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.file;
}

void ProcFileCache::Insert(const Key& key, std::shared_ptr<const UniqueFd> file) {
  absl::MutexLock lock(&mu_);
  if (auto it = entries_.find(key); it != entries_.end()) {
    // Another thread opened it meanwhile: keep the newer file.
    it->second.file = std::move(file);
    return;
  }
  if (entries_.size() >= capacity_) {
    entries_.erase(lru_.back());  // a reader still holding the file keeps it open
    lru_.pop_back();
  }
  lru_.push_front(key);
  entries_.emplace(key, Entry{std::move(file), lru_.begin()});
}

void ProcFileCache::Erase(const Key& key, const UniqueFd* file) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  // Only the file that failed: another thread may have replaced it already.
  if (it == entries_.end() || it->second.file.get() != file) return;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

int ProcFileCache::Read(int32_t tid, std::string_view name, std::string* out) {
  if (tid <= 0) return -ENOENT;
  Key key{tid, std::string(name)};
  if (std::shared_ptr<const UniqueFd> file = Find(key)) {
    if (ReadWhole(file->get(), out) == 0) return 0;
    // The task is gone (its tid may be another's now), or the file went away (a closed
    // fdinfo/N): look again by number.
    Erase(key, file.get());
  }
  const std::string path = absl::StrCat("/proc/", tid, "/", absl::string_view(name.data(), name.size()));
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  auto file = std::make_shared<const UniqueFd>(fd);
  if (int err = ReadWhole(fd, out); err != 0) return err;
  Insert(key, std::move(file));
  return 0;
}

}  // namespace mqsentry::sentry
