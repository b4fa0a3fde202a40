// The launcher end to end, as root and as an unprivileged user (uid 65534). The binary
// doubles as the sandboxed probe program: `launcher_test --probe NAME` makes a raw
// mq_open(NAME) and exits with its errno (200 if it succeeded); `launcher_test
// --probe-siginfo READY_FILE` creates READY_FILE, waits for a SIGUSR1 (blocked, as
// inherited) and exits 0 if it came with SI_MESGQ and si_uid = getuid() (else 1).
#include "sentry/launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "kernel/abi.h"
#include "kernel/syscall_result.h"
#include "sentry/mountinfo.h"
#include "sentry/platform.h"
#include "sentry/seccomp_platform.h"
#include "sentry/test_support.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {
namespace {

using kernel::SyscallResult;
using testing::AllMqRules;
using testing::WaitForExit;

constexpr uid_t kNobody = 65534;
constexpr char kProbeName[] = "/mqsentry-probe";
constexpr char kHostQueue[] = "mqsentry-launcher-test-host-queue";

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

std::string SelfExe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf));
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A world-readable temporary directory (uid 65534 must reach it).
std::string MakeTempDir() {
  char dir[] = "/tmp/mqsentry-launcher-test-XXXXXX";
  if (mkdtemp(dir) == nullptr) return "";
  chmod(dir, 0755);
  return dir;
}

LaunchOptions Sh(const std::string& script) {
  LaunchOptions o;
  o.argv = {"/bin/sh", "-c", script};
  o.rules = AllMqRules();
  return o;
}

// Launches, starts and waits, with no trapped call expected.
absl::StatusOr<int> RunSandbox(const LaunchOptions& options) {
  absl::StatusOr<Sandbox> sandbox = Launch(options);
  if (!sandbox.ok()) return sandbox.status();
  absl::StatusOr<std::unique_ptr<Platform>> platform = CreateSeccompPlatform(sandbox->listener_fd);
  if (!platform.ok()) {
    kill(sandbox->init_pid, SIGKILL);
    (void)Wait(*sandbox);
    return platform.status();
  }
  if (absl::Status s = Start(*sandbox); !s.ok()) {
    kill(sandbox->init_pid, SIGKILL);
    (void)Wait(*sandbox);
    return s;
  }
  return Wait(*sandbox);
}

struct Served {
  TrappedCall call;
  std::string name;  // ReadName(args[0])
  int name_error;
};

// Answers every trapped call with `answer` until no process is left under the filter.
std::vector<Served> Serve(Platform& platform, SyscallResult answer, int timeout_ms = 30000) {
  std::vector<Served> served;
  const int64_t deadline = NowMs() + timeout_ms;
  while (NowMs() < deadline) {
    pollfd p{platform.poll_fd(), POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    if (p.revents & POLLIN) {
      absl::StatusOr<std::optional<TrappedCall>> call = platform.Receive();
      if (!call.ok() || !call->has_value()) continue;
      Served s{**call, "", 0};
      s.name_error = platform.memory().ReadName(s.call, s.call.args[0], &s.name);
      (void)platform.Answer(s.call, answer);
      served.push_back(s);
    } else if (p.revents & (POLLHUP | POLLERR)) {
      break;
    }
  }
  return served;
}

// An mqueue filesystem mounted on the host, with one queue in it, for the duration of a
// test: /dev/mqueue when the host has it, else a temporary mount.
class HostMqueue {
 public:
  HostMqueue() {
    absl::StatusOr<std::vector<MountInfo>> mounts = ReadSelfMountInfo();
    if (mounts.ok()) {
      for (const MountInfo& m : *mounts) {
        if (m.fs_type == "mqueue") dir_ = m.mount_point;
      }
    }
    if (dir_.empty()) {
      dir_ = MakeTempDir();
      if (mount("none", dir_.c_str(), "mqueue", 0, nullptr) == 0) {
        mounted_ = true;
      } else {
        error_ = std::string("mount mqueue: ") + std::strerror(errno);
      }
    }
    const long fd = syscall(SYS_mq_open, kHostQueue, O_CREAT | O_RDWR | O_CLOEXEC, 0644, nullptr);
    if (fd >= 0) close(static_cast<int>(fd));
  }
  ~HostMqueue() {
    syscall(SYS_mq_unlink, kHostQueue);
    if (mounted_) {
      umount2(dir_.c_str(), MNT_DETACH);
      rmdir(dir_.c_str());
    }
  }
  const std::string& dir() const { return dir_; }
  const std::string& error() const { return error_; }
  std::string queue_path() const { return dir_ + "/" + kHostQueue; }
  bool still_mounted() const {
    absl::StatusOr<std::vector<MountInfo>> mounts = ReadSelfMountInfo();
    if (!mounts.ok()) return false;
    for (const MountInfo& m : *mounts) {
      if (m.fs_type == "mqueue" && m.mount_point == dir_) return true;
    }
    return false;
  }

 private:
  std::string dir_;
  std::string error_;
  bool mounted_ = false;
};

class LauncherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "these scenarios start as root (one drops to 65534)";
  }
};

