// The sandbox's init and its handshake with the supervisor.
//
// init is a raw clone(2) of the supervisor (no exec): it runs the code below with a copy
// of the supervisor's memory, and everything it does is undone by its death, which, as
// PID 1 of its PID namespace, kills every process of the sandbox.
//
// Control socket protocol (SOCK_SEQPACKET):
//   init -> supervisor   "R" + SCM_RIGHTS listener      setup done
//                        "E" + code byte + message      setup failed (absl::StatusCode)
//   supervisor -> init   "G"                            run the program
#include "sentry/launcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "base/errno_status.h"
#include "kernel/abi.h"
#include "kernel/ids.h"
#include "sentry/dev_mqueue.h"
#include "sentry/fd_passing.h"
#include "sentry/kept_fds.h"
#include "sentry/mountinfo.h"
#include "sentry/seccomp_filter.h"
#include "sentry/tty_guard.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {
namespace {

constexpr size_t kMaxControlMessage = 4096;
// The program's process could not be set up (ids, capabilities, user namespace): an
// mqsentry failure, with the exit status mqsentry gives its own (the program never ran).
constexpr int kSetupFailed = 125;
// Signals init passes on to the program.
constexpr int kSignalsToProgram[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

using base::Errno;

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 128;
}

absl::Status WriteFile(const std::string& path, absl::string_view data) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return Errno(absl::StrCat("open ", path));
  const ssize_t n = write(fd.get(), data.data(), data.size());
  if (n < 0) return Errno(absl::StrCat("write \"", data, "\" to ", path));
  if (static_cast<size_t>(n) != data.size()) {
    return absl::InternalError(absl::StrCat("short write to ", path));
  }
  return absl::OkStatus();
}

bool HasEffectiveCapSysAdmin() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective & CAP_TO_MASK(CAP_SYS_ADMIN)) != 0;
}

// ---- init (runs in the cloned child; never returns to the caller's code) ----

// Everything init needs, prepared before the clone.
struct InitArgs {
  const LaunchOptions* options;
  std::vector<char*> argv;  // NULL-terminated, pointing into options->argv
  sigset_t original_mask;
  int control_fd;
  int parent_pidfd;
  // The supervisor's euid and egid (in its own user namespace, S when unprivileged).
  uid_t caller_uid;
  gid_t caller_gid;
  int last_cap;  // LastCapability(), read while /proc is the host's
};

// Reports a setup failure to the supervisor; returns init's exit status.
int Fail(int control_fd, const absl::Status& status) {
  std::string message = "E";
  message.push_back(static_cast<char>(status.code()));
  message.append(status.message().data(), status.message().size());
  if (message.size() > kMaxControlMessage) message.resize(kMaxControlMessage);
  (void)SendMessage(control_fd, message);
  return 1;
}

// Handlers of the supervisor are meaningless in init: default them (ignored signals stay
// ignored, for the program to inherit as from an exec). SIGCHLD must not be ignored, or
// children would be reaped behind init's back.
void ResetSignalHandlers() {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction sa;
    if (sigaction(sig, nullptr, &sa) != 0) continue;  // 32/33: glibc's own
    if (sig == SIGCHLD || (sa.sa_handler != SIG_IGN && sa.sa_handler != SIG_DFL)) {
      struct sigaction dfl = {};
      dfl.sa_handler = SIG_DFL;
      sigemptyset(&dfl.sa_mask);
      sigaction(sig, &dfl, nullptr);
    }
  }
}

// Everything init inherited from the supervisor but the program's descriptors (0 ..
// LastKeptFd) and the control socket: the supervisor's own (listener sockets, FUSE, mqfs
// files...) and whatever the caller left open without naming it (--preserve-fds). Launch()
// checked the kept ones (kept_fds.h), and they are all open, so the control socket, made
// after, lies above them.
absl::Status CloseUnkeptFds(const InitArgs& a) {
  const unsigned last_kept = static_cast<unsigned>(LastKeptFd(a.options->preserve_fds));
  const unsigned control = static_cast<unsigned>(a.control_fd);
  if (control <= last_kept) {
    return absl::InternalError(absl::StrCat("control socket fd ", control, " among kept fds"));
  }
  if (control > last_kept + 1 && syscall(SYS_close_range, last_kept + 1, control - 1, 0U) != 0) {
    return Errno("close_range");
  }
  if (syscall(SYS_close_range, control + 1, ~0U, 0U) != 0) return Errno("close_range");
  return absl::OkStatus();
}

