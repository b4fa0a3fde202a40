// Transcript lines and descriptor choice for one fuzzer run (see context.h).
#include "test/fuzz/context.h"

#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "absl/strings/str_format.h"

namespace mqsentry::fuzz {

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? std::string(name) : absl::StrCat("errno", err);
}

void Context::Begin(std::string_view call) {
  signals_.clear();
  arena.Reset();
  arena.Snapshot();  // again in Call(), after the inputs are written
  call_ = std::string(call);
  args_.clear();
  out_text_.clear();
  ret_ = 0;
  errno_ = 0;
}

long Context::Syscall(long nr, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e) {
  return Call([&] { return syscall(nr, a, b, c, d, e); });
}

void Context::End() {
  std::string result = ret_ < 0 ? absl::StrCat("-1 ", ErrnoName(errno_))
                                : absl::StrCat(ret_);
  CollectSignals();
  absl::FPrintF(out_, "%05d %s(%s) = %s | %s | w: %s%s\n", step_++, call_, args_, result,
                out_text_.empty() ? "-" : out_text_, arena.Writes(), signals_);
  signals_.clear();
}

void Context::CollectSignals() {
  // Every catchable signal is blocked: a notification fires inside the send that fires
  // it (spec §6.3), so it is pending when that send returns.
  sigset_t all;
  sigfillset(&all);
  const struct timespec zero = {0, 0};
  siginfo_t si;
  while (sigtimedwait(&all, &si, &zero) > 0) {
    const std::string pid = si.si_pid == self ? "self" : absl::StrCat(si.si_pid);
    absl::StrAppendFormat(&signals_, " sig=%d/code=%d/errno=%d/pid=%s/uid=%s/value=%#x",
                          si.si_signo, si.si_code, si.si_errno, pid, UidText(si.si_uid),
                          reinterpret_cast<uint64_t>(si.si_value.sival_ptr));
  }
}

std::string Context::UidText(uint32_t uid) const {
  return uid == getuid() ? "<uid>" : absl::StrCat(uid);
}

std::string Context::GidText(uint32_t gid) const {
  return gid == getgid() ? "<gid>" : absl::StrCat(gid);
}

bool Context::IsMq(int fd) const {
  return std::find(mq_fds.begin(), mq_fds.end(), fd) != mq_fds.end();
}

void Context::Remember(int fd) {
  if (!IsMq(fd)) mq_fds.push_back(fd);
  closed_fds.erase(std::remove(closed_fds.begin(), closed_fds.end(), fd), closed_fds.end());
}

void Context::Forget(int fd) {
  mq_fds.erase(std::remove(mq_fds.begin(), mq_fds.end(), fd), mq_fds.end());
  if (std::find(closed_fds.begin(), closed_fds.end(), fd) == closed_fds.end()) {
    closed_fds.push_back(fd);
  }
}

uint64_t Context::PickFd(std::string* label, unsigned mq_percent) {
  int fd;
  if (rng.Below(100) < mq_percent && !mq_fds.empty()) {
    fd = mq_fds[rng.Below(mq_fds.size())];
    *label = absl::StrCat(fd);
    return static_cast<uint64_t>(fd);
  }
  // The rest: closed 8, not mq 12, out of range 5, upper half set 5 (in 30).
  const unsigned r = rng.Below(30);
  if (r < 8 && !closed_fds.empty()) {
    fd = closed_fds[rng.Below(closed_fds.size())];
    *label = absl::StrCat(fd, "(closed)");
  } else if (r < 20) {
    fd = rng.Pick({fixed.netlink, fixed.unix_dgram, fixed.dev_null, fixed.pipe_read,
                   fixed.path_root});
    *label = absl::StrCat(fd, "(not mq)");
  } else if (r < 25) {
    const int v = rng.Pick({-1, INT_MAX, 999, INT_MIN});
    *label = absl::StrCat(v);
    return static_cast<uint64_t>(static_cast<int64_t>(v));
  } else {
    // mqd_t is an int: the kernel ignores the upper half of the register.
    fd = mq_fds.empty() ? 999 : mq_fds[rng.Below(mq_fds.size())];
    *label = absl::StrFormat("%#x", (uint64_t{1} << 32) | static_cast<uint32_t>(fd));
    return (uint64_t{1} << 32) | static_cast<uint32_t>(fd);
  }
  return static_cast<uint64_t>(fd);
}

std::string Context::Normalize(std::string_view text) const {
  std::string s(text);
  // NOTIFY_PID is printed "%-6d": replace our own pid with a fixed token, padding included.
  const std::string mine = absl::StrFormat("NOTIFY_PID:%-6d", self);
  for (size_t at = s.find(mine); at != std::string::npos; at = s.find(mine, at)) {
    s.replace(at, mine.size(), "NOTIFY_PID:<self>");
  }
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    }
  }
  return out;
}

}  // namespace mqsentry::fuzz
