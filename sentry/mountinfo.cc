// proc(5): "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
#include "sentry/mountinfo.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {
namespace {

// The kernel escapes ' ', '\t', '\n' and '\\' as \ooo (seq_file's mangle_path).
std::string Unescape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const char a = s[i + 1], b = s[i + 2], c = s[i + 3];
      if (a >= '0' && a <= '3' && b >= '0' && b <= '7' && c >= '0' && c <= '7') {
        out.push_back(static_cast<char>((a - '0') * 64 + (b - '0') * 8 + (c - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

absl::Status LineError(absl::string_view line, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("mountinfo: ", why, " in \"", line, "\""));
}

}  // namespace

absl::StatusOr<std::vector<MountInfo>> ParseMountInfo(absl::string_view text) {
  std::vector<MountInfo> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    // Six fixed fields, optional fields, "-", fs type, source, super options.
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (f.size() < 6 || dash + 2 >= f.size()) {
      return LineError(line, "too few fields");
    }
    MountInfo m;
    if (!absl::SimpleAtoi(f[0], &m.mount_id) || !absl::SimpleAtoi(f[1], &m.parent_id)) {
      return LineError(line, "bad mount id");
    }
    std::vector<absl::string_view> dev = absl::StrSplit(f[2], ':');
    if (dev.size() != 2 || !absl::SimpleAtoi(dev[0], &m.major) ||
        !absl::SimpleAtoi(dev[1], &m.minor)) {
      return LineError(line, "bad device");
    }
    m.root = Unescape(f[3]);
    m.mount_point = Unescape(f[4]);
    m.fs_type = Unescape(f[dash + 1]);
    m.source = Unescape(f[dash + 2]);
    out.push_back(std::move(m));
  }
  return out;
}

absl::StatusOr<std::vector<MountInfo>> ReadSelfMountInfo() {
  UniqueFd fd(open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "open /proc/self/mountinfo");
  std::string text;
  char buffer[16384];
  while (true) {
    const ssize_t n = read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "read /proc/self/mountinfo");
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  return ParseMountInfo(text);
}

}  // namespace mqsentry::sentry