// Detaches the mount `m` if it is reachable by path (on top of its mount point); returns
// whether it was. A mount inherited from a more privileged mount namespace (the
// unprivileged supervisor's case) is locked (umount: EINVAL) and is covered with an empty
// read-only tmpfs instead; the cover is locked in turn for anyone who unshares a new user
// namespace, and the program has no capability to remove it otherwise.
absl::StatusOr<bool> DetachOrCover(const MountInfo& m) {
  struct stat st;
  if (stat(m.mount_point.c_str(), &st) != 0) return false;
  if (st.st_dev != makedev(m.major, m.minor)) return false;  // something else is on top
  if (umount2(m.mount_point.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) return true;
  if (errno != EINVAL && errno != EPERM) {
    return Errno(absl::StrCat("umount ", m.mount_point, " (", m.fs_type, ")"));
  }
  if (mount("none", m.mount_point.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=4k,nr_inodes=1,mode=000") != 0) {
    return Errno(absl::StrCat("cover the locked ", m.fs_type, " mount ", m.mount_point));
  }
  return true;
}

// Detaches every mqueue mount reachable by path, so the host's queues cannot be opened
// through the filesystem. Repeats until a pass changes nothing, since detaching a mount
// can reveal another one below it.
absl::Status RemoveMqueueMounts() {
  for (int pass = 0; pass < 64; ++pass) {
    absl::StatusOr<std::vector<MountInfo>> mounts = ReadSelfMountInfo();
    if (!mounts.ok()) return mounts.status();
    bool changed = false;
    for (const MountInfo& m : *mounts) {
      if (m.fs_type != "mqueue") continue;
      absl::StatusOr<bool> removed = DetachOrCover(m);
      if (!removed.ok()) return removed.status();
      changed |= *removed;
    }
    if (!changed) return absl::OkStatus();
  }
  return absl::InternalError("mqueue mounts keep appearing under each other");
}

// Every proc mount shows the host's processes, with their /proc/<pid>/fd, root and cwd:
// not only /proc (a container runtime's /host/proc, a chroot's /proc...). One pass (the
// list comes from /proc, which this detaches), innermost first.
absl::Status RemoveProcMounts() {
  absl::StatusOr<std::vector<MountInfo>> mounts = ReadSelfMountInfo();
  if (!mounts.ok()) return mounts.status();
  for (auto m = mounts->rbegin(); m != mounts->rend(); ++m) {
    if (m->fs_type != "proc") continue;
    if (absl::StatusOr<bool> removed = DetachOrCover(*m); !removed.ok()) return removed.status();
  }
  return absl::OkStatus();
}

absl::Status SetUpMounts() {
  // Nothing below may propagate back to the supervisor's (or the host's) namespace.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Errno("make mounts private (mount / MS_REC|MS_PRIVATE)");
  }
  if (absl::Status s = RemoveMqueueMounts(); !s.ok()) return s;
  if (absl::Status s = RemoveProcMounts(); !s.ok()) return s;
  // Where the supervisor mounts the sandbox's queues before the program starts.
  if (absl::Status s = ProvideDevMqueue(); !s.ok()) return s;
  // A /proc for the new PID namespace.
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    return Errno("mount proc on /proc");
  }
  return absl::OkStatus();
}

// The kernel moved init's working directory into the copy of its mount (copy_mnt_ns), but
// SetUpMounts() may then have detached or covered that mount (a host mqueue mount, the
// host's /proc), and a working directory keeps its mount reachable: "." would still be
// the host's queues. Such a directory is entered again by path, which lands on what the
// sandbox has there now; any other stays as inherited (it may be unreachable by path for
// the program's uid).
bool IsMqueueOrProc(const char* path) {
  constexpr unsigned long kProcMagic = 0x9fa0;  // PROC_SUPER_MAGIC
  struct statfs sf;
  if (statfs(path, &sf) != 0) return false;
  const auto magic = static_cast<unsigned long>(sf.f_type);
  return magic == kernel::abi::kMqueueMagic || magic == kProcMagic;
}

