// The five fs.mqueue sysctls of one IPC namespace (spec §9.2): values, the kernel's write
// validation, and LimitsSource, through which a namespace reads its current limits (the
// sentry implements it by reading /proc/sys/fs/mqueue inside the sandbox's namespace).
#ifndef MQSENTRY_IPC_SYSCTLS_H_
#define MQSENTRY_IPC_SYSCTLS_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kernel/abi.h"

namespace mqsentry::ipc {

struct MqSysctls {
  int32_t queues_max = kernel::abi::kDefaultQueuesMax;  // compared unsigned: -1 = no limit
  int32_t msg_max = kernel::abi::kDefaultMsgMax;
  int32_t msgsize_max = kernel::abi::kDefaultMsgSizeMax;
  int32_t msg_default = kernel::abi::kDefaultMsgDefault;
  int32_t msgsize_default = kernel::abi::kDefaultMsgSizeDefault;
  friend bool operator==(const MqSysctls&, const MqSysctls&) = default;
};

enum class MqSysctl { kQueuesMax, kMsgMax, kMsgsizeMax, kMsgDefault, kMsgsizeDefault };

// "queues_max" or "fs.mqueue.queues_max" -> kQueuesMax; unknown names are an error.
absl::StatusOr<MqSysctl> ParseSysctlName(absl::string_view name);
const char* SysctlName(MqSysctl sysctl);  // "msg_max"

// A write of `text` to the sysctl file, as proc_dointvec_minmax does it: only the first
// integer is parsed ("12 13" sets 12); non-numeric text or a value outside the sysctl's
// range is EINVAL (returned as an InvalidArgument status naming the range).
absl::Status WriteSysctl(MqSysctls& sysctls, MqSysctl sysctl, absl::string_view text);
int32_t ReadSysctl(const MqSysctls& sysctls, MqSysctl sysctl);
// Checks every value is in its range (for restored or configured values).
absl::Status ValidateSysctls(const MqSysctls& sysctls);

// Where a namespace's limits come from. Read() is called on every mq_open that needs them,
// so a program that tunes /proc/sys/fs/mqueue sees the change at once.
class LimitsSource {
 public:
  virtual ~LimitsSource() = default;
  virtual MqSysctls Read() const = 0;
};

// Limits held in memory (tests, restored namespaces, and the model demo).
class StaticLimits : public LimitsSource {
 public:
  explicit StaticLimits(MqSysctls sysctls = {}) : sysctls_(sysctls) {}
  MqSysctls Read() const override;
  void Set(MqSysctls sysctls);

 private:
  mutable absl::Mutex mu_;
  MqSysctls sysctls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mqsentry::ipc

#endif  // MQSENTRY_IPC_SYSCTLS_H_
