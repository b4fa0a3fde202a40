// Sentry: the supervisor's syscall side. It receives trapped mq_* calls from a Platform,
// resolves the caller (identity, IPC namespace, descriptor), makes exactly one call into
// the ipc/ model per handler, and answers: a value, an errno, a new descriptor on mqfs, or
// "blocked" (the call is parked on the queue until a send/receive, its deadline, or its
// interruption resolves it). It also implements the model's upcalls (notifications, poll
// wake-ups) and mqfs's (close, release).
//
// Threads: Run() is the syscall thread. mqfs threads call the MqfsHooks methods.
// Lock order: Sentry::mu_ -> IpcNamespace::mu_ -> Queue::mu_. mu_ is never held while
// closing a descriptor on mqfs (a close waits for an mqfs thread that may need mu_).
#ifndef MQSENTRY_SENTRY_SENTRY_H_
#define MQSENTRY_SENTRY_SENTRY_H_

#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "ipc/accounting.h"
#include "ipc/ipc_namespace.h"
#include "ipc/notification.h"
#include "ipc/queue.h"
#include "ipc/state.h"
#include "kernel/syscall_result.h"
#include "sentry/cookie_channels.h"
#include "sentry/fd_info_cache.h"
#include "sentry/handler_result.h"
#include "sentry/identity.h"
#include "sentry/ns_limits.h"
#include "sentry/platform.h"
#include "sentry/signal_watch.h"
#include "sentry/strace.h"
#include "sentry/syscall_table.h"
#include "sentry/unique_fd.h"
#include "vfs/mqfs.h"

namespace mqsentry::sentry {

struct NewMountRequest;  // sentry/mount_performer.h

// The pid of host thread `tid` as the sandbox sees it (for --strace).
int32_t SandboxPid(int32_t tid);

class Sentry : public ipc::QueueEvents, public vfs::MqfsHooks {
 public:
  struct Options {
    // One decoded line per emulated call, or nullptr.
    FILE* strace = nullptr;
    // Creator of the sandbox's first IPC namespace (its mqueue root directory's owner).
    kernel::KUid root_uid{0};
    kernel::KGid root_gid{0};
    // The sandbox's init (host pid) and a way to have it queue a signal: notification
    // signals are sent by init so that the kernel keeps their si_pid (sentry/launcher.h).
    int32_t init_host_pid = 0;
    std::function<absl::Status(int32_t sandbox_pid, int sig, const void* siginfo)> queue_signal;
    // FUSE mounts inside the sandbox (--privileged only): a page of a FUSE file that its
    // daemon, the program, never serves blocks every supervisor access to it, and with
    // the syscall thread every call of the sandbox (mount_handlers.cc).
    bool allow_fuse_mounts = false;
  };

  // `mqfs` may be attached later (it needs this object as its hooks), before Run().
  Sentry(Options options, Platform* platform, vfs::Mqfs* mqfs, IdentityReader* identity);
  void AttachMqfs(vfs::Mqfs* mqfs) { mqfs_ = mqfs; }
  ~Sentry() override;

  // Serves trapped calls until the platform reports that no sandboxed process is left
  // or Stop() is called. A returned error is an internal failure of the supervisor.
  absl::Status Run();
  void Stop();
  // The internal failure that stopped Run(), if any.
  absl::Status failure() const;
  // Mounts mqfs's view of the IPC namespace of the sandbox's init (host pid `init_pid`) at
  // /dev/mqueue in the sandbox, if that directory exists there (mount_handlers.cc). Before
  // the program starts, once mqfs is attached.
  absl::Status MountDevMqueue(int32_t init_pid);

  // Checkpoint (checkpoint_hooks.cc): the queue state of every IPC namespace the sandbox
  // has used, with the id of its own namespace (0 if the program never used a queue).
  struct StateSnapshot {
    ipc::state::SandboxState state;
    uint64_t own_namespace = 0;
  };
  StateSnapshot ExportState() ABSL_LOCKS_EXCLUDED(mu_);
  // Restore, before anything makes the sandbox's own IPC namespace's registry (before
  // MountDevMqueue): it gets the queues of `st` (already validated and checked against its
  // limits), all charged to its owner user namespace, when the registry is made.
  void RestoreOwnNamespace(ipc::state::IpcNamespaceState st) ABSL_LOCKS_EXCLUDED(mu_);
  // Live checkpoint: ExportState() with the handling of trapped calls paused (no mq call
  // is half done meanwhile, in any namespace); `pause_ns` is how long they were paused.
  StateSnapshot CaptureLive(int64_t* pause_ns) ABSL_LOCKS_EXCLUDED(calls_mu_, mu_);
  // For `mqsentry list`: linked queues only, without copying messages.
  struct Counts {
    uint64_t namespaces = 0, queues = 0, messages = 0, bytes = 0;
  };
  Counts CountState() ABSL_LOCKS_EXCLUDED(mu_);