TEST_F(LauncherTest, NoUserNamespaceForRoot) {
  absl::StatusOr<bool> entered = EnterSupervisorUserNamespaceIfUnprivileged();
  ASSERT_TRUE(entered.ok()) << entered.status();
  EXPECT_FALSE(*entered);
}

TEST_F(LauncherTest, ExitCodeOfTheProgram) {
  absl::StatusOr<int> status = RunSandbox(Sh("exit 7"));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 7);
}

TEST_F(LauncherTest, KilledBySignalIs128PlusN) {
  absl::StatusOr<int> status = RunSandbox(Sh("kill -TERM $$"));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 128 + SIGTERM);
}

TEST_F(LauncherTest, PathLookupAndExecFailure) {
  LaunchOptions o = Sh("");
  o.argv = {"sh", "-c", "exit 3"};
  absl::StatusOr<int> status = RunSandbox(o);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 3);
  o.argv = {"/nonexistent/mqsentry-program"};
  status = RunSandbox(o);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 127);
}

TEST_F(LauncherTest, RejectsBadOptions) {
  LaunchOptions o = Sh("exit 0");
  o.rules.clear();
  EXPECT_EQ(Launch(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = Sh("exit 0");
  o.argv.clear();
  EXPECT_EQ(Launch(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = Sh("exit 0");
  o.sysctls = {{"../../kernel/hostname", "x"}};
  EXPECT_EQ(Launch(o).status().code(), absl::StatusCode::kInvalidArgument);
}

// init is PID 1 of the sandbox, with a fresh /proc; the program is its child, not PID 1.
TEST_F(LauncherTest, ProgramIsNotPid1) {
  const std::string script = "test $$ != 1 && test $PPID = 1 && test \"$(cat /proc/1/comm)\" = " +
                             std::string(kInitProcessName) + " && test ! -e /proc/" +
                             std::to_string(getpid());
  absl::StatusOr<int> status = RunSandbox(Sh(script));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 0);
}

TEST_F(LauncherTest, HostMqueueMountsAreGoneInside) {
  HostMqueue host;
  ASSERT_TRUE(host.error().empty()) << host.error();
  ASSERT_EQ(access(host.queue_path().c_str(), F_OK), 0) << host.queue_path();
  // Field after " - " is the filesystem type (other tests' FUSE mounts may say "mqueue"
  // as their source).
  const std::string script =
      "! grep ' - mqueue ' /proc/self/mountinfo && test ! -e " + host.queue_path();
  absl::StatusOr<int> status = RunSandbox(Sh(script));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 0);
  // Nothing propagated back to the host.
  EXPECT_TRUE(host.still_mounted());
  EXPECT_EQ(access(host.queue_path().c_str(), F_OK), 0);
}

TEST_F(LauncherTest, SysctlsAreWrittenInTheSandboxOnly) {
  const std::string host_before = ReadFile("/proc/sys/fs/mqueue/msg_max");
  LaunchOptions o = Sh(
      "test \"$(cat /proc/sys/fs/mqueue/msg_max)\" = 64 && "
      "test \"$(cat /proc/sys/fs/mqueue/msgsize_max)\" = 1024");
  o.sysctls = {{"msg_max", "64"}, {"msgsize_max", "1024"}};
  absl::StatusOr<int> status = RunSandbox(o);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 0);
  EXPECT_EQ(ReadFile("/proc/sys/fs/mqueue/msg_max"), host_before);
}

TEST_F(LauncherTest, FailedSysctlWriteAbortsTheLaunch) {
  LaunchOptions o = Sh("exit 0");
  o.sysctls = {{"msg_max", "0"}};  // below HARD_MSGMIN: EINVAL
  absl::StatusOr<Sandbox> sandbox = Launch(o);
  ASSERT_FALSE(sandbox.ok());
  EXPECT_EQ(sandbox.status().code(), absl::StatusCode::kInvalidArgument) << sandbox.status();
  EXPECT_NE(sandbox.status().message().find("fs.mqueue.msg_max=0"), absl::string_view::npos)
      << sandbox.status();
  o.sysctls = {{"no_such_sysctl", "1"}};
  sandbox = Launch(o);
  ASSERT_FALSE(sandbox.ok());
  EXPECT_EQ(sandbox.status().code(), absl::StatusCode::kNotFound) << sandbox.status();
}

TEST_F(LauncherTest, UidAndGid) {
  LaunchOptions o = Sh(
      "test \"$(id -u)\" = 65534 && test \"$(id -g)\" = 65534 && test \"$(id -G)\" = 65534");
  o.uid = kNobody;
  o.gid = kNobody;
  absl::StatusOr<int> status = RunSandbox(o);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 0);
}

