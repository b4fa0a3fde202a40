// Launcher: starts the sandbox. An init process (PID 1 of new IPC, PID and mount
// namespaces) closes every descriptor the program is not to keep, removes the host's
// mqueue and proc mounts, mounts a fresh /proc, writes the mqueue sysctls, installs the
// seccomp notify filter, hands its listener to the supervisor, and on "go" runs the
// program as its child (architecture: "Processes and threads"). What enters the sandbox
// is checked before (kept_fds.h); the program's capabilities are limited before its exec
// (program_caps.h), as is its use of a kept terminal (tty_guard.h).
//
//   supervisor                              init (PID 1)               program (PID 2)
//   Launch() ----- clone ------------------> close fds, mounts,
//                                            sysctls, filter
//            <---- listener fd (SCM_RIGHTS)-
//   (start serving the listener)
//   Start()  ----- "go" -------------------> fork -----------------> bounding set, ids,
//                                                                    capabilities, tty
//                                                                    guard, execvp
//   Wait()   <---- exit status ------------- reaps, forwards signals   ...exits
//
// Unprivileged (LaunchOptions::unprivileged), the user namespaces nest like this, each
// mapping one uid and one gid (setgroups "deny" throughout):
//
//   host --- S: the supervisor's, "UID UID 1" (EnterSupervisorUserNamespaceIfUnprivileged)
//            |  owns init's PID and mount namespaces (init is cloned in S with every
//            |  capability of S, and does its mounts there)
//            +-- U: init's, "0 UID 1": owns the sandbox's IPC namespace, which init
//                |  unshares only once in U. The kernel lets the IPC namespace owner's uid
//                |  0 write the mqueue sysctls (ipc/mq_sysctl.c), and that is kernel uid
//                |  UID, init's own: --sysctl works without privilege.
//                +-- P: the program's, "ID 0 1" with ID the caller's uid (or --uid), so
//                       the program sees its uid and gid as the caller's (or --uid/--gid)
//                       and, not being uid 0 there, has no capability after its exec.
//                       The program's process creates P itself, between fork and exec
//                       (instead of setgid/setuid), and owns nothing of the sandbox.
//
// The program thus starts 3 user namespaces deep (the kernel allows 32). Every process of
// the sandbox keeps kernel uid UID. Consequence: like init, the program passes the
// kernel's ownership test for the mqueue sysctls of the sandbox's first IPC namespace
// (the files show its uid as owner) and may rewrite them, where a program started by
// `unshare --user --map-current-user --ipc` may not (a fresh IPC namespace of its own would
// give it any values anyway, and RLIMIT_MSGQUEUE still bounds what its queues use).
#ifndef MQSENTRY_SENTRY_LAUNCHER_H_
#define MQSENTRY_SENTRY_LAUNCHER_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernel/capabilities.h"
#include "sentry/program_caps.h"
#include "sentry/seccomp_filter.h"

