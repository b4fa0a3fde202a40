// The x86-64 (and compat i386/x32) ABI of the POSIX message-queue system calls: syscall
// numbers, flags, limits and the exact layouts of the structures that cross the user/kernel
// boundary (spec §1). Layouts are plain structs checked with static_assert so they can be
// copied byte-for-byte from and to tracee memory.
#ifndef MQSENTRY_KERNEL_ABI_H_
#define MQSENTRY_KERNEL_ABI_H_

#include <cstddef>
#include <cstdint>

namespace mqsentry::kernel::abi {

// ---- System call numbers (spec §1.1) ----
inline constexpr int kX32SyscallBit = 0x40000000;

struct MqSyscallNumbers {
  int mq_open, mq_unlink, mq_timedsend, mq_timedreceive, mq_notify, mq_getsetattr;
  int mq_timedsend_time64 = -1, mq_timedreceive_time64 = -1;  // i386 only
};
inline constexpr MqSyscallNumbers kX86_64Syscalls{240, 241, 242, 243, 244, 245};
inline constexpr MqSyscallNumbers kI386Syscalls{277, 278, 279, 280, 281, 282, 418, 419};
// x32 uses the x86-64 numbers with the x32 bit, except mq_notify (compat sigevent): 527.
inline constexpr MqSyscallNumbers kX32Syscalls{
    kX32SyscallBit + 240, kX32SyscallBit + 241, kX32SyscallBit + 242,
    kX32SyscallBit + 243, kX32SyscallBit + 527, kX32SyscallBit + 245};

// userfaultfd(2) and ioctl(2), for the userfaultfd guard (not mq calls).
struct UffdSyscallNumbers {
  int userfaultfd, ioctl;
};
inline constexpr UffdSyscallNumbers kX86_64UffdSyscalls{323, 16};
inline constexpr UffdSyscallNumbers kI386UffdSyscalls{374, 54};
// x32's ioctl is its own compat entry (514); 16 is x86-64 only.
inline constexpr UffdSyscallNumbers kX32UffdSyscalls{kX32SyscallBit + 323,
                                                     kX32SyscallBit + 514};
// The other calls the supervisor traps (not mq calls): mount guards, descriptor calls
// answered for mq descriptors, signal senders (arch/x86/entry/syscalls/syscall_{64,32}.tbl).
// -1: the ABI has no such call.
struct GuardSyscallNumbers {
  int mount, fsopen;
  int fcntl, fcntl64;
  int fstatfs, fstatfs64;
  int mmap;  // i386: mmap2 (offset in pages)
  int sendfile;  // i386: sendfile64
  int splice, linkat, name_to_handle_at, open_by_handle_at;
  int old_mmap, sendfile32;  // i386: mmap(2) with its arguments in memory, 32-bit offsets
  int kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal;
};
inline constexpr GuardSyscallNumbers kX86_64GuardSyscalls{
    .mount = 165, .fsopen = 430, .fcntl = 72, .fcntl64 = -1, .fstatfs = 138, .fstatfs64 = -1,
    .mmap = 9, .sendfile = 40, .splice = 275, .linkat = 265, .name_to_handle_at = 303,
    .open_by_handle_at = 304, .old_mmap = -1, .sendfile32 = -1, .kill = 62, .tkill = 200,
    .tgkill = 234, .rt_sigqueueinfo = 129, .rt_tgsigqueueinfo = 297, .pidfd_send_signal = 424};
// x32: the x86-64 numbers with the x32 bit, except its own compat rt_sigqueueinfo (524) and
// rt_tgsigqueueinfo (536).
inline constexpr GuardSyscallNumbers kX32GuardSyscalls{
    .mount = kX32SyscallBit + 165, .fsopen = kX32SyscallBit + 430,
    .fcntl = kX32SyscallBit + 72, .fcntl64 = -1, .fstatfs = kX32SyscallBit + 138,
    .fstatfs64 = -1, .mmap = kX32SyscallBit + 9, .sendfile = kX32SyscallBit + 40,
    .splice = kX32SyscallBit + 275, .linkat = kX32SyscallBit + 265,
    .name_to_handle_at = kX32SyscallBit + 303, .open_by_handle_at = kX32SyscallBit + 304,
    .old_mmap = -1, .sendfile32 = -1, .kill = kX32SyscallBit + 62,
    .tkill = kX32SyscallBit + 200, .tgkill = kX32SyscallBit + 234,
    .rt_sigqueueinfo = kX32SyscallBit + 524, .rt_tgsigqueueinfo = kX32SyscallBit + 536,
    .pidfd_send_signal = kX32SyscallBit + 424};
inline constexpr GuardSyscallNumbers kI386GuardSyscalls{
    .mount = 21, .fsopen = 430, .fcntl = 55, .fcntl64 = 221, .fstatfs = 100,
    .fstatfs64 = 269, .mmap = 192, .sendfile = 239, .splice = 313, .linkat = 303,
    .name_to_handle_at = 341, .open_by_handle_at = 342, .old_mmap = 90, .sendfile32 = 187,
    .kill = 37, .tkill = 238, .tgkill = 270, .rt_sigqueueinfo = 178,
    .rt_tgsigqueueinfo = 335, .pidfd_send_signal = 424};

// include/uapi/linux/userfaultfd.h
inline constexpr uint64_t kUffdUserModeOnly = 1;
inline constexpr uint32_t kUserfaultfdIocNew = 0xAA00;  // _IO(0xAA, 0x00)

// ---- Open flags (asm-generic/fcntl.h, x86) ----
inline constexpr int kORdonly = 00;
inline constexpr int kOWronly = 01;
inline constexpr int kORdwr = 02;
inline constexpr int kOAccmode = 03;
inline constexpr int kOCreat = 0100;
inline constexpr int kOExcl = 0200;
inline constexpr int kONoctty = 0400;
inline constexpr int kOTrunc = 01000;
inline constexpr int kOAppend = 02000;
inline constexpr int kONonblock = 04000;
inline constexpr int kODirect = 040000;
inline constexpr int kOLargefile = 0100000;
inline constexpr int kOCloexec = 02000000;
inline constexpr int kOPath = 010000000;
// F_GETFL of an mq descriptor is oflag minus these (spec §3.3).
inline constexpr int kOpenOnlyFlags = kOCreat | kOExcl | kONoctty | kOTrunc;

// ---- Modes ----
inline constexpr uint32_t kSIallugo = 07777;  // S_IALLUGO: permission + setid + sticky
inline constexpr uint32_t kSIfreg = 0100000;
inline constexpr uint32_t kSIfdir = 040000;
inline constexpr uint32_t kMqueueRootMode = 01777;  // sticky, world-writable (spec §9.1)

// ---- Limits (spec §1.5, §3.4, §9.2) ----
inline constexpr uint32_t kMqPrioMax = 32768;
inline constexpr size_t kNameMax = 255;
inline constexpr size_t kPathMax = 4096;
inline constexpr uint64_t kMqBytesMax = 819200;  // default RLIMIT_MSGQUEUE
inline constexpr int64_t kHardMsgMax = 65536;
inline constexpr int64_t kHardMsgSizeMax = 16 * 1024 * 1024;
inline constexpr int64_t kMinMsgMax = 1;
inline constexpr int64_t kMinMsgSizeMax = 128;
inline constexpr int kDefaultQueuesMax = 256;
inline constexpr int kDefaultMsgMax = 10;
inline constexpr int kDefaultMsgSizeMax = 8192;
inline constexpr int kDefaultMsgDefault = 10;
inline constexpr int kDefaultMsgSizeDefault = 8192;
// Accounting: sizeof(struct msg_msg) and sizeof(struct posix_msg_tree_node) on x86-64
// (spec §3.5: cost = maxmsg*48 + min(maxmsg, 32768)*48 + maxmsg*msgsize).
inline constexpr uint64_t kMsgMsgSize = 48;
inline constexpr uint64_t kMsgTreeNodeSize = 48;
inline constexpr uint64_t kAccountingPrioCap = 32768;
inline constexpr uint32_t kMqueueMagic = 0x19800202;
// huge_encode_dev() (include/linux/kdev_t.h): the device number statfs reports as f_fsid,
// the low 32 bits in f_fsid[0], the high in f_fsid[1].
inline constexpr uint64_t HugeEncodeDev(uint32_t major, uint32_t minor) {
  return (minor & 0xff) | (uint64_t{major} << 8) | (uint64_t{minor & ~0xffu} << 12);
}

// ---- Notification (spec §1.5, §6) ----
inline constexpr int kSigevSignal = 0;
inline constexpr int kSigevNone = 1;
inline constexpr int kSigevThread = 2;
inline constexpr int kSigevThreadId = 4;
inline constexpr int kNsig = 64;  // _NSIG: valid signal numbers are 0..64 here (spec §6.1)
inline constexpr size_t kNotifyCookieLen = 32;
inline constexpr uint8_t kNotifyNone = 0;
inline constexpr uint8_t kNotifyWokenUp = 1;
inline constexpr uint8_t kNotifyRemoved = 2;
inline constexpr int kSiMesgq = -3;

// ---- struct mq_attr (spec §1.2) ----
struct MqAttr {
  int64_t mq_flags;
  int64_t mq_maxmsg;
  int64_t mq_msgsize;
  int64_t mq_curmsgs;
  int64_t reserved[4];
};
static_assert(sizeof(MqAttr) == 64);
static_assert(offsetof(MqAttr, mq_curmsgs) == 24);

// Compat (i386/x32 time32) struct mq_attr: eight 32-bit longs.
struct CompatMqAttr {
  int32_t mq_flags;
  int32_t mq_maxmsg;
  int32_t mq_msgsize;
  int32_t mq_curmsgs;
  int32_t reserved[4];
};
static_assert(sizeof(CompatMqAttr) == 32);

// ---- struct sigevent (spec §1.3) ----
struct SigEvent {
  uint64_t sigev_value;  // union sigval: sival_int is the low 4 bytes
  int32_t sigev_signo;
  int32_t sigev_notify;
  union {
    int32_t tid;
    struct {
      uint64_t function;
      uint64_t attribute;
    } thread;
    uint8_t pad[48];
  } un;
};
static_assert(sizeof(SigEvent) == 64);
static_assert(offsetof(SigEvent, sigev_signo) == 8);
static_assert(offsetof(SigEvent, un) == 16);

// Compat struct sigevent: 4-byte sigval, same 64-byte size.
struct CompatSigEvent {
  uint32_t sigev_value;
  int32_t sigev_signo;
  int32_t sigev_notify;
  union {
    int32_t tid;
    struct {
      uint32_t function;
      uint32_t attribute;
    } thread;
    uint8_t pad[52];
  } un;
};
static_assert(sizeof(CompatSigEvent) == 64);
static_assert(offsetof(CompatSigEvent, un) == 12);

// ---- siginfo for SI_MESGQ (spec §1.4): the "RT" layout ----
inline constexpr size_t kSiginfoSize = 128;
inline constexpr size_t kSiginfoPidOffset = 16;
inline constexpr size_t kSiginfoUidOffset = 20;
inline constexpr size_t kSiginfoValueOffset = 24;

// si_pid, si_uid and si_value are macros in <signal.h> (and in <asm/siginfo.h>), which
// would rewrite these members in any file that includes <signal.h> first: hence the
// shorter names. si_signo, si_errno and si_code are real members there, not macros.
struct SiginfoMesgq {
  int32_t si_signo;
  int32_t si_errno;
  int32_t si_code;
  int32_t pad0;
  int32_t pid;     // si_pid: the sender, in the owner's pid namespace (0 if invisible)
  uint32_t uid;    // si_uid: the sender's real uid in the owner's user namespace
  uint64_t value;  // si_value: the registration's sigev_value
  uint8_t rest[kSiginfoSize - 32];
};
static_assert(sizeof(SiginfoMesgq) == kSiginfoSize);
static_assert(offsetof(SiginfoMesgq, pid) == kSiginfoPidOffset);
static_assert(offsetof(SiginfoMesgq, uid) == kSiginfoUidOffset);
static_assert(offsetof(SiginfoMesgq, value) == kSiginfoValueOffset);

// ---- struct __kernel_timespec and old_timespec32 ----
struct KernelTimespec {
  int64_t tv_sec;
  int64_t tv_nsec;
};
static_assert(sizeof(KernelTimespec) == 16);

struct CompatTimespec {
  int32_t tv_sec;
  int32_t tv_nsec;
};
static_assert(sizeof(CompatTimespec) == 8);

// pidfd_send_signal(2) flag (kernel 6.9): the signal goes to the pidfd's thread group.
// The sandbox's init sends its signals with exactly this flag, the one form of
// signal-sending call the seccomp filter does not trap (sentry/syscall_table.cc).
inline constexpr unsigned kPidfdSignalThreadGroup = 1u << 1;

}  // namespace mqsentry::kernel::abi

#endif  // MQSENTRY_KERNEL_ABI_H_
