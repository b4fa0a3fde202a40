// Tests of mq_getsetattr (spec §7): mq_flags validation, the old-attribute snapshot taken
// before the change, and O_NONBLOCK as the only flag changed in the open description.
#include "ipc/getsetattr.h"

#include <cerrno>
#include <cstdint>

#include "gtest/gtest.h"
#include "ipc/queue.h"
#include "ipc/test_events.h"
#include "kernel/abi.h"

namespace mqsentry::ipc {
namespace {

namespace abi = kernel::abi;
using kernel::SyscallResult;

abi::MqAttr Flags(int64_t flags) {
  abi::MqAttr a{};
  a.mq_flags = flags;
  return a;
}

class GetSetAttrTest : public ::testing::Test {
 protected:
  GetSetAttrTest() : q_(kernel::KUid(0), kernel::KGid(0), 0600, {5, 64}, &events_) {}
  void Put(int n) {
    for (int i = 0; i < n; ++i) {
      SendRequest r;
      r.payload = "m";
      q_.Send(r);
    }
  }
  RecordingEvents events_;
  Queue q_;
};

TEST_F(GetSetAttrTest, Spec7_Step2_ZeroFlagsValid) {
  EXPECT_EQ(ValidateNewAttr(Flags(0)), SyscallResult::Ok());
}

TEST_F(GetSetAttrTest, Spec7_Step2_NonblockValid) {
  EXPECT_EQ(ValidateNewAttr(Flags(abi::kONonblock)), SyscallResult::Ok());
}

TEST_F(GetSetAttrTest, Spec7_Step2_NonblockWithAppendIsEinval) {
  EXPECT_EQ(ValidateNewAttr(Flags(abi::kONonblock | abi::kOAppend)), SyscallResult::Error(EINVAL));
}

// Spec §7 step 2: the full 64-bit long is tested.
TEST_F(GetSetAttrTest, Spec7_Step2_Bit40IsEinval) {
  EXPECT_EQ(ValidateNewAttr(Flags(int64_t{1} << 40)), SyscallResult::Error(EINVAL));
  EXPECT_EQ(ValidateNewAttr(Flags(int64_t{1} << 63)), SyscallResult::Error(EINVAL));
}

TEST_F(GetSetAttrTest, Spec7_Step2_AllBitsIsEinval) {
  EXPECT_EQ(ValidateNewAttr(Flags(-1)), SyscallResult::Error(EINVAL));
}

TEST_F(GetSetAttrTest, Spec7_Step2_OtherFieldsNotValidated) {
  abi::MqAttr a = Flags(abi::kONonblock);
  a.mq_maxmsg = -5;
  a.mq_msgsize = 1 << 30;
  a.mq_curmsgs = 99;
  a.reserved[2] = 7;
  EXPECT_EQ(ValidateNewAttr(a), SyscallResult::Ok());
}

// Spec §7 step 4: with no newattr the call only reports.
TEST_F(GetSetAttrTest, Spec7_Step4_GetOnly) {
  Put(2);
  int flags = abi::kORdwr | abi::kONonblock;
  abi::MqAttr old = GetSetAttr(q_, &flags, nullptr);
  EXPECT_EQ(old.mq_flags, abi::kONonblock);
  EXPECT_EQ(old.mq_maxmsg, 5);
  EXPECT_EQ(old.mq_msgsize, 64);
  EXPECT_EQ(old.mq_curmsgs, 2);
  for (int64_t r : old.reserved) EXPECT_EQ(r, 0);
  EXPECT_EQ(flags, abi::kORdwr | abi::kONonblock);
}

// Spec §7 step 4: the snapshot is taken before O_NONBLOCK changes.
TEST_F(GetSetAttrTest, Spec7_Step4_SetReturnsOldSnapshot) {
  int flags = abi::kORdonly;
  abi::MqAttr set = Flags(abi::kONonblock);
  abi::MqAttr old = GetSetAttr(q_, &flags, &set);
  EXPECT_EQ(old.mq_flags, 0);
  EXPECT_EQ(flags, abi::kONonblock);
  old = GetSetAttr(q_, &flags, nullptr);
  EXPECT_EQ(old.mq_flags, 2048);
}

TEST_F(GetSetAttrTest, Spec7_Step4_ClearReturnsOldSnapshot) {
  int flags = abi::kOWronly | abi::kONonblock;
  abi::MqAttr clear = Flags(0);
  abi::MqAttr old = GetSetAttr(q_, &flags, &clear);
  EXPECT_EQ(old.mq_flags, 2048);
  EXPECT_EQ(flags, abi::kOWronly);
}

// Spec §7: mq_setattr(flags=0) leaves O_APPEND alone.
TEST_F(GetSetAttrTest, Spec7_OtherFileFlagsKept) {
  int flags = abi::kORdwr | abi::kONonblock | abi::kOAppend | abi::kOCloexec | (1 << 30);
  abi::MqAttr clear = Flags(0);
  GetSetAttr(q_, &flags, &clear);
  EXPECT_EQ(flags, abi::kORdwr | abi::kOAppend | abi::kOCloexec | (1 << 30));
  abi::MqAttr set = Flags(abi::kONonblock);
  GetSetAttr(q_, &flags, &set);
  EXPECT_EQ(flags, abi::kORdwr | abi::kOAppend | abi::kOCloexec | (1 << 30) | abi::kONonblock);
}

// Spec §7 step 4: every other field of newattr is ignored.
TEST_F(GetSetAttrTest, Spec7_Step4_OtherNewAttrFieldsIgnored) {
  int flags = 0;
  abi::MqAttr set = Flags(abi::kONonblock);
  set.mq_maxmsg = 1;
  set.mq_msgsize = 1;
  set.mq_curmsgs = 3;
  GetSetAttr(q_, &flags, &set);
  EXPECT_EQ(q_.attributes().maxmsg, 5);
  EXPECT_EQ(q_.attributes().msgsize, 64);
  EXPECT_EQ(q_.Attributes(flags).mq_curmsgs, 0);
}

TEST_F(GetSetAttrTest, Spec7_SetIsIdempotent) {
  int flags = abi::kONonblock;
  abi::MqAttr set = Flags(abi::kONonblock);
  EXPECT_EQ(GetSetAttr(q_, &flags, &set).mq_flags, 2048);
  EXPECT_EQ(flags, abi::kONonblock);
}

// Spec §7: no access mode is needed (access mode 3 works) and nothing is woken.
TEST_F(GetSetAttrTest, Spec7_AnyAccessModeAndNoEvents) {
  Put(1);
  events_.Clear();
  int flags = abi::kOAccmode;
  abi::MqAttr set = Flags(abi::kONonblock);
  abi::MqAttr old = GetSetAttr(q_, &flags, &set);
  EXPECT_EQ(old.mq_curmsgs, 1);
  EXPECT_EQ(flags, abi::kOAccmode | abi::kONonblock);
  EXPECT_TRUE(events_.log.empty());
}

}  // namespace
}  // namespace mqsentry::ipc
