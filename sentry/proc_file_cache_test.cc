#include "sentry/proc_file_cache.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace mqsentry::sentry {
namespace {

int32_t Tid() { return static_cast<int32_t>(syscall(SYS_gettid)); }

TEST(ProcFileCache, RereadShowsTheCurrentState) {
  ProcFileCache cache(8);
  const mode_t old = umask(0022);
  std::string text;
  ASSERT_EQ(cache.Read(Tid(), "status", &text), 0);
  EXPECT_NE(text.find("Umask:\t0022"), std::string::npos) << text;
  umask(0077);
  ASSERT_EQ(cache.Read(Tid(), "status", &text), 0);
  EXPECT_NE(text.find("Umask:\t0077"), std::string::npos) << text;
  EXPECT_EQ(cache.size(), 1u);
  umask(old);
}

TEST(ProcFileCache, MissingFileIsEnoent) {
  ProcFileCache cache(8);
  std::string text;
  EXPECT_EQ(cache.Read(Tid(), "fdinfo/999999", &text), -ENOENT);
  EXPECT_EQ(cache.Read(0, "status", &text), -ENOENT);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ProcFileCache, GoneTaskIsNotReadThroughItsOldFile) {
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
  ProcFileCache cache(8);
  std::string text;
  ASSERT_EQ(cache.Read(child, "status", &text), 0);
  EXPECT_NE(text.find("Pid:\t" + std::to_string(child)), std::string::npos);
  kill(child, SIGKILL);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  EXPECT_NE(cache.Read(child, "status", &text), 0);
  EXPECT_EQ(cache.size(), 0u);
  close(ready[0]);
  close(ready[1]);
}

TEST(ProcFileCache, FilesAreReadWhole) {
  ProcFileCache cache(8);
  std::string text;
  for (int i = 0; i < 2; ++i) {  // opened, then re-read
    ASSERT_EQ(cache.Read(Tid(), "limits", &text), 0);
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');
    EXPECT_NE(text.find("Max msgqueue size"), std::string::npos);
    EXPECT_NE(text.find("Max realtime timeout"), std::string::npos);  // the last line
  }
}

TEST(ProcFileCache, StaysWithinCapacityUnderConcurrentReaders) {
  ProcFileCache cache(2);
  const int32_t tid = Tid();
  const char* names[] = {"status", "stat", "limits", "statm"};
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::string text;
      for (int i = 0; i < 500; ++i) {
        if (cache.Read(tid, names[(i + t) % 4], &text) != 0 || text.empty()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(cache.size(), 2u);
}

}  // namespace
}  // namespace mqsentry::sentry
