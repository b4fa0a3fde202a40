// Tests that abi.h agrees with the kernel's own uapi headers (spec §1): <linux/mqueue.h>,
// <asm/siginfo.h>, <asm/fcntl.h>, <linux/time_types.h>. These clash with glibc's
// <mqueue.h>/<signal.h>/<fcntl.h> (abi_test.cc), hence a translation unit of their own.
#include <asm/fcntl.h>
#include <asm/siginfo.h>
#include <linux/mqueue.h>
#include <linux/time_types.h>

#include <cstddef>
#include <cstdint>

#include "gtest/gtest.h"
#include "kernel/abi.h"

namespace mqsentry::kernel::abi {
namespace {

// spec §1.2: the kernel copies exactly this struct, 64 bytes, __reserved at 32.
TEST(AbiUapiTest, MqAttrMatchesLinuxMqueueH) {
  EXPECT_EQ(sizeof(MqAttr), sizeof(struct mq_attr));
  EXPECT_EQ(offsetof(MqAttr, mq_flags), offsetof(struct mq_attr, mq_flags));
  EXPECT_EQ(offsetof(MqAttr, mq_maxmsg), offsetof(struct mq_attr, mq_maxmsg));
  EXPECT_EQ(offsetof(MqAttr, mq_msgsize), offsetof(struct mq_attr, mq_msgsize));
  EXPECT_EQ(offsetof(MqAttr, mq_curmsgs), offsetof(struct mq_attr, mq_curmsgs));
  EXPECT_EQ(offsetof(MqAttr, reserved), offsetof(struct mq_attr, __reserved));
  EXPECT_EQ(offsetof(MqAttr, reserved), 32u);
}

// spec §1.1: the compat mq_attr is the same eight fields as 32-bit longs.
TEST(AbiUapiTest, CompatMqAttrHasTheNativeFieldsAsInt32) {
  EXPECT_EQ(sizeof(CompatMqAttr) / sizeof(int32_t), sizeof(struct mq_attr) / sizeof(long));
  EXPECT_EQ(offsetof(CompatMqAttr, reserved) / sizeof(int32_t),
            offsetof(struct mq_attr, __reserved) / sizeof(long));
}

// spec §1.5: MQ_PRIO_MAX, MQ_BYTES_MAX (the default RLIMIT_MSGQUEUE), the cookie length and
// the NOTIFY_* status byte values glibc's helper thread reads (spec §1.6).
TEST(AbiUapiTest, MqueueConstantsMatchLinuxMqueueH) {
  EXPECT_EQ(kMqPrioMax, static_cast<uint32_t>(MQ_PRIO_MAX));
  EXPECT_EQ(kMqBytesMax, static_cast<uint64_t>(MQ_BYTES_MAX));
  EXPECT_EQ(kNotifyCookieLen, static_cast<size_t>(NOTIFY_COOKIE_LEN));
  EXPECT_EQ(kNotifyNone, NOTIFY_NONE);
  EXPECT_EQ(kNotifyWokenUp, NOTIFY_WOKENUP);
  EXPECT_EQ(kNotifyRemoved, NOTIFY_REMOVED);
}

// spec §1.3: the kernel's struct sigevent: 64 bytes, the union after the preamble.
TEST(AbiUapiTest, SigEventMatchesKernelSigevent) {
  EXPECT_EQ(sizeof(SigEvent), static_cast<size_t>(SIGEV_MAX_SIZE));
  EXPECT_EQ(sizeof(SigEvent), sizeof(sigevent_t));
  EXPECT_EQ(offsetof(SigEvent, un), __ARCH_SIGEV_PREAMBLE_SIZE);
  EXPECT_EQ(offsetof(SigEvent, sigev_signo), offsetof(sigevent_t, sigev_signo));
  EXPECT_EQ(offsetof(SigEvent, sigev_notify), offsetof(sigevent_t, sigev_notify));
  EXPECT_EQ(offsetof(SigEvent, un.thread.function),
            offsetof(sigevent_t, sigev_notify_function));
  EXPECT_EQ(offsetof(SigEvent, un.thread.attribute),
            offsetof(sigevent_t, sigev_notify_attributes));
  EXPECT_EQ(offsetof(SigEvent, un.tid), offsetof(sigevent_t, sigev_notify_thread_id));
  EXPECT_EQ(kSigevSignal, SIGEV_SIGNAL);
  EXPECT_EQ(kSigevNone, SIGEV_NONE);
  EXPECT_EQ(kSigevThread, SIGEV_THREAD);
  EXPECT_EQ(kSigevThreadId, SIGEV_THREAD_ID);
}

// spec §1.1: the compat sigevent has the same 64-byte size; its preamble uses a 4-byte
// sigval (the generic preamble formula with compat_sigval_t).
TEST(AbiUapiTest, CompatSigEventFollowsTheGenericFormula) {
  EXPECT_EQ(sizeof(CompatSigEvent), static_cast<size_t>(SIGEV_MAX_SIZE));
  EXPECT_EQ(offsetof(CompatSigEvent, un), sizeof(int) * 2 + sizeof(uint32_t));
  EXPECT_EQ(sizeof(CompatSigEvent::un), SIGEV_MAX_SIZE - offsetof(CompatSigEvent, un));
}

// spec §1.4: the kernel's siginfo (SI_MAX_SIZE) and the _rt fields an SI_MESGQ signal uses.
TEST(AbiUapiTest, SiginfoMatchesKernelSiginfo) {
  EXPECT_EQ(kSiginfoSize, static_cast<size_t>(SI_MAX_SIZE));
  EXPECT_EQ(sizeof(siginfo_t), kSiginfoSize);
  EXPECT_EQ(offsetof(siginfo_t, si_pid), kSiginfoPidOffset);
  EXPECT_EQ(offsetof(siginfo_t, si_uid), kSiginfoUidOffset);
  EXPECT_EQ(offsetof(siginfo_t, si_value), kSiginfoValueOffset);
  EXPECT_EQ(kSiMesgq, SI_MESGQ);
}

// The native mq_timedsend/mq_timedreceive take a struct __kernel_timespec.
TEST(AbiUapiTest, KernelTimespecMatchesLinuxTimeTypesH) {
  EXPECT_EQ(sizeof(KernelTimespec), sizeof(struct __kernel_timespec));
  EXPECT_EQ(offsetof(KernelTimespec, tv_sec), offsetof(struct __kernel_timespec, tv_sec));
  EXPECT_EQ(offsetof(KernelTimespec, tv_nsec), offsetof(struct __kernel_timespec, tv_nsec));
}

// spec §3.3 / §11 #5: the kernel's O_LARGEFILE, which mq fds never show in F_GETFL (glibc
// defines the macro as 0 on x86-64, so only the kernel header has the real value).
TEST(AbiUapiTest, KernelOpenFlagsMatchAsmFcntlH) {
  EXPECT_EQ(kOLargefile, O_LARGEFILE);
  EXPECT_EQ(kONonblock, O_NONBLOCK);
  EXPECT_EQ(kOCloexec, O_CLOEXEC);
  EXPECT_EQ(kODirect, O_DIRECT);
  EXPECT_EQ(kOPath, O_PATH);
}

}  // namespace
}  // namespace mqsentry::kernel::abi
