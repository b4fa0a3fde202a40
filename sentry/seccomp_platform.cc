// SECCOMP_IOCTL_NOTIF_* on the listener, pidfd_getfd for the callers' descriptors.
#include "sentry/seccomp_platform.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/errno_status.h"

// Newer than Debian 12's <linux/seccomp.h> (kernel 6.6).
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
// pidfd_open(2) flag for a pidfd naming one thread (kernel 6.9).
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

namespace mqsentry::sentry {
namespace {

using kernel::SyscallResult;

// The kernel's seccomp_notif/seccomp_notif_resp may grow; buffers are sized from
// SECCOMP_GET_NOTIF_SIZES and must fit these.
constexpr size_t kMaxStructSize = 512;

using base::Errno;

// The thread group of `tid`, from /proc/<tid>/status ("Tgid:\t123"). -1 if gone.
pid_t ReadTgid(int32_t tid) {
  const std::string path = absl::StrCat("/proc/", tid, "/status");
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) return -1;
  char line[256];
  pid_t tgid = -1;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    absl::string_view l(line);
    if (l.substr(0, 5) == "Tgid:") {
      l.remove_prefix(5);
      while (!l.empty() && (l.front() == '\t' || l.front() == ' ')) l.remove_prefix(1);
      while (!l.empty() && (l.back() == '\n')) l.remove_suffix(1);
      int v;
      if (absl::SimpleAtoi(l, &v)) tgid = v;
      break;
    }
  }
  std::fclose(f);
  return tgid;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Platform>> CreateSeccompPlatform(int listener_fd) {
  absl::StatusOr<std::unique_ptr<SeccompPlatform>> p = SeccompPlatform::Create(listener_fd);
  if (!p.ok()) return p.status();
  return std::unique_ptr<Platform>(std::move(*p));
}

absl::StatusOr<std::unique_ptr<SeccompPlatform>> SeccompPlatform::Create(int listener_fd) {
  UniqueFd listener(listener_fd);
  // Only a listener answers ID_VALID for a never-issued id with ENOENT.
  uint64_t no_such_id = 0;
  if (listener_fd < 0 ||
      ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &no_such_id) == 0 || errno != ENOENT) {
    return absl::InvalidArgumentError(
        absl::StrCat("fd ", listener_fd, " is not a seccomp listener: ", std::strerror(errno)));
  }
  seccomp_notif_sizes sizes{};
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
    return Errno("seccomp(SECCOMP_GET_NOTIF_SIZES)");
  }
  if (sizes.seccomp_notif < sizeof(seccomp_notif) ||
      sizes.seccomp_notif_resp < sizeof(seccomp_notif_resp) ||
      sizes.seccomp_notif > kMaxStructSize || sizes.seccomp_notif_resp > kMaxStructSize) {
    return absl::InternalError(absl::StrCat("unexpected seccomp notification sizes ",
                                            sizes.seccomp_notif, "/", sizes.seccomp_notif_resp));
  }
  // The flag is passed by value, not through a pointer. With it, answering wakes the
  // caller on the answering CPU, which halves the round trip of a trapped call.
  bool sync = true;
  if (ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            static_cast<unsigned long>(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)) != 0) {
    if (errno != EINVAL && errno != ENOTTY) {
      return Errno("ioctl(SECCOMP_IOCTL_NOTIF_SET_FLAGS)");
    }
    sync = false;  // kernel older than 6.6
  }
  return std::unique_ptr<SeccompPlatform>(new SeccompPlatform(std::move(listener), sizes, sync));
}

SeccompPlatform::SeccompPlatform(UniqueFd listener, seccomp_notif_sizes sizes, bool sync_wake_up)
    : listener_(std::move(listener)), sizes_(sizes), sync_wake_up_(sync_wake_up) {}

absl::StatusOr<std::optional<TrappedCall>> SeccompPlatform::Receive() {
  alignas(seccomp_notif) unsigned char buffer[kMaxStructSize];
  // The kernel insists on a zeroed buffer.
  std::memset(buffer, 0, sizes_.seccomp_notif);
  if (ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_RECV, buffer) != 0) {
    // ENOENT: the caller was interrupted or killed between poll and here.
    if (errno == ENOENT || errno == EINTR) return std::nullopt;
    return Errno("ioctl(SECCOMP_IOCTL_NOTIF_RECV)");
  }
  seccomp_notif n;
  std::memcpy(&n, buffer, sizeof(n));
  std::optional<Arch> arch = ArchFromSeccompData(n.data.arch, n.data.nr);
  if (!arch.has_value()) {
    return absl::InternalError(absl::StrCat("trapped call with unknown audit arch 0x",
                                            absl::Hex(n.data.arch), " nr ", n.data.nr));
  }
  TrappedCall call{};
  call.id = n.id;
  call.tid = static_cast<int32_t>(n.pid);
  call.arch = *arch;
  call.nr = n.data.nr;
  for (int i = 0; i < 6; ++i) {
    // The ia32 entry hands compat system calls the low 32 bits of each register.
    call.args[i] = *arch == Arch::kI386 ? static_cast<uint32_t>(n.data.args[i]) : n.data.args[i];
  }
  call.instruction_pointer = n.data.instruction_pointer;
  return call;
}

bool SeccompPlatform::StillValid(uint64_t id) {
  return ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

absl::StatusOr<bool> SeccompPlatform::Send(uint64_t id, int64_t val, int32_t error,
                                           uint32_t flags) {
  alignas(seccomp_notif_resp) unsigned char buffer[kMaxStructSize];
  std::memset(buffer, 0, sizes_.seccomp_notif_resp);
  seccomp_notif_resp resp{};
  resp.id = id;
  resp.val = val;
  resp.error = error;
  resp.flags = flags;
  std::memcpy(buffer, &resp, sizeof(resp));
  if (ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_SEND, buffer) != 0) {
    if (errno == ENOENT) return false;  // interrupted, or the caller is gone
    return Errno("ioctl(SECCOMP_IOCTL_NOTIF_SEND)");
  }
  return true;
}

