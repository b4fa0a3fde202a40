// Tests that abi.h agrees with the kernel's own uapi headers (spec §1): <linux/mqueue.h>,
// <asm/siginfo.h>, <asm/fcntl.h>, <linux/time_types.h>, as read by abi_test_uapi_facts.cc.
#include <cstddef>
#include <cstdint>

#include "gtest/gtest.h"
#include "kernel/abi.h"
#include "kernel/abi_test_uapi_facts.h"

namespace mqsentry::kernel::abi {
namespace {

using ::mqsentry::kernel::abi::testing::KernelUapiFacts;
using ::mqsentry::kernel::abi::testing::UapiFacts;

const UapiFacts kUapi = KernelUapiFacts();

// spec §1.2: the kernel copies exactly this struct, 64 bytes, __reserved at 32.
TEST(AbiUapiTest, MqAttrMatchesLinuxMqueueH) {
  EXPECT_EQ(sizeof(MqAttr), kUapi.mq_attr_size);
  EXPECT_EQ(offsetof(MqAttr, mq_flags), kUapi.mq_attr_flags);
  EXPECT_EQ(offsetof(MqAttr, mq_maxmsg), kUapi.mq_attr_maxmsg);
  EXPECT_EQ(offsetof(MqAttr, mq_msgsize), kUapi.mq_attr_msgsize);
  EXPECT_EQ(offsetof(MqAttr, mq_curmsgs), kUapi.mq_attr_curmsgs);
  EXPECT_EQ(offsetof(MqAttr, reserved), kUapi.mq_attr_reserved);
  EXPECT_EQ(sizeof(MqAttr::mq_flags), kUapi.mq_attr_field_size);
}

// spec §1.1: the compat mq_attr is the same eight fields as 32-bit longs.
TEST(AbiUapiTest, CompatMqAttrHasTheNativeFieldsAsInt32) {
  EXPECT_EQ(sizeof(CompatMqAttr) / sizeof(int32_t), kUapi.mq_attr_size / kUapi.mq_attr_field_size);
  EXPECT_EQ(offsetof(CompatMqAttr, mq_curmsgs) / sizeof(int32_t),
            kUapi.mq_attr_curmsgs / kUapi.mq_attr_field_size);
  EXPECT_EQ(offsetof(CompatMqAttr, reserved) / sizeof(int32_t),
            kUapi.mq_attr_reserved / kUapi.mq_attr_field_size);
}

// spec §1.5: MQ_PRIO_MAX, MQ_BYTES_MAX (the default RLIMIT_MSGQUEUE), the cookie length and
// the NOTIFY_* status byte glibc's helper thread reads (spec §1.6).
TEST(AbiUapiTest, MqueueConstantsMatchLinuxMqueueH) {
  EXPECT_EQ(kMqPrioMax, kUapi.mq_prio_max);
  EXPECT_EQ(kMqBytesMax, kUapi.mq_bytes_max);
  EXPECT_EQ(kNotifyCookieLen, kUapi.notify_cookie_len);
  EXPECT_EQ(kNotifyNone, kUapi.notify_none);
  EXPECT_EQ(kNotifyWokenUp, kUapi.notify_wokenup);
  EXPECT_EQ(kNotifyRemoved, kUapi.notify_removed);
}

// spec §1.3: the kernel's struct sigevent: 64 bytes, the union after the preamble.
TEST(AbiUapiTest, SigEventMatchesKernelSigevent) {
  EXPECT_EQ(sizeof(SigEvent), kUapi.sigev_max_size);
  EXPECT_EQ(sizeof(SigEvent), kUapi.sigevent_size);
  EXPECT_EQ(offsetof(SigEvent, un), kUapi.sigev_preamble_size);
  EXPECT_EQ(offsetof(SigEvent, sigev_value), kUapi.sigev_value);
  EXPECT_EQ(offsetof(SigEvent, sigev_signo), kUapi.sigev_signo);
  EXPECT_EQ(offsetof(SigEvent, sigev_notify), kUapi.sigev_notify);
  EXPECT_EQ(offsetof(SigEvent, un.thread.function), kUapi.sigev_function);
  EXPECT_EQ(offsetof(SigEvent, un.thread.attribute), kUapi.sigev_attributes);
  EXPECT_EQ(offsetof(SigEvent, un.tid), kUapi.sigev_tid);
}

// spec §6.1: the kernel accepts SIGEV_SIGNAL, SIGEV_NONE and SIGEV_THREAD only.
TEST(AbiUapiTest, SigevConstantsMatchAsmSiginfoH) {
  EXPECT_EQ(kSigevSignal, kUapi.sigev_signal);
  EXPECT_EQ(kSigevNone, kUapi.sigev_none);
  EXPECT_EQ(kSigevThread, kUapi.sigev_thread);
  EXPECT_EQ(kSigevThreadId, kUapi.sigev_thread_id);
}

// spec §1.1: the compat sigevent has the same 64-byte size; its preamble is the generic
// formula (two ints and a sigval) with a 4-byte compat sigval.
TEST(AbiUapiTest, CompatSigEventFollowsTheGenericFormula) {
  EXPECT_EQ(sizeof(CompatSigEvent), kUapi.sigev_max_size);
  EXPECT_EQ(offsetof(CompatSigEvent, un), kUapi.sigev_preamble_size -
                                              sizeof(SigEvent::sigev_value) +
                                              sizeof(CompatSigEvent::sigev_value));
  EXPECT_EQ(offsetof(CompatSigEvent, sigev_notify) + sizeof(int32_t), offsetof(CompatSigEvent, un));
}

// spec §1.4: the kernel's siginfo (SI_MAX_SIZE) and the _rt fields an SI_MESGQ signal uses.
TEST(AbiUapiTest, SiginfoMatchesKernelSiginfo) {
  EXPECT_EQ(kSiginfoSize, kUapi.si_max_size);
  EXPECT_EQ(sizeof(SiginfoMesgq), kUapi.siginfo_size);
  EXPECT_EQ(offsetof(SiginfoMesgq, pid), kUapi.siginfo_pid);
  EXPECT_EQ(offsetof(SiginfoMesgq, uid), kUapi.siginfo_uid);
  EXPECT_EQ(offsetof(SiginfoMesgq, value), kUapi.siginfo_value);
  EXPECT_EQ(kSiMesgq, kUapi.si_mesgq);
}

// The native mq_timedsend/mq_timedreceive take a struct __kernel_timespec.
TEST(AbiUapiTest, KernelTimespecMatchesLinuxTimeTypesH) {
  EXPECT_EQ(sizeof(KernelTimespec), kUapi.timespec_size);
  EXPECT_EQ(offsetof(KernelTimespec, tv_sec), kUapi.timespec_sec);
  EXPECT_EQ(offsetof(KernelTimespec, tv_nsec), kUapi.timespec_nsec);
}

// spec §3.3 / §11 #5: the kernel's O_LARGEFILE, which mq fds never show in F_GETFL (glibc
// defines the macro as 0 on x86-64, so only the kernel header has the real value).
TEST(AbiUapiTest, KernelOpenFlagsMatchAsmFcntlH) {
  EXPECT_EQ(kOLargefile, kUapi.o_largefile);
  EXPECT_EQ(kONonblock, kUapi.o_nonblock);
  EXPECT_EQ(kOCloexec, kUapi.o_cloexec);
  EXPECT_EQ(kODirect, kUapi.o_direct);
  EXPECT_EQ(kOPath, kUapi.o_path);
}

}  // namespace
}  // namespace mqsentry::kernel::abi
