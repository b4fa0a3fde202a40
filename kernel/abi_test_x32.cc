// Tests that abi.h's x32 system call numbers are <asm/unistd_x32.h>'s (spec §1.1). Its own
// translation unit because that header reuses the __NR_* names of the other ABIs.

// <asm/unistd.h> picks <asm/unistd_x32.h> exactly when an x32 compiler (which predefines
// __ILP32__ on x86-64) includes it; do the same so the numbers come with their
// __X32_SYSCALL_BIT. First in the file, so no other header has pulled in <asm/unistd.h>
// yet, and nothing else is included while the macro is defined.
#define __ILP32__ 1
#include <asm/unistd.h>
#undef __ILP32__

#include "gtest/gtest.h"
#include "kernel/abi.h"

namespace mqsentry::kernel::abi {
namespace {

// spec §1.1: x86-64 numbers plus the x32 bit, except mq_notify (compat sigevent) at 527.
TEST(AbiX32Test, SyscallNumbersMatchAsmUnistdX32) {
#ifndef _ASM_UNISTD_X32_H
  FAIL() << "<asm/unistd.h> did not select <asm/unistd_x32.h>";
#endif
  EXPECT_EQ(kX32Syscalls.mq_open, __NR_mq_open);
  EXPECT_EQ(kX32Syscalls.mq_unlink, __NR_mq_unlink);
  EXPECT_EQ(kX32Syscalls.mq_timedsend, __NR_mq_timedsend);
  EXPECT_EQ(kX32Syscalls.mq_timedreceive, __NR_mq_timedreceive);
  EXPECT_EQ(kX32Syscalls.mq_notify, __NR_mq_notify);
  EXPECT_EQ(kX32Syscalls.mq_getsetattr, __NR_mq_getsetattr);
}

// x32 time is 64-bit: there are no time64 variants, and abi.h leaves them at -1.
TEST(AbiX32Test, HasNoTime64Variants) {
#if defined(__NR_mq_timedsend_time64) || defined(__NR_mq_timedreceive_time64)
  ADD_FAILURE() << "<asm/unistd_x32.h> defines mq time64 syscalls";
#endif
  EXPECT_EQ(kX32Syscalls.mq_timedsend_time64, -1);
  EXPECT_EQ(kX32Syscalls.mq_timedreceive_time64, -1);
}

}  // namespace
}  // namespace mqsentry::kernel::abi