absl::Status ReenterWorkingDirectory(const std::string& cwd) {
  if (!IsMqueueOrProc(".")) return absl::OkStatus();
  if (chdir(cwd.c_str()) != 0) {
    return Errno(absl::StrCat("the working directory ", cwd, " is not in the sandbox"));
  }
  struct statfs sf;
  if (statfs(".", &sf) != 0) return Errno("statfs of the working directory");
  if (static_cast<unsigned long>(sf.f_type) == kernel::abi::kMqueueMagic) {
    return absl::FailedPreconditionError(
        absl::StrCat("the working directory ", cwd, " is on an mqueue filesystem"));
  }
  return absl::OkStatus();
}

absl::Status WriteSysctls(const LaunchOptions& options) {
  for (const auto& [name, value] : options.sysctls) {
    const std::string path = absl::StrCat("/proc/sys/fs/mqueue/", name);
    absl::Status s = WriteFile(path, value);
    if (s.ok()) continue;
    std::string hint;
    if (absl::IsPermissionDenied(s) && geteuid() != 0) {
      // ipc/mq_sysctl.c: only the IPC namespace owner's root (uid 0 of its user namespace,
      // or the host's root when that is unmapped) may write. An unprivileged supervisor's
      // init is uid 0 of the namespace that owns it (EnterSandboxUserAndIpcNamespaces);
      // this is for a supervisor that has CAP_SYS_ADMIN without being uid 0.
      hint = absl::StrCat(
          " (only uid 0 of the user namespace that owns the sandbox's IPC "
          "namespace may write mqueue sysctls, and mqsentry runs as uid ",
          geteuid(), ")");
    }
    return absl::Status(s.code(), absl::StrCat("cannot set sysctl fs.mqueue.", name, "=", value,
                                               ": ", s.message(), hint));
  }
  return absl::OkStatus();
}

// Unprivileged init, after its mounts (it is about to lose its capabilities over the
// mount namespace, which S owns): a user namespace U that maps uid and gid 0 to the
// caller's, and a new IPC namespace owned by U. The kernel lets uid 0 of the IPC
// namespace's owner write its mqueue sysctls (ipc/mq_sysctl.c mq_permissions()
// compares the writer's euid with make_kuid(owner, 0)), and that is kernel uid UID,
// init's: WriteSysctls() works. Only the calling process's own ids are mapped, which an
// unprivileged process may do once it has denied setgroups (user_namespaces(7)).
absl::Status EnterSandboxUserAndIpcNamespaces(const InitArgs& a) {
  // /proc/self/{setgroups,uid_map,gid_map} of a process that is not dumpable belong to
  // root (the host's: init's memory is a copy of the supervisor's, mapped before it
  // entered S), and nobody else may open them for writing. No process of the sandbox
  // exists yet (the program is forked after "G"), so init may be dumpable meanwhile.
  prctl(PR_SET_DUMPABLE, 1);
  absl::Status status = [&]() -> absl::Status {
    if (unshare(CLONE_NEWUSER) != 0) return Errno("unshare(CLONE_NEWUSER) in init");
    if (absl::Status s = WriteFile("/proc/self/setgroups", "deny"); !s.ok()) return s;
    if (absl::Status s = WriteFile("/proc/self/uid_map", absl::StrCat("0 ", a.caller_uid, " 1\n"));
        !s.ok()) {
      return s;
    }
    if (absl::Status s = WriteFile("/proc/self/gid_map", absl::StrCat("0 ", a.caller_gid, " 1\n"));
        !s.ok()) {
      return s;
    }
    if (unshare(CLONE_NEWIPC) != 0) return Errno("unshare(CLONE_NEWIPC) in init");
    return absl::OkStatus();
  }();
  prctl(PR_SET_DUMPABLE, 0);
  return status;
}

