// Tests of the status line a read() of a queue descriptor returns (spec §8.1).
#include "ipc/status_line.h"

#include <climits>
#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace mqsentry::ipc {
namespace {

// Spec §8.1 example 1: an empty queue without registration.
TEST(StatusLineTest, Spec8_1_EmptyQueueExample) {
  EXPECT_EQ(FormatStatusLine(0, 0, 0, 0),
            "QSIZE:0          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n");
}

// Spec §8.1 example 2: 10 payload bytes, SIGEV_SIGNAL with signal 64 owned by pid 5729.
TEST(StatusLineTest, Spec8_1_SignalRegistrationExample) {
  EXPECT_EQ(FormatStatusLine(10, 0, 64, 5729),
            "QSIZE:10         NOTIFY:0     SIGNO:64    NOTIFY_PID:5729  \n");
}

// Spec §8.1: normally 60 bytes.
TEST(StatusLineTest, Spec8_1_NormallySixtyBytes) {
  EXPECT_EQ(FormatStatusLine(0, 0, 0, 0).size(), 60u);
  EXPECT_EQ(FormatStatusLine(819200, 2, 0, 123456).size(), 60u);
}

// Spec §8.1: lseek(SEEK_END) gives 80 (i_size), not the text length.
TEST(StatusLineTest, Spec8_1_FileSizeIsEighty) { EXPECT_EQ(kStatusFileSize, 80); }

// Spec §8.1: SIGEV_NONE shows NOTIFY:1 and SIGEV_THREAD NOTIFY:2.
TEST(StatusLineTest, Spec8_1_NotifyTypes) {
  EXPECT_EQ(FormatStatusLine(0, 1, 0, 42),
            "QSIZE:0          NOTIFY:1     SIGNO:0     NOTIFY_PID:42    \n");
  EXPECT_EQ(FormatStatusLine(3, 2, 0, 42),
            "QSIZE:3          NOTIFY:2     SIGNO:0     NOTIFY_PID:42    \n");
}

// A field wider than its width pushes the rest right (printf semantics).
TEST(StatusLineTest, Spec8_1_WideFieldsExpand) {
  const std::string line = FormatStatusLine(1099511627776ull, 0, 0, 4194304);  // 2^40 bytes
  EXPECT_EQ(line, "QSIZE:1099511627776 NOTIFY:0     SIGNO:0     NOTIFY_PID:4194304\n");
  EXPECT_EQ(line.size(), 64u);
}

// The kernel formats into an 80-byte buffer: at most 79 characters.
TEST(StatusLineTest, Spec8_1_TruncatedAtSeventyNine) {
  const std::string line = FormatStatusLine(UINT64_MAX, INT_MIN, INT_MIN, INT_MIN);
  EXPECT_EQ(line.size(), 79u);
  EXPECT_EQ(line.substr(0, 27), "QSIZE:18446744073709551615 ");
  EXPECT_NE(line.back(), '\n');
}

TEST(StatusLineTest, Spec8_1_NegativeValuesUseSignedFormat) {
  EXPECT_EQ(FormatStatusLine(0, 0, 0, -1),
            "QSIZE:0          NOTIFY:0     SIGNO:0     NOTIFY_PID:-1    \n");
}

}  // namespace
}  // namespace mqsentry::ipc
