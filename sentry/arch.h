// Arch: the three x86 system-call ABIs a sandboxed program can use, and how a seccomp
// notification's (audit arch, number) pair tells them apart.
#ifndef MQSENTRY_SENTRY_ARCH_H_
#define MQSENTRY_SENTRY_ARCH_H_

#include <cstdint>
#include <optional>

namespace mqsentry::sentry {

enum class Arch { kX86_64, kI386, kX32 };

// "x86_64", "i386", "x32".
const char* ArchName(Arch arch);

// x32 calls enter through the x86-64 entry point with this bit set in the number
// (__X32_SYSCALL_BIT); seccomp reports them with AUDIT_ARCH_X86_64.
inline constexpr int kX32SyscallBit = 0x40000000;

// The ABI of a call as seccomp_data reports it (audit arch + number as the ABI numbers
// it), or nullopt for an audit arch that is none of the three.
std::optional<Arch> ArchFromSeccompData(uint32_t audit_arch, int nr);

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_ARCH_H_