  // ipc::QueueEvents (called under the queue's lock).
  void NotificationFired(const ipc::Queue& queue, const ipc::NotificationFiring& f) override;
  void NotificationRemoved(const ipc::Queue& queue,
                           const ipc::NotificationRegistration& r) override;
  void PollWake(const ipc::Queue& queue) override;

  // vfs::MqfsHooks (mqfs threads).
  void OnFlush(const std::shared_ptr<ipc::QueueInode>& inode, ipc::IpcNamespace& ns,
               int32_t tid) override;
  void OnRelease(const std::shared_ptr<ipc::QueueInode>& inode, ipc::IpcNamespace& ns) override;
  int32_t NotifyPidFor(int32_t reader_tid, int32_t owner_host_tgid) override;
  // Through a program's mount of the mqueue filesystem (mqfs_view_hooks.cc).
  Created OnCreate(const std::shared_ptr<ipc::IpcNamespace>& ns, int32_t tid,
                   const std::string& name, mode_t mode, int flags) override;
  int OnUnlink(const std::shared_ptr<ipc::IpcNamespace>& ns, int32_t tid,
               const std::string& name) override;

 private:
  // A call parked on a queue's waiter list.
  using Parked = ::mqsentry::sentry::Park;

  // The descriptor argument resolved (architecture "A trapped call", step 4).
  struct Descriptor {
    std::shared_ptr<ipc::QueueInode> inode;
    std::shared_ptr<ipc::IpcNamespace> ns;
    int flags = 0;  // F_GETFL of the open description
  };

  // What a signal or a SIGEV_THREAD datagram needs, collected under locks and sent after.
  struct PendingDelivery {
    ipc::NotificationFiring firing;
    bool removed = false;  // SIGEV_THREAD NOTIFY_REMOVED
  };

  void Dispatch(const TrappedCall& call);
  HandlerResult HandleOpen(const TrappedCall& call, const SyscallEntry& e);
  HandlerResult HandleUnlink(const TrappedCall& call, const SyscallEntry& e);
  HandlerResult HandleTimedSend(const TrappedCall& call, const SyscallEntry& e);
  HandlerResult HandleTimedReceive(const TrappedCall& call, const SyscallEntry& e);
  HandlerResult HandleNotify(const TrappedCall& call, const SyscallEntry& e);
  HandlerResult HandleGetSetAttr(const TrappedCall& call, const SyscallEntry& e);
  // mount(2) / fsopen(2): new superblocks are made by the supervisor from copied bytes
  // (mount_handlers.cc); remounts, binds, moves and propagation changes continue.
  HandlerResult HandleMountGuard(const TrappedCall& call, const SyscallEntry& e);
  // mount(2) of type "mqueue": mqfs's view of the caller's IPC namespace.
  HandlerResult MountMqueueView(const TrappedCall& call, NewMountRequest req,
                                const std::string& trace);
  // fcntl(F_GETFL) and fcntl(F_SETFL, O_DIRECT) of mq descriptors; others continue.
  HandlerResult HandleFcntl(const TrappedCall& call, const SyscallEntry& e);
  // fstatfs(2) of mq descriptors; others continue.
  HandlerResult HandleFstatfs(const TrappedCall& call, const SyscallEntry& e);
  // File calls on mq descriptors (file_handlers.cc); others continue.
  HandlerResult HandleMmap(const TrappedCall& call, const SyscallEntry& e);
  HandlerResult HandleSendfile(const TrappedCall& call, const SyscallEntry& e);
  HandlerResult HandleSplice(const TrappedCall& call, const SyscallEntry& e);
  HandlerResult HandleLinkat(const TrappedCall& call, const SyscallEntry& e);
  HandlerResult HandleNameToHandleAt(const TrappedCall& call, const SyscallEntry& e);
  HandlerResult HandleOpenByHandleAt(const TrappedCall& call, const SyscallEntry& e);
  HandlerResult HandleFstatfsCompat(const TrappedCall& call, const SyscallEntry& e);
  // The dispatcher's one way to act on a handler's result: answer and trace (then the
  // result's undo if the answer was not delivered), install a descriptor, park, continue,
  // nothing for a call gone, or end the sandbox for an internal failure.
  void Finish(const TrappedCall& call, HandlerResult result);
  void InstallDescriptor(const TrappedCall& call, NewDescriptor n);
  // userfaultfd(2) / ioctl(USERFAULTFD_IOC_NEW) without UFFD_USER_MODE_ONLY: EPERM.
  HandlerResult HandleUserfaultfd(const TrappedCall& call, const SyscallEntry& e);
  // kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal: continued,
  // then the parked calls the signal can reach are checked (sentry/signal_watch.h).
  HandlerResult HandleSignalSend(const TrappedCall& call, const SyscallEntry& e);

