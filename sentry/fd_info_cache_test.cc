#include "sentry/fd_info_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace mqsentry::sentry {
namespace {

int32_t Tid() { return static_cast<int32_t>(syscall(SYS_gettid)); }

uint64_t InoOf(int fd) {
  struct stat st {};
  EXPECT_EQ(fstat(fd, &st), 0);
  return st.st_ino;
}

TEST(ParseFdInfo, ReadsTheFourFirstLines) {
  auto info = ParseFdInfo("pos:\t0\nflags:\t02004002\nmnt_id:\t31\nino:\t4242\neventfd-count: 0\n");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->flags, 02004002u);
  EXPECT_EQ(info->mnt_id, 31u);
  EXPECT_EQ(info->ino, 4242u);
}

TEST(ParseFdInfo, MissingFieldIsNothing) {
  EXPECT_FALSE(ParseFdInfo("pos:\t0\nflags:\t02\nino:\t1\n").has_value());
  EXPECT_FALSE(ParseFdInfo("").has_value());
  EXPECT_FALSE(ParseFdInfo("flags:\nmnt_id:\t1\nino:\t1\n").has_value());
  // "inotify" must not be taken for "ino".
  EXPECT_FALSE(ParseFdInfo("flags:\t0\nmnt_id:\t1\ninotify wd:1 ino:5\n").has_value());
}

TEST(FdInfoCache, FollowsTheDescriptorTable) {
  FdInfoCache cache;
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  auto first = cache.Read(Tid(), p[0]);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->ino, InoOf(p[0]));
  EXPECT_EQ(first->flags & O_NONBLOCK, 0u);

  // A flag change through fcntl shows on the cached file.
  ASSERT_EQ(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
  auto again = cache.Read(Tid(), p[0]);
  ASSERT_TRUE(again.has_value());
  EXPECT_NE(again->flags & O_NONBLOCK, 0u);
  EXPECT_EQ(cache.size(), 1u);

  // Another file at the same number is seen as that file.
  const int other = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(other, 0);
  ASSERT_EQ(dup3(other, p[0], O_CLOEXEC), p[0]);
  auto replaced = cache.Read(Tid(), p[0]);
  ASSERT_TRUE(replaced.has_value());
  EXPECT_EQ(replaced->ino, InoOf(other));

  // A closed descriptor is not open.
  close(p[0]);
  EXPECT_FALSE(cache.Read(Tid(), p[0]).has_value());
  EXPECT_EQ(cache.size(), 0u);
  close(p[1]);
  close(other);
}

TEST(FdInfoCache, ThreadThatIsGoneHasNoDescriptors) {
  int ready[2];
  ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char c = 1;
    (void)!write(ready[1], &c, 1);
    pause();
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  FdInfoCache cache;
  EXPECT_TRUE(cache.Read(child, ready[1]).has_value());
  kill(child, SIGKILL);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  EXPECT_FALSE(cache.Read(child, ready[1]).has_value());
  close(ready[0]);
  close(ready[1]);
}

TEST(FdInfoCache, StaysWithinItsCapacity) {
  FdInfoCache cache(2);
  int fds[3];
  for (int& fd : fds) {
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
  }
  for (int round = 0; round < 2; ++round) {
    for (int fd : fds) {
      auto info = cache.Read(Tid(), fd);
      ASSERT_TRUE(info.has_value());
      EXPECT_EQ(info->ino, InoOf(fd));
      EXPECT_LE(cache.size(), 2u);
    }
  }
  for (int fd : fds) close(fd);
}

TEST(FdInfoCache, BadArgumentsAreNotOpen) {
  FdInfoCache cache;
  EXPECT_FALSE(cache.Read(Tid(), -1).has_value());
  EXPECT_FALSE(cache.Read(0, 0).has_value());
  EXPECT_FALSE(cache.Read(Tid(), 1 << 30).has_value());
}

}  // namespace
}  // namespace mqsentry::sentry