TEST_F(LauncherTest, SignalsAreForwardedToTheProgram) {
  const std::string dir = MakeTempDir();
  const std::string ready = dir + "/ready";
  LaunchOptions o =
      Sh("trap 'exit 42' USR1; touch " + ready + "; while :; do sleep 0.05; done");
  absl::StatusOr<Sandbox> sandbox = Launch(o);
  ASSERT_TRUE(sandbox.ok()) << sandbox.status();
  absl::StatusOr<std::unique_ptr<Platform>> platform = CreateSeccompPlatform(sandbox->listener_fd);
  ASSERT_TRUE(platform.ok());
  ASSERT_TRUE(Start(*sandbox).ok());
  for (int i = 0; i < 1000 && access(ready.c_str(), F_OK) != 0; ++i) usleep(10000);
  EXPECT_EQ(kill(sandbox->init_pid, SIGUSR1), 0);
  absl::StatusOr<int> status = Wait(*sandbox);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 42);
  unlink(ready.c_str());
  rmdir(dir.c_str());
}

// The program's exit ends the sandbox even if it left children behind.
TEST_F(LauncherTest, OrphansDoNotOutliveTheProgram) {
  const int64_t start = NowMs();
  absl::StatusOr<int> status = RunSandbox(Sh("(sleep 1000 &); sleep 1000 & exit 3"));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 3);
  EXPECT_LT(NowMs() - start, 20000);
}

