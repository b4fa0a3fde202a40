// Implementation of the mq conformance-suite helpers (see mq_test_util.h).
#include "test/util/mq_test_util.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mqsentry::testing {

int RawMqOpen(const char* name, int oflag, unsigned long mode, const struct mq_attr* attr) {
  return static_cast<int>(syscall(SYS_mq_open, name, oflag, mode, attr));
}

int RawMqUnlink(const char* name) { return static_cast<int>(syscall(SYS_mq_unlink, name)); }

int RawMqTimedSend(int mqd, const void* msg, size_t len, unsigned prio,
                   const struct timespec* abs_timeout) {
  return static_cast<int>(syscall(SYS_mq_timedsend, mqd, msg, len, prio, abs_timeout));
}

ssize_t RawMqTimedReceive(int mqd, void* msg, size_t len, unsigned* prio,
                          const struct timespec* abs_timeout) {
  return syscall(SYS_mq_timedreceive, mqd, msg, len, prio, abs_timeout);
}

int RawMqNotify(int mqd, const struct sigevent* sev) {
  return static_cast<int>(syscall(SYS_mq_notify, mqd, sev));
}

int RawMqGetSetAttr(int mqd, const struct mq_attr* newattr, struct mq_attr* oldattr) {
  return static_cast<int>(syscall(SYS_mq_getsetattr, mqd, newattr, oldattr));
}

std::string UniqueName() {
  static std::atomic<int> counter{0};
  return "mqst." + std::to_string(getpid()) + "." + std::to_string(counter++);
}

QueueCleanup::~QueueCleanup() {
  const int saved = errno;
  RawMqUnlink(name_.c_str());
  errno = saved;
}

ScopedFd& ScopedFd::operator=(ScopedFd&& other) noexcept {
  reset(other.release());
  return *this;
}

void ScopedFd::reset(int fd) {
  if (fd_ >= 0) {
    const int saved = errno;
    close(fd_);
    errno = saved;
  }
  fd_ = fd;
}

TestQueue::TestQueue(long maxmsg, long msgsize, int oflag, unsigned long mode)
    : name_(UniqueName()) {
  const mq_attr attr = MakeAttr(maxmsg, msgsize);
  const int fd = RawMqOpen(name_.c_str(), oflag | O_CREAT | O_EXCL, mode, &attr);
  if (fd < 0) error_ = errno;
  fd_.reset(fd);
}

TestQueue::~TestQueue() {
  fd_.reset();
  const int saved = errno;
  RawMqUnlink(name_.c_str());
  errno = saved;
}

mq_attr MakeAttr(long maxmsg, long msgsize) {
  mq_attr attr{};
  attr.mq_maxmsg = maxmsg;
  attr.mq_msgsize = msgsize;
  return attr;
}

int Send(int mqd, const std::string& msg, unsigned prio) {
  return RawMqTimedSend(mqd, msg.data(), msg.size(), prio, nullptr);
}

ssize_t Receive(int mqd, std::string* msg, unsigned* prio) {
  mq_attr attr = GetAttr(mqd);
  const size_t size = attr.mq_msgsize > 0 ? static_cast<size_t>(attr.mq_msgsize) : 8192;
  std::vector<char> buf(size);
  unsigned p = 0;
  const ssize_t r = RawMqTimedReceive(mqd, buf.data(), buf.size(), &p, nullptr);
  const int saved = errno;
  if (r >= 0) {
    if (msg != nullptr) msg->assign(buf.data(), static_cast<size_t>(r));
    if (prio != nullptr) *prio = p;
  }
  errno = saved;
  return r;
}

mq_attr GetAttr(int mqd) {
  mq_attr attr{};
  const int saved = errno;
  if (RawMqGetSetAttr(mqd, nullptr, &attr) != 0) {
    attr.mq_flags = attr.mq_maxmsg = attr.mq_msgsize = attr.mq_curmsgs = -1;
  }
  errno = saved;
  return attr;
}

long CurMsgs(int mqd) { return GetAttr(mqd).mq_curmsgs; }

std::string StatusLine(int mqd) {
  char buf[256];
  const ssize_t n = pread(mqd, buf, sizeof(buf), 0);
  if (n < 0) return "<read failed: " + ErrnoName(errno) + ">";
  return std::string(buf, static_cast<size_t>(n));
}

