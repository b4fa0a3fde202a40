#include "sentry/cookie_channels.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <vector>

#include "gtest/gtest.h"

namespace mqsentry::sentry {
namespace {

std::array<uint8_t, 32> Cookie(uint8_t first) {
  std::array<uint8_t, 32> c{};
  for (int i = 0; i < 32; ++i) c[i] = static_cast<uint8_t>(first + i);
  return c;
}

TEST(CookieChannels, CookiesReachOnlyTheProgramEnd) {
  CookieChannels channels(8);
  std::optional<CookieChannels::Created> c = channels.Create(false);
  ASSERT_TRUE(c.has_value());
  EXPECT_NE(c->id, 0u);
  // Any descriptor of the program's end finds the channel.
  const int dup_fd = dup(c->program_end.get());
  ASSERT_GE(dup_fd, 0);
  EXPECT_EQ(channels.Find(dup_fd), c->id);
  ASSERT_TRUE(channels.Send(c->id, Cookie(0xa0)));
  uint8_t buf[64];
  ASSERT_EQ(recv(dup_fd, buf, sizeof(buf), MSG_DONTWAIT), 32);
  EXPECT_EQ(buf[0], 0xa0);
  EXPECT_EQ(buf[31], 0xa0 + 31);
  // The program cannot write into the supervisor's end.
  EXPECT_EQ(send(dup_fd, buf, 4, MSG_DONTWAIT | MSG_NOSIGNAL), -1);
  EXPECT_EQ(errno, EPIPE);
  // Not a channel: another socket, a pipe.
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
  EXPECT_FALSE(channels.Find(sv[0]).has_value());
  close(sv[0]);
  close(sv[1]);
  // Once the program's end is closed everywhere the channel is gone.
  close(dup_fd);
  c->program_end.reset();
  EXPECT_FALSE(channels.Send(c->id, Cookie(1)));
}

TEST(CookieChannels, NonblockingProgramEnd) {
  CookieChannels channels(8);
  std::optional<CookieChannels::Created> c = channels.Create(true);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(fcntl(c->program_end.get(), F_GETFL) & O_NONBLOCK);
}

TEST(CookieChannels, BoundedAndDeadChannelsAreDropped) {
  CookieChannels channels(4);
  std::vector<CookieChannels::Created> live;
  for (int i = 0; i < 4; ++i) {
    std::optional<CookieChannels::Created> c = channels.Create(false);
    ASSERT_TRUE(c.has_value());
    live.push_back(std::move(*c));
  }
  EXPECT_FALSE(channels.Create(false).has_value());  // at the bound
  EXPECT_EQ(channels.size(), 4u);
  live[1].program_end.reset();  // its program end is gone: the slot comes back
  std::optional<CookieChannels::Created> c = channels.Create(false);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(channels.size(), 4u);
  EXPECT_TRUE(channels.Send(live[0].id, Cookie(0)));
  EXPECT_FALSE(channels.Send(live[1].id, Cookie(0)));
}

}  // namespace
}  // namespace mqsentry::sentry
