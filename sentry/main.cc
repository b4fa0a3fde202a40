// mqsentry: the command line.
//
//   mqsentry run [flags] -- PROGRAM [ARGS...]
//     --sysctl fs.mqueue.NAME=VALUE   (repeatable) limits of the sandbox's IPC namespace
//     --strace                        one decoded line per emulated call, on stderr
//     --strace-log FILE               the same, into FILE
//     --uid N --gid N                 identity inside the sandbox (default: the caller's)
//     --preserve-fds N                the program also keeps fds 3 .. 3+N-1 (runc's flag);
//                                     every other descriptor but 0-2 is closed
//     --cap-add NAME --cap-drop NAME  (repeatable) change the program's capabilities from
//                                     Docker's default set (Docker's names, or ALL)
//     --privileged                    keep every capability: no security boundary
//     --save-on-exit FILE             when the program has exited, the queue state of every
//                                     IPC namespace into FILE (atomically)
//     --restore FILE                  the sandbox's IPC namespace starts with the sysctls
//                                     and named queues of checkpoint FILE
//     --name NAME [--root DIR]        a named sandbox, reachable by `mqsentry checkpoint`
//                                     and shown by `mqsentry list` (sentry/control.h)
// Flags also take --flag=VALUE.
//
//   mqsentry inspect FILE [--format=text|json] [--messages]   (sentry/inspect.h)
//   mqsentry list [--root DIR] [--format=text|json]           (sentry/control_commands.h)
//   mqsentry checkpoint NAME --output FILE [--root DIR]
//
// Exit status: the program's; 128+N if signal N killed it; 127 if it could not be
// executed; 125 if mqsentry itself failed (a message on stderr says why), including a
// checkpoint that cannot be restored or saved.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "ipc/checkpoint/restore_plan.h"
#include "ipc/checkpoint/stream.h"
#include "sentry/unique_fd.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "ipc/sysctls.h"
#include "kernel/ids.h"
#include "kernel/user_namespace.h"
#include "sentry/control.h"
#include "sentry/control_commands.h"
#include "sentry/identity.h"
#include "sentry/inspect.h"
#include "sentry/kept_fds.h"
#include "sentry/launcher.h"
#include "sentry/platform.h"
#include "sentry/program_caps.h"
#include "sentry/sentry.h"
#include "sentry/syscall_table.h"
#include "vfs/mqfs.h"