// Unprivileged, in the program's process before its exec: a user namespace P that maps
// the program's uid and gid (the caller's, or --uid/--gid) to init's 0 in U, i.e. to the
// caller's kernel ids. The process is then that uid and gid, with every capability of P
// until the exec, which (the uid not being 0 in P) leaves it none. Returns 0 or an errno,
// with `what` naming the step.
int EnterProgramUserNamespace(const InitArgs& a, const char** what) {
  const LaunchOptions& o = *a.options;
  // As for init (EnterSandboxUserAndIpcNamespaces): the process inherited init's
  // non-dumpable state, and its maps must be writable. It execs right after.
  prctl(PR_SET_DUMPABLE, 1);
  *what = "unshare(CLONE_NEWUSER)";
  if (unshare(CLONE_NEWUSER) != 0) return errno;
  char uid_map[32], gid_map[32];
  std::snprintf(uid_map, sizeof(uid_map), "%u 0 1\n", o.uid.value_or(a.caller_uid));
  std::snprintf(gid_map, sizeof(gid_map), "%u 0 1\n", o.gid.value_or(a.caller_gid));
  const std::pair<const char*, const char*> writes[] = {{"/proc/self/setgroups", "deny"},
                                                        {"/proc/self/uid_map", uid_map},
                                                        {"/proc/self/gid_map", gid_map}};
  for (const auto& [path, text] : writes) {
    *what = path;
    const int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    const size_t len = std::strlen(text);
    const ssize_t n = write(fd, text, len);
    const int err = n < 0 ? errno : static_cast<size_t>(n) != len ? EIO : 0;
    close(fd);
    if (err != 0) return err;
  }
  return 0;
}

// --uid/--gid in the supervisor's own user namespace (not unprivileged).
void SetIdsOrExit(const LaunchOptions& o) {
  // Raw system calls: this process is single-threaded, and glibc's wrappers would use its
  // all-threads setxid machinery if the supervisor ever had threads (state cloned from it).
  if (o.gid.has_value()) {
    // With setgroups "deny" (if the supervisor runs in a user namespace that denies it)
    // the groups cannot change, and are not the caller's to lose anyway.
    if (syscall(SYS_setgroups, 0, nullptr) != 0 && errno != EPERM) {
      std::fprintf(stderr, "mqsentry: setgroups: %s\n", std::strerror(errno));
      _exit(kSetupFailed);
    }
    if (syscall(SYS_setresgid, *o.gid, *o.gid, *o.gid) != 0) {
      std::fprintf(stderr, "mqsentry: cannot set gid %u: %s\n", *o.gid, std::strerror(errno));
      _exit(kSetupFailed);
    }
  }
  if (o.uid.has_value() && syscall(SYS_setresuid, *o.uid, *o.uid, *o.uid) != 0) {
    std::fprintf(stderr, "mqsentry: cannot set uid %u: %s\n", *o.uid, std::strerror(errno));
    _exit(kSetupFailed);
  }
}

[[noreturn]] void RunProgram(const InitArgs& a) {
  const LaunchOptions& o = *a.options;
  sigprocmask(SIG_SETMASK, &a.original_mask, nullptr);
  for (int fd = 0; fd <= LastKeptFd(o.preserve_fds); ++fd) fcntl(fd, F_SETFD, 0);
  const char* what = "";
  if (o.unprivileged) {
    if (const int err = EnterProgramUserNamespace(a, &what); err != 0) {
      std::fprintf(
          stderr, "mqsentry: cannot give the program its user namespace (uid %u, gid %u): %s: %s\n",
          o.uid.value_or(a.caller_uid), o.gid.value_or(a.caller_gid), what, std::strerror(err));
      _exit(kSetupFailed);
    }
  }
  // Capabilities (program_caps.h): the bounding set while CAP_SETPCAP is there, the rest
  // after the uid change that needs CAP_SETUID. Unprivileged, this acts in P.
  if (!o.privileged) {
    if (const int err = LimitBoundingAndAmbient(o.capabilities, a.last_cap, &what); err != 0) {
      std::fprintf(stderr, "mqsentry: cannot limit the program's capabilities: %s: %s\n", what,
                   std::strerror(err));
      _exit(kSetupFailed);
    }
  }
  if (!o.unprivileged) SetIdsOrExit(o);
  if (!o.privileged) {
    if (const int err = LimitProcessCapabilities(o.capabilities, &what); err != 0) {
      std::fprintf(stderr, "mqsentry: cannot limit the program's capabilities: %s: %s\n", what,
                   std::strerror(err));
      _exit(kSetupFailed);
    }
  }
  if (const int err = InstallTtyInjectionGuard(); err != 0) {
    std::fprintf(stderr, "mqsentry: cannot install the terminal injection guard: %s\n",
                 std::strerror(err));
    _exit(kSetupFailed);
  }
  execvp(a.argv[0], a.argv.data());
  std::fprintf(stderr, "mqsentry: cannot run %s: %s\n", a.argv[0], std::strerror(errno));
  _exit(127);
}

