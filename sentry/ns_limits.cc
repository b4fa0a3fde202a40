// NamespaceLimits: opening /proc/sys/fs/mqueue/* inside an IPC namespace, and reading them.
#include "sentry/ns_limits.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <array>
#include <cerrno>
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

}  // namespace

absl::StatusOr<std::unique_ptr<NamespaceLimits>> NamespaceLimits::Open(int ipc_ns_fd) {
  static_assert(std::size(kSysctls) == kCount);
  std::array<int, kCount> fds;
  fds.fill(-1);
  absl::Status status;
  // setns(CLONE_NEWIPC) changes only the calling thread's namespaces, and this thread
  // ends right after, so no other code ever runs in the sandbox's namespace.
  std::thread opener([&] {
    if (setns(ipc_ns_fd, CLONE_NEWIPC) != 0) {
      status = absl::ErrnoToStatus(errno, "setns(CLONE_NEWIPC)");
      return;
    }
    for (int i = 0; i < kCount; ++i) {
      const std::string path = absl::StrCat("/proc/sys/fs/mqueue/", ipc::SysctlName(kSysctls[i]));
      fds[i] = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fds[i] < 0) {
        status = absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
        return;
      }
    }
  });
  opener.join();
  if (!status.ok()) {
    CloseAll(fds);
    return status;
  }
  auto limits = std::unique_ptr<NamespaceLimits>(new NamespaceLimits(fds));
  {
    absl::MutexLock lock(&limits->mu_);
    for (int i = 0; i < kCount; ++i) {
      if (!ReadOne(fds[i], kSysctls[i], limits->last_good_)) {
        return absl::InternalError(absl::StrCat(
            "cannot read fs.mqueue.", ipc::SysctlName(kSysctls[i]), " of an IPC namespace"));
      }
    }
  }
  return limits;
}

NamespaceLimits::~NamespaceLimits() {
  std::array<int, kCount> fds = fds_;
  CloseAll(fds);
}

ipc::MqSysctls NamespaceLimits::Read() const {
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < kCount; ++i) {
    // A failure keeps the sysctl's last good value (see the header).
    ReadOne(fds_[i], kSysctls[i], last_good_);
  }
  return last_good_;
}

}  // namespace mqsentry::sentry
