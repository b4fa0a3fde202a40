// NamespaceLimits: the ipc::LimitsSource of one host IPC namespace — its five
// fs.mqueue sysctls read live from /proc/sys/fs/mqueue as that namespace sees them.
//
// Since Linux 5.19 the mqueue sysctls are a per-IPC-namespace ctl table, and which
// namespace's table a /proc/sys file refers to is decided when it is opened (by the
// opener's IPC namespace). So the files are opened from a short-lived thread that has
// joined the namespace with setns(CLONE_NEWIPC), and pread() on every Read(): a value
// written later by the sandboxed program or by `mqsentry run --sysctl` is seen at once.
//
// What a namespace costs the supervisor: one descriptor, the namespace's own (held so that
// its files can be opened again). The five files are kept open for the few namespaces
// read most recently (kOpenFileSets, process-wide), and opened again on a later Read()
// once evicted, so a program that makes thousands of IPC namespaces cannot multiply them.
#ifndef MQSENTRY_SENTRY_NS_LIMITS_H_
#define MQSENTRY_SENTRY_NS_LIMITS_H_

#include <array>
#include <cstddef>
#include <list>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ipc/sysctls.h"

namespace mqsentry::sentry {

class NamespaceLimits : public ipc::LimitsSource {
 public:
  // Namespaces whose five files stay open at once, across all instances.
  static constexpr size_t kOpenFileSets = 16;

  // For the IPC namespace `ipc_ns_fd` (an nsfs descriptor, for example of
  // /proc/<pid>/ns/ipc; not owned, may be closed afterwards: a duplicate is held). Reads
  // the five values once, which needs CAP_SYS_ADMIN over the namespace (setns(2)).
  static absl::StatusOr<std::unique_ptr<NamespaceLimits>> Open(int ipc_ns_fd);
  ~NamespaceLimits() override;
  NamespaceLimits(const NamespaceLimits&) = delete;
  NamespaceLimits& operator=(const NamespaceLimits&) = delete;

  // The current values. LimitsSource::Read() cannot fail, so if a file cannot be opened,
  // read or parsed, that sysctl keeps its last good value (Open() itself fails unless it
  // could read all five, so there always is one). The files fail (ENOENT) only once the
  // namespace is gone, or after Release(). Thread-safe; no allocation when the files are
  // open.
  ipc::MqSysctls Read() const override ABSL_LOCKS_EXCLUDED(files_mu_);

  // The namespace's state has been released (it died): closes every descriptor held for
  // it. Read() keeps answering the last values.
  void Release() ABSL_LOCKS_EXCLUDED(files_mu_);

  // Descriptors currently held for sysctl files, by all instances (for tests).
  static size_t OpenFileSetsForTest() ABSL_LOCKS_EXCLUDED(files_mu_);

 private:
  static constexpr int kCount = 5;  // ipc::MqSysctl values, in enum order
  explicit NamespaceLimits(int ns_fd);
  // Opens the five files in the namespace, evicting the least recently read set first.
  bool OpenFilesLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(files_mu_);
  void CloseFilesLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(files_mu_);

  // One lock for every instance: it also guards the process-wide set of open files.
  ABSL_CONST_INIT static absl::Mutex files_mu_;
  static std::list<const NamespaceLimits*> open_lru_ ABSL_GUARDED_BY(files_mu_);

  mutable int ns_fd_ ABSL_GUARDED_BY(files_mu_);
  mutable std::array<int, kCount> fds_ ABSL_GUARDED_BY(files_mu_);
  mutable bool files_open_ ABSL_GUARDED_BY(files_mu_) = false;
  mutable std::list<const NamespaceLimits*>::iterator lru_pos_ ABSL_GUARDED_BY(files_mu_);
  mutable ipc::MqSysctls last_good_ ABSL_GUARDED_BY(files_mu_);
};

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_NS_LIMITS_H_