// init dies with the supervisor (parent-death signal), and the whole sandbox with init.
TEST_F(LauncherTest, SupervisorDeathKillsTheSandbox) {
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd from_supervisor(pipe_fds[0]);
  const pid_t supervisor = fork();
  ASSERT_GE(supervisor, 0);
  if (supervisor == 0) {
    close(pipe_fds[0]);
    absl::StatusOr<Sandbox> sandbox = Launch(Sh("sleep 1000"));
    if (!sandbox.ok() || !Start(*sandbox).ok()) _exit(1);
    pid_t pid = sandbox->init_pid;
    if (write(pipe_fds[1], &pid, sizeof(pid)) != sizeof(pid)) _exit(2);
    pause();
    _exit(0);
  }
  close(pipe_fds[1]);
  pid_t init_pid = -1;
  ASSERT_EQ(read(from_supervisor.get(), &init_pid, sizeof(init_pid)),
            static_cast<ssize_t>(sizeof(init_pid)));
  UniqueFd init(static_cast<int>(syscall(SYS_pidfd_open, init_pid, 0)));
  ASSERT_TRUE(init.valid());
  // The program: init's child (wait until it was forked).
  std::string children;
  const std::string children_path =
      "/proc/" + std::to_string(init_pid) + "/task/" + std::to_string(init_pid) + "/children";
  for (int i = 0; i < 1000 && children.empty(); ++i) {
    children = ReadFile(children_path);
    if (children.empty()) usleep(10000);
  }
  ASSERT_FALSE(children.empty());
  UniqueFd program(static_cast<int>(syscall(SYS_pidfd_open, std::atoi(children.c_str()), 0)));
  ASSERT_TRUE(program.valid());

  kill(supervisor, SIGKILL);
  EXPECT_EQ(WaitForExit(supervisor), 128 + SIGKILL);
  pollfd p[2] = {{init.get(), POLLIN, 0}, {program.get(), POLLIN, 0}};
  EXPECT_EQ(poll(&p[0], 1, 10000), 1) << "init outlived the supervisor";
  EXPECT_EQ(poll(&p[1], 1, 10000), 1) << "the program outlived init";
}

// The trapped-call path: the program's mq_open reaches the supervisor, which reads its
// arguments from the program's memory and answers.
TEST_F(LauncherTest, TrappedCallIsAnsweredBySupervisor) {
  LaunchOptions o;
  o.argv = {SelfExe(), "--probe", kProbeName};
  o.rules = AllMqRules();
  absl::StatusOr<Sandbox> sandbox = Launch(o);
  ASSERT_TRUE(sandbox.ok()) << sandbox.status();
  absl::StatusOr<std::unique_ptr<Platform>> platform = CreateSeccompPlatform(sandbox->listener_fd);
  ASSERT_TRUE(platform.ok()) << platform.status();
  std::vector<Served> served;
  std::thread server([&] { served = Serve(**platform, SyscallResult::Error(EACCES)); });
  ASSERT_TRUE(Start(*sandbox).ok());
  absl::StatusOr<int> status = Wait(*sandbox);
  server.join();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, EACCES);
  ASSERT_EQ(served.size(), 1u);
  EXPECT_EQ(served[0].call.arch, Arch::kX86_64);
  EXPECT_EQ(served[0].call.nr, SYS_mq_open);
  EXPECT_NE(served[0].call.tid, sandbox->init_pid);
  EXPECT_EQ(served[0].name_error, 0);
  EXPECT_EQ(served[0].name, kProbeName);
}

// ---- Unprivileged ----

// Exit codes of the unprivileged scenario (run in a forked child as uid 65534).
enum UnprivilegedStep {
  kOk = 0,
  kDropFailed = 10,
  kNoUserNamespace,
  kLaunchFailed,
  kPlatformFailed,
  kStartFailed,
  kWaitFailed,
  kWrongAnswer,
  kWrongCall,
  kIdentityOrMountsWrong,
  kSysctlNotWritten,
  kSysctlLeaked,
  kBadSysctlNotReported,
  kUidGidNotApplied,
  kSignalSetupFailed,
  kWrongSiUid,
};

