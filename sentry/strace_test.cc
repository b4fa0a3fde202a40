// --strace formatting.
#include "sentry/strace.h"

#include <cerrno>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

namespace mqsentry::sentry {
namespace {

TEST(StraceTest, OpenFlags) {
  EXPECT_EQ(OpenFlagsString(02 | 0100), "O_RDWR|O_CREAT");
  EXPECT_EQ(OpenFlagsString(0), "O_RDONLY");
  EXPECT_EQ(OpenFlagsString(01 | 04000 | 02000000), "O_WRONLY|O_NONBLOCK|O_CLOEXEC");
  EXPECT_EQ(OpenFlagsString(3), "03");
  EXPECT_EQ(OpenFlagsString(1 << 30), "O_RDONLY|010000000000");
}

TEST(StraceTest, QuotedStrings) {
  EXPECT_EQ(QuotedString("q"), "\"q\"");
  EXPECT_EQ(QuotedString("a\nb\"c"), "\"a\\nb\\\"c\"");
  EXPECT_EQ(QuotedString("\xff"), "\"\\377\"");
  EXPECT_EQ(QuotedString(std::string(40, 'x'), 4), "\"xxxx\"...");
}

TEST(StraceTest, Structures) {
  kernel::abi::MqAttr a{};
  a.mq_maxmsg = 10;
  a.mq_msgsize = 64;
  EXPECT_EQ(AttrString(a, false), "{mq_maxmsg=10, mq_msgsize=64}");
  a.mq_flags = 04000;
  a.mq_curmsgs = 2;
  EXPECT_EQ(AttrString(a, true),
            "{mq_flags=O_NONBLOCK, mq_maxmsg=10, mq_msgsize=64, mq_curmsgs=2}");
  EXPECT_EQ(PointerString(0), "NULL");
  EXPECT_EQ(PointerString(0x1000), "0x1000");
  EXPECT_EQ(SigeventString(1, 0, 0),
            "{sigev_value={sival_int=0, sival_ptr=NULL}, sigev_signo=0, sigev_notify=SIGEV_NONE}");
}

TEST(StraceTest, Lines) {
  char* buf = nullptr;
  size_t len = 0;
  FILE* out = open_memstream(&buf, &len);
  {
    Strace s(out);
    s.Complete(12, "mq_open(\"q\", O_RDWR|O_CREAT, 0600, {mq_maxmsg=10, mq_msgsize=64})",
               kernel::SyscallResult::Value(3));
    s.Complete(12, "mq_unlink(\"q\")", kernel::SyscallResult::Error(ENOENT));
    s.Unfinished(13, "mq_timedreceive(3, 0x1000, 64, NULL, NULL)");
    s.Resumed(13, "mq_timedreceive", kernel::SyscallResult::Value(5));
  }
  fclose(out);
  EXPECT_EQ(std::string(buf, len),
            "[12] mq_open(\"q\", O_RDWR|O_CREAT, 0600, {mq_maxmsg=10, mq_msgsize=64}) = 3\n"
            "[12] mq_unlink(\"q\") = -1 ENOENT (No such file or directory)\n"
            "[13] mq_timedreceive(3, 0x1000, 64, NULL, NULL) <unfinished ...>\n"
            "[13] <... mq_timedreceive resumed>) = 5\n");
  free(buf);
}

}  // namespace
}  // namespace mqsentry::sentry
