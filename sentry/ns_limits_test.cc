// NamespaceLimits against the real kernel. Also proves the assumption it rests on: a
// /proc/sys/fs/mqueue file opened inside an IPC namespace keeps showing that namespace's
// value, live, whoever reads it. Needs root (unshare(CLONE_NEWIPC), setns).
#include "sentry/ns_limits.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "ipc/sysctls.h"
#include "kernel/abi.h"

namespace mqsentry::sentry {
namespace {

#define CHILD_CHECK(cond)                                                                        \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      std::fprintf(stderr, "%s:%d: child check failed: %s (errno %d: %s)\n", __FILE__, __LINE__, \
                   #cond, errno, std::strerror(errno));                                          \
      _exit(1);                                                                                  \
    }                                                                                            \
  } while (0)

bool WriteFile(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

int ReadIntFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[32] = {};
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  int v = -1;
  if (n <= 0 || !absl::SimpleAtoi(absl::StripAsciiWhitespace(buf), &v)) return -1;
  return v;
}

// A child in its own IPC namespace that writes the sysctl values it is told to.
// Protocol: child -> 'R' when ready; parent -> a step byte; child -> 'D' when done.
class SysctlChild {
 public:
  SysctlChild() {
    int to_child[2], to_parent[2];
    if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(to_parent, O_CLOEXEC) != 0) std::abort();
    pid_ = fork();
    if (pid_ < 0) std::abort();
    if (pid_ == 0) {
      close(to_child[1]);
      close(to_parent[0]);
      CHILD_CHECK(unshare(CLONE_NEWIPC) == 0);
      CHILD_CHECK(WriteFile("/proc/sys/fs/mqueue/msg_max", "42"));
      char c = 'R';
      CHILD_CHECK(write(to_parent[1], &c, 1) == 1);
      while (read(to_child[0], &c, 1) == 1) {
        if (c == '2') {
          CHILD_CHECK(WriteFile("/proc/sys/fs/mqueue/msg_max", "77"));
          CHILD_CHECK(WriteFile("/proc/sys/fs/mqueue/queues_max", "7"));
          CHILD_CHECK(WriteFile("/proc/sys/fs/mqueue/msgsize_default", "1024"));
        }
        c = 'D';
        CHILD_CHECK(write(to_parent[1], &c, 1) == 1);
      }
      _exit(0);
    }
    close(to_child[0]);
    close(to_parent[1]);
    read_fd_ = to_parent[0];
    write_fd_ = to_child[1];
  }
  ~SysctlChild() { Finish(); }
  pid_t pid() const { return pid_; }
  char Step(char step) {
    if (step != 0 && write(write_fd_, &step, 1) != 1) return 0;
    char c = 0;
    return read(read_fd_, &c, 1) == 1 ? c : 0;
  }
  int Finish() {
    if (pid_ <= 0) return -1;
    close(write_fd_);
    close(read_fd_);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int read_fd_ = -1;
  int write_fd_ = -1;
};

ipc::MqSysctls Defaults() { return ipc::MqSysctls{}; }

