#include "sentry/fd_info_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

namespace mqsentry::sentry {
namespace {

// The number after "<name>:" and blanks, in `base` (8 for flags, 10 otherwise).
std::optional<uint64_t> Field(std::string_view text, std::string_view name, int base) {
  size_t at = 0;
  while (at < text.size()) {
    const size_t eol = text.find('\n', at);
    const std::string_view line =
        text.substr(at, eol == std::string_view::npos ? std::string_view::npos : eol - at);
    if (line.size() > name.size() && line.substr(0, name.size()) == name &&
        line[name.size()] == ':') {
      size_t i = name.size() + 1;
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i == line.size()) return std::nullopt;
      uint64_t value = 0;
      for (; i < line.size(); ++i) {
        const int digit = line[i] - '0';
        if (digit < 0 || digit >= base) break;
        value = value * base + digit;
      }
      return value;
    }
    if (eol == std::string_view::npos) break;
    at = eol + 1;
  }
  return std::nullopt;
}

}  // namespace

std::optional<FdInfo> ParseFdInfo(std::string_view text) {
  // The first lines are always pos, flags, mnt_id, ino (fs/proc/fd.c seq_show); the
  // file's own lines (eventfd counts, inotify marks...) follow and are not looked at.
  std::optional<uint64_t> flags = Field(text, "flags", 8);
  std::optional<uint64_t> mnt_id = Field(text, "mnt_id", 10);
  std::optional<uint64_t> ino = Field(text, "ino", 10);
  if (!flags || !mnt_id || !ino) return std::nullopt;
  return FdInfo{*flags, *mnt_id, *ino};
}

FdInfoCache::FdInfoCache(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

FdInfoCache::~FdInfoCache() {
  for (auto& [key, entry] : entries_) close(entry.file);
}

std::optional<FdInfo> FdInfoCache::ReadFile(int file) {
  char buf[512];
  const ssize_t n = pread(file, buf, sizeof(buf), 0);
  if (n <= 0) return std::nullopt;
  return ParseFdInfo(std::string_view(buf, static_cast<size_t>(n)));
}

void FdInfoCache::Erase(const Key& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  close(it->second.file);
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

std::optional<FdInfo> FdInfoCache::Read(int32_t tid, int fd) {
  if (fd < 0 || tid <= 0) return std::nullopt;
  const Key key{tid, fd};
  if (auto it = entries_.find(key); it != entries_.end()) {
    if (std::optional<FdInfo> info = ReadFile(it->second.file)) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return info;
    }
    // The descriptor was closed, or the thread is gone and its tid may be someone
    // else's now: forget the file and look again.
    Erase(key);
  }
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", tid, fd);
  const int file = open(path, O_RDONLY | O_CLOEXEC);
  if (file < 0) return std::nullopt;
  std::optional<FdInfo> info = ReadFile(file);
  if (!info) {
    close(file);
    return std::nullopt;
  }
  if (entries_.size() >= capacity_) Erase(lru_.back());
  lru_.push_front(key);
  entries_.emplace(key, Entry{file, lru_.begin()});
  return info;
}

}  // namespace mqsentry::sentry
