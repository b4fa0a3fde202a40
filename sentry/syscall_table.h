// The one declarative table of the system calls mqsentry traps: their number on every
// ABI, how to decode their arguments, and which handler answers them. The seccomp filter
// (FilterRules) and the dispatcher (Lookup) are both generated from it, so they cannot
// drift apart (../shared/design/style.md habit 4).
#ifndef MQSENTRY_SENTRY_SYSCALL_TABLE_H_
#define MQSENTRY_SENTRY_SYSCALL_TABLE_H_

#include <optional>
#include <vector>

#include "sentry/arch.h"
#include "sentry/seccomp_filter.h"

namespace mqsentry::sentry {

enum class MqCall {
  kOpen,
  kUnlink,
  kTimedSend,
  kTimedReceive,
  kNotify,
  kGetSetAttr,
  // Not mq calls, trapped so that no mqueue filesystem can be mounted inside the sandbox
  // (a new mqueue superblock would be the host kernel's mqueue code).
  kMount,
  kFsopen,
  // fcntl(F_GETFL) and fcntl(F_SETFL with O_DIRECT), for mq descriptors only (every other
  // descriptor's call continues to the host kernel): Linux's mq_open keeps its oflag in
  // f_flags exactly, which an open(2) of the mqfs file cannot (spec §3.3, §7).
  kFcntl,
  // fstatfs(2) of an mq descriptor shows the mqueue filesystem (spec §8.3); others continue.
  // x86-64 and x32 only: i386's compat statfs layouts are not emulated.
  kFstatfs,
};

// How the handler decodes the arguments of one (arch, number).
struct SyscallEntry {
  const char* name;   // as strace prints it
  MqCall call;
  Arch arch;
  int nr;
  // i386 and x32 differ from x86-64 in these layouts (spec §1.1 "Compat differences").
  bool compat_attr = false;      // 32-bit struct mq_attr (i386)
  bool compat_sigevent = false;  // 32-bit struct sigevent (i386, x32 mq_notify)
  bool time32 = false;           // old_timespec32 timeout (i386 279/280)
  bool compat_sizes = false;     // 32-bit pointers and size_t (i386)
  // Alternatives of argument conditions under which the filter traps the call; empty:
  // always.
  std::vector<std::vector<ArgCondition>> trap_when = {};
};

// Every trapped (arch, number), sorted by arch then number.
const std::vector<SyscallEntry>& SyscallTable();
// The entry for a trapped call, or nullopt for a call the filter should never trap.
const SyscallEntry* LookupSyscall(Arch arch, int nr);
// The seccomp rules that trap exactly the table's calls.
std::vector<FilterRule> FilterRules();

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_SYSCALL_TABLE_H_
