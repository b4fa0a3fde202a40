#include "sentry/fd_passing.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {
namespace {

struct Pair {
  UniqueFd a, b;
};

Pair MakePair() {
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

TEST(FdPassingTest, PassesDataAndDescriptor) {
  Pair p = MakePair();
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd r(pipe_fds[0]), w(pipe_fds[1]);
  ASSERT_TRUE(SendMessage(p.a.get(), "R", w.get()).ok());
  absl::StatusOr<ReceivedMessage> m = ReceiveMessage(p.b.get(), 16);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE(m->eof);
  EXPECT_EQ(m->data, "R");
  ASSERT_TRUE(m->fd.valid());
  EXPECT_EQ(fcntl(m->fd.get(), F_GETFD), FD_CLOEXEC);
  struct stat s1, s2;
  ASSERT_EQ(fstat(w.get(), &s1), 0);
  ASSERT_EQ(fstat(m->fd.get(), &s2), 0);
  EXPECT_EQ(s1.st_ino, s2.st_ino);
}

TEST(FdPassingTest, DataOnlyAndEof) {
  Pair p = MakePair();
  ASSERT_TRUE(SendMessage(p.a.get(), "hello").ok());
  absl::StatusOr<ReceivedMessage> m = ReceiveMessage(p.b.get(), 16);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->data, "hello");
  EXPECT_FALSE(m->fd.valid());
  p.a.reset();
  m = ReceiveMessage(p.b.get(), 16);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->eof);
}

TEST(FdPassingTest, TooLongIsAnError) {
  Pair p = MakePair();
  ASSERT_TRUE(SendMessage(p.a.get(), "0123456789").ok());
  EXPECT_FALSE(ReceiveMessage(p.b.get(), 4).ok());
  EXPECT_FALSE(SendMessage(p.a.get(), "").ok());
}

}  // namespace
}  // namespace mqsentry::sentry
