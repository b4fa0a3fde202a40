#include "sentry/kept_fds.h"

#include <fcntl.h>
#include <mqueue.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {
namespace {

void ExpectRefused(int fd, const std::string& why) {
  ASSERT_GE(fd, 0) << std::strerror(errno);
  UniqueFd owned(fd);
  absl::Status s = CheckKeptDescriptor(fd);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), why)) << s;
}

void ExpectKept(int fd) {
  ASSERT_GE(fd, 0) << std::strerror(errno);
  UniqueFd owned(fd);
  EXPECT_TRUE(CheckKeptDescriptor(fd).ok()) << CheckKeptDescriptor(fd);
}

TEST(KeptFds, PlainDataIsKept) {
  ExpectKept(open("/dev/null", O_RDWR | O_CLOEXEC));
  ExpectKept(open("/etc/passwd", O_RDONLY | O_CLOEXEC));
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  close(p[1]);
  ExpectKept(p[0]);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  close(sv[1]);
  ExpectKept(sv[0]);
  ExpectKept(eventfd(0, EFD_CLOEXEC));
  ExpectKept(epoll_create1(EPOLL_CLOEXEC));
}

TEST(KeptFds, WaysToTheHostAreRefused) {
  ExpectRefused(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), "a directory");
  ExpectRefused(open("/etc/passwd", O_PATH | O_CLOEXEC), "O_PATH");
  ExpectRefused(open("/proc/self/status", O_RDONLY | O_CLOEXEC), "/proc");
  ExpectRefused(open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC), "namespace");
  ExpectRefused(static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0)), "pidfd");
  ExpectRefused(static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC)), "anonymous");
}

TEST(KeptFds, OnlyDataDevicesAreKept) {
  ExpectKept(open("/dev/zero", O_RDONLY | O_CLOEXEC));
  ExpectKept(open("/dev/urandom", O_RDONLY | O_CLOEXEC));
  ExpectKept(open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  // /dev/kmsg (1:11): the host's kernel log (where the test may open it).
  const int kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (kmsg >= 0) ExpectRefused(kmsg, "character device");
}

TEST(KeptFds, MqDescriptorIsRefused) {
  const char* name = "/mqsentry-kept-fds-test";
  const mqd_t q = mq_open(name, O_CREAT | O_RDWR, 0600, nullptr);
  ASSERT_GE(q, 0) << std::strerror(errno);
  mq_unlink(name);
  ExpectRefused(q, "mqueue");
}

TEST(KeptFds, PreservedRangeMustBeOpen) {
  // Bazel's test runner leaves 0-2 open; a number far above anything open is not.
  EXPECT_TRUE(CheckKeptDescriptors(0).ok());
  absl::Status s = CheckKeptDescriptors(4000);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "is not open")) << s;
  EXPECT_TRUE(absl::IsNotFound(CheckKeptDescriptor(4000)));
}

}  // namespace
}  // namespace mqsentry::sentry