struct timespec RealtimeFromNow(int64_t offset_ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t ns = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec + offset_ms * 1000000;
  ts.tv_sec = ns / 1000000000;
  ts.tv_nsec = ns % 1000000000;
  return ts;
}

int64_t MonotonicNowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void SleepMs(int64_t ms) {
  struct timespec ts = {static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1000000)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

std::string ErrnoName(int e) {
  if (e == 0) return "0";
  const char* name = strerrorname_np(e);
  return name != nullptr ? std::string(name) : "errno " + std::to_string(e);
}

pid_t ForkChild(const std::function<int()>& fn) {
  fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    int rc = fn();
    fflush(nullptr);
    _exit(rc);
  }
  return pid;
}

int WaitChild(pid_t pid) {
  if (pid < 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

int RunInChild(const std::function<int()>& fn) { return WaitChild(ForkChild(fn)); }

namespace {

int WriteProcFile(const char* path, const std::string& text) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  const ssize_t n = write(fd, text.data(), text.size());
  const int saved = errno;
  close(fd);
  errno = saved;
  return n == static_cast<ssize_t>(text.size()) ? 0 : -1;
}

// `unshare -r -i`, reporting what failed.
bool EnterOwnUserAndIpcNamespace() {
  if (!EnterOwnUserNamespace(CLONE_NEWIPC)) {
    ChildFailure(__FILE__, __LINE__,
                 "unshare(CLONE_NEWIPC): EPERM, then unshare(CLONE_NEWUSER|CLONE_NEWIPC) and "
                 "its id maps: " + ErrnoName(errno));
    return false;
  }
  return true;
}

}  // namespace

bool EnterOwnUserNamespace(int more) {
  const std::string uid_map = "0 " + std::to_string(geteuid()) + " 1";
  const std::string gid_map = "0 " + std::to_string(getegid()) + " 1";
  return unshare(CLONE_NEWUSER | more) == 0 &&
         WriteProcFile("/proc/self/setgroups", "deny") == 0 &&
         WriteProcFile("/proc/self/uid_map", uid_map) == 0 &&
         WriteProcFile("/proc/self/gid_map", gid_map) == 0;
}

ScratchDir::ScratchDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
}

ScratchDir::~ScratchDir() {
  if (!path_.empty()) rmdir(path_.c_str());
}

int RunInFreshIpcNamespace(const std::function<int()>& fn) {
  return RunInChild([&fn]() -> int {
    if (unshare(CLONE_NEWIPC) != 0) {
      if (errno != EPERM) {
        ChildFailure(__FILE__, __LINE__, "unshare(CLONE_NEWIPC): " + ErrnoName(errno));
        return 1;
      }
      if (!EnterOwnUserAndIpcNamespace()) return 1;
    }
    return fn();
  });
}

void ChildFailure(const char* file, int line, const std::string& what) {
  fprintf(stderr, "[child %d] %s:%d: %s\n", getpid(), file, line, what.c_str());
  fflush(stderr);
}

::testing::AssertionResult ChildSucceeded(const char* expr, int status) {
  if (status == 0) return ::testing::AssertionSuccess();
  ::testing::AssertionResult failure = ::testing::AssertionFailure();
  if (status > 128) {
    failure << "child killed by signal " << (status - 128);
  } else {
    failure << "child exited with status " << status;
  }
  return failure << " (see the child's message above)";
}

int SwitchToUser(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) {
  if (setgroups(groups.size(), groups.data()) != 0) return -1;
  if (setresgid(gid, gid, gid) != 0) return -1;
  if (setresuid(uid, uid, uid) != 0) return -1;
  return 0;
}

int CreateQueueAs(uid_t uid, gid_t gid, const std::string& name, mode_t mode) {
  return RunInChild([&]() -> int {
    CHILD_CHECK_OK(SwitchToUser(uid, gid));
    umask(0);
    const mq_attr attr = MakeAttr(2, 16);
    const int fd = RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, mode, &attr);
    CHILD_CHECK_OK(fd);
    close(fd);
    return 0;
  });
}

namespace {

int CapGet(__user_cap_data_struct data[2]) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return static_cast<int>(syscall(SYS_capget, &header, data));
}

