// NamespaceLimits: the ipc::LimitsSource of one host IPC namespace — its five
// fs.mqueue sysctls read live from /proc/sys/fs/mqueue as that namespace sees them.
//
// Since Linux 5.19 the mqueue sysctls are a per-IPC-namespace ctl table, and which
// namespace's table a /proc/sys file refers to is decided when it is opened (by the
// opener's IPC namespace). So the files are opened once, from a short-lived thread that
// has joined the namespace with setns(CLONE_NEWIPC), and pread() on every Read(): a value
// written later by the sandboxed program or by `mqsentry run --sysctl` is seen at once.
#ifndef MQSENTRY_SENTRY_NS_LIMITS_H_
#define MQSENTRY_SENTRY_NS_LIMITS_H_

#include <array>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ipc/sysctls.h"

namespace mqsentry::sentry {

class NamespaceLimits : public ipc::LimitsSource {
 public:
  // Opens the five files inside the IPC namespace `ipc_ns_fd` (an nsfs descriptor, for
  // example of /proc/<pid>/ns/ipc; not owned, may be closed afterwards). Needs
  // CAP_SYS_ADMIN over the namespace (setns(2)).
  static absl::StatusOr<std::unique_ptr<NamespaceLimits>> Open(int ipc_ns_fd);
  ~NamespaceLimits() override;
  NamespaceLimits(const NamespaceLimits&) = delete;
  NamespaceLimits& operator=(const NamespaceLimits&) = delete;

  // The current values. LimitsSource::Read() cannot fail, so if a file cannot be read or
  // parsed, that sysctl keeps its last good value (Open() itself fails unless it could
  // read all five, so there always is one). The files fail (ENOENT) only once the
  // namespace is gone, which cannot happen while the registry holds it open.
  // Thread-safe; one pread per sysctl, no allocation.
  ipc::MqSysctls Read() const override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  static constexpr int kCount = 5;  // ipc::MqSysctl values, in enum order
  explicit NamespaceLimits(std::array<int, kCount> fds) : fds_(fds) {}

  const std::array<int, kCount> fds_;
  mutable absl::Mutex mu_;
  mutable ipc::MqSysctls last_good_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_NS_LIMITS_H_