// Sends signal `sig` (with `info`, or as kill(2) does if null) to process `pid` of
// init's PID namespace; 0 or an errno. init is under the seccomp filter, which traps the
// signal-sending calls for the supervisor (sentry/signal_watch.h), and the supervisor may
// be waiting for init's acknowledgement (QueueSignal): init therefore uses the one form
// the filter lets through, pidfd_send_signal with exactly PIDFD_SIGNAL_THREAD_GROUP, which
// sends to the whole process as kill(2) and rt_sigqueueinfo(2) do.
int InitSendSignal(pid_t pid, int sig, void* info) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return errno;
  int err = 0;
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, info, kernel::abi::kPidfdSignalThreadGroup) !=
      0) {
    err = errno;
  }
  close(pidfd);
  if (err == EINVAL) {
    // A kernel older than 6.9 (no PIDFD_SIGNAL_THREAD_GROUP): the trapped calls, which the
    // supervisor continues (a notification signal then waits for it, up to its timeout).
    const long r = info != nullptr ? syscall(SYS_rt_sigqueueinfo, pid, sig, info) : kill(pid, sig);
    err = r == 0 ? 0 : errno;
  }
  return err;
}

// Reaps every child (orphans of the program are re-parented to init), forwards signals
// to the program, and returns the program's status when it exits. Signals the kernel
// sends (SI_KERNEL: the terminal's ^C, ^\, SIGWINCH, hangup go to the whole foreground
// process group, which the program is in) are not forwarded, or the program would get
// them twice.
//
// It also queues notification signals for the supervisor (QueueSignal): the kernel keeps a
// chosen si_pid only when the sender is visible in the target's PID namespace, which
// init (PID 1 of the sandbox) is and the supervisor is not.
//
// Unprivileged, init is uid 0 of its own user namespace U, where the kernel reads the
// si_uid it queues (QueueSignal): the supervisor's kernel uid UID becomes 0 there, and
// any other uid, unmapped in U, the overflow uid (what the kernel would deliver for it).
void ServeSignalRequest(int control_fd, const InitArgs& a) {
  SignalRequest req;
  const ssize_t n = recv(control_fd, &req, sizeof(req), MSG_DONTWAIT);
  if (n != static_cast<ssize_t>(sizeof(req))) return;
  if (a.options->unprivileged) {
    int32_t code;
    std::memcpy(&code, req.info + offsetof(siginfo_t, si_code), sizeof(code));
    // siginfo_layout(): these codes have si_pid and si_uid (SIL_KILL, SIL_RT).
    if (code == SI_USER || (code < 0 && code != SI_TIMER && code != SI_SIGIO)) {
      uint32_t uid;
      std::memcpy(&uid, req.info + kernel::abi::kSiginfoUidOffset, sizeof(uid));
      // The supervisor's namespace S maps UID to itself: a kernel uid is its S view.
      uid = uid == a.caller_uid ? 0 : kernel::kOverflowId;  // overflowuid's default
      std::memcpy(req.info + kernel::abi::kSiginfoUidOffset, &uid, sizeof(uid));
    }
  }
  SignalAck ack{req.seq, InitSendSignal(req.pid, req.sig, req.info)};
  // The supervisor waits for this before it answers the call that fired the signal.
  (void)send(control_fd, &ack, sizeof(ack), MSG_NOSIGNAL | MSG_DONTWAIT);
}

