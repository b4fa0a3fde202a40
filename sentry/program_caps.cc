#include "sentry/program_caps.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace mqsentry::sentry {
namespace {

// include/uapi/linux/capability.h, by number.
constexpr const char* kNames[] = {
    "CHOWN",           "DAC_OVERRIDE",    "DAC_READ_SEARCH", "FOWNER",
    "FSETID",          "KILL",            "SETGID",          "SETUID",
    "SETPCAP",         "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN",       "NET_RAW",         "IPC_LOCK",        "IPC_OWNER",
    "SYS_MODULE",      "SYS_RAWIO",       "SYS_CHROOT",      "SYS_PTRACE",
    "SYS_PACCT",       "SYS_ADMIN",       "SYS_BOOT",        "SYS_NICE",
    "SYS_RESOURCE",    "SYS_TIME",        "SYS_TTY_CONFIG",  "MKNOD",
    "LEASE",           "AUDIT_WRITE",     "AUDIT_CONTROL",   "SETFCAP",
    "MAC_OVERRIDE",    "MAC_ADMIN",       "SYSLOG",          "WAKE_ALARM",
    "BLOCK_SUSPEND",   "AUDIT_READ",      "PERFMON",         "BPF",
    "CHECKPOINT_RESTORE"};
static_assert(std::size(kNames) == static_cast<size_t>(kernel::Capability::kLast) + 1);

constexpr int kDockerDefault[] = {CAP_CHOWN,  CAP_DAC_OVERRIDE,     CAP_FSETID,     CAP_FOWNER,
                                  CAP_MKNOD,  CAP_NET_RAW,          CAP_SETGID,     CAP_SETUID,
                                  CAP_SETFCAP, CAP_SETPCAP,         CAP_NET_BIND_SERVICE,
                                  CAP_SYS_CHROOT, CAP_KILL,         CAP_AUDIT_WRITE};

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) {
    return absl::AsciiStrToUpper(n) == absl::AsciiStrToUpper(name);
  });
}

void AddBit(kernel::CapabilitySet& set, int cap) {
  set.Add(static_cast<kernel::Capability>(cap));
}

}  // namespace

kernel::CapabilitySet DockerDefaultCapabilities() {
  kernel::CapabilitySet set;
  for (int cap : kDockerDefault) AddBit(set, cap);
  return set;
}

absl::StatusOr<int> ParseCapabilityName(absl::string_view name) {
  std::string upper = absl::AsciiStrToUpper(name);
  if (upper == "ALL") return -1;
  if (absl::StartsWith(upper, "CAP_")) upper = upper.substr(4);
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (upper == kNames[i]) return static_cast<int>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown capability \"", name, "\""));
}

absl::StatusOr<kernel::CapabilitySet> ResolveCapabilities(const CapabilityFlags& flags) {
  kernel::CapabilitySet drops, adds;
  for (const std::string& n : flags.drop) {
    absl::StatusOr<int> cap = ParseCapabilityName(n);
    if (!cap.ok()) return cap.status();
    if (*cap >= 0) AddBit(drops, *cap);
  }
  for (const std::string& n : flags.add) {
    absl::StatusOr<int> cap = ParseCapabilityName(n);
    if (!cap.ok()) return cap.status();
    if (*cap >= 0) AddBit(adds, *cap);
  }
  if (flags.privileged) return kernel::CapabilitySet::Full();
  if (Contains(flags.add, "ALL")) {
    return kernel::CapabilitySet(kernel::CapabilitySet::Full().bits() & ~drops.bits());
  }
  if (Contains(flags.drop, "ALL")) return adds;
  return kernel::CapabilitySet((DockerDefaultCapabilities().bits() & ~drops.bits()) |
                               adds.bits());
}

int LastCapability() {
  int last = static_cast<int>(kernel::Capability::kLast);
  if (FILE* f = std::fopen("/proc/sys/kernel/cap_last_cap", "re")) {
    if (std::fscanf(f, "%d", &last) != 1) last = static_cast<int>(kernel::Capability::kLast);
    std::fclose(f);
  }
  return std::min(last, 63);
}

int LimitBoundingAndAmbient(kernel::CapabilitySet set, int last_cap, const char** what) {
  for (int cap = 0; cap <= last_cap; ++cap) {
    if (set.Has(static_cast<kernel::Capability>(cap))) continue;
    // Already out (a supervisor started with a reduced bounding set): nothing to drop, and
    // dropping would need CAP_SETPCAP it may not have.
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      *what = "prctl(PR_CAPBSET_DROP)";
      return errno;
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    *what = "prctl(PR_CAP_AMBIENT_CLEAR_ALL)";
    return errno;
  }
  return 0;
}

int LimitProcessCapabilities(kernel::CapabilitySet set, const char** what) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) {
    *what = "capget";
    return errno;
  }
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; ++i) {
    const uint32_t mine = static_cast<uint32_t>(set.bits() >> (32 * i));
    data[i].permitted &= mine;
    data[i].effective = data[i].permitted;
    data[i].inheritable = 0;
  }
  if (syscall(SYS_capset, &header, data) != 0) {
    *what = "capset";
    return errno;
  }
  return 0;
}

}  // namespace mqsentry::sentry
