// SeccompPlatform: the Platform over a seccomp user-notification listener (kernel >= 5.14
// for SECCOMP_ADDFD_FLAG_SEND). Thread-safe: every method may be called from any thread.
#ifndef MQSENTRY_SENTRY_SECCOMP_PLATFORM_H_
#define MQSENTRY_SENTRY_SECCOMP_PLATFORM_H_

#include <linux/seccomp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kernel/syscall_result.h"
#include "sentry/platform.h"
#include "sentry/tracee_memory.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {

class SeccompPlatform final : public Platform {
 public:
  // Takes ownership of listener_fd (also on failure). Sets SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
  // where the kernel has it (6.6+).
  static absl::StatusOr<std::unique_ptr<SeccompPlatform>> Create(int listener_fd);

  int poll_fd() const override { return listener_.get(); }
  absl::StatusOr<std::optional<TrappedCall>> Receive() override;
  bool StillValid(uint64_t id) override;
  absl::StatusOr<bool> Answer(const TrappedCall& call, kernel::SyscallResult result) override;
  absl::StatusOr<bool> Continue(const TrappedCall& call) override;
  absl::StatusOr<std::optional<kernel::SyscallResult>> AnswerWithNewFd(const TrappedCall& call,
                                                                       int fd,
                                                                       bool cloexec) override;
  absl::StatusOr<std::optional<int>> InstallFdAt(const TrappedCall& call, int fd,
                                                 int target_fd, bool cloexec) override;
  int GetFd(int32_t tid, int target_fd) override;
  TraceeMemory& memory() override { return memory_; }

  // Whether the kernel accepted SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP.
  bool sync_wake_up() const { return sync_wake_up_; }

 private:
  SeccompPlatform(UniqueFd listener, seccomp_notif_sizes sizes, bool sync_wake_up);
  absl::StatusOr<bool> Send(uint64_t id, int64_t val, int32_t error, uint32_t flags);
  // A pidfd whose fd table is thread tid's: a thread pidfd (PIDFD_THREAD, 6.9+), else the
  // pidfd of tid's thread group. -1 with errno on failure. *names_tid: the pidfd pins
  // tid's own struct pid (false when it had to be found through /proc/<tid>/status).
  int OpenPidfd(int32_t tid, bool* names_tid);

  const UniqueFd listener_;
  const seccomp_notif_sizes sizes_;
  const bool sync_wake_up_;
  ProcTraceeMemory memory_{[this](uint64_t id) { return StillValid(id); }};
  std::atomic<bool> thread_pidfds_{true};

  // pidfds by host tid, so that the hot path needs one pidfd_getfd. A pidfd pins its
  // struct pid, not the number: once the thread it named is gone, pidfd_getfd fails with
  // ESRCH, and the entry is replaced. A reused tid can therefore never be served by an old
  // entry.
  absl::Mutex pidfd_mu_;
  std::unordered_map<int32_t, UniqueFd> pidfds_ ABSL_GUARDED_BY(pidfd_mu_);
};

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_SECCOMP_PLATFORM_H_
