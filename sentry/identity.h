// IdentityReader: turns a host thread id into the model's view of the caller — its
// credentials (kernel ids, capabilities, umask, RLIMIT_MSGQUEUE), its user namespace as a
// kernel::UserNamespace chain, its IPC and PID namespaces, its scheduler priority, and a
// ProcessRef that is never handed to another process. Everything comes from /proc and
// the nsfs ioctls of the host kernel, which tracks clone/unshare/setns/setuid for us.
//
// Ids read from /proc are in the supervisor's own user namespace. In the default mode
// that namespace *is* the model's initial one. In unprivileged mode (the supervisor runs
// in a user namespace it created itself) the model's initial namespace stays the host's,
// the supervisor's namespace becomes its child, and every id read is translated through
// the maps the supervisor wrote.
//
// Thread-safe. Lock order: IdentityReader::mu_ is a leaf (nothing else is locked under it).
#ifndef MQSENTRY_SENTRY_IDENTITY_H_
#define MQSENTRY_SENTRY_IDENTITY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ipc/notification.h"
#include "kernel/credentials.h"
#include "kernel/ids.h"
#include "kernel/user_namespace.h"
#include "sentry/proc/proc_text.h"
#include "sentry/proc_file_cache.h"

namespace mqsentry::sentry {

// A namespace's identity on the host: the (st_dev, st_ino) of /proc/<tid>/ns/<kind>.
struct NsId {
  uint64_t dev = 0;
  uint64_t ino = 0;
  friend auto operator<=>(const NsId&, const NsId&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const NsId& n) {
    return H::combine(std::move(h), n.dev, n.ino);
  }
};


struct CallerIdentity {
  int32_t tid = 0;  // host tid (the supervisor's PID namespace)
  int32_t tgid = 0;
  // Stable per process: never reused for another process even if its pid is (keyed by
  // tgid and the process's start time, /proc/<tgid>/stat field 22).
  ipc::ProcessRef process;
  // ruid/euid/suid/fsuid, gids, supplementary groups, CapEff/CapPrm/CapInh and Umask from
  // /proc/<tid>/status; user_ns from UserNamespaceOf(); rlimit_msgqueue is the soft
  // RLIMIT_MSGQUEUE of the process from /proc/<tid>/limits ("unlimited" ->
  // Credentials::kRlimInfinity).
  kernel::Credentials cred;
  NsId ipc_ns;
  NsId pid_ns;
  // The kernel's task->prio of the thread: /proc/<tid>/stat field 18 ("priority") + 100
  // (120 for nice 0, 100..139 for nice -20..19, below 100 for real-time threads).
  int sched_prio = 120;
  // Whether a descriptor below RLIMIT_NOFILE is free (alloc_fd()'s EMFILE test); only
  // read with Parts::free_descriptor.
  bool has_free_descriptor = true;
};

class IdentityReader {
 public:
  // `supervisor_user_ns_maps`: when the supervisor itself runs in a user namespace it
  // created (unprivileged mode), the uid and gid maps it wrote for it (for example
  // {{1000, 1000, 1}}), and the kernel uid/gid it had when it created it. The model's
  // initial namespace then stays the host's and the supervisor's namespace becomes its
  // child, owned by `supervisor_uid`. nullopt: the supervisor's user namespace is the
  // model's initial one. Construct the reader after entering that namespace.
  explicit IdentityReader(
      std::optional<std::pair<kernel::IdMap, kernel::IdMap>> supervisor_user_ns_maps = std::nullopt,
      kernel::KUid supervisor_uid = kernel::KUid(0), kernel::KGid supervisor_gid = kernel::KGid(0));
  ~IdentityReader();
  IdentityReader(const IdentityReader&) = delete;
  IdentityReader& operator=(const IdentityReader&) = delete;

  // Everything about thread `tid`. NotFound if the thread no longer exists. All files of
  // the thread are read through one /proc/<tid> directory descriptor, so a pid recycled
  // in the middle of Read() fails it instead of mixing two tasks; the caller must still
  // check that its notification is valid afterwards (the tid may have been recycled
  // before Read() began).
  //
  // Credentials, the user namespace and the IPC namespace are always read; `parts` says
  // what else is needed, each part costing more /proc reads (mq_open and mq_unlink need
  // neither, mq_open without O_CREAT not even the rlimit). A part not read keeps its
  // default: rlimit_msgqueue 0, an empty ProcessRef, pid_ns {}, sched_prio 120.
  //
  // Without `process` the files are read through a cache of open /proc files rather than
  // one directory descriptor (a third of the system calls): the caller must then check
  // that the thread lived throughout, as a still-valid trapped call proves.
  struct Parts {
    bool rlimit = true;   // cred.rlimit_msgqueue (/proc/<tid>/limits)
    bool process = true;  // process, pid_ns, sched_prio (/proc/<tid>/stat, ns/pid)
    // has_free_descriptor (status and limits; /proc/<tid>/fd only for a table as large as
    // RLIMIT_NOFILE). Only without `process`.
    bool free_descriptor = false;
  };
  absl::StatusOr<CallerIdentity> Read(int32_t tid, Parts parts) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<CallerIdentity> Read(int32_t tid) ABSL_LOCKS_EXCLUDED(mu_) {
    return Read(tid, Parts{});
  }

  // The model's UserNamespace for the user namespace of `tid`, cached by NsId (the same
  // object for as long as anyone holds it). See identity.cc for what is exact (parent
  // chain, maps, owner) and what is approximated (group, rlimit).
  absl::StatusOr<std::shared_ptr<const kernel::UserNamespace>> UserNamespaceOf(int32_t tid)
      ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<int32_t> TgidOf(int32_t tid);


