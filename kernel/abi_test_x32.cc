// Tests that abi.h's x32 system call numbers are <asm/unistd_x32.h>'s (spec §1.1). Its own
// translation unit because that header reuses the __NR_* names of the other ABIs.
//
// <asm/unistd.h> picks <asm/unistd_x32.h> exactly when an x32 compiler (which predefines
// __ILP32__ on x86-64) includes it; do the same so the numbers come with their
// __X32_SYSCALL_BIT. This is first in the file so that no other header has pulled in
// <asm/unistd.h> yet, and the numbers are captured before any other header is included.
#define __ILP32__ 1
#include <asm/unistd.h>
#undef __ILP32__
namespace {
#ifdef _ASM_UNISTD_X32_H
constexpr bool kSelectedX32Header = true;
#else
constexpr bool kSelectedX32Header = false;
#endif
#if defined(__NR_mq_timedsend_time64) || defined(__NR_mq_timedreceive_time64)
constexpr bool kHeaderHasTime64 = true;
#else
constexpr bool kHeaderHasTime64 = false;
#endif
constexpr int kHeaderX32[] = {
    __NR_mq_open,         __NR_mq_unlink, __NR_mq_timedsend,
    __NR_mq_timedreceive, __NR_mq_notify, __NR_mq_getsetattr,
};
}  // namespace

#include "gtest/gtest.h"
#include "kernel/abi.h"

namespace mqsentry::kernel::abi {
namespace {

// spec §1.1: x86-64 numbers plus the x32 bit, except mq_notify (compat sigevent) at 527.
TEST(AbiX32Test, SyscallNumbersMatchAsmUnistdX32) {
  ASSERT_TRUE(kSelectedX32Header) << "<asm/unistd.h> did not select <asm/unistd_x32.h>";
  EXPECT_EQ(kX32Syscalls.mq_open, kHeaderX32[0]);
  EXPECT_EQ(kX32Syscalls.mq_unlink, kHeaderX32[1]);
  EXPECT_EQ(kX32Syscalls.mq_timedsend, kHeaderX32[2]);
  EXPECT_EQ(kX32Syscalls.mq_timedreceive, kHeaderX32[3]);
  EXPECT_EQ(kX32Syscalls.mq_notify, kHeaderX32[4]);
  EXPECT_EQ(kX32Syscalls.mq_getsetattr, kHeaderX32[5]);
}

// x32 time is 64-bit: there are no time64 variants, and abi.h leaves them at -1.
TEST(AbiX32Test, HasNoTime64Variants) {
  EXPECT_FALSE(kHeaderHasTime64);
  EXPECT_EQ(kX32Syscalls.mq_timedsend_time64, -1);
  EXPECT_EQ(kX32Syscalls.mq_timedreceive_time64, -1);
}

}  // namespace
}  // namespace mqsentry::kernel::abi