int Supervise(pid_t program, const sigset_t& waited, const InitArgs& a) {
  int control_fd = a.control_fd;
  const int sfd = signalfd(-1, &waited, SFD_CLOEXEC);
  if (sfd < 0) return 128;
  while (true) {
    pollfd fds[2] = {{sfd, POLLIN, 0}, {control_fd, POLLIN, 0}};
    if (poll(fds, control_fd >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      return 128;
    }
    if (control_fd >= 0 && (fds[1].revents & POLLIN)) ServeSignalRequest(control_fd, a);
    if (control_fd >= 0 && (fds[1].revents & (POLLHUP | POLLERR)) && !(fds[1].revents & POLLIN)) {
      close(control_fd);  // the supervisor is gone; its death signal follows
      control_fd = -1;
    }
    if (!(fds[0].revents & POLLIN)) continue;
    signalfd_siginfo ssi;
    if (read(sfd, &ssi, sizeof(ssi)) != static_cast<ssize_t>(sizeof(ssi))) continue;
    siginfo_t info{};
    info.si_code = ssi.ssi_code;
    const int sig = static_cast<int>(ssi.ssi_signo);
    if (sig == SIGCHLD) {
      while (true) {
        int status;
        const pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) break;
        if (pid == program) return ExitCodeOf(status);
      }
      continue;
    }
    if (info.si_code != SI_KERNEL) (void)InitSendSignal(program, sig, nullptr);
  }
}

int InitMain(InitArgs& a) {
  // The supervisor's death must end the sandbox. It may have died before this prctl:
  // then its pidfd is already readable.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return 1;
  pollfd parent{a.parent_pidfd, POLLIN, 0};
  if (poll(&parent, 1, 0) != 0) return 1;
  close(a.parent_pidfd);
  prctl(PR_SET_NAME, kInitProcessName);
  // init holds a copy of the supervisor's memory and, when the supervisor is unprivileged,
  // every capability of its user namespace, as the program's uid: nobody in the sandbox
  // may ptrace it, read its memory or reach its /proc/1/root. (The program is dumpable
  // again after its exec.)
  prctl(PR_SET_DUMPABLE, 0);

  ResetSignalHandlers();
  if (absl::Status s = CloseUnkeptFds(a); !s.ok()) return Fail(a.control_fd, s);
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) {
    return Fail(a.control_fd, Errno("getcwd (is the working directory reachable?)"));
  }
  if (absl::Status s = SetUpMounts(); !s.ok()) return Fail(a.control_fd, s);
  if (absl::Status s = ReenterWorkingDirectory(cwd); !s.ok()) return Fail(a.control_fd, s);
  if (a.options->unprivileged) {
    if (absl::Status s = EnterSandboxUserAndIpcNamespaces(a); !s.ok()) {
      return Fail(a.control_fd, s);
    }
  }
  if (absl::Status s = WriteSysctls(*a.options); !s.ok()) return Fail(a.control_fd, s);

  absl::StatusOr<int> listener = InstallNotifyFilter(a.options->rules);
  if (!listener.ok()) return Fail(a.control_fd, listener.status());
  // Until "G" the supervisor mounts the sandbox's /dev/mqueue through init's /proc/1/ns
  // and root, which an unprivileged supervisor (no CAP_SYS_PTRACE over init's memory)
  // may open only while init is dumpable. No process of the sandbox exists before "G".
  if (a.options->unprivileged) prctl(PR_SET_DUMPABLE, 1);
  absl::Status sent = SendMessage(a.control_fd, "R", *listener);
  close(*listener);
  if (!sent.ok()) return 1;

  absl::StatusOr<ReceivedMessage> go = ReceiveMessage(a.control_fd, kMaxControlMessage);
  prctl(PR_SET_DUMPABLE, 0);
  if (!go.ok() || go->eof || go->data != "G") return 1;  // the supervisor gave up

  // Blocked before the fork, so that no signal or exit of the program can be missed.
  sigset_t waited;
  sigemptyset(&waited);
  sigaddset(&waited, SIGCHLD);
  for (int sig : kSignalsToProgram) sigaddset(&waited, sig);
  sigprocmask(SIG_BLOCK, &waited, nullptr);

  const pid_t program = fork();
  if (program < 0) {
    std::fprintf(stderr, "mqsentry: fork: %s\n", std::strerror(errno));
    return kSetupFailed;
  }
  if (program == 0) {
    close(a.control_fd);
    RunProgram(a);
  }
  // init keeps nothing the program might wait on (pipes it inherited, for example), only
  // the control socket for signal requests.
  if (a.control_fd > 3) syscall(SYS_close_range, 3U, static_cast<unsigned>(a.control_fd - 1), 0U);
  syscall(SYS_close_range, static_cast<unsigned>(a.control_fd + 1), ~0U, 0U);
  return Supervise(program, waited, a);
}