  // The user namespace that owns the namespace behind `ns_fd` (e.g. an IPC namespace:
  // the EOVERFLOW check of spec §3.1 6.3 uses it). `group_hint`: see identity.cc.
  absl::StatusOr<std::shared_ptr<const kernel::UserNamespace>> OwnerOfNamespace(
      int ns_fd, kernel::KGid group_hint);

  // Only the process of thread `tid`: its tgid from /proc/<tid>/status and the ProcessRef
  // last seen for that tgid (empty if none). Safe for a thread that is closing files in
  // the middle of an exec or an exit (mqfs's flush): /proc/<pid>/stat and the namespace
  // links wait for the task's exec locks, status does not.
  struct ProcessOfThread {
    int32_t tgid = 0;
    ipc::ProcessRef process;
  };
  absl::StatusOr<ProcessOfThread> ProcessOf(int32_t tid);

  // The pid of host process `host_tgid` as seen from the PID namespace of thread
  // `observer_tid` (si_pid, NOTIFY_PID): its pid there if it lives in that namespace or
  // one nested below it, otherwise 0 (what the kernel's pid_nr_ns() answers).
  absl::StatusOr<int32_t> PidAsSeenBy(int32_t host_tgid, int32_t observer_tid);

  // A process's pid in every PID namespace it is visible in, outermost (the supervisor's)
  // first, each with the namespace's identity. Recorded while the process lives: Linux
  // keeps the numbers of a notification owner's struct pid after the owner has exited
  // (NOTIFY_PID, spec §6.2), which /proc can no longer tell.
  struct PidChain {
    std::vector<std::pair<NsId, int32_t>> levels;
  };
  absl::StatusOr<PidChain> PidChainOf(int32_t host_tgid);

  // A value that changes with every execve of process `host_tgid`: the 16 random bytes
  // the kernel puts on a new image's stack (auxv AT_RANDOM), folded. Linux sends a
  // notification signal only if the owner has not exec'd since it registered
  // (notify_self_exec_id, spec §6.2); no interface shows self_exec_id, and AT_RANDOM is
  // new at every exec (a program that overwrote them with the previous image's would only
  // receive its own signal).
  absl::StatusOr<uint64_t> ExecToken(int32_t host_tgid);
  // The pid of `chain`'s process as thread `observer_tid` sees it: its number in the
  // observer's PID namespace, 0 if it was not in that namespace or below it.
  absl::StatusOr<int32_t> PidInChainAsSeenBy(const PidChain& chain, int32_t observer_tid);

  // Drops the ProcessRef entry of `tgid`. Call only once the process has exited: if it
  // is seen again it gets a new ProcessRef (refs are never reused, so this is safe, but
  // it is no longer the same ref).
  void ForgetProcess(int32_t tgid) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct CachedUserNs;
  absl::StatusOr<CallerIdentity> ReadCredentials(int32_t tid, Parts parts)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Everything but the user namespace and the rlimit, from a parsed status file.
  absl::Status FillCredentials(const proc::Status& status, kernel::Credentials& c) const;
  // The model of a user namespace already resolved, or nullptr.
  std::shared_ptr<const kernel::UserNamespace> KnownUserNamespace(const NsId& ns_id)
      ABSL_LOCKS_EXCLUDED(mu_);
  struct ProcessEntry {
    uint64_t start_time = 0;
    ipc::ProcessRef ref;
  };

  // Resolves the user namespace whose nsfs descriptor is `ns_fd` (borrowed). `proc_dir`
  // is a /proc/<pid> descriptor of a task in that namespace to read the maps from, or -1
  // (an ancestor reached through NS_GET_PARENT: the maps are then read from a helper
  // process that joins the namespace). `group_hint`: see identity.cc.
  absl::StatusOr<std::shared_ptr<const kernel::UserNamespace>> ResolveLocked(
      int ns_fd, int proc_dir, kernel::KGid group_hint, int depth)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::shared_ptr<const kernel::UserNamespace>> UserNamespaceOfDir(
      int proc_dir, kernel::KGid group_hint) ABSL_LOCKS_EXCLUDED(mu_);
  // Evicts cached namespaces that nobody but the cache refers to (closing their fds so
  // that the host can free them), when the cache has grown enough since the last sweep.
  void MaybeSweepLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ipc::ProcessRef ProcessRefLocked(int32_t tgid, uint64_t start_time)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Kernel ids from ids as the supervisor's namespace shows them.
  kernel::KUid ToKernel(uint32_t uid) const;
  kernel::KGid ToKernelGid(uint32_t gid) const;

  absl::Status init_status_;
  // The model of the supervisor's own user namespace: Initial(), or its child.
  std::shared_ptr<const kernel::UserNamespace> supervisor_ns_;
  NsId supervisor_ns_id_;

  ProcFileCache files_{512};  // status and limits of callers (Parts::process false)
  absl::Mutex mu_;
  absl::flat_hash_map<NsId, std::unique_ptr<CachedUserNs>> user_ns_ ABSL_GUARDED_BY(mu_);
  size_t sweep_at_ ABSL_GUARDED_BY(mu_) = 64;
  absl::flat_hash_map<int32_t, ProcessEntry> processes_ ABSL_GUARDED_BY(mu_);
  uint64_t next_process_ref_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_IDENTITY_H_
