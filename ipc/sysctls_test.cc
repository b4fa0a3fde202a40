// Tests of the fs.mqueue sysctl model (spec §9.2).
#include "ipc/sysctls.h"

#include <gtest/gtest.h>

namespace mqsentry::ipc {
namespace {

TEST(SysctlsTest, DefaultsMatchFreshNamespace_Spec9_2) {
  MqSysctls s;
  EXPECT_EQ(s.queues_max, 256);
  EXPECT_EQ(s.msg_max, 10);
  EXPECT_EQ(s.msgsize_max, 8192);
  EXPECT_EQ(s.msg_default, 10);
  EXPECT_EQ(s.msgsize_default, 8192);
  EXPECT_TRUE(ValidateSysctls(s).ok());
}

TEST(SysctlsTest, NamesWithAndWithoutPrefix) {
  EXPECT_EQ(*ParseSysctlName("msg_max"), MqSysctl::kMsgMax);
  EXPECT_EQ(*ParseSysctlName("fs.mqueue.msgsize_default"), MqSysctl::kMsgsizeDefault);
  EXPECT_EQ(*ParseSysctlName("fs.mqueue.queues_max"), MqSysctl::kQueuesMax);
  EXPECT_FALSE(ParseSysctlName("fs.mqueue.bogus").ok());
  EXPECT_FALSE(ParseSysctlName("kernel.msgmax").ok());
  EXPECT_FALSE(ParseSysctlName("").ok());
}

struct WriteCase {
  MqSysctl sysctl;
  const char* text;
  bool accepted;
  int32_t value;  // expected value after an accepted write
};

class SysctlWriteTest : public testing::TestWithParam<WriteCase> {};

// spec §9.2: ranges, first integer only, non-numeric -> EINVAL.
TEST_P(SysctlWriteTest, KernelRangesAndParsing_Spec9_2) {
  const WriteCase& c = GetParam();
  MqSysctls s;
  absl::Status st = WriteSysctl(s, c.sysctl, c.text);
  EXPECT_EQ(st.ok(), c.accepted) << c.text << ": " << st;
  if (c.accepted) {
    EXPECT_EQ(ReadSysctl(s, c.sysctl), c.value);
  } else {
    EXPECT_EQ(s, MqSysctls{}) << "a refused write changes nothing";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SysctlWriteTest,
    testing::Values(WriteCase{MqSysctl::kQueuesMax, "-1", true, -1},
                    WriteCase{MqSysctl::kQueuesMax, "0", true, 0},
                    WriteCase{MqSysctl::kQueuesMax, "2147483647", true, 2147483647},
                    WriteCase{MqSysctl::kQueuesMax, "2147483648", false, 0},
                    WriteCase{MqSysctl::kQueuesMax, "-2147483648", true, INT32_MIN},
                    WriteCase{MqSysctl::kMsgMax, "0", false, 0},
                    WriteCase{MqSysctl::kMsgMax, "1", true, 1},
                    WriteCase{MqSysctl::kMsgMax, "65536", true, 65536},
                    WriteCase{MqSysctl::kMsgMax, "65537", false, 0},
                    WriteCase{MqSysctl::kMsgMax, "12 13", true, 12},
                    WriteCase{MqSysctl::kMsgMax, "12\n", true, 12},
                    WriteCase{MqSysctl::kMsgMax, "  7", true, 7},
                    WriteCase{MqSysctl::kMsgMax, "abc", false, 0},
                    WriteCase{MqSysctl::kMsgMax, "12abc", false, 0},
                    WriteCase{MqSysctl::kMsgMax, "", false, 0},
                    WriteCase{MqSysctl::kMsgsizeMax, "127", false, 0},
                    WriteCase{MqSysctl::kMsgsizeMax, "128", true, 128},
                    WriteCase{MqSysctl::kMsgsizeMax, "16777216", true, 16777216},
                    WriteCase{MqSysctl::kMsgsizeMax, "16777217", false, 0},
                    WriteCase{MqSysctl::kMsgDefault, "65536", true, 65536},
                    WriteCase{MqSysctl::kMsgDefault, "0", false, 0},
                    WriteCase{MqSysctl::kMsgsizeDefault, "128", true, 128},
                    WriteCase{MqSysctl::kMsgsizeDefault, "100", false, 0},
                    WriteCase{MqSysctl::kMsgsizeDefault, "-5", false, 0}));

TEST(SysctlsTest, ValidateRejectsOutOfRange) {
  MqSysctls s;
  s.msgsize_max = 127;
  EXPECT_FALSE(ValidateSysctls(s).ok());
  s = {};
  s.msg_default = 0;
  EXPECT_FALSE(ValidateSysctls(s).ok());
  s = {};
  s.queues_max = -1;
  EXPECT_TRUE(ValidateSysctls(s).ok());
}

TEST(SysctlsTest, StaticLimitsReadsWhatWasSet) {
  StaticLimits limits;
  EXPECT_EQ(limits.Read(), MqSysctls{});
  MqSysctls s;
  s.msg_max = 64;
  limits.Set(s);
  EXPECT_EQ(limits.Read().msg_max, 64);
}

}  // namespace
}  // namespace mqsentry::ipc
