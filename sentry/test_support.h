// Test helpers for the sandbox plumbing: forked children under a notify filter, the mq
// rules of every ABI, waiting with timeouts.
#ifndef MQSENTRY_SENTRY_TEST_SUPPORT_H_
#define MQSENTRY_SENTRY_TEST_SUPPORT_H_

#include <sys/types.h>

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "sentry/platform.h"
#include "sentry/seccomp_filter.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry::testing {

// Every mq system call of every ABI (kernel/abi.h), as the real filter traps them.
std::vector<FilterRule> AllMqRules();
// The numbers of one ABI.
std::vector<int> MqNumbers(Arch arch);

struct FilteredChild {
  pid_t pid = -1;
  UniqueFd listener;
};

// Forks a child that installs InstallNotifyFilter(rules), hands the listener to the
// parent, and _exits with body()'s value (99 if the filter could not be installed).
absl::StatusOr<FilteredChild> ForkFilteredChild(const std::vector<FilterRule>& rules,
                                                const std::function<int()>& body);

// Waits for a child: its exit code, 128+N if signal N killed it, -1 on timeout (then the
// child is killed and reaped).
int WaitForExit(pid_t pid, int timeout_ms = 30000);

// Polls the platform for up to timeout_ms and receives one call; an error on timeout.
absl::StatusOr<TrappedCall> ReceiveWithin(Platform& platform, int timeout_ms = 10000);

}  // namespace mqsentry::sentry::testing

#endif  // MQSENTRY_SENTRY_TEST_SUPPORT_H_