namespace mqsentry::sentry {

// The sandbox's PID 1 names itself so (prctl PR_SET_NAME: /proc/1/comm inside).
inline constexpr char kInitProcessName[] = "mqsentry-init";

struct LaunchOptions {
  std::vector<std::string> argv;     // PROGRAM ARGS...; PATH lookup like execvp
  std::optional<uint32_t> uid, gid;  // inside the sandbox (default: keep the caller's)
  // {"msg_max", "64"}: written to /proc/sys/fs/mqueue/<name> inside the new IPC namespace
  // before exec; a failed write aborts the launch.
  std::vector<std::pair<std::string, std::string>> sysctls;
  std::vector<FilterRule> rules;  // at least one
  // The caller is an unprivileged supervisor (EnterSupervisorUserNamespaceIfUnprivileged()
  // returned true): init and the program get user namespaces of their own (see the top of
  // this file), which lets --sysctl and --uid/--gid work without privilege.
  bool unprivileged = false;
  // The program keeps fds 0-2 and 3 .. 3+preserve_fds-1 (runc's --preserve-fds); init
  // closes every other descriptor. Launch() refuses kept descriptors that reach the host's
  // mount tree or mqueue code (kept_fds.h) and fds in the range that are not open.
  int preserve_fds = 0;
  // The program's capabilities (program_caps.h): Docker's default set unless changed. An
  // unprivileged supervisor's program holds them, if at all, only in its own user namespace
  // P, which owns nothing; they still bound what it may gain by exec.
  kernel::CapabilitySet capabilities = DockerDefaultCapabilities();
  bool privileged = false;  // keep every capability and the bounding set as they are
};

struct Sandbox {
  pid_t init_pid = -1;   // host pid of the sandbox's init, a child of the caller
  int listener_fd = -1;  // the seccomp listener: the caller owns it (CreateSeccompPlatform)
  int control_fd = -1;   // the "go" socket: Start() writes, Wait() closes
};

// Call first, while single-threaded. Without CAP_SYS_ADMIN: unshare(CLONE_NEWUSER |
// CLONE_NEWNS) mapping the caller's effective uid and gid to themselves (setgroups
// "deny"), which gives the supervisor the capabilities to create the sandbox's namespaces
// and to mount FUSE. A no-op (false) when the process already has CAP_SYS_ADMIN.
absl::StatusOr<bool> EnterSupervisorUserNamespaceIfUnprivileged();

// Starts init and returns once its setup is done (filter installed) or failed; a setup
// failure (e.g. a sysctl write) is returned as an error naming the step, with init
// reaped. Call it from the thread that lives as long as the sandbox (init's parent-death
// signal fires when that *thread* exits) and while no other thread can hold a libc lock
// (before starting threads): init is a raw clone of the caller, not a fork(3).
// Inherited: environment, cwd (by path: entered again after the sandbox's mounts are
// made), the kept descriptors (LaunchOptions::preserve_fds), the signal mask and ignored
// signals as they are at the call.
absl::StatusOr<Sandbox> Launch(const LaunchOptions& options);

// Sends "go": init starts the program. Call once the listener is being served.
absl::Status Start(const Sandbox& sandbox);

// Waits for init and closes control_fd. Returns the status mqsentry should exit with:
// the program's exit code, 128+N if signal N killed it (or killed init), 127 if it could
// not be executed, 125 if its process could not be set up (ids, capabilities).
absl::StatusOr<int> Wait(const Sandbox& sandbox);

// A request to init to rt_sigqueueinfo() a signal: init is PID 1 of the sandbox's PID
// namespace, so the si_pid it passes survives (the kernel zeroes si_pid for a sender that
// is invisible in the target's namespace, as the supervisor is). `pid` is the target as
// the sandbox sees it; `siginfo` is 128 bytes. Its si_uid (for si_code values whose
// layout has one, SI_MESGQ among them) is a kernel uid as the supervisor's user namespace
// shows it: the kernel reads a queued si_uid in the sender's user namespace
// (send_signal_locked: make_kuid(current_user_ns(), si_uid), then into the target's), so
// init first re-expresses it in its own (unprivileged: U, where kernel uid UID is 0 and
// any other uid is unmapped, sent as the overflow uid). Returns once init's
// rt_sigqueueinfo() has returned, i.e. once the signal is queued to its target (or with
// init's errno): a notification signal must be pending before the send that fired it
// returns (spec §6.3). Thread-safe (requests are serialized; each carries a sequence
// number that init's acknowledgement repeats). Waits at most kSignalAckTimeoutMs.
struct SignalRequest {
  uint32_t seq;
  int32_t pid;
  int32_t sig;
  uint8_t info[128];
};
struct SignalAck {
  uint32_t seq;
  int32_t error;  // errno of init's rt_sigqueueinfo, 0 on success
};
inline constexpr int kSignalAckTimeoutMs = 2000;
absl::Status QueueSignal(const Sandbox& sandbox, pid_t pid, int sig, const void* siginfo);

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_LAUNCHER_H_