namespace mqsentry::sentry {
namespace {

constexpr int kMqsentryFailed = 125;
// Signals mqsentry passes on to the sandbox's init (ForwardSignal).
constexpr int kSignalsToSandbox[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

volatile sig_atomic_t g_init_pid = 0;

// A signal sent to mqsentry goes to the sandbox (its init passes it to the program), so
// that `timeout` or `kill` end the program, not the supervisor in the middle of a call.
// Terminal-generated signals (SI_KERNEL) already reached the program's process group.
void ForwardSignal(int sig, siginfo_t* info, void*) {
  if (info != nullptr && info->si_code == SI_KERNEL) return;
  if (g_init_pid > 0) kill(g_init_pid, sig);
}

sigset_t ForwardedSet() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kSignalsToSandbox) sigaddset(&set, sig);
  return set;
}

void Usage() {
  std::fprintf(stderr,
               "usage: mqsentry run [flags] -- PROGRAM [ARGS...]\n"
               "  --sysctl fs.mqueue.NAME=VALUE  limits of the sandbox's IPC namespace "
               "(repeatable)\n"
               "  --strace                       trace emulated calls to stderr\n"
               "  --strace-log FILE              trace emulated calls to FILE\n"
               "  --uid N --gid N                identity inside the sandbox\n"
               "  --preserve-fds N               also pass fds 3 .. 3+N-1 to the program\n"
               "  --cap-add NAME --cap-drop NAME change the program's capabilities from\n"
               "                                 Docker's default set (repeatable; or ALL)\n"
               "  --privileged                   every capability (no security boundary)\n"
               "  --save-on-exit FILE            save the queue state into FILE at the end\n"
               "  --restore FILE                 start from the queues of checkpoint FILE\n"
               "  --name NAME [--root DIR]       name the sandbox (control socket under DIR)\n"
               "       mqsentry list [--root DIR] [--format=text|json]\n"
               "       mqsentry checkpoint NAME --output FILE [--root DIR]\n"
               "       mqsentry inspect FILE [--format=text|json] [--messages]\n");
}

int Die(const std::string& message) {
  std::fprintf(stderr, "mqsentry: %s\n", message.c_str());
  return kMqsentryFailed;
}

struct Flags {
  LaunchOptions launch;
  CapabilityFlags caps;
  bool strace = false;
  std::string strace_log;
  std::string save_on_exit;
  std::string restore;
  std::string name;
  std::string root;
};

// Returns an error message, or "" on success.
std::string ParseRun(int argc, char** argv, Flags* f) {
  int i = 2;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    // --flag=value as well as --flag value.
    std::optional<std::string> inline_value;
    if (const size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = a.substr(eq + 1);
      a.resize(eq);
    }
    auto value = [&](const char* flag) -> const char* {
      (void)flag;
      if (inline_value.has_value()) return inline_value->c_str();
      if (i + 1 >= argc) return nullptr;
      return argv[++i];
    };
    if ((a == "--strace" || a == "--privileged") && inline_value.has_value()) {
      return absl::StrCat(a, " takes no value");
    }
    if (a == "--") {
      ++i;
      break;
    } else if (a == "--strace") {
      f->strace = true;
    } else if (a == "--name" || a == "--root") {
      const char* v = value(a.c_str());
      if (!v || !*v) return absl::StrCat(a, " needs a value");
      (a == "--name" ? f->name : f->root) = v;
    } else if (a == "--save-on-exit" || a == "--restore") {
      const char* v = value(a.c_str());
      if (!v || !*v) return absl::StrCat(a, " needs a file");
      (a == "--restore" ? f->restore : f->save_on_exit) = v;
    } else if (a == "--strace-log") {
      const char* v = value("--strace-log");
      if (!v) return "--strace-log needs a file";
      f->strace_log = v;
    } else if (a == "--uid" || a == "--gid") {
      const char* v = value(a.c_str());
      uint32_t id = 0;
      if (!v || !absl::SimpleAtoi(v, &id) || id == kernel::kNoId) {
        return absl::StrCat(a, " needs a numeric id");
      }
      (a == "--uid" ? f->launch.uid : f->launch.gid) = id;
    } else if (a == "--preserve-fds") {
      const char* v = value("--preserve-fds");
      int n = 0;
      if (!v || !absl::SimpleAtoi(v, &n) || n < 0 || n > 65536) {
        return "--preserve-fds needs a number of descriptors";
      }
      f->launch.preserve_fds = n;
    } else if (a == "--cap-add" || a == "--cap-drop") {
      const char* v = value(a.c_str());
      if (!v) return absl::StrCat(a, " needs a capability name");
      if (absl::StatusOr<int> cap = ParseCapabilityName(v); !cap.ok()) {
        return absl::StrCat(a, " ", v, ": ", cap.status().message());
      }
      (a == "--cap-add" ? f->caps.add : f->caps.drop).push_back(v);
    } else if (a == "--privileged") {
      f->caps.privileged = true;
    } else if (a == "--sysctl") {
      const char* v = value("--sysctl");
      if (!v) return "--sysctl needs NAME=VALUE";
      std::string kv = v;
      const size_t eq = kv.find('=');
      if (eq == std::string::npos) return absl::StrCat("--sysctl ", kv, ": expected NAME=VALUE");
      absl::StatusOr<ipc::MqSysctl> which = ipc::ParseSysctlName(kv.substr(0, eq));
      if (!which.ok()) return std::string(which.status().message());
      // Validate with the kernel's rules now, for a clear message before anything starts.
      ipc::MqSysctls scratch;
      if (absl::Status s = ipc::WriteSysctl(scratch, *which, kv.substr(eq + 1)); !s.ok()) {
        return absl::StrCat("--sysctl ", kv, ": ", s.message());
      }
      f->launch.sysctls.emplace_back(ipc::SysctlName(*which), kv.substr(eq + 1));
    } else {
      return absl::StrCat("unknown flag ", a);
    }
  }
  if (i >= argc) return "no program given (mqsentry run [flags] -- PROGRAM [ARGS...])";
  for (; i < argc; ++i) f->launch.argv.push_back(argv[i]);
  absl::StatusOr<kernel::CapabilitySet> caps = ResolveCapabilities(f->caps);
  if (!caps.ok()) return std::string(caps.status().message());
  f->launch.capabilities = *caps;
  f->launch.privileged = f->caps.privileged;
  return "";
}