  // Answers with the platform. False if the caller was interrupted (nothing delivered); a
  // failure of the platform is the supervisor's (Fail): the sandbox ends, and false.
  bool Deliver(const TrappedCall& call, kernel::SyscallResult r);
  // Answers and traces. False if the caller was interrupted (nothing delivered).
  bool Reply(const TrappedCall& call, const std::string& trace, kernel::SyscallResult r);
  // Resolves a descriptor argument; EBADF for anything that is not an open mq
  // descriptor (including O_PATH).
  std::optional<Descriptor> ResolveFd(const TrappedCall& call, int fd, int* err);
  // What fdinfo shows of descriptor `fd` of the caller if it is one of mqfs's queue files
  // (O_PATH included), else nullopt.
  std::optional<FdInfo> MqFdInfo(const TrappedCall& call, int fd);
  // The queue behind descriptor `fd` of the caller, whose fdinfo is `info`, if it is one.
  std::optional<std::pair<std::shared_ptr<ipc::QueueInode>, std::shared_ptr<ipc::IpcNamespace>>>
  IdentifyFd(const TrappedCall& call, int fd, const FdInfo& info);
  // Reads an absolute timeout: EFAULT / EINVAL, or the deadline (spec §5.1 step 1).
  int ReadDeadline(const TrappedCall& call, const SyscallEntry& e, uint64_t addr,
                   kernel::Deadline* out);
  // The registry of the caller's IPC namespace, created on first use.
  // nullptr: a new namespace past the bound on live namespaces (the caller answers as
  // Linux at queues_max).
  absl::StatusOr<std::shared_ptr<ipc::IpcNamespace>> NamespaceOf(const CallerIdentity& id);
  // NamespaceOf under mu_; the namespaces found dead meanwhile go to `dead`.
  absl::StatusOr<std::shared_ptr<ipc::IpcNamespace>> FindOrAddNamespace(
      const CallerIdentity& id, std::vector<std::shared_ptr<ipc::IpcNamespace>>& dead)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Releases the state of namespaces no task is in any more (spec §9.3); returns them.
  std::vector<std::shared_ptr<ipc::IpcNamespace>> SweepDeadNamespacesLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static constexpr size_t kMinNamespaceSweep = 64;

  // Completing parked calls (the undo protocol of ipc/queue.h).
  void DeliverHandoff(ipc::Queue& queue, ipc::Handoff handoff);
  void CompleteRefill(ipc::Queue& queue, std::optional<ipc::Refill> refill);
  // Writes a received message to the caller: kFault is its EFAULT (the message is lost),
  // kGone a caller that no longer waits (the message is not lost: offer it again).
  WriteOutcome CopyOutMessage(const TrappedCall& call, uint64_t buffer, uint64_t prio_ptr,
                              const ipc::Message& m);
  void ParkCall(Parked parked);
  std::optional<Parked> Unpark(uint64_t call_id);
  // Parked calls whose callers moved on (a new call from the same thread, or gone).
  void DropStaleParkedFor(int32_t tid);
  void ExpireDeadlines();
  // Takes (RECV) the calls already waiting on the listener, up to kMaxTaken, for the loop
  // to dispatch next. Before a signal-sending call is let through: a call that is still
  // waiting for the supervisor to take it is interrupted by a signal (the kernel's wait is
  // interruptible until then), so a non-blocking call of the signal's target would fail
  // with EINTR where Linux cannot fail it.
  void TakeWaitingCalls();
  static constexpr size_t kMaxTaken = 64;
  // Runs the signal checks that are due (SignalWatch): calls whose threads have a signal
  // pending are answered -ERESTARTSYS, calls whose threads are gone are dropped.
  void RunSignalChecks();
  // Answers parked call `call_id` -ERESTARTSYS (a signal interrupted it), if still parked.
  void InterruptParked(uint64_t call_id);
  // How long an mq_open that hits a limit waits for descriptor releases still in flight.
  static constexpr int kReleaseWaitMs = 1000;
  static constexpr int kErestartsys = 512;  // ERESTARTSYS, kernel-internal
  void ArmTimer() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FlushDeliveries();
  // The socket of a SIGEV_THREAD registration (HandleNotify): the channel its cookies go
  // through (sentry/cookie_channels.h) and, for a socket not yet replaced, the new
  // channel's end to install in its place, with the descriptor's close-on-exec flag.
  struct CookieSocket {
    UniqueFd sock;  // the supervisor's duplicate of the program's socket
    uint64_t channel = 0;
    std::optional<CookieChannels::Created> created;
    bool cloexec = false;
  };
  // 0, or the errno of spec §6.1 step 3.2 (and ENOMEM at the bound on channels).
  int ResolveCookieSocket(const TrappedCall& call, int signo, CookieSocket& out);
  // Wakes a recv() blocked on a netlink socket the program no longer names (HandleNotify).
  static void WakeReceiversOf(int netlink_sock);
  absl::StatusOr<CallerIdentity> ReadIdentity(int32_t tid, IdentityReader::Parts parts = {});
  // The pid numbers of a notification owner, for NOTIFY_PID after it has exited.
  void RememberOwnerPids(int32_t owner_host_tgid, IdentityReader::PidChain chain);
  static constexpr size_t kMaxRememberedOwners = 4096;
  // An internal failure: logged, and the sandbox is torn down (never a guessed errno).
  void Fail(absl::Status status);