absl::StatusOr<bool> SeccompPlatform::Answer(const TrappedCall& call, SyscallResult result) {
  // seccomp_notif_resp: error is a negative errno (val ignored), else val is returned.
  if (!result.ok()) return Send(call.id, 0, -result.error(), 0);
  return Send(call.id, result.value(), 0, 0);
}

absl::StatusOr<bool> SeccompPlatform::Continue(const TrappedCall& call) {
  return Send(call.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
}

absl::StatusOr<std::optional<SyscallResult>> SeccompPlatform::AnswerWithNewFd(
    const TrappedCall& call, int fd, bool cloexec) {
  seccomp_notif_addfd addfd{};
  addfd.id = call.id;
  addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
  addfd.srcfd = static_cast<uint32_t>(fd);
  addfd.newfd = 0;
  addfd.newfd_flags = cloexec ? O_CLOEXEC : 0;
  const int installed = ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
  if (installed >= 0) return SyscallResult::Value(installed);
  const int e = errno;
  switch (e) {
    case ENOENT:  // no such notification: interrupted or gone before we came
    case ESRCH:   // the caller was interrupted or killed while the request was queued
      return std::nullopt;
    case EINVAL:       // bad flags, or a kernel without ADDFD_FLAG_SEND (< 5.14)
    case EBADF:        // `fd` is not open in the supervisor
    case EBUSY:        // another ADDFD is queued for this call
    case EINPROGRESS:  // the call was never received, or already answered
    case EFAULT:
    case EINTR:  // the supervisor got a signal while waiting: the call's state is unknown
    case ENOTTY:
      return absl::ErrnoToStatus(e, "ioctl(SECCOMP_IOCTL_NOTIF_ADDFD)");
    default:
      break;
  }
  // The caller failed to take the descriptor (EMFILE past its RLIMIT_NOFILE, or an LSM's
  // refusal). The kernel put the call back to "received, unanswered"
  // (seccomp_handle_addfd); what the caller sees is that errno, as from an open(2).
  absl::StatusOr<bool> sent = Answer(call, SyscallResult::Error(e));
  if (!sent.ok()) return sent.status();
  if (!*sent) return std::nullopt;
  return SyscallResult::Error(e);
}

absl::StatusOr<std::optional<int>> SeccompPlatform::InstallFdAt(const TrappedCall& call,
                                                                int fd, int target_fd,
                                                                bool cloexec) {
  seccomp_notif_addfd addfd{};
  addfd.id = call.id;
  addfd.flags = SECCOMP_ADDFD_FLAG_SETFD;
  addfd.srcfd = static_cast<uint32_t>(fd);
  addfd.newfd = static_cast<uint32_t>(target_fd);
  addfd.newfd_flags = cloexec ? O_CLOEXEC : 0;
  if (ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) >= 0) return 0;
  const int e = errno;
  switch (e) {
    case ENOENT:  // interrupted or gone
    case ESRCH:
      return std::nullopt;
    case EBUSY:  // the caller's own fd table: a slot being installed (replace_fd())
    case EMFILE:
    case ENOMEM:
      return e;
    default:
      return absl::ErrnoToStatus(e, "ioctl(SECCOMP_IOCTL_NOTIF_ADDFD, SETFD)");
  }
}

int SeccompPlatform::OpenPidfd(int32_t tid, bool* names_tid) {
  *names_tid = true;
  if (thread_pidfds_.load(std::memory_order_relaxed)) {
    const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, tid, PIDFD_THREAD));
    if (pidfd >= 0 || errno != EINVAL) return pidfd;
    thread_pidfds_.store(false, std::memory_order_relaxed);  // kernel older than 6.9
  }
  // Without thread pidfds: the thread group's (which shares the fd table unless the
  // thread unshared CLONE_FILES).
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, tid, 0));
  if (pidfd >= 0 || errno != EINVAL) return pidfd;  // EINVAL: tid is not a leader
  *names_tid = false;
  const pid_t tgid = ReadTgid(tid);
  if (tgid < 0) {
    errno = ESRCH;
    return -1;
  }
  return static_cast<int>(syscall(SYS_pidfd_open, tgid, 0));
}

int SeccompPlatform::GetFd(int32_t tid, int target_fd) {
  constexpr size_t kMaxCachedPidfds = 1024;
  absl::MutexLock lock(&pidfd_mu_);
  if (auto it = pidfds_.find(tid); it != pidfds_.end()) {
    const int fd = static_cast<int>(syscall(SYS_pidfd_getfd, it->second.get(), target_fd, 0));
    if (fd >= 0 || errno != ESRCH) return fd;
    pidfds_.erase(it);  // that thread is gone; tid may name a new one now
  }
  bool names_tid;
  UniqueFd pidfd(OpenPidfd(tid, &names_tid));
  if (!pidfd.valid()) return -1;  // ESRCH: no such thread
  const int fd = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), target_fd, 0));
  const int saved_errno = errno;
  // Only a pidfd of tid's own struct pid turns stale (ESRCH) when tid goes away; a
  // thread group's pidfd found through /proc would outlive it.
  if (names_tid) {
    if (pidfds_.size() >= kMaxCachedPidfds) pidfds_.clear();
    pidfds_.emplace(tid, std::move(pidfd));
  } else {
    pidfd.reset();
  }
  errno = saved_errno;
  return fd;
}

}  // namespace mqsentry::sentry