// Reads and checks a checkpoint for --restore before anything starts: a bad file or a
// queue the new sandbox's limits refuse ends mqsentry (exit 125) with nothing restored.
// The file's sysctls go first into the sandbox's, so that --sysctl flags override them.
absl::StatusOr<ipc::checkpoint::RestorePlan> PrepareRestore(Flags& flags) {
  namespace cp = ipc::checkpoint;
  absl::StatusOr<cp::CheckpointFile> file = cp::ReadCheckpointFile(flags.restore);
  if (!file.ok()) return file.status();
  cp::RestorePlan plan = cp::PlanRestore(*file);
  ipc::MqSysctls effective;
  if (plan.own.has_value()) {
    const ipc::state::SysctlsState& s = plan.own->sysctls;
    effective = ipc::MqSysctls{s.queues_max, s.msg_max, s.msgsize_max, s.msg_default,
                               s.msgsize_default};
    const std::pair<ipc::MqSysctl, int32_t> values[] = {
        {ipc::MqSysctl::kQueuesMax, s.queues_max},
        {ipc::MqSysctl::kMsgMax, s.msg_max},
        {ipc::MqSysctl::kMsgsizeMax, s.msgsize_max},
        {ipc::MqSysctl::kMsgDefault, s.msg_default},
        {ipc::MqSysctl::kMsgsizeDefault, s.msgsize_default}};
    std::vector<std::pair<std::string, std::string>> sysctls;
    for (const auto& [which, value] : values) {
      sysctls.emplace_back(ipc::SysctlName(which), absl::StrCat(value));
    }
    for (const auto& [name, value] : flags.launch.sysctls) {
      sysctls.emplace_back(name, value);
      absl::StatusOr<ipc::MqSysctl> which = ipc::ParseSysctlName(name);
      if (which.ok()) (void)ipc::WriteSysctl(effective, *which, value);
    }
    flags.launch.sysctls = std::move(sysctls);
    cp::RestoreLimits limits;
    limits.queues_max = effective.queues_max;
    limits.msg_max = effective.msg_max;
    limits.msgsize_max = effective.msgsize_max;
    rlimit rl{};
    limits.rlimit_msgqueue = getrlimit(RLIMIT_MSGQUEUE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                                 ? rl.rlim_cur
                                 : UINT64_MAX;
    if (absl::Status s = cp::CheckRestoreLimits(*plan.own, limits); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(flags.restore, ": ", s.message(),
                                                 "; nothing restored"));
    }
  }
  for (const std::string& line : plan.not_restored) {
    std::fprintf(stderr, "mqsentry: %s: not restored: %s\n", flags.restore.c_str(), line.c_str());
  }
  return plan;
}

// The directory --save-on-exit writes into, opened now and checked writable, so that a
// typo fails before the program runs rather than after.
absl::StatusOr<UniqueFd> OpenSaveDirectory(const std::string& path, std::string* name) {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  *name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name->empty() || *name == "." || *name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("--save-on-exit ", path, ": not a file name"));
  }
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--save-on-exit ", path, ": ", dir, ": ", std::strerror(errno)));
  }
  if (faccessat(fd.get(), ".", W_OK, AT_EACCESS) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--save-on-exit ", path, ": ", dir, ": ", std::strerror(errno)));
  }
  return fd;
}

