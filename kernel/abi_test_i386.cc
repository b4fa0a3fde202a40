// Tests that abi.h's i386 system call numbers are <asm/unistd_32.h>'s (spec §1.1). Its own
// translation unit because <asm/unistd_32.h> reuses the __NR_* names of the other ABIs.
//
// The numbers are captured right after the include: a later header (GoogleTest pulls in
// <sys/syscall.h>) includes <asm/unistd_64.h>, which silently redefines every __NR_* macro.
#include <asm/unistd_32.h>
namespace {
constexpr int kHeaderI386[] = {
    __NR_mq_open,   __NR_mq_unlink,     __NR_mq_timedsend,        __NR_mq_timedreceive,
    __NR_mq_notify, __NR_mq_getsetattr, __NR_mq_timedsend_time64, __NR_mq_timedreceive_time64,
};
}  // namespace

#include "gtest/gtest.h"
#include "kernel/abi.h"

namespace mqsentry::kernel::abi {
namespace {

// spec §1.1: 277..282, with the time64 send/receive at 418/419.
TEST(AbiI386Test, SyscallNumbersMatchAsmUnistd32) {
  EXPECT_EQ(kI386Syscalls.mq_open, kHeaderI386[0]);
  EXPECT_EQ(kI386Syscalls.mq_unlink, kHeaderI386[1]);
  EXPECT_EQ(kI386Syscalls.mq_timedsend, kHeaderI386[2]);
  EXPECT_EQ(kI386Syscalls.mq_timedreceive, kHeaderI386[3]);
  EXPECT_EQ(kI386Syscalls.mq_notify, kHeaderI386[4]);
  EXPECT_EQ(kI386Syscalls.mq_getsetattr, kHeaderI386[5]);
  EXPECT_EQ(kI386Syscalls.mq_timedsend_time64, kHeaderI386[6]);
  EXPECT_EQ(kI386Syscalls.mq_timedreceive_time64, kHeaderI386[7]);
}

}  // namespace
}  // namespace mqsentry::kernel::abi