int CapSet(__user_cap_data_struct data[2]) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return static_cast<int>(syscall(SYS_capset, &header, data));
}

}  // namespace

int DropCapabilities(std::initializer_list<int> caps) {
  for (int cap : caps) {
    // Needs CAP_SETPCAP; not fatal if the bounding set cannot be changed.
    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  }
  __user_cap_data_struct data[2] = {};
  if (CapGet(data) != 0) return -1;
  for (int cap : caps) {
    const uint32_t bit = 1u << (cap % 32);
    data[cap / 32].effective &= ~bit;
    data[cap / 32].permitted &= ~bit;
    data[cap / 32].inheritable &= ~bit;
  }
  return CapSet(data);
}

bool HaveEffectiveCapability(int cap) {
  __user_cap_data_struct data[2] = {};
  if (CapGet(data) != 0) return false;
  return (data[cap / 32].effective & (1u << (cap % 32))) != 0;
}

uid_t DistinctUid(int slot) {
  // 200000..(200000 + 65536*64): pid-derived so that concurrent or repeated runs of the
  // suite do not share RLIMIT_MSGQUEUE counters.
  return 200000 + static_cast<uid_t>(getpid() % 65536) * 64 + static_cast<uid_t>(slot % 64);
}

ScopedSigaction::ScopedSigaction(int sig, void (*handler)(int), int flags) : sig_(sig) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, &old_);
}

ScopedSigaction::ScopedSigaction(int sig, void (*action)(int, siginfo_t*, void*), int flags)
    : sig_(sig) {
  struct sigaction sa {};
  sa.sa_sigaction = action;
  sa.sa_flags = flags | SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, &old_);
}

ScopedSigaction::~ScopedSigaction() { sigaction(sig_, &old_, nullptr); }

ScopedSignalBlock::ScopedSignalBlock(std::initializer_list<int> sigs) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : sigs) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, &old_);
}

ScopedSignalBlock::~ScopedSignalBlock() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

void DrainPendingSignal(int sig) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  struct timespec zero = {0, 0};
  while (sigtimedwait(&set, nullptr, &zero) == sig) {
  }
}

char TaskState(pid_t tid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(tid) + "/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return '?';
  return stat[paren + 2];
}

// Asleep in a system call: 'S' natively; under mqsentry a call the supervisor holds waits
// killably, which /proc shows as 'D'.
bool Asleep(pid_t tid) {
  const char state = TaskState(tid);
  return state == 'S' || state == 'D';
}

namespace {

// PID 1 of the caller's PID namespace is mqsentry's init.
bool UnderMqsentry() {
  static const bool under = ReadFile("/proc/1/comm") == "mqsentry-init\n";
  return under;
}

}  // namespace

bool WaitUntilBlockedInSyscall(pid_t tid, long nr, int timeout_ms) {
  const int64_t deadline = MonotonicNowNs() + static_cast<int64_t>(timeout_ms) * 1000000;
  const std::string syscall_path = "/proc/" + std::to_string(tid) + "/syscall";
  auto in_call = [&] {
    if (!Asleep(tid)) return false;
    const std::string sc = ReadFile(syscall_path);
    char* end = nullptr;
    const long cur = strtol(sc.c_str(), &end, 10);
    return end != sc.c_str() && cur == nr && Asleep(tid);
  };
  while (MonotonicNowNs() < deadline) {
    if (in_call()) {
      if (!UnderMqsentry()) return true;
      SleepMs(kSupervisorGraceMs);
      if (in_call()) return true;
    }
    SleepMs(2);
  }
  return false;
}

std::string ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

std::string ReadSysctl(const std::string& name) {
  std::string v = ReadFile("/proc/sys/fs/mqueue/" + name);
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

int WriteSysctl(const std::string& name, const std::string& value) {
  return WriteProcFile(("/proc/sys/fs/mqueue/" + name).c_str(), value);
}

int SendFd(int sock, int fd) {
  char byte = 'F';
  struct iovec iov = {&byte, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

int RecvFd(int sock) {
  char byte = 0;
  struct iovec iov = {&byte, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) return -1;
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  if (cmsg == nullptr || cmsg->cmsg_type != SCM_RIGHTS) {
    errno = EPROTO;
    return -1;
  }
  int fd;
  memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
  return fd;
}

}  // namespace mqsentry::testing