absl::Status SaveOnExit(Sentry& sentry, int dir_fd, const std::string& name, const Flags& flags) {
  namespace cp = ipc::checkpoint;
  Sentry::StateSnapshot snapshot = sentry.ExportState();
  cp::SandboxInfo info;
  info.own_ipc_namespace = snapshot.own_namespace;
  info.program = flags.launch.argv.empty() ? "" : flags.launch.argv[0];
  info.taken_at_unix = time(nullptr);
  info.live = false;
  absl::StatusOr<cp::WriteStats> stats =
      cp::WriteCheckpointFileAtomicallyAt(dir_fd, name, snapshot.state, info);
  if (!stats.ok()) {
    return absl::Status(stats.status().code(), absl::StrCat("--save-on-exit ", flags.save_on_exit,
                                                            ": ", stats.status().message()));
  }
  uint64_t queues = 0, messages = 0, bytes = 0;
  for (const auto& ipc : snapshot.state.ipc_namespaces) {
    for (const auto& q : ipc.queues) {
      ++queues;
      messages += q.messages.size();
      for (const auto& m : q.messages) bytes += m.payload.size();
    }
  }
  std::fprintf(stderr,
               "mqsentry: saved %zu IPC namespaces, %llu queues, %llu messages, %llu bytes to "
               "%s (%llu bytes written in %.3f s, fsync %.3f s)\n",
               snapshot.state.ipc_namespaces.size(), static_cast<unsigned long long>(queues),
               static_cast<unsigned long long>(messages), static_cast<unsigned long long>(bytes),
               flags.save_on_exit.c_str(), static_cast<unsigned long long>(stats->bytes),
               stats->write_seconds, stats->fsync_seconds);
  return absl::OkStatus();
}