  const Options options_;
  Platform* const platform_;
  vfs::Mqfs* mqfs_;
  IdentityReader* const identity_;
  Strace strace_;
  FdInfoCache fd_info_;
  SignalWatch signal_watch_;
  std::deque<TrappedCall> taken_;  // taken by TakeWaitingCalls, not yet dispatched
  int timer_fd_ = -1;
  int stop_fd_ = -1;

  // Bounds on what the program can make the supervisor hold, from its RLIMIT_NOFILE (one
  // descriptor per live IPC namespace, one more per user namespace of the program's; one
  // per SIGEV_THREAD socket).
  const size_t max_namespaces_;
  // SIGEV_THREAD cookies reach the program only through these.
  CookieChannels cookie_channels_;

  std::shared_ptr<ipc::UserAccounting> accounting_ = std::make_shared<ipc::UserAccounting>();

  // Held by Run() while it handles a call or expires deadlines, so that CaptureLive()
  // pauses calls between two of them. Order: calls_mu_ -> mu_.
  absl::Mutex calls_mu_;
  mutable absl::Mutex mu_;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  struct Registry {
    std::shared_ptr<NamespaceLimits> limits;  // holds the namespace's descriptor
    std::shared_ptr<ipc::IpcNamespace> ns;
    bool first = false;  // the first namespace seen (for the checkpoint: the sandbox's own)
  };
  absl::flat_hash_map<NsId, Registry> registries_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, Parked> parked_ ABSL_GUARDED_BY(mu_);  // by call id
  absl::flat_hash_map<int32_t, uint64_t> parked_by_tid_ ABSL_GUARDED_BY(mu_);
  std::multimap<int64_t, uint64_t> deadlines_ ABSL_GUARDED_BY(mu_);  // ns -> call id
  // A leaf lock: model upcalls run under the queue's lock and only append here.
  absl::Mutex deliveries_mu_;
  std::vector<PendingDelivery> deliveries_ ABSL_GUARDED_BY(deliveries_mu_);
  uint64_t next_namespace_id_ ABSL_GUARDED_BY(mu_) = 1;
  // A leaf lock (mqfs threads read it for the status line).
  absl::Mutex owner_pids_mu_;
  absl::flat_hash_map<int32_t, IdentityReader::PidChain> owner_pids_
      ABSL_GUARDED_BY(owner_pids_mu_);
  bool first_namespace_ ABSL_GUARDED_BY(mu_) = true;
  // What the first namespace starts with (RestoreOwnNamespace), until it is made.
  std::optional<ipc::state::IpcNamespaceState> pending_restore_ ABSL_GUARDED_BY(mu_);
  // Imports pending_restore_ into the sandbox's first namespace, just made.
  absl::Status ApplyRestoreLocked(ipc::IpcNamespace& ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ExportState's queue file times, from mqfs (checkpoint_hooks.cc).
  void AddQueueTimes(ipc::state::SandboxState& state) const;
  size_t namespace_sweep_at_ ABSL_GUARDED_BY(mu_) = kMinNamespaceSweep;
};

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_SENTRY_H_
