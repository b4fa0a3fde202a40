// Shared helpers for the mq syscall conformance suite (test/syscalls): raw-syscall wrappers
// for the six mq system calls, unique queue names and RAII cleanup, forked-child runners
// with their own (non-gtest) assertion macros, privilege and capability dropping, /proc
// probes that tell when a task is asleep inside a system call, and small fd utilities.
//
// Everything here talks to the real kernel (or, later, to the sandbox that emulates it):
// the suite must pass natively first. Error paths always go through the Raw* wrappers,
// never through glibc, because glibc hides kernel behaviour (style.md, habit 10).
#ifndef MQSENTRY_TEST_UTIL_MQ_TEST_UTIL_H_
#define MQSENTRY_TEST_UTIL_MQ_TEST_UTIL_H_

#include <errno.h>
#include <mqueue.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mqsentry::testing {

// ---- Raw system calls. Each returns the kernel's result; on failure -1 with errno set. ----

int RawMqOpen(const char* name, int oflag, unsigned long mode = 0,
              const struct mq_attr* attr = nullptr);
int RawMqUnlink(const char* name);
int RawMqTimedSend(int mqd, const void* msg, size_t len, unsigned prio,
                   const struct timespec* abs_timeout);
ssize_t RawMqTimedReceive(int mqd, void* msg, size_t len, unsigned* prio,
                          const struct timespec* abs_timeout);
int RawMqNotify(int mqd, const struct sigevent* sev);
int RawMqGetSetAttr(int mqd, const struct mq_attr* newattr, struct mq_attr* oldattr);

// ---- Constants from the spec (§1.5). ----

inline constexpr unsigned kMqPrioMax = 32768;
inline constexpr long kDefaultMaxMsg = 10;
inline constexpr long kDefaultMsgSize = 8192;
inline constexpr long kMqueueMagic = 0x19800202;
inline constexpr int kSiMesgq = -3;  // SI_MESGQ
// An address that is never mapped in a user process (the first page is never mapped).
inline void* const kBadPtr = reinterpret_cast<void*>(8);

// ---- Names and cleanup. ----

// A name that no other test (in this or any other process) uses: "mqst.<pid>.<n>". It has
// no leading slash: that is the kernel's form; glibc wants Slash(name).
std::string UniqueName();
inline std::string Slash(const std::string& name) { return "/" + name; }

// Unlinks a queue name (raw syscall, errors ignored) when it goes out of scope.
class QueueCleanup {
 public:
  explicit QueueCleanup(std::string name) : name_(std::move(name)) {}
  QueueCleanup(const QueueCleanup&) = delete;
  QueueCleanup& operator=(const QueueCleanup&) = delete;
  ~QueueCleanup();

 private:
  std::string name_;
};

// Closes an fd when it goes out of scope. Preserves errno in its destructor.
class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.release()) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept;
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() { reset(); }

  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// A freshly created (O_CREAT|O_EXCL), uniquely named queue that is closed and unlinked on
// destruction. If creation failed, fd() is -1 and error() is the errno.
class TestQueue {
 public:
  explicit TestQueue(long maxmsg = kDefaultMaxMsg, long msgsize = 64, int oflag = O_RDWR,
                     unsigned long mode = 0600);
  TestQueue(const TestQueue&) = delete;
  TestQueue& operator=(const TestQueue&) = delete;
  ~TestQueue();

  int fd() const { return fd_.get(); }
  int error() const { return error_; }
  const std::string& name() const { return name_; }
  std::string slash_name() const { return Slash(name_); }
  // Closes the descriptor now (the name stays linked until destruction).
  void Close() { fd_.reset(); }

 private:
  std::string name_;
  ScopedFd fd_;
  int error_ = 0;
};

#define ASSERT_QUEUE_OK(q)                                          \
  ASSERT_GE((q).fd(), 0) << "creating queue " << (q).name() << ": " \
                         << ::mqsentry::testing::ErrnoName((q).error())

// ---- Message helpers (raw syscalls, NULL timeout). ----

mq_attr MakeAttr(long maxmsg, long msgsize);
// Sends msg with prio; returns the raw result (errno preserved).
int Send(int mqd, const std::string& msg, unsigned prio = 0);
// Receives into a buffer of the queue's msgsize; returns the raw result (errno preserved)
// and stores the message and priority on success.
ssize_t Receive(int mqd, std::string* msg, unsigned* prio = nullptr);
// mq_getsetattr(mqd, NULL, &attr). On failure all fields are -1.
mq_attr GetAttr(int mqd);
long CurMsgs(int mqd);
// The read() status line (§8.1), via pread at offset 0.
std::string StatusLine(int mqd);

// ---- Time. ----

// An absolute CLOCK_REALTIME deadline offset_ms from now (may be negative).
struct timespec RealtimeFromNow(int64_t offset_ms);
int64_t MonotonicNowNs();
void SleepMs(int64_t ms);