absl::Status ValidateOptions(const LaunchOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return absl::InvalidArgumentError("no program to run");
  }
  if (options.rules.empty()) return absl::InvalidArgumentError("no seccomp rules");
  if (absl::Status s = CheckKeptDescriptors(options.preserve_fds); !s.ok()) return s;
  for (const auto& [name, value] : options.sysctls) {
    if (name.empty() || name == "." || name == ".." ||
        name.find_first_of("/\n") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad mqueue sysctl name \"", name, "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> WaitForPid(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Errno(absl::StrCat("waitpid(", pid, ")"));
  }
  return ExitCodeOf(status);
}

}  // namespace

absl::StatusOr<bool> EnterSupervisorUserNamespaceIfUnprivileged() {
  if (HasEffectiveCapSysAdmin()) return false;
  const uid_t uid = geteuid();
  const gid_t gid = getegid();
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
    if (errno == EINVAL) {
      return absl::FailedPreconditionError(
          "unshare(CLONE_NEWUSER): the process must be single-threaded");
    }
    return Errno("unshare(CLONE_NEWUSER|CLONE_NEWNS) (are unprivileged user namespaces "
                 "allowed? see /proc/sys/user/max_user_namespaces)");
  }
  // An unprivileged process may map only its own ids, and only after giving up setgroups.
  if (absl::Status s = WriteFile("/proc/self/setgroups", "deny"); !s.ok()) return s;
  if (absl::Status s = WriteFile("/proc/self/uid_map", absl::StrCat(uid, " ", uid, " 1\n"));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = WriteFile("/proc/self/gid_map", absl::StrCat(gid, " ", gid, " 1\n"));
      !s.ok()) {
    return s;
  }
  return true;
}

