#include "sentry/arch.h"

#include <linux/audit.h>

#include <cstring>

#include "gtest/gtest.h"

namespace mqsentry::sentry {
namespace {

TEST(ArchTest, Names) {
  EXPECT_STREQ(ArchName(Arch::kX86_64), "x86_64");
  EXPECT_STREQ(ArchName(Arch::kI386), "i386");
  EXPECT_STREQ(ArchName(Arch::kX32), "x32");
}

TEST(ArchTest, FromSeccompData) {
  EXPECT_EQ(ArchFromSeccompData(AUDIT_ARCH_X86_64, 240), Arch::kX86_64);
  // x32 shares the x86-64 audit arch; only the number's x32 bit tells them apart.
  EXPECT_EQ(ArchFromSeccompData(AUDIT_ARCH_X86_64, kX32SyscallBit | 240), Arch::kX32);
  EXPECT_EQ(ArchFromSeccompData(AUDIT_ARCH_I386, 277), Arch::kI386);
  EXPECT_EQ(ArchFromSeccompData(AUDIT_ARCH_AARCH64, 180), std::nullopt);
}

}  // namespace
}  // namespace mqsentry::sentry