int Run(int argc, char** argv) {
  // Debian's Abseil is built with deadlock detection on: a graph update on every lock.
  // The lock order is documented per class and checked by the tests' debug builds.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Before anything opens a descriptor that could land on a closed 0, 1 or 2, which the
  // program inherits.
  if (absl::Status s = FillStandardDescriptors(); !s.ok()) return Die(std::string(s.message()));
  Flags flags;
  if (std::string err = ParseRun(argc, argv, &flags); !err.empty()) {
    Usage();
    return Die(err);
  }
  // Before opening anything (a trace file could otherwise take a closed fd of the range).
  if (absl::Status s = CheckKeptDescriptors(flags.launch.preserve_fds); !s.ok()) {
    return Die(std::string(s.message()));
  }
  // Both files are reached now: the supervisor's mount namespace hides the host's /tmp.
  std::optional<ipc::checkpoint::RestorePlan> restore;
  if (!flags.restore.empty()) {
    absl::StatusOr<ipc::checkpoint::RestorePlan> plan = PrepareRestore(flags);
    if (!plan.ok()) return Die(std::string(plan.status().message()));
    restore = *std::move(plan);
  }
  // Claimed before the supervisor's namespaces change: DIR may be under the host's /tmp.
  std::unique_ptr<ControlServer> control;
  control::SandboxEntry entry;
  if (!flags.name.empty()) {
    std::string root = flags.root;
    if (root.empty()) {
      absl::StatusOr<std::string> fallback = DefaultControlRoot();
      if (!fallback.ok()) return Die(std::string(fallback.status().message()));
      root = *fallback;
    }
    entry.set_name(flags.name);
    entry.set_supervisor_pid(getpid());
    entry.set_program(absl::StrJoin(flags.launch.argv, " "));
    entry.set_started_unix(time(nullptr));
    entry.set_owner_uid(geteuid());
    absl::StatusOr<std::unique_ptr<ControlServer>> claimed =
        ControlServer::Claim(root, flags.name, entry);
    if (!claimed.ok()) return Die(std::string(claimed.status().message()));
    control = *std::move(claimed);
  }
  std::string save_name;
  UniqueFd save_dir;
  if (!flags.save_on_exit.empty()) {
    absl::StatusOr<UniqueFd> dir = OpenSaveDirectory(flags.save_on_exit, &save_name);
    if (!dir.ok()) return Die(std::string(dir.status().message()));
    save_dir = *std::move(dir);
  }
  FILE* trace = nullptr;
  if (!flags.strace_log.empty()) {
    trace = std::fopen(flags.strace_log.c_str(), "we");
    if (!trace) return Die(absl::StrCat(flags.strace_log, ": ", std::strerror(errno)));
  } else if (flags.strace) {
    trace = stderr;
  }
  const uint32_t uid = geteuid(), gid = getegid();

  // Before any thread: an unprivileged supervisor gets its own user and mount namespaces.
  absl::StatusOr<bool> unprivileged = EnterSupervisorUserNamespaceIfUnprivileged();
  if (!unprivileged.ok()) return Die(std::string(unprivileged.status().message()));
  if (!*unprivileged) {
    // Root: a private mount namespace, so mqfs is mounted nowhere the host can see.
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr)) {
      return Die(absl::StrCat("private mount namespace: ", std::strerror(errno)));
    }
  }
  std::optional<std::pair<kernel::IdMap, kernel::IdMap>> maps;
  if (*unprivileged) {
    auto um = kernel::IdMap::Create({{uid, uid, 1}});
    auto gm = kernel::IdMap::Create({{gid, gid, 1}});
    if (!um.ok() || !gm.ok()) return Die("id maps");
    maps.emplace(*um, *gm);
  }
  IdentityReader identity(maps, kernel::KUid(uid), kernel::KGid(gid));

  // x32 is trapped only where the kernel runs it: elsewhere an x32 call must get the
  // kernel's ENOSYS, not an emulated answer (spec §1.1).
  flags.launch.rules = FilterRules(/*x32=*/KernelRunsX32());
  flags.launch.unprivileged = *unprivileged;
  absl::StatusOr<Sandbox> sandbox = Launch(flags.launch);
  if (!sandbox.ok()) return Die(std::string(sandbox.status().message()));
  // The preserved descriptors are the program's now (a pipe's end held here would keep
  // its reader from seeing EOF).
  for (int fd = 3; fd <= LastKeptFd(flags.launch.preserve_fds); ++fd) close(fd);
  // Only now (the sandbox keeps the caller's limits): the supervisor holds descriptors for
  // namespaces, registrations and cached fdinfo files.
  if (rlimit nofile; getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &nofile);
  }
  // Service threads (mqfs, the syscall thread) never take these signals: an interrupted
  // seccomp ioctl leaves a call in an unknown state. The main thread forwards them.
  const sigset_t forwarded = ForwardedSet();
  pthread_sigmask(SIG_BLOCK, &forwarded, nullptr);
  g_init_pid = sandbox->init_pid;

  // mqfs is mounted only now, after the sandbox's mount namespace was copied, in a
  // directory the sandbox cannot see: on a tmpfs over /tmp in the supervisor's own mount
  // namespace, which goes away with it (even when mqsentry is killed), so nothing is ever
  // left in the host's /tmp. The sandbox keeps the real /tmp.
  (void)mount("mqsentry", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=0700,size=1m,nr_inodes=1024");
  char dir[] = "/tmp/mqsentry-mqfs-XXXXXX";
  if (!mkdtemp(dir)) {
    kill(sandbox->init_pid, SIGKILL);
    return Die(absl::StrCat("mkdtemp: ", std::strerror(errno)));
  }
  absl::StatusOr<std::unique_ptr<Platform>> platform = CreateSeccompPlatform(sandbox->listener_fd);
  if (!platform.ok()) {
    kill(sandbox->init_pid, SIGKILL);
    return Die(std::string(platform.status().message()));
  }
  Sentry::Options options;
  options.strace = trace;
  options.root_uid = kernel::KUid(uid);
  options.root_gid = kernel::KGid(gid);
  options.init_host_pid = sandbox->init_pid;
  options.allow_fuse_mounts = flags.caps.privileged;
  const Sandbox sandbox_copy = *sandbox;
  options.queue_signal = [sandbox_copy](int32_t pid, int sig, const void* info) {
    return QueueSignal(sandbox_copy, pid, sig, info);
  };
  Sentry sentry(options, platform->get(), nullptr, &identity);
  // Before anything makes the sandbox's namespace's registry (/dev/mqueue's mount does).
  if (restore.has_value() && restore->own.has_value()) {
    sentry.RestoreOwnNamespace(*std::move(restore->own));
  }
  absl::StatusOr<std::unique_ptr<vfs::Mqfs>> mqfs = vfs::Mqfs::Mount(dir, &sentry);
  if (!mqfs.ok()) {
    kill(sandbox->init_pid, SIGKILL);
    rmdir(dir);
    return Die(absl::StrCat("mqfs: ", mqfs.status().message()));
  }
  sentry.AttachMqfs(mqfs->get());
  // The sandbox's own queues at /dev/mqueue (never the host's, removed by init).
  if (absl::Status s = sentry.MountDevMqueue(sandbox->init_pid); !s.ok()) {
    kill(sandbox->init_pid, SIGKILL);
    mqfs->reset();
    rmdir(dir);
    return Die(absl::StrCat("/dev/mqueue: ", s.message()));
  }

  if (control != nullptr) {
    entry.set_init_pid(sandbox->init_pid);
    (void)control->Update(entry);
    ServeControl(*control, sentry, flags.launch.argv.empty() ? "" : flags.launch.argv[0]);
  }

  absl::Status loop_status;
  std::thread loop([&] {
    loop_status = sentry.Run();
    absl::Status failure = sentry.failure();
    if (!loop_status.ok() || !failure.ok()) kill(sandbox->init_pid, SIGKILL);
  });
  struct sigaction sa {};
  sa.sa_sigaction = ForwardSignal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  for (int sig : kSignalsToSandbox) sigaction(sig, &sa, nullptr);
  pthread_sigmask(SIG_UNBLOCK, &forwarded, nullptr);
  absl::Status started = Start(*sandbox);
  if (!started.ok()) kill(sandbox->init_pid, SIGKILL);
  absl::StatusOr<int> status = Wait(*sandbox);
  sentry.Stop();
  loop.join();
  if (control != nullptr) control->Stop();
  absl::Status saved;
  if (save_dir.valid() && loop_status.ok() && sentry.failure().ok()) {
    saved = SaveOnExit(sentry, save_dir.get(), save_name, flags);
  }
  mqfs->reset();
  rmdir(dir);
  if (trace && trace != stderr) std::fclose(trace);
  if (!started.ok()) return Die(absl::StrCat("start the program: ", started.message()));
  if (!loop_status.ok()) return Die(std::string(loop_status.message()));
  if (absl::Status f = sentry.failure(); !f.ok()) return Die(std::string(f.message()));
  if (!status.ok()) return Die(std::string(status.status().message()));
  if (!saved.ok()) return Die(std::string(saved.message()));
  return *status;
}

}  // namespace
}  // namespace mqsentry::sentry

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "run") return mqsentry::sentry::Run(argc, argv);
  if (argc >= 2 && std::string(argv[1]) == "list") return mqsentry::sentry::ListMain(argc, argv);
  if (argc >= 2 && std::string(argv[1]) == "checkpoint") {
    return mqsentry::sentry::CheckpointMain(argc, argv);
  }
  if (argc >= 2 && std::string(argv[1]) == "inspect") {
    return mqsentry::sentry::InspectMain(argc, argv, stdout);
  }
  mqsentry::sentry::Usage();
  return argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")
             ? 0
             : mqsentry::sentry::kMqsentryFailed;
}
