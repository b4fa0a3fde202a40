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
  // x86-64 and x32 (i386: kFstatfsCompat).
  kFstatfs,
  // File calls that mqfs's FUSE files would answer unlike an mqueue file (spec §8.3),
  // trapped as narrowly as the filter can say and answered for mq descriptors only (every
  // other call continues to the host kernel):
  kMmap,             // private file mappings: FUSE maps them, mqueue has no mmap (ENODEV)
  kSendfile,         // FUSE files can be spliced from, mqueue files cannot (EINVAL)
  kSplice,
  kLinkat,           // with AT_EMPTY_PATH: EXDEV (the supervisor opened the FUSE file)
  kNameToHandleAt,   // with AT_EMPTY_PATH: mqueue cannot encode handles (EOPNOTSUPP)
  kOpenByHandleAt,   // a handle is never decoded on mqfs (spec §8.3, issue 7 finding 3)
  // userfaultfd(2), and ioctl(USERFAULTFD_IOC_NEW) on /dev/userfaultfd, without
  // UFFD_USER_MODE_ONLY: refused (EPERM). A full userfaultfd would let a program stall the
  // supervisor's own reads and writes of its memory; a user-mode-only one makes them fail
  // with EFAULT instead. Calls with the flag are not trapped.
  kUserfaultfd,
  // i386 fstatfs(2) / fstatfs64(2) of an mq descriptor (compat statfs layouts, spec §8.3).
  kFstatfsCompat,
  // Signal-sending calls: continued to the host kernel at once, then the parked calls the
  // signal can reach are checked (sentry/signal_watch.h). pidfd_send_signal with exactly
  // PIDFD_SIGNAL_THREAD_GROUP is not trapped: init's own signals use it (launcher.cc).
  kKill,
  kTkill,
  kTgkill,
  kRtSigqueueinfo,
  kRtTgsigqueueinfo,
  kPidfdSendSignal,
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
  bool old_mmap = false;         // i386 mmap(2) #90: one pointer to six 32-bit arguments
  bool off32 = false;            // i386 sendfile #187: a 32-bit off_t pointer
  bool statfs64 = false;         // i386 fstatfs64 #269: (fd, size, struct compat_statfs64 *)
  // Alternatives of argument conditions under which the filter traps the call; empty:
  // always.
  std::vector<std::vector<ArgCondition>> trap_when = {};
};

// Every trapped (arch, number), sorted by arch then number.
const std::vector<SyscallEntry>& SyscallTable();
// The entry for a trapped call, or nullopt for a call the filter should never trap.
const SyscallEntry* LookupSyscall(Arch arch, int nr);
// The seccomp rules that trap exactly the table's calls; with `x32` false, none for the
// x32 ABI (whose calls then reach the kernel: ENOSYS where it lacks x32, spec §1.1).
std::vector<FilterRule> FilterRules(bool x32 = true);
// Whether this kernel runs x32 system calls: an x32 getpid, in a child process, does not
// fail with ENOSYS (nor kill the child). Call before starting threads, or from a
// process whose other threads take no locks the child could need (it only makes the
// call and exits).
bool KernelRunsX32();

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_SYSCALL_TABLE_H_