TEST(NamespaceLimitsTest, ReadsTheChildNamespacesValuesLive) {
  const int own_before = ReadIntFile("/proc/sys/fs/mqueue/msg_max");
  ASSERT_GT(own_before, 0);
  ASSERT_NE(own_before, 42);

  SysctlChild child;
  ASSERT_EQ(child.Step(0), 'R');
  const int ns_fd =
      open(absl::StrCat("/proc/", child.pid(), "/ns/ipc").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(ns_fd, 0);
  absl::StatusOr<std::unique_ptr<NamespaceLimits>> limits = NamespaceLimits::Open(ns_fd);
  close(ns_fd);  // not owned; the open files are what count
  ASSERT_TRUE(limits.ok()) << limits.status();
  // Also one raw file opened the same way, to see when the namespace is gone.
  int probe = -1;
  std::thread([&] {
    const int fd =
        open(absl::StrCat("/proc/", child.pid(), "/ns/ipc").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && setns(fd, CLONE_NEWIPC) == 0) {
      probe = open("/proc/sys/fs/mqueue/msg_max", O_RDONLY | O_CLOEXEC);
    }
    if (fd >= 0) close(fd);
  }).join();
  ASSERT_GE(probe, 0);

  ipc::MqSysctls expected = Defaults();  // a new IPC namespace starts from the defaults
  expected.msg_max = 42;
  EXPECT_EQ((*limits)->Read(), expected);
  // This thread's namespace and the host's file are untouched.
  EXPECT_EQ(ReadIntFile("/proc/sys/fs/mqueue/msg_max"), own_before);

  // Writes made after Open() are seen at once.
  ASSERT_EQ(child.Step('2'), 'D');
  expected.msg_max = 77;
  expected.queues_max = 7;
  expected.msgsize_default = 1024;
  EXPECT_EQ((*limits)->Read(), expected);
  EXPECT_EQ(ReadIntFile("/proc/sys/fs/mqueue/msg_max"), own_before);

  // Once released (the registry saw the namespace die), nothing holds the namespace, and
  // once it is gone (freed asynchronously after its last task exits) its files answer
  // ENOENT; Read() keeps the last good values.
  (*limits)->Release();
  EXPECT_EQ(child.Finish(), 0);
  char buf[32];
  for (int i = 0; i < 500 && pread(probe, buf, sizeof(buf), 0) > 0; ++i) usleep(10000);
  EXPECT_LT(pread(probe, buf, sizeof(buf), 0), 0);
  EXPECT_EQ(errno, ENOENT);
  close(probe);
  EXPECT_EQ((*limits)->Read(), expected);
}

TEST(NamespaceLimitsTest, OwnNamespaceMatchesProc) {
  const int ns_fd = open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(ns_fd, 0);
  absl::StatusOr<std::unique_ptr<NamespaceLimits>> limits = NamespaceLimits::Open(ns_fd);
  close(ns_fd);
  ASSERT_TRUE(limits.ok()) << limits.status();
  const ipc::MqSysctls read = (*limits)->Read();
  EXPECT_EQ(read.queues_max, ReadIntFile("/proc/sys/fs/mqueue/queues_max"));
  EXPECT_EQ(read.msg_max, ReadIntFile("/proc/sys/fs/mqueue/msg_max"));
  EXPECT_EQ(read.msgsize_max, ReadIntFile("/proc/sys/fs/mqueue/msgsize_max"));
  EXPECT_EQ(read.msg_default, ReadIntFile("/proc/sys/fs/mqueue/msg_default"));
  EXPECT_EQ(read.msgsize_default, ReadIntFile("/proc/sys/fs/mqueue/msgsize_default"));
}

TEST(NamespaceLimitsTest, ConcurrentReaders) {
  SysctlChild child;
  ASSERT_EQ(child.Step(0), 'R');
  const int ns_fd =
      open(absl::StrCat("/proc/", child.pid(), "/ns/ipc").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(ns_fd, 0);
  absl::StatusOr<std::unique_ptr<NamespaceLimits>> limits = NamespaceLimits::Open(ns_fd);
  close(ns_fd);
  ASSERT_TRUE(limits.ok()) << limits.status();
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if ((*limits)->Read().msg_max != 42) ++bad[t];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
  EXPECT_EQ(child.Finish(), 0);
}

int CountOpenFds() {
  int n = 0;
  for (int fd = 0; fd < 4096; ++fd) n += fcntl(fd, F_GETFD) >= 0;
  return n;
}

// A namespace costs one held descriptor; the files of only kOpenFileSets namespaces stay
// open, and an evicted namespace's files are opened again when it is read.
TEST(NamespaceLimitsTest, OpenFilesAreBoundedAcrossNamespaces) {
  const int ns_fd = open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(ns_fd, 0);
  const int before = CountOpenFds();
  constexpr int kNamespaces = 3 * NamespaceLimits::kOpenFileSets;
  std::vector<std::unique_ptr<NamespaceLimits>> all;
  for (int i = 0; i < kNamespaces; ++i) {
    absl::StatusOr<std::unique_ptr<NamespaceLimits>> limits = NamespaceLimits::Open(ns_fd);
    ASSERT_TRUE(limits.ok()) << limits.status();
    all.push_back(std::move(*limits));
  }
  EXPECT_LE(NamespaceLimits::OpenFileSetsForTest(), NamespaceLimits::kOpenFileSets);
  EXPECT_LE(CountOpenFds() - before, kNamespaces + 5 * NamespaceLimits::kOpenFileSets);
  const int queues_max = ReadIntFile("/proc/sys/fs/mqueue/queues_max");
  EXPECT_EQ(all.front()->Read().queues_max, queues_max);  // evicted, opened again
  EXPECT_LE(NamespaceLimits::OpenFileSetsForTest(), NamespaceLimits::kOpenFileSets);
  for (auto& limits : all) limits->Release();
  EXPECT_EQ(all.front()->Read().queues_max, queues_max);  // the last values
  EXPECT_EQ(CountOpenFds(), before);
  all.clear();
  close(ns_fd);
}

TEST(NamespaceLimitsTest, NotANamespaceIsAnError) {
  const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(NamespaceLimits::Open(fd).ok());
  close(fd);
  EXPECT_FALSE(NamespaceLimits::Open(-1).ok());
}

}  // namespace
}  // namespace mqsentry::sentry
