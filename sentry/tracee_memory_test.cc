// ProcTraceeMemory against a forked child with a known layout:
//   rw    [page 0][page 1][unmapped page 2]
//   ro    [page]
//   none  [page] (PROT_NONE)
// The call is a fake one naming the child; whether it still waits is the test's to say.
#include "sentry/tracee_memory.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {
namespace {

struct Layout {
  uint64_t rw;  // two readable, writable pages, then an unmapped one
  uint64_t ro;  // one read-only page
  uint64_t none;  // one PROT_NONE page
};

constexpr char kPattern = 'p';
constexpr char kWritten[] = "written by the supervisor";
constexpr size_t kWriteOffset = 100;

// The parameter: VMA permissions by PROCMAP_QUERY (true) or from the maps text (false).
class TraceeMemoryTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    int to_parent[2], to_child[2];
    ASSERT_EQ(pipe2(to_parent, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(to_child, O_CLOEXEC), 0);
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      close(to_parent[0]);
      close(to_child[1]);
      _exit(Child(to_parent[1], to_child[0]));
    }
    close(to_parent[1]);
    close(to_child[0]);
    from_child_.reset(to_parent[0]);
    to_child_.reset(to_child[1]);
    ASSERT_EQ(read(from_child_.get(), &layout_, sizeof(layout_)),
              static_cast<ssize_t>(sizeof(layout_)));
    call_.id = 1;
    call_.tid = pid_;
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  int Child(int out, int in) {
    char* rw = static_cast<char*>(
        mmap(nullptr, 3 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    char* ro = static_cast<char*>(
        mmap(nullptr, page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    char* none = static_cast<char*>(
        mmap(nullptr, page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (rw == MAP_FAILED || ro == MAP_FAILED || none == MAP_FAILED) return 1;
    std::memset(none, 'n', page_);
    if (mprotect(none, page_, PROT_NONE) != 0) return 3;
    if (munmap(rw + 2 * page_, page_) != 0) return 2;
    std::memset(rw, kPattern, 2 * page_);
    std::memset(ro, 'r', page_);
    if (mprotect(ro, page_, PROT_READ) != 0) return 3;
    Layout l{reinterpret_cast<uint64_t>(rw), reinterpret_cast<uint64_t>(ro),
             reinterpret_cast<uint64_t>(none)};
    if (write(out, &l, sizeof(l)) != sizeof(l)) return 4;
    // Commands: 'c' checks the supervisor's write, 'n' NUL-terminates at an offset.
    while (true) {
      char cmd;
      if (read(in, &cmd, 1) != 1) return 0;
      if (cmd == 'c') {
        const bool ok = std::memcmp(rw + kWriteOffset, kWritten, sizeof(kWritten)) == 0;
        return ok ? 0 : 5;
      }
      if (cmd == 'n') {
        uint64_t offset;
        if (read(in, &offset, sizeof(offset)) != sizeof(offset)) return 6;
        rw[offset] = '\0';
        char done = 'd';
        if (write(out, &done, 1) != 1) return 7;
      }
    }
  }

  // Makes the child write a NUL at rw + offset.
  void Terminate(uint64_t offset) {
    char cmd = 'n';
    ASSERT_EQ(write(to_child_.get(), &cmd, 1), 1);
    ASSERT_EQ(write(to_child_.get(), &offset, sizeof(offset)), 8);
    char done;
    ASSERT_EQ(read(from_child_.get(), &done, 1), 1);
  }

  size_t page_ = 0;
  pid_t pid_ = -1;
  Layout layout_{};
  UniqueFd from_child_, to_child_;
  TrappedCall call_{};
  bool pending_ = true;  // what the fake ID_VALID answers
  int checks_ = 0;       // how often it was asked
  ProcTraceeMemory memory_{[this](uint64_t id) {
    ++checks_;
    return id == call_.id && pending_;
  }, GetParam()};
};

TEST_P(TraceeMemoryTest, ReadsAcrossPages) {
  std::string buffer(2 * page_, '\0');
  ASSERT_TRUE(memory_.Read(call_, layout_.rw, buffer.data(), buffer.size()));
  EXPECT_EQ(buffer, std::string(2 * page_, kPattern));
  char small[16];
  ASSERT_TRUE(memory_.Read(call_, layout_.rw + page_ - 8, small, sizeof(small)));
  EXPECT_EQ(std::string(small, sizeof(small)), std::string(16, kPattern));
  EXPECT_TRUE(memory_.Read(call_, layout_.rw, small, 0));
  ASSERT_TRUE(memory_.Read(call_, layout_.ro, small, sizeof(small)));
  EXPECT_EQ(small[0], 'r');
}

TEST_P(TraceeMemoryTest, ReadFailsOnAnyInaccessibleByte) {
  char small[16];
  EXPECT_FALSE(memory_.Read(call_, 0, small, sizeof(small)));
  EXPECT_FALSE(memory_.Read(call_, layout_.rw + 2 * page_ - 8, small, sizeof(small)));
  EXPECT_FALSE(memory_.Read(call_, layout_.rw + 2 * page_, small, 1));
  EXPECT_FALSE(memory_.Read(call_, ~uint64_t{0} - 4, small, sizeof(small)));  // wraps
  EXPECT_FALSE(memory_.Read(call_, uint64_t{1} << 63, small, sizeof(small)));  // kernel half
}

TEST_P(TraceeMemoryTest, WritesAndTheChildSeesIt) {
  ASSERT_TRUE(memory_.Write(call_, layout_.rw + kWriteOffset, kWritten, sizeof(kWritten)));
  char cmd = 'c';
  ASSERT_EQ(write(to_child_.get(), &cmd, 1), 1);
  int status;
  ASSERT_EQ(waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_P(TraceeMemoryTest, WriteFailsOnReadOnlyAndUnmapped) {
  EXPECT_FALSE(memory_.Write(call_, layout_.ro, "x", 1));
  EXPECT_FALSE(memory_.Write(call_, layout_.rw + 2 * page_ - 1, "xy", 2));
  EXPECT_FALSE(memory_.Write(call_, 0, "x", 1));
}

TEST_P(TraceeMemoryTest, ReadNameEndingRightBeforeAnUnmappedPage) {
  const uint64_t end = layout_.rw + 2 * page_;  // first unmapped byte
  Terminate(2 * page_ - 1);
  std::string name;
  ASSERT_EQ(memory_.ReadName(call_, end - 4, &name), 0);
  EXPECT_EQ(name, std::string(3, kPattern));
  ASSERT_EQ(memory_.ReadName(call_, end - 1, &name), 0);
  EXPECT_EQ(name, "");
  // A string that spans a page boundary.
  Terminate(page_ + 20);
  ASSERT_EQ(memory_.ReadName(call_, layout_.rw + page_ - 10, &name), 0);
  EXPECT_EQ(name, std::string(30, kPattern));
}

TEST_P(TraceeMemoryTest, ReadNameFaultsWithoutNulBeforeTheHole) {
  std::string name;
  EXPECT_EQ(memory_.ReadName(call_, layout_.rw + 2 * page_ - 4, &name), EFAULT);
  EXPECT_EQ(memory_.ReadName(call_, layout_.rw + 2 * page_, &name), EFAULT);
  EXPECT_EQ(memory_.ReadName(call_, 0, &name), EFAULT);
}

TEST_P(TraceeMemoryTest, ReadNameLimitIs4096BytesWithTheNul) {
  std::string name;
  // 4095 characters and the NUL fit, from an unaligned start.
  Terminate(10 + 4095);
  ASSERT_EQ(memory_.ReadName(call_, layout_.rw + 10, &name), 0);
  EXPECT_EQ(name.size(), 4095u);
  // 4096 characters before the NUL do not (getname: ENAMETOOLONG), even with the NUL in
  // readable memory right after them.
  EXPECT_EQ(memory_.ReadName(call_, layout_.rw + 9, &name), ENAMETOOLONG);
  EXPECT_EQ(memory_.ReadName(call_, layout_.rw, &name), ENAMETOOLONG);
}

TEST_P(TraceeMemoryTest, GoneProcess) {
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pending_ = false;  // a dead caller's call no longer waits
  char small[4];
  std::string name;
  EXPECT_FALSE(memory_.Read(call_, layout_.rw, small, sizeof(small)));
  EXPECT_FALSE(memory_.Write(call_, layout_.rw, small, sizeof(small)));
  EXPECT_EQ(memory_.ReadName(call_, layout_.rw, &name), EFAULT);
  const MemoryWrite w{layout_.rw, small, sizeof(small)};
  EXPECT_EQ(memory_.WriteAll(call_, std::span<const MemoryWrite>(&w, 1)), WriteOutcome::kGone);
  pid_ = -1;
}

TEST_P(TraceeMemoryTest, WriteLeavesReadOnlyAndProtNonePagesAlone) {
  // /proc/<pid>/mem would write them (FOLL_FORCE); copy_to_user faults on them.
  const MemoryWrite ro{layout_.ro, "x", 1};
  EXPECT_EQ(memory_.WriteAll(call_, std::span<const MemoryWrite>(&ro, 1)), WriteOutcome::kFault);
  char c = 0;
  ASSERT_TRUE(memory_.Read(call_, layout_.ro, &c, 1));
  EXPECT_EQ(c, 'r');
  const MemoryWrite none{layout_.none, "x", 1};
  EXPECT_EQ(memory_.WriteAll(call_, std::span<const MemoryWrite>(&none, 1)),
            WriteOutcome::kFault);
  // process_vm_readv cannot read PROT_NONE either, as copy_from_user cannot.
  EXPECT_FALSE(memory_.Read(call_, layout_.none, &c, 1));
}

TEST_P(TraceeMemoryTest, WriteStopsAtTheHoleAfterWritingThePrefix) {
  // copy_to_user semantics: the bytes before the first unwritable one are written.
  const uint64_t end = layout_.rw + 2 * page_;
  const MemoryWrite w{end - 4, "abcdefgh", 8};
  EXPECT_EQ(memory_.WriteAll(call_, std::span<const MemoryWrite>(&w, 1)), WriteOutcome::kFault);
  char got[4];
  ASSERT_TRUE(memory_.Read(call_, end - 4, got, sizeof(got)));
  EXPECT_EQ(std::string(got, 4), "abcd");
  // A write that wraps around the address space writes nothing past the top.
  const MemoryWrite wrap{~uint64_t{0} - 1, "abcd", 4};
  EXPECT_EQ(memory_.WriteAll(call_, std::span<const MemoryWrite>(&wrap, 1)),
            WriteOutcome::kFault);
  const MemoryWrite kernel_half{uint64_t{1} << 63, "abcd", 4};
  EXPECT_EQ(memory_.WriteAll(call_, std::span<const MemoryWrite>(&kernel_half, 1)),
            WriteOutcome::kFault);
}

TEST_P(TraceeMemoryTest, AllOrNothingWriteLeavesThePrefixAlone) {
  // put_user() semantics (a received message's priority): a value that straddles into an
  // unwritable page is not written at all.
  const uint64_t end = layout_.rw + 2 * page_;
  const MemoryWrite before{end - 2, "zz", 2};
  ASSERT_EQ(memory_.WriteAll(call_, std::span<const MemoryWrite>(&before, 1)), WriteOutcome::kDone);
  const MemoryWrite w{end - 2, "abcd", 4, /*all_or_nothing=*/true};
  EXPECT_EQ(memory_.WriteAll(call_, std::span<const MemoryWrite>(&w, 1)), WriteOutcome::kFault);
  char got[2];
  ASSERT_TRUE(memory_.Read(call_, end - 2, got, sizeof(got)));
  EXPECT_EQ(std::string(got, 2), "zz");
}

TEST_P(TraceeMemoryTest, WritesInOrderAndStopsAtTheFirstFault) {
  const MemoryWrite writes[] = {{layout_.rw, "first", 5},
                                {layout_.ro, "second", 6},
                                {layout_.rw + 10, "third", 5}};
  EXPECT_EQ(memory_.WriteAll(call_, writes), WriteOutcome::kFault);
  char got[16];
  ASSERT_TRUE(memory_.Read(call_, layout_.rw, got, sizeof(got)));
  EXPECT_EQ(std::string(got, 5), "first");
  EXPECT_EQ(got[10], kPattern);  // the third was not attempted
}

TEST_P(TraceeMemoryTest, WriteSpansVmasWithTheSamePermissions) {
  // Two writable VMAs back to back (an mprotect split) are one writable range.
  std::string big(2 * page_, 'w');
  const MemoryWrite w{layout_.rw, big.data(), big.size()};
  EXPECT_EQ(memory_.WriteAll(call_, std::span<const MemoryWrite>(&w, 1)), WriteOutcome::kDone);
  std::string got(2 * page_, '\0');
  ASSERT_TRUE(memory_.Read(call_, layout_.rw, got.data(), got.size()));
  EXPECT_EQ(got, big);
}

TEST_P(TraceeMemoryTest, NothingIsWrittenOrReturnedForACallThatNoLongerWaits) {
  pending_ = false;
  const MemoryWrite w{layout_.rw, "gone", 4};
  EXPECT_EQ(memory_.WriteAll(call_, std::span<const MemoryWrite>(&w, 1)), WriteOutcome::kGone);
  char got[4];
  EXPECT_FALSE(memory_.Read(call_, layout_.rw, got, sizeof(got)));
  std::string name;
  Terminate(3);
  EXPECT_EQ(memory_.ReadName(call_, layout_.rw, &name), EFAULT);
  pending_ = true;
  ASSERT_TRUE(memory_.Read(call_, layout_.rw, got, sizeof(got)));
  EXPECT_EQ(std::string(got, 3), std::string(3, kPattern));  // not "gon"
}

TEST_P(TraceeMemoryTest, EveryAccessIsCheckedAfterItsLookup) {
  // Reads are checked once after the copy; writes once after opening (and again only if
  // they fail, to tell a fault from a caller that left).
  char got[8];
  checks_ = 0;
  ASSERT_TRUE(memory_.Read(call_, layout_.rw, got, sizeof(got)));
  EXPECT_EQ(checks_, 1);
  checks_ = 0;
  ASSERT_TRUE(memory_.Write(call_, layout_.rw, "abc", 3));
  EXPECT_EQ(checks_, 1);
  checks_ = 0;
  EXPECT_FALSE(memory_.Write(call_, layout_.ro, "abc", 3));
  EXPECT_EQ(checks_, 2);
  // Nothing to copy, nothing to check.
  checks_ = 0;
  EXPECT_TRUE(memory_.Read(call_, layout_.rw, got, 0));
  EXPECT_TRUE(memory_.Write(call_, layout_.ro, "", 0));
  EXPECT_EQ(checks_, 0);
}

TEST_P(TraceeMemoryTest, NoDescriptorsLeftIsAnInternalFailureNotAFault) {
  // The supervisor at its RLIMIT_NOFILE: no guessed EFAULT for the caller.
  rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int lowest_free = dup(0);
  ASSERT_GE(lowest_free, 0);
  close(lowest_free);
  rlimit none = saved;
  none.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &none), 0);
  const MemoryWrite w{layout_.rw, "x", 1};
  const WriteOutcome outcome = memory_.WriteAll(call_, std::span<const MemoryWrite>(&w, 1));
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_EQ(outcome, WriteOutcome::kError);
  char c = 0;
  ASSERT_TRUE(memory_.Read(call_, layout_.rw, &c, 1));
  EXPECT_EQ(c, kPattern);
}

INSTANTIATE_TEST_SUITE_P(MapsSource, TraceeMemoryTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "ProcmapQuery" : "MapsText";
                         });

}  // namespace
}  // namespace mqsentry::sentry
