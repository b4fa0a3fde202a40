// The sandbox's seccomp filter: every rule's (ABI, number) returns SECCOMP_RET_USER_NOTIF,
// everything else is allowed.
#ifndef MQSENTRY_SENTRY_SECCOMP_FILTER_H_
#define MQSENTRY_SENTRY_SECCOMP_FILTER_H_

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sentry/arch.h"

namespace mqsentry::sentry {

// A condition on one argument of a trapped call: (args[arg] & mask) == value.
struct ArgCondition {
  int arg = 0;  // 0..5
  uint64_t mask = ~uint64_t{0};
  uint64_t value = 0;
};

struct FilterRule {
  Arch arch;
  int nr;  // as the ABI numbers it (x32 numbers include kX32SyscallBit)
  // All must hold for the call to be trapped; none: always. Rules for one number are
  // alternatives (an unconditional one wins).
  std::vector<ArgCondition> when = {};
};

// In the calling thread only (no TSYNC): PR_SET_NO_NEW_PRIVS, then a filter whose default
// action is ALLOW, covering the x86-64, i386 and x32 ABIs, with SCMP_ACT_NOTIFY for every
// rule, loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER. Returns the listener fd
// (close-on-exec), owned by the caller. At least one rule is required (a filter without
// USER_NOTIF rules has no listener). Duplicate rules are harmless.
absl::StatusOr<int> InstallNotifyFilter(const std::vector<FilterRule>& rules);

// The classic BPF program (over struct seccomp_data) that InstallNotifyFilter loads.
absl::StatusOr<std::vector<sock_filter>> BuildNotifyFilter(const std::vector<FilterRule>& rules);

// The same program in libseccomp's pseudo-filter-code text form (for tests and debugging).
absl::StatusOr<std::string> DescribeNotifyFilter(const std::vector<FilterRule>& rules);

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_SECCOMP_FILTER_H_
