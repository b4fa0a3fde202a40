// Tests that abi.h's i386 system call numbers are <asm/unistd_32.h>'s (spec §1.1). Its own
// translation unit because <asm/unistd_32.h> reuses the __NR_* names of the other ABIs.
#include <asm/unistd_32.h>

#include "gtest/gtest.h"
#include "kernel/abi.h"

namespace mqsentry::kernel::abi {
namespace {

// spec §1.1: 277..282, with the time64 send/receive at 418/419.
TEST(AbiI386Test, SyscallNumbersMatchAsmUnistd32) {
  EXPECT_EQ(kI386Syscalls.mq_open, __NR_mq_open);
  EXPECT_EQ(kI386Syscalls.mq_unlink, __NR_mq_unlink);
  EXPECT_EQ(kI386Syscalls.mq_timedsend, __NR_mq_timedsend);
  EXPECT_EQ(kI386Syscalls.mq_timedreceive, __NR_mq_timedreceive);
  EXPECT_EQ(kI386Syscalls.mq_notify, __NR_mq_notify);
  EXPECT_EQ(kI386Syscalls.mq_getsetattr, __NR_mq_getsetattr);
  EXPECT_EQ(kI386Syscalls.mq_timedsend_time64, __NR_mq_timedsend_time64);
  EXPECT_EQ(kI386Syscalls.mq_timedreceive_time64, __NR_mq_timedreceive_time64);
}

}  // namespace
}  // namespace mqsentry::kernel::abi
