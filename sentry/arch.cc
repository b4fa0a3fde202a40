// Arch names and the (audit arch, number) -> ABI mapping of seccomp notifications.
#include "sentry/arch.h"

#include <linux/audit.h>

namespace mqsentry::sentry {

const char* ArchName(Arch arch) {
  switch (arch) {
    case Arch::kX86_64:
      return "x86_64";
    case Arch::kI386:
      return "i386";
    case Arch::kX32:
      return "x32";
  }
  return "unknown";
}

std::optional<Arch> ArchFromSeccompData(uint32_t audit_arch, int nr) {
  switch (audit_arch) {
    case AUDIT_ARCH_X86_64:
      return (nr & kX32SyscallBit) != 0 ? Arch::kX32 : Arch::kX86_64;
    case AUDIT_ARCH_I386:
      return Arch::kI386;
    default:
      return std::nullopt;
  }
}

}  // namespace mqsentry::sentry
