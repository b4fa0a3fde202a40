// fs.mqueue sysctl names, ranges and write parsing (spec §9.2, ipc/mq_sysctl.c).
#include "ipc/sysctls.h"

#include <cctype>
#include <cstdint>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace mqsentry::ipc {
namespace {

namespace abi = kernel::abi;

struct Range {
  int64_t min;
  int64_t max;
};

// queues_max takes any int (proc_dointvec); the others are proc_dointvec_minmax.
Range RangeOf(MqSysctl sysctl) {
  switch (sysctl) {
    case MqSysctl::kQueuesMax:
      return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    case MqSysctl::kMsgMax:
    case MqSysctl::kMsgDefault:
      return {abi::kMinMsgMax, abi::kHardMsgMax};
    case MqSysctl::kMsgsizeMax:
    case MqSysctl::kMsgsizeDefault:
      return {abi::kMinMsgSizeMax, abi::kHardMsgSizeMax};
  }
  return {0, 0};
}

int32_t* Field(MqSysctls& s, MqSysctl sysctl) {
  switch (sysctl) {
    case MqSysctl::kQueuesMax: return &s.queues_max;
    case MqSysctl::kMsgMax: return &s.msg_max;
    case MqSysctl::kMsgsizeMax: return &s.msgsize_max;
    case MqSysctl::kMsgDefault: return &s.msg_default;
    case MqSysctl::kMsgsizeDefault: return &s.msgsize_default;
  }
  return nullptr;
}

constexpr MqSysctl kAll[] = {MqSysctl::kQueuesMax, MqSysctl::kMsgMax, MqSysctl::kMsgsizeMax,
                             MqSysctl::kMsgDefault, MqSysctl::kMsgsizeDefault};

}  // namespace

const char* SysctlName(MqSysctl sysctl) {
  switch (sysctl) {
    case MqSysctl::kQueuesMax: return "queues_max";
    case MqSysctl::kMsgMax: return "msg_max";
    case MqSysctl::kMsgsizeMax: return "msgsize_max";
    case MqSysctl::kMsgDefault: return "msg_default";
    case MqSysctl::kMsgsizeDefault: return "msgsize_default";
  }
  return "";
}

absl::StatusOr<MqSysctl> ParseSysctlName(absl::string_view name) {
  absl::ConsumePrefix(&name, "fs.mqueue.");
  for (MqSysctl s : kAll) {
    if (name == SysctlName(s)) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown mqueue sysctl '", name,
                   "' (known: queues_max, msg_max, msgsize_max, msg_default, "
                   "msgsize_default)"));
}

int32_t ReadSysctl(const MqSysctls& sysctls, MqSysctl sysctl) {
  return *Field(const_cast<MqSysctls&>(sysctls), sysctl);
}

absl::Status WriteSysctl(MqSysctls& sysctls, MqSysctl sysctl, absl::string_view text) {
  // proc_get_long(): leading blanks skipped, an optional '-', digits; the first
  // integer ends at a blank or newline and the rest is ignored.
  text = absl::StripLeadingAsciiWhitespace(text);
  size_t end = 0;
  if (end < text.size() && text[end] == '-') ++end;
  while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
  if (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) {
    return absl::InvalidArgumentError(absl::StrCat(SysctlName(sysctl), ": not a number"));
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(text.substr(0, end), &value)) {
    return absl::InvalidArgumentError(absl::StrCat(SysctlName(sysctl), ": not a number"));
  }
  const Range range = RangeOf(sysctl);
  if (value < range.min || value > range.max) {
    return absl::InvalidArgumentError(absl::StrCat(SysctlName(sysctl), "=", value,
                                                   " outside [", range.min, ", ",
                                                   range.max, "]"));
  }
  *Field(sysctls, sysctl) = static_cast<int32_t>(value);
  return absl::OkStatus();
}

absl::Status ValidateSysctls(const MqSysctls& sysctls) {
  for (MqSysctl s : kAll) {
    const int64_t v = ReadSysctl(sysctls, s);
    const Range range = RangeOf(s);
    if (v < range.min || v > range.max) {
      return absl::InvalidArgumentError(absl::StrCat(SysctlName(s), "=", v, " outside [",
                                                     range.min, ", ", range.max, "]"));
    }
  }
  return absl::OkStatus();
}

MqSysctls StaticLimits::Read() const {
  absl::MutexLock lock(&mu_);
  return sysctls_;
}

void StaticLimits::Set(MqSysctls sysctls) {
  absl::MutexLock lock(&mu_);
  sysctls_ = sysctls;
}

}  // namespace mqsentry::ipc
