// Tests that abi.h agrees with the C library's view of the x86-64 ABI (spec §1): glibc's
// <mqueue.h>, <signal.h>, <fcntl.h>, <sys/stat.h>, <limits.h> and <asm/unistd_64.h>.
// The kernel's own uapi headers are compared in abi_test_uapi.cc and the compat syscall
// numbers in abi_test_i386.cc / abi_test_x32.cc: each set of headers redefines the same
// macros, so each gets its own translation unit.
#include "kernel/abi.h"

#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>

#include "gtest/gtest.h"

namespace mqsentry::kernel::abi {
namespace {

// spec §1.1: the x86-64 numbers are the ones in <asm/unistd_64.h>.
TEST(AbiX86_64Test, SyscallNumbersMatchAsmUnistd64) {
  EXPECT_EQ(kX86_64Syscalls.mq_open, __NR_mq_open);
  EXPECT_EQ(kX86_64Syscalls.mq_unlink, __NR_mq_unlink);
  EXPECT_EQ(kX86_64Syscalls.mq_timedsend, __NR_mq_timedsend);
  EXPECT_EQ(kX86_64Syscalls.mq_timedreceive, __NR_mq_timedreceive);
  EXPECT_EQ(kX86_64Syscalls.mq_notify, __NR_mq_notify);
  EXPECT_EQ(kX86_64Syscalls.mq_getsetattr, __NR_mq_getsetattr);
}

// spec §1.1: the time64 variants exist on i386 only; x86-64 time is already 64-bit.
TEST(AbiX86_64Test, HasNoTime64Variants) {
#if defined(__NR_mq_timedsend_time64) || defined(__NR_mq_timedreceive_time64)
  ADD_FAILURE() << "<asm/unistd_64.h> defines mq time64 syscalls";
#endif
  EXPECT_EQ(kX86_64Syscalls.mq_timedsend_time64, -1);
  EXPECT_EQ(kX86_64Syscalls.mq_timedreceive_time64, -1);
}

TEST(AbiX86_64Test, X32BitMatchesAsmUnistd) { EXPECT_EQ(kX32SyscallBit, __X32_SYSCALL_BIT); }

// spec §1.2: struct mq_attr is eight longs, 64 bytes; glibc names the padding __pad.
TEST(AbiLayoutTest, MqAttrMatchesGlibc) {
  EXPECT_EQ(sizeof(MqAttr), sizeof(struct mq_attr));
  EXPECT_EQ(sizeof(MqAttr), 64u);
  EXPECT_EQ(offsetof(MqAttr, mq_flags), offsetof(struct mq_attr, mq_flags));
  EXPECT_EQ(offsetof(MqAttr, mq_maxmsg), offsetof(struct mq_attr, mq_maxmsg));
  EXPECT_EQ(offsetof(MqAttr, mq_msgsize), offsetof(struct mq_attr, mq_msgsize));
  EXPECT_EQ(offsetof(MqAttr, mq_curmsgs), offsetof(struct mq_attr, mq_curmsgs));
  EXPECT_EQ(offsetof(MqAttr, reserved), offsetof(struct mq_attr, __pad));
  EXPECT_EQ(sizeof(MqAttr::reserved), sizeof(mq_attr::__pad));
}

// spec §1.3: sigev_value at 0, sigev_signo at 8, sigev_notify at 12, the union at 16.
TEST(AbiLayoutTest, SigEventMatchesGlibc) {
  EXPECT_EQ(sizeof(SigEvent), sizeof(struct sigevent));
  EXPECT_EQ(offsetof(SigEvent, sigev_value), offsetof(struct sigevent, sigev_value));
  EXPECT_EQ(sizeof(SigEvent::sigev_value), sizeof(sigval));
  EXPECT_EQ(offsetof(SigEvent, sigev_signo), offsetof(struct sigevent, sigev_signo));
  EXPECT_EQ(offsetof(SigEvent, sigev_signo), 8u);
  EXPECT_EQ(offsetof(SigEvent, sigev_notify), offsetof(struct sigevent, sigev_notify));
  EXPECT_EQ(offsetof(SigEvent, sigev_notify), 12u);
  EXPECT_EQ(offsetof(SigEvent, un.thread.function),
            offsetof(struct sigevent, sigev_notify_function));
  EXPECT_EQ(offsetof(SigEvent, un.thread.function), 16u);
  EXPECT_EQ(offsetof(SigEvent, un.thread.attribute),
            offsetof(struct sigevent, sigev_notify_attributes));
  EXPECT_EQ(offsetof(SigEvent, un.tid), offsetof(struct sigevent, _sigev_un._tid));
}

// spec §1.4: SI_MESGQ uses the "RT" siginfo layout; siginfo_t is 128 bytes.
TEST(AbiLayoutTest, SiginfoMatchesGlibc) {
  EXPECT_EQ(sizeof(siginfo_t), kSiginfoSize);
  EXPECT_EQ(sizeof(SiginfoMesgq), sizeof(siginfo_t));
  EXPECT_EQ(offsetof(SiginfoMesgq, si_signo), offsetof(siginfo_t, si_signo));
  EXPECT_EQ(offsetof(SiginfoMesgq, si_errno), offsetof(siginfo_t, si_errno));
  EXPECT_EQ(offsetof(SiginfoMesgq, si_code), offsetof(siginfo_t, si_code));
  EXPECT_EQ(offsetof(siginfo_t, si_pid), offsetof(SiginfoMesgq, pid));
  EXPECT_EQ(offsetof(siginfo_t, si_pid), kSiginfoPidOffset);
  EXPECT_EQ(offsetof(siginfo_t, si_uid), offsetof(SiginfoMesgq, uid));
  EXPECT_EQ(offsetof(siginfo_t, si_uid), kSiginfoUidOffset);
  EXPECT_EQ(offsetof(siginfo_t, si_value), offsetof(SiginfoMesgq, value));
  EXPECT_EQ(offsetof(siginfo_t, si_value), kSiginfoValueOffset);
  EXPECT_EQ(sizeof(SiginfoMesgq::value), sizeof(sigval));
}

// The 64-bit mq_timedsend/mq_timedreceive take a timespec with 64-bit fields.
TEST(AbiLayoutTest, KernelTimespecMatchesGlibcTimespec) {
  EXPECT_EQ(sizeof(KernelTimespec), sizeof(struct timespec));
  EXPECT_EQ(offsetof(KernelTimespec, tv_sec), offsetof(struct timespec, tv_sec));
  EXPECT_EQ(offsetof(KernelTimespec, tv_nsec), offsetof(struct timespec, tv_nsec));
}

// spec §1.3, §6.1: the sigev_notify values and SI_MESGQ (spec §1.4).
TEST(AbiConstantsTest, NotificationConstantsMatchSignalH) {
  EXPECT_EQ(kSigevSignal, SIGEV_SIGNAL);
  EXPECT_EQ(kSigevNone, SIGEV_NONE);
  EXPECT_EQ(kSigevThread, SIGEV_THREAD);
  EXPECT_EQ(kSigevThreadId, SIGEV_THREAD_ID);
  EXPECT_EQ(kSiMesgq, SI_MESGQ);
}

// spec §6.1: signal numbers 0..64 are valid; 64 is the highest real-time signal.
TEST(AbiConstantsTest, HighestSignalIsSigrtmax) { EXPECT_EQ(kNsig, SIGRTMAX); }

// spec §1.5: MQ_PRIO_MAX is 32768, and sysconf agrees.
TEST(AbiConstantsTest, PrioMaxMatchesLimitsHAndSysconf) {
  EXPECT_EQ(kMqPrioMax, static_cast<uint32_t>(MQ_PRIO_MAX));
  EXPECT_EQ(static_cast<long>(kMqPrioMax), sysconf(_SC_MQ_PRIO_MAX));
}

// spec §1.5, §3.1, §3.2: NAME_MAX and PATH_MAX bound the queue name.
TEST(AbiConstantsTest, NameMaxAndPathMaxMatchLimitsH) {
  EXPECT_EQ(kNameMax, static_cast<size_t>(NAME_MAX));
  EXPECT_EQ(kPathMax, static_cast<size_t>(PATH_MAX));
}

// spec §3.3, §8.3: queue modes keep the setid and sticky bits; st_mode is S_IFREG | mode.
TEST(AbiConstantsTest, ModeBitsMatchSysStatH) {
  EXPECT_EQ(kSIallugo,
            static_cast<uint32_t>(S_ISUID | S_ISGID | S_ISVTX | S_IRWXU | S_IRWXG | S_IRWXO));
  EXPECT_EQ(kSIfreg, static_cast<uint32_t>(S_IFREG));
  EXPECT_EQ(kSIfdir, static_cast<uint32_t>(S_IFDIR));
  EXPECT_EQ(kMqueueRootMode, static_cast<uint32_t>(S_ISVTX | S_IRWXU | S_IRWXG | S_IRWXO));
}

// spec §3.3: F_GETFL shows oflag minus O_CREAT|O_EXCL|O_NOCTTY|O_TRUNC.
TEST(AbiConstantsTest, OpenOnlyFlagsAreCreatExclNocttyTrunc) {
  EXPECT_EQ(kOpenOnlyFlags, O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);
}

// spec §1.5, §3.3: every open flag value matches <fcntl.h>. (glibc defines O_LARGEFILE as
// 0 on x86-64; the kernel's value is checked against <asm/fcntl.h> in abi_test_uapi.cc.)
TEST(AbiConstantsTest, OpenFlagsMatchFcntlH) {
  const struct {
    const char* name;
    int ours;
    int libc;
  } kFlags[] = {
      {"O_RDONLY", kORdonly, O_RDONLY}, {"O_WRONLY", kOWronly, O_WRONLY},
      {"O_RDWR", kORdwr, O_RDWR},       {"O_ACCMODE", kOAccmode, O_ACCMODE},
      {"O_CREAT", kOCreat, O_CREAT},    {"O_EXCL", kOExcl, O_EXCL},
      {"O_NOCTTY", kONoctty, O_NOCTTY}, {"O_TRUNC", kOTrunc, O_TRUNC},
      {"O_APPEND", kOAppend, O_APPEND}, {"O_NONBLOCK", kONonblock, O_NONBLOCK},
      {"O_DIRECT", kODirect, O_DIRECT}, {"O_CLOEXEC", kOCloexec, O_CLOEXEC},
      {"O_PATH", kOPath, O_PATH},
  };
  for (const auto& f : kFlags) EXPECT_EQ(f.ours, f.libc) << f.name;
}

}  // namespace
}  // namespace mqsentry::kernel::abi

namespace mqsentry::kernel::abi {
namespace {

// Spec §8.3 (fstatfs f_fsid): huge_encode_dev() keeps minor's low byte at the bottom,
// major above it, and minor's upper bits from bit 20.
TEST(AbiTest, HugeEncodeDevMatchesTheKernelLayout) {
  EXPECT_EQ(HugeEncodeDev(0, 0), 0u);
  EXPECT_EQ(HugeEncodeDev(0, 0x2a), 0x2au);
  EXPECT_EQ(HugeEncodeDev(8, 1), 0x801u);
  EXPECT_EQ(HugeEncodeDev(0, 0x12345), 0x12300045u);
  EXPECT_EQ(HugeEncodeDev(0xfff, 0xfffff), 0xffffffffu);
  // new_encode_dev() of glibc's makedev for a number that fits 32 bits.
  EXPECT_EQ(HugeEncodeDev(259, 3), 0x10303u);
}

}  // namespace
}  // namespace mqsentry::kernel::abi