absl::StatusOr<Sandbox> Launch(const LaunchOptions& options) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;

  InitArgs args;
  args.options = &options;
  for (const std::string& arg : options.argv) args.argv.push_back(const_cast<char*>(arg.c_str()));
  args.argv.push_back(nullptr);
  sigprocmask(SIG_SETMASK, nullptr, &args.original_mask);

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return Errno("socketpair");
  }
  UniqueFd ours(sv[0]), theirs(sv[1]);
  UniqueFd parent_pidfd(static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0)));
  if (!parent_pidfd.valid()) return Errno("pidfd_open(self)");
  args.control_fd = theirs.get();
  args.parent_pidfd = parent_pidfd.get();
  args.caller_uid = geteuid();
  args.caller_gid = getegid();
  args.last_cap = LastCapability();

  // fork()-like clone (no new stack): the child continues here with a copy of our memory.
  // Unprivileged, init unshares the IPC namespace later, from its own user namespace
  // (EnterSandboxUserAndIpcNamespaces), so that this one owns it.
  const unsigned long ipc = options.unprivileged ? 0 : CLONE_NEWIPC;
  const char* const clone_call = options.unprivileged
                                     ? "clone(CLONE_NEWPID|CLONE_NEWNS)"
                                     : "clone(CLONE_NEWIPC|CLONE_NEWPID|CLONE_NEWNS)";
  const long pid = syscall(SYS_clone, ipc | CLONE_NEWPID | CLONE_NEWNS | SIGCHLD, nullptr, nullptr,
                           nullptr, nullptr);
  if (pid < 0) {
    if (errno == EPERM) {
      return Errno(absl::StrCat(clone_call,
                                " needs CAP_SYS_ADMIN (call "
                                "EnterSupervisorUserNamespaceIfUnprivileged first)"));
    }
    return Errno(clone_call);
  }
  if (pid == 0) {
    close(ours.release());
    _exit(InitMain(args));
  }
  theirs.reset();
  parent_pidfd.reset();

  absl::StatusOr<ReceivedMessage> ready = ReceiveMessage(ours.get(), kMaxControlMessage);
  absl::Status failure;
  if (!ready.ok()) {
    failure = ready.status();
  } else if (ready->eof) {
    failure = absl::InternalError("sandbox init exited during setup");
  } else if (ready->data == "R" && ready->fd.valid()) {
    Sandbox sandbox;
    sandbox.init_pid = static_cast<pid_t>(pid);
    sandbox.listener_fd = ready->fd.release();
    sandbox.control_fd = ours.release();
    return sandbox;
  } else if (ready->data.size() >= 2 && ready->data[0] == 'E') {
    failure = absl::Status(static_cast<absl::StatusCode>(ready->data[1]),
                           absl::StrCat("sandbox setup: ", ready->data.substr(2)));
  } else {
    failure = absl::InternalError("sandbox init sent a malformed message");
  }
  kill(static_cast<pid_t>(pid), SIGKILL);
  (void)WaitForPid(static_cast<pid_t>(pid));
  return failure;
}

absl::Status Start(const Sandbox& sandbox) {
  if (sandbox.control_fd < 0) return absl::FailedPreconditionError("sandbox has no control socket");
  return SendMessage(sandbox.control_fd, "G");
}

absl::Status QueueSignal(const Sandbox& sandbox, pid_t pid, int sig, const void* siginfo) {
  if (sandbox.control_fd < 0) return absl::FailedPreconditionError("sandbox has no control socket");
  // One request in flight at a time: the acknowledgement is read by the thread that asked.
  static absl::Mutex* const mu = new absl::Mutex;
  static uint32_t next_seq = 1;  // guarded by mu
  absl::MutexLock lock(mu);
  SignalRequest req{};
  req.seq = next_seq++;
  req.pid = pid;
  req.sig = sig;
  std::memcpy(req.info, siginfo, sizeof(req.info));
  if (send(sandbox.control_fd, &req, sizeof(req), MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof(req))) {
    return Errno("send signal request to init");
  }
  // Acknowledgements of requests that timed out earlier are skipped by their number.
  timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (true) {
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    const int64_t elapsed_ms =
        (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1'000'000;
    if (elapsed_ms >= kSignalAckTimeoutMs) {
      return absl::DeadlineExceededError("init did not acknowledge a signal request");
    }
    pollfd pfd{sandbox.control_fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(kSignalAckTimeoutMs - elapsed_ms));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return Errno("poll for init's acknowledgement");
    if (ready == 0) continue;
    SignalAck ack;
    const ssize_t n = recv(sandbox.control_fd, &ack, sizeof(ack), MSG_DONTWAIT);
    if (n == 0) return absl::UnavailableError("init is gone");
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return Errno("receive init's acknowledgement");
    if (n != static_cast<ssize_t>(sizeof(ack)) || ack.seq != req.seq) continue;
    if (ack.error != 0) return absl::ErrnoToStatus(ack.error, "init's rt_sigqueueinfo");
    return absl::OkStatus();
  }
}

absl::StatusOr<int> Wait(const Sandbox& sandbox) {
  absl::StatusOr<int> status = WaitForPid(sandbox.init_pid);
  if (sandbox.control_fd >= 0) close(sandbox.control_fd);
  return status;
}

}  // namespace mqsentry::sentry