int UnprivilegedScenario(const std::string& probe, const HostMqueue& host) {
  if (setgroups(0, nullptr) != 0 || setresgid(kNobody, kNobody, kNobody) != 0 ||
      setresuid(kNobody, kNobody, kNobody) != 0) {
    return kDropFailed;
  }
  // Changing credentials made this process non-dumpable, which leaves its /proc/self
  // files root's (uid_map included); a user's process that was exec'd is dumpable.
  if (prctl(PR_SET_DUMPABLE, 1) != 0) return kDropFailed;
  absl::StatusOr<bool> entered = EnterSupervisorUserNamespaceIfUnprivileged();
  if (!entered.ok() || !*entered) {
    std::fprintf(stderr, "unprivileged: %s\n", entered.status().ToString().c_str());
    return kNoUserNamespace;
  }
  auto unprivileged = [](LaunchOptions o) {
    o.unprivileged = true;
    return o;
  };

  // 1. A trapped call, answered by this (unprivileged) supervisor.
  LaunchOptions o;
  o.argv = {probe, "--probe", kProbeName};
  o.rules = AllMqRules();
  o.unprivileged = true;
  absl::StatusOr<Sandbox> sandbox = Launch(o);
  if (!sandbox.ok()) {
    std::fprintf(stderr, "unprivileged: %s\n", sandbox.status().ToString().c_str());
    return kLaunchFailed;
  }
  absl::StatusOr<std::unique_ptr<Platform>> platform = CreateSeccompPlatform(sandbox->listener_fd);
  if (!platform.ok()) return kPlatformFailed;
  if (!Start(*sandbox).ok()) return kStartFailed;
  std::vector<Served> served = Serve(**platform, SyscallResult::Error(EACCES));
  absl::StatusOr<int> status = Wait(*sandbox);
  if (!status.ok()) return kWaitFailed;
  if (*status != EACCES) {
    std::fprintf(stderr, "unprivileged: probe exited %d\n", *status);
    return kWrongAnswer;
  }
  if (served.size() != 1 || served[0].call.nr != SYS_mq_open || served[0].name != kProbeName) {
    return kWrongCall;
  }

  // 2. The caller's identity without any capability, a fresh /proc, and the host's mqueue
  // mount covered (it is locked in this user namespace, so it cannot be detached).
  absl::StatusOr<int> shell =
      RunSandbox(unprivileged(Sh("test \"$(id -u):$(id -g)\" = 65534:65534 && "
                                 "grep -Eq '^CapEff:[[:space:]]*0+$' /proc/self/status && "
                                 "grep -Eq '^CapPrm:[[:space:]]*0+$' /proc/self/status && "
                                 "test \"$(cat /proc/1/comm)\" = mqsentry-init && "
                                 "test \"$(stat -f -c %T " +
                                 host.dir() + ")\" = tmpfs && test ! -e " + host.queue_path())));
  if (!shell.ok() || *shell != 0) {
    std::fprintf(stderr, "unprivileged: shell checks: %s\n",
                 shell.ok() ? std::to_string(*shell).c_str() : shell.status().ToString().c_str());
    return kIdentityOrMountsWrong;
  }

  // 3. mqueue sysctls are written in the sandbox's IPC namespace (owned by init's user
  // namespace, whose uid 0 is this user), and only there.
  const std::string host_before = ReadFile("/proc/sys/fs/mqueue/msg_max");
  LaunchOptions s = unprivileged(
      Sh("test \"$(cat /proc/sys/fs/mqueue/msg_max)\" = 64 && "
         "test \"$(cat /proc/sys/fs/mqueue/queues_max)\" = 3 && test \"$(id -u)\" = 65534"));
  s.sysctls = {{"msg_max", "64"}, {"queues_max", "3"}};
  shell = RunSandbox(s);
  if (!shell.ok() || *shell != 0) {
    std::fprintf(stderr, "unprivileged: sysctl: %s\n",
                 shell.ok() ? std::to_string(*shell).c_str() : shell.status().ToString().c_str());
    return kSysctlNotWritten;
  }
  if (ReadFile("/proc/sys/fs/mqueue/msg_max") != host_before) return kSysctlLeaked;
  // A value the kernel refuses is still a clear launch error.
  s.sysctls = {{"msg_max", "0"}};
  absl::StatusOr<Sandbox> refused = Launch(s);
  if (refused.ok() || refused.status().code() != absl::StatusCode::kInvalidArgument ||
      refused.status().message().find("fs.mqueue.msg_max=0") == absl::string_view::npos) {
    std::fprintf(stderr, "unprivileged: bad sysctl: %s\n", refused.status().ToString().c_str());
    return kBadSysctlNotReported;
  }

  // 4. --uid/--gid: another identity inside, still without capabilities.
  LaunchOptions ids =
      unprivileged(Sh("test \"$(id -u):$(id -g):$(id -G)\" = 4321:4322:4322 && "
                      "grep -Eq '^CapEff:[[:space:]]*0+$' /proc/self/status"));
  ids.uid = 4321;
  ids.gid = 4322;
  shell = RunSandbox(ids);
  if (!shell.ok() || *shell != 0) {
    std::fprintf(stderr, "unprivileged: --uid/--gid: %s\n",
                 shell.ok() ? std::to_string(*shell).c_str() : shell.status().ToString().c_str());
    return kUidGidNotApplied;
  }

  // 5. A signal queued through init (QueueSignal) names the sender's uid as the program
  // sees it: the supervisor gives the kernel uid (65534), init re-expresses it in its own
  // user namespace (0), and the kernel maps that into the program's (4321). Sent as is,
  // it would arrive as the overflow uid 65534.
  const std::string dir = MakeTempDir();
  const std::string ready = dir + "/ready";
  LaunchOptions sig;
  sig.argv = {probe, "--probe-siginfo", ready};
  sig.rules = AllMqRules();
  sig.unprivileged = true;
  sig.uid = 4321;
  sig.gid = 4321;
  sigset_t usr1, old_mask;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, &old_mask);  // inherited by the program
  sandbox = Launch(sig);
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  if (!sandbox.ok()) {
    std::fprintf(stderr, "unprivileged: %s\n", sandbox.status().ToString().c_str());
    return kLaunchFailed;
  }
  platform = CreateSeccompPlatform(sandbox->listener_fd);
  if (!platform.ok() || !Start(*sandbox).ok()) return kSignalSetupFailed;
  for (int i = 0; i < 1000 && access(ready.c_str(), F_OK) != 0; ++i) usleep(10000);
  kernel::abi::SiginfoMesgq info{};
  info.si_signo = SIGUSR1;
  info.si_code = SI_MESGQ;
  info.pid = 1;
  info.uid = kNobody;  // the supervisor's kernel uid (its namespace maps it to itself)
  if (!QueueSignal(*sandbox, 2, SIGUSR1, &info).ok()) return kSignalSetupFailed;
  status = Wait(*sandbox);
  unlink(ready.c_str());
  rmdir(dir.c_str());
  if (!status.ok() || *status != 0) {
    std::fprintf(
        stderr, "unprivileged: siginfo probe: %s\n",
        status.ok() ? std::to_string(*status).c_str() : status.status().ToString().c_str());
    return kWrongSiUid;
  }
  return kOk;
}

