#include "sentry/tty_guard.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <iterator>

#include "sentry/arch.h"

namespace mqsentry::sentry {
namespace {

constexpr uint32_t kIoctlX86_64 = 16;
constexpr uint32_t kIoctlI386 = 54;
constexpr uint32_t kIoctlX32 = kX32SyscallBit | 514;
// The kernel takes ioctl's command as an unsigned int: only the low 32 bits of the
// argument count (seccomp_data is little-endian here).
constexpr uint32_t kCmdLow = offsetof(seccomp_data, args) + sizeof(uint64_t) * 1;

}  // namespace

int InstallTtyInjectionGuard() {
  static const sock_filter kProgram[] = {
      /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 4),
      /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kIoctlX86_64, 5, 0),
      /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kIoctlX32, 4, 0),
      /* 5 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 0, 5),
      /* 7 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kIoctlI386, 0, 3),
      /* 9 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kCmdLow),
      /* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 2, 0),
      /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, 1, 0),
      /* 12 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      /* 13 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
  };
  const sock_fprog prog = {static_cast<unsigned short>(std::size(kProgram)),
                           const_cast<sock_filter*>(kProgram)};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return errno;
  return 0;
}

}  // namespace mqsentry::sentry
