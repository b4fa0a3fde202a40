#include "sentry/fd_info_cache.h"

#include <cstdio>
#include <string>

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

std::optional<FdInfo> FdInfoCache::Read(int32_t tid, int fd) {
  if (fd < 0) return std::nullopt;
  char name[32];
  std::snprintf(name, sizeof(name), "fdinfo/%d", fd);
  std::string text;
  if (files_.Read(tid, name, &text) != 0) return std::nullopt;
  return ParseFdInfo(text);
}

}  // namespace mqsentry::sentry