// ---- Matchers (gVisor style): they read errno at match time, so use them directly on the
// call: EXPECT_THAT(RawMqUnlink("x"), SyscallFailsWithErrno(ENOENT)). ----

std::string ErrnoName(int e);

MATCHER(SyscallSucceeds, "succeeds") {
  const int e = errno;
  if (arg == -1) {
    *result_listener << "failed with " << ErrnoName(e);
    return false;
  }
  return true;
}

MATCHER_P(SyscallSucceedsWithValue, value, "succeeds with " + ::testing::PrintToString(value)) {
  const int e = errno;
  if (arg == -1) {
    *result_listener << "failed with " << ErrnoName(e);
    return false;
  }
  if (arg != static_cast<decltype(arg)>(value)) {
    *result_listener << "returned " << arg;
    return false;
  }
  return true;
}

MATCHER_P(SyscallFailsWithErrno, expected,
          "fails with " + ::mqsentry::testing::ErrnoName(expected)) {
  const int e = errno;
  if (arg != -1) {
    *result_listener << "succeeded with " << arg;
    return false;
  }
  if (e != expected) {
    *result_listener << "failed with " << ErrnoName(e);
    return false;
  }
  return true;
}

// ---- Forked children. ----

// Runs fn in a forked child that exits with fn's return value via _exit. Returns the
// child's exit status, or 128 + signal number if it was killed. gtest assertions do not
// work in the child: use the CHILD_* macros below, which print the failure to stderr and
// make fn return 1.
int RunInChild(const std::function<int()>& fn);
// Like RunInChild but does not wait: returns the pid (or -1).
pid_t ForkChild(const std::function<int()>& fn);
// Waits for a child from ForkChild; same result encoding as RunInChild.
int WaitChild(pid_t pid);

// RunInChild, with the child first moving into a new IPC namespace of its own (fresh
// sysctls, no queues). Used by every test that writes /proc/sys/fs/mqueue/*. Without
// CAP_SYS_ADMIN (an unprivileged run), the child first creates a user namespace mapping
// uid and gid 0 to its own (`unshare -r -i`), which owns the new IPC namespace: the child
// is then uid 0 there and may write the sysctls, but has no capability outside it (and
// no other uid is mapped). Only the unprivileged runs see this.
int RunInFreshIpcNamespace(const std::function<int()>& fn);

// `unshare -r` plus `more` (CLONE_NEWNS, CLONE_NEWIPC, ...): a new user namespace mapping
// uid and gid 0 to the caller's own (setgroups "deny"), which owns the other new
// namespaces. false (errno set) if a step failed.
bool EnterOwnUserNamespace(int more);

// An empty directory under /tmp for the life of the object (a mount point), removed again
// if it is empty then; path() is empty if it could not be made.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix = "mq-test");
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void ChildFailure(const char* file, int line, const std::string& what);

// Predicate-formatter for a child's status (0 = success). It leaves the child's code out of
// the failure message: the child already printed what failed to stderr.
::testing::AssertionResult ChildSucceeded(const char* expr, int status);
#define EXPECT_CHILD_OK(status) EXPECT_PRED_FORMAT1(::mqsentry::testing::ChildSucceeded, status)
#define ASSERT_CHILD_OK(status) ASSERT_PRED_FORMAT1(::mqsentry::testing::ChildSucceeded, status)

#define CHILD_CHECK(cond)                                                                        \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      const int child_check_errno_ = errno;                                                      \
      ::mqsentry::testing::ChildFailure(__FILE__, __LINE__,                                      \
                                        std::string("CHECK(" #cond ") failed; errno ") +         \
                                            ::mqsentry::testing::ErrnoName(child_check_errno_)); \
      return 1;                                                                                  \
    }                                                                                            \
  } while (0)

