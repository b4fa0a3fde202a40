// NamespaceLimits: opening /proc/sys/fs/mqueue/* inside an IPC namespace, and reading them.
#include "sentry/ns_limits.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <list>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "ipc/sysctls.h"

namespace mqsentry::sentry {
namespace {

constexpr ipc::MqSysctl kSysctls[] = {ipc::MqSysctl::kQueuesMax, ipc::MqSysctl::kMsgMax,
                                      ipc::MqSysctl::kMsgsizeMax, ipc::MqSysctl::kMsgDefault,
                                      ipc::MqSysctl::kMsgsizeDefault};

void CloseAll(std::array<int, 5>& fds) {
  for (int& fd : fds) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

// Parses what one file holds into `sysctls` ("10\n"), with the kernel's own write
// parser and range check; false leaves `sysctls` untouched.
bool ReadOne(int fd, ipc::MqSysctl sysctl, ipc::MqSysctls& sysctls) {
  char buf[32];
  ssize_t n;
  do {
    n = pread(fd, buf, sizeof(buf), 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0 || static_cast<size_t>(n) == sizeof(buf)) return false;
  ipc::MqSysctls next = sysctls;
  if (!ipc::WriteSysctl(next, sysctl, absl::string_view(buf, static_cast<size_t>(n))).ok()) {
    return false;
  }
  sysctls = next;
  return true;
}

// The five files as the IPC namespace `ns_fd` sees them.
absl::Status OpenIn(int ns_fd, std::array<int, 5>& fds) {
  absl::Status status;
  // setns(CLONE_NEWIPC) changes only the calling thread's namespaces, and this thread
  // ends right after, so no other code ever runs in the sandbox's namespace.
  std::thread opener([&] {
    if (setns(ns_fd, CLONE_NEWIPC) != 0) {
      status = absl::ErrnoToStatus(errno, "setns(CLONE_NEWIPC)");
      return;
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      const std::string path = absl::StrCat("/proc/sys/fs/mqueue/", ipc::SysctlName(kSysctls[i]));
      fds[i] = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fds[i] < 0) {
        status = absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
        return;
      }
    }
  });
  opener.join();
  if (!status.ok()) CloseAll(fds);
  return status;
}

}  // namespace

ABSL_CONST_INIT absl::Mutex NamespaceLimits::files_mu_(absl::kConstInit);
std::list<const NamespaceLimits*> NamespaceLimits::open_lru_;

NamespaceLimits::NamespaceLimits(int ns_fd) : ns_fd_(ns_fd) { fds_.fill(-1); }

absl::StatusOr<std::unique_ptr<NamespaceLimits>> NamespaceLimits::Open(int ipc_ns_fd) {
  static_assert(std::size(kSysctls) == kCount);
  const int held = ipc_ns_fd < 0 ? -1 : fcntl(ipc_ns_fd, F_DUPFD_CLOEXEC, 0);
  if (held < 0) return absl::ErrnoToStatus(ipc_ns_fd < 0 ? EBADF : errno, "dup IPC namespace");
  auto limits = std::unique_ptr<NamespaceLimits>(new NamespaceLimits(held));
  absl::MutexLock lock(&files_mu_);
  std::array<int, kCount> fds;
  fds.fill(-1);
  if (absl::Status s = OpenIn(held, fds); !s.ok()) return s;
  for (int i = 0; i < kCount; ++i) {
    if (!ReadOne(fds[i], kSysctls[i], limits->last_good_)) {
      CloseAll(fds);
      return absl::InternalError(absl::StrCat(
          "cannot read fs.mqueue.", ipc::SysctlName(kSysctls[i]), " of an IPC namespace"));
    }
  }
  // Kept open: the namespace's first calls come next.
  limits->fds_ = fds;
  limits->files_open_ = true;
  open_lru_.push_front(limits.get());
  limits->lru_pos_ = open_lru_.begin();
  while (open_lru_.size() > kOpenFileSets) open_lru_.back()->CloseFilesLocked();
  return limits;
}

NamespaceLimits::~NamespaceLimits() { Release(); }

void NamespaceLimits::Release() {
  absl::MutexLock lock(&files_mu_);
  CloseFilesLocked();
  if (ns_fd_ >= 0) close(ns_fd_);
  ns_fd_ = -1;
}

void NamespaceLimits::CloseFilesLocked() const {
  if (!files_open_) return;
  CloseAll(fds_);
  files_open_ = false;
  open_lru_.erase(lru_pos_);
}

bool NamespaceLimits::OpenFilesLocked() const {
  if (ns_fd_ < 0) return false;
  while (open_lru_.size() >= kOpenFileSets) open_lru_.back()->CloseFilesLocked();
  std::array<int, kCount> fds;
  fds.fill(-1);
  if (!OpenIn(ns_fd_, fds).ok()) return false;
  fds_ = fds;
  files_open_ = true;
  open_lru_.push_front(this);
  lru_pos_ = open_lru_.begin();
  return true;
}

ipc::MqSysctls NamespaceLimits::Read() const {
  absl::MutexLock lock(&files_mu_);
  if (files_open_) {
    open_lru_.splice(open_lru_.begin(), open_lru_, lru_pos_);  // most recently read
  } else if (!OpenFilesLocked()) {
    return last_good_;
  }
  for (int i = 0; i < kCount; ++i) {
    // A failure keeps the sysctl's last good value (see the header).
    ReadOne(fds_[i], kSysctls[i], last_good_);
  }
  return last_good_;
}

size_t NamespaceLimits::OpenFileSetsForTest() {
  absl::MutexLock lock(&files_mu_);
  return open_lru_.size();
}

}  // namespace mqsentry::sentry
