// Tests for SyscallResult, the value-or-errno a sandboxed program sees (style.md habit 2),
// and the errno names used in traces.
#include "kernel/syscall_result.h"

#include <cerrno>
#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace mqsentry::kernel {
namespace {

TEST(SyscallResultTest, ValueIsOkAndRawIsTheValue) {
  constexpr SyscallResult r = SyscallResult::Value(3);
  static_assert(r.ok());  // usable in constant expressions, like the syscall table
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.error(), 0);
  EXPECT_EQ(r.value(), 3);
  EXPECT_EQ(r.raw(), 3);
}

TEST(SyscallResultTest, OkIsValueZero) {
  EXPECT_TRUE(SyscallResult::Ok().ok());
  EXPECT_EQ(SyscallResult::Ok().raw(), 0);
  EXPECT_EQ(SyscallResult::Ok(), SyscallResult::Value(0));
}

// spec §5.2 step 7: mq_timedreceive returns the message length, which can be large.
TEST(SyscallResultTest, LargeValuesSurviveInTheRawRegister) {
  const int64_t len = int64_t{16} * 1024 * 1024;  // HARD_MSGSIZEMAX
  EXPECT_EQ(SyscallResult::Value(len).raw(), len);
}

TEST(SyscallResultTest, ErrorIsNotOkAndRawIsMinusErrno) {
  const SyscallResult r = SyscallResult::Error(EAGAIN);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error(), EAGAIN);
  EXPECT_EQ(r.raw(), -EAGAIN);
}

TEST(SyscallResultTest, EqualityComparesBothChannels) {
  EXPECT_EQ(SyscallResult::Error(EBADF), SyscallResult::Error(EBADF));
  EXPECT_NE(SyscallResult::Error(EBADF), SyscallResult::Error(EINVAL));
  EXPECT_NE(SyscallResult::Error(EBADF), SyscallResult::Value(EBADF));
  EXPECT_NE(SyscallResult::Value(1), SyscallResult::Value(2));
}

TEST(SyscallResultTest, ToStringShowsValueOrErrnoName) {
  EXPECT_EQ(SyscallResult::Value(3).ToString(), "3");
  EXPECT_EQ(SyscallResult::Error(EAGAIN).ToString(), "-1 EAGAIN");
  EXPECT_EQ(SyscallResult::Error(ETIMEDOUT).ToString(), "-1 ETIMEDOUT");
}

TEST(SyscallResultTest, ToStringFallsBackToTheNumberForUnknownErrnos) {
  EXPECT_EQ(SyscallResult::Error(4095).ToString(), "-1 E4095");
}

// Every errno that spec §3-§9 says an mq call can return has a name for --strace.
TEST(ErrnoNameTest, NamesEveryErrnoTheSpecUses) {
  const struct {
    int value;
    const char* name;
  } kCases[] = {
      {EPERM, "EPERM"},
      {ENOENT, "ENOENT"},
      {EINTR, "EINTR"},
      {EBADF, "EBADF"},
      {EAGAIN, "EAGAIN"},
      {ENOMEM, "ENOMEM"},
      {EACCES, "EACCES"},
      {EFAULT, "EFAULT"},
      {EBUSY, "EBUSY"},
      {EEXIST, "EEXIST"},
      {ENODEV, "ENODEV"},
      {EINVAL, "EINVAL"},
      {ENFILE, "ENFILE"},
      {EMFILE, "EMFILE"},
      {ENOSPC, "ENOSPC"},
      {EROFS, "EROFS"},
      {ENAMETOOLONG, "ENAMETOOLONG"},
      {ENOSYS, "ENOSYS"},
      {EMSGSIZE, "EMSGSIZE"},
      {ENOTSOCK, "ENOTSOCK"},
      {EOVERFLOW, "EOVERFLOW"},
      {ETIMEDOUT, "ETIMEDOUT"},
  };
  for (const auto& c : kCases) {
    EXPECT_STREQ(ErrnoName(c.value), c.name) << "errno " << c.value;
  }
}

TEST(ErrnoNameTest, UnknownErrnoIsEmpty) {
  EXPECT_STREQ(ErrnoName(0), "");
  EXPECT_STREQ(ErrnoName(-1), "");
  EXPECT_STREQ(ErrnoName(4095), "");
}

}  // namespace
}  // namespace mqsentry::kernel