#define CHILD_CHECK_EQ(a, b)                                                               \
  do {                                                                                     \
    const auto child_a_ = (a);                                                             \
    const auto child_b_ = (b);                                                             \
    if (!(child_a_ == child_b_)) {                                                         \
      ::mqsentry::testing::ChildFailure(__FILE__, __LINE__,                                \
                                        std::string("CHECK_EQ(" #a ", " #b ") failed: ") + \
                                            ::testing::PrintToString(child_a_) + " vs " +  \
                                            ::testing::PrintToString(child_b_));           \
      return 1;                                                                            \
    }                                                                                      \
  } while (0)

// expr must fail with errno err.
#define CHILD_CHECK_ERRNO(expr, err)                                                               \
  do {                                                                                             \
    errno = 0;                                                                                     \
    const long child_r_ = static_cast<long>(expr);                                                 \
    const int child_e_ = errno;                                                                    \
    if (child_r_ != -1 || child_e_ != (err)) {                                                     \
      ::mqsentry::testing::ChildFailure(__FILE__, __LINE__,                                        \
                                        std::string(#expr " returned ") +                          \
                                            std::to_string(child_r_) + " errno " +                 \
                                            ::mqsentry::testing::ErrnoName(child_e_) + ", want " + \
                                            ::mqsentry::testing::ErrnoName(err));                  \
      return 1;                                                                                    \
    }                                                                                              \
  } while (0)

// expr must not return -1.
#define CHILD_CHECK_OK(expr)                                                              \
  do {                                                                                    \
    errno = 0;                                                                            \
    const long child_r_ = static_cast<long>(expr);                                        \
    const int child_e_ = errno;                                                           \
    if (child_r_ == -1) {                                                                 \
      ::mqsentry::testing::ChildFailure(                                                  \
          __FILE__, __LINE__,                                                             \
          std::string(#expr " failed with ") + ::mqsentry::testing::ErrnoName(child_e_)); \
      return 1;                                                                           \
    }                                                                                     \
  } while (0)

// ---- Credentials and capabilities. ----

// setgroups(groups), setresgid(gid x3), setresuid(uid x3). For a non-zero uid this also
// clears every capability (no SECBIT_KEEP_CAPS). Returns 0 or -1 with errno.
int SwitchToUser(uid_t uid, gid_t gid, const std::vector<gid_t>& groups = {});
// Removes the capabilities from the bounding set (PR_CAPBSET_DROP) and from the effective,
// permitted and inheritable sets (capset). Returns 0 or -1 with errno.
int DropCapabilities(std::initializer_list<int> caps);
bool HaveEffectiveCapability(int cap);

// A uid unlikely to be used by anything else, distinct per (process, slot): RLIMIT_MSGQUEUE
// usage is counted per real uid across IPC namespaces (§3.5), so tests that measure it must
// not share a uid with leftovers of other tests or runs.
uid_t DistinctUid(int slot);

// Creates (O_CREAT|O_EXCL, umask 0, 2 x 16-byte messages) a queue owned by uid:gid, by
// running the creation in a child switched to that user. Returns the child's status.
int CreateQueueAs(uid_t uid, gid_t gid, const std::string& name, mode_t mode);

// ---- Signals. ----

// Installs a handler for sig (sa_flags as given) and restores the old action on destruction.
class ScopedSigaction {
 public:
  ScopedSigaction(int sig, void (*handler)(int), int flags);
  ScopedSigaction(int sig, void (*action)(int, siginfo_t*, void*), int flags);
  ScopedSigaction(const ScopedSigaction&) = delete;
  ScopedSigaction& operator=(const ScopedSigaction&) = delete;
  ~ScopedSigaction();

 private:
  int sig_;
  struct sigaction old_ {};
};

// Blocks the given signals in the calling thread; restores the mask on destruction.
class ScopedSignalBlock {
 public:
  explicit ScopedSignalBlock(std::initializer_list<int> sigs);
  ScopedSignalBlock(const ScopedSignalBlock&) = delete;
  ScopedSignalBlock& operator=(const ScopedSignalBlock&) = delete;
  ~ScopedSignalBlock();

 private:
  sigset_t old_;
};

// Discards any pending instance of sig (which must be blocked).
void DrainPendingSignal(int sig);

// ---- /proc probes. ----

// Waits (up to timeout_ms) until task tid (a thread of any visible process) is sleeping
// inside system call number nr, as shown by /proc/<tid>/stat and /proc/<tid>/syscall.
// Under mqsentry (PID 1 is "mqsentry-init") a trapped call sleeps in the kernel both before
// and after the supervisor has taken it, and only once taken have its arguments (the
// descriptor above all) been looked at, as Linux does at entry: there the wait goes on
// for kSupervisorGraceMs and the call must still be blocked then. Returns false on
// timeout.
bool WaitUntilBlockedInSyscall(pid_t tid, long nr, int timeout_ms = 10000);
inline constexpr int kSupervisorGraceMs = 30;
// The one-letter scheduler state of a task, or '?' if unreadable.
char TaskState(pid_t tid);
// Asleep in a system call: 'S' natively, 'D' for a call mqsentry holds (killable wait).
bool Asleep(pid_t tid);

// ---- Files, sysctls and fd passing. ----

// Reads /proc/sys/fs/mqueue/<name>; returns "" on failure.
std::string ReadSysctl(const std::string& name);
// Writes value to /proc/sys/fs/mqueue/<name>; returns 0 or -1 with errno.
int WriteSysctl(const std::string& name, const std::string& value);
// Reads a whole (small) file; "" on failure.
std::string ReadFile(const std::string& path);

// SCM_RIGHTS over a Unix socket. SendFd returns 0 or -1; RecvFd returns the fd or -1.
int SendFd(int sock, int fd);
int RecvFd(int sock);

}  // namespace mqsentry::testing

#endif  // MQSENTRY_TEST_UTIL_MQ_TEST_UTIL_H_
