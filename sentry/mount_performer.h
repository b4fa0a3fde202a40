// MountPerformer: makes a new-superblock mount (mount(2) or fsopen(2)) on behalf of a
// trapped caller, from argument bytes the supervisor has already copied, so that no
// thread of the caller can rewrite them between a check and the kernel's read.
//
// A short-lived helper joins the caller's mount, IPC, network, cgroup and PID namespaces
// (the namespaces a filesystem type ties its superblock to: ipc for mqueue, pid for proc,
// net for sysfs, cgroup for cgroup2), then a child of it (so that it is in the caller's
// PID namespace) joins the caller's user namespace, takes the caller's root, working
// directory, ids, supplementary groups and capability sets, and makes the call. Every
// permission check is then the host kernel's own for that caller, and so is the errno.
//
// The helpers are raw clones of the multithreaded supervisor: they make only
// async-signal-safe system calls, close every descriptor they do not need, and are not
// dumpable (the program, which can see the second one in its PID namespace, can neither
// ptrace it nor open its descriptors through /proc).
#ifndef MQSENTRY_SENTRY_MOUNT_PERFORMER_H_
#define MQSENTRY_SENTRY_MOUNT_PERFORMER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {

// What the caller's thread is, held as descriptors: opened from /proc/<tid> while its
// call is trapped (check that the call is still valid after OpenMountCaller()).
struct MountCaller {
  UniqueFd proc_dir;  // /proc/<tid> (the helper reads status from it, in the caller's ns)
  // Invalid for a namespace that is the supervisor's own (nothing to join).
  UniqueFd user_ns, mnt_ns, ipc_ns, net_ns, cgroup_ns, pid_ns;
  UniqueFd root, cwd;  // O_PATH
};
absl::StatusOr<MountCaller> OpenMountCaller(int32_t tid);

// A copied argument string: present (possibly empty), absent (a NULL pointer), or one the
// kernel's copy would fail on (`copy_errno`: EFAULT, or EINVAL for one too long).
struct MountString {
  std::optional<std::string> value;
  int copy_errno = 0;
};

struct NewMountRequest {
  // kAttachTree: mount(2) of a filesystem the supervisor serves (a detached tree it made):
  // the target is resolved and may_mount() checked as the caller, then `deferred_errno`
  // (the filesystem's own checks, made by the supervisor) is the answer if set, else the
  // tree is moved onto the target.
  enum class Kind { kMount, kFsopen, kAttachTree };
  Kind kind = Kind::kMount;
  // mount(2): source, target, type, flags, data (one page, as copy_mount_options() reads
  // it; nullopt for a NULL pointer). Every copy already succeeded.
  std::optional<std::string> source;
  std::string target;
  std::optional<std::string> type;
  uint64_t flags = 0;
  std::optional<std::vector<char>> data;
  // A descriptor the options name ("fd=N": FUSE's /dev/fuse), which the kernel looks up in
  // the mounting task's table: the supervisor's copy of the caller's fd `passed_fd_number`
  // is put at that number in the helper. -1: none.
  int passed_fd = -1;
  int passed_fd_number = -1;
  // fsopen(2): the type as copied (a failed copy is reproduced in the helper, after the
  // kernel's permission and flag checks, so the errno is the one Linux gives), and flags.
  MountString fs_name;
  unsigned int fsopen_flags = 0;
  // kAttachTree (target as for kMount).
  int tree_fd = -1;
  int deferred_errno = 0;
  // The mount is the supervisor's own, in the caller's mount namespace and root: the
  // helper keeps the supervisor's user namespace and credentials (the sandbox's
  // /dev/mqueue, made before the program starts).
  bool as_supervisor = false;
};

struct MountOutcome {
  int err = 0;        // the call's errno, 0 on success
  UniqueFd fs_fd;     // fsopen: the fs-context descriptor (the supervisor's copy)
};

// Performs `req` as `caller`. An error status: the helpers could not be set up or did
// not finish (the caller gets no mount; the handler decides what to answer).
absl::StatusOr<MountOutcome> PerformNewMount(const MountCaller& caller,
                                             const NewMountRequest& req);

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_MOUNT_PERFORMER_H_