TEST_F(LauncherTest, UnprivilegedSupervisor) {
  HostMqueue host;
  ASSERT_TRUE(host.error().empty()) << host.error();
  // The test binary lives under /root; uid 65534 runs a copy.
  const std::string dir = MakeTempDir();
  const std::string probe = dir + "/probe";
  {
    std::ifstream in(SelfExe(), std::ios::binary);
    std::ofstream out(probe, std::ios::binary);
    out << in.rdbuf();
  }
  ASSERT_EQ(chmod(probe.c_str(), 0755), 0);

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(UnprivilegedScenario(probe, host));
  EXPECT_EQ(WaitForExit(child, 60000), kOk) << "see UnprivilegedStep";
  unlink(probe.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace mqsentry::sentry

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--probe") == 0) {
    const long r = syscall(SYS_mq_open, argv[2], O_RDONLY, 0, nullptr);
    return r >= 0 ? 200 : errno;
  }
  if (argc == 3 && std::strcmp(argv[1], "--probe-siginfo") == 0) {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    const int fd = open(argv[2], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return 2;
    close(fd);
    siginfo_t info{};
    timespec timeout{20, 0};
    if (sigtimedwait(&usr1, &info, &timeout) != SIGUSR1) return 3;
    if (info.si_code != SI_MESGQ || info.si_uid != getuid()) {
      std::fprintf(stderr, "probe: si_code %d si_uid %u, uid %u\n", info.si_code, info.si_uid,
                   getuid());
      return 1;
    }
    return 0;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
