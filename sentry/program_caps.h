// The program's capabilities: Docker's default set, changed by --cap-add/--cap-drop (Docker's
// names and rules) or kept whole by --privileged, and applied in the program's process
// before its exec.
//
// A root program with every capability undoes the sandbox: CAP_SYS_ADMIN mounts (the host
// kernel's mqueue code among the filesystems), unshares and setns's, CAP_DAC_READ_SEARCH
// opens any inode by handle (open_by_handle_at: mqfs's root and every IPC namespace's
// queues), CAP_SYS_PTRACE reads other processes. Docker's default set (bwrap and nsjail
// drop even more) keeps what ordinary programs that run as root expect: file ownership
// and modes, setuid/setgid, kill, raw sockets, low ports, chroot, mknod.
//
// Applied as runc does: the bounding set is reduced to the set (what an exec as uid 0, or
// of a setuid-root or file-capability binary, can gain), the ambient set cleared, the
// inheritable set emptied (Docker since 20.10.14) and the permitted and effective sets
// limited to the set. A program whose uid is not 0 execs with no capability at all
// (the kernel clears them at the exec of a non-root uid); its bounding set still bounds
// what it could regain.
#ifndef MQSENTRY_SENTRY_PROGRAM_CAPS_H_
#define MQSENTRY_SENTRY_PROGRAM_CAPS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kernel/capabilities.h"

namespace mqsentry::sentry {

struct CapabilityFlags {
  std::vector<std::string> add;   // --cap-add NAME (repeatable; NAME or CAP_NAME, or ALL)
  std::vector<std::string> drop;  // --cap-drop NAME
  bool privileged = false;        // --privileged: every capability (no security boundary)
};

// CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP,
// NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE (moby oci/caps/defaults.go).
kernel::CapabilitySet DockerDefaultCapabilities();

// "NET_ADMIN", "cap_net_admin", "CAP_NET_ADMIN" -> 12. "ALL" is not a capability: -1.
absl::StatusOr<int> ParseCapabilityName(absl::string_view name);

// The program's set, with Docker's rules (moby oci/caps TweakCapabilities): --cap-add ALL
// gives every capability but those dropped; else --cap-drop ALL starts from none; else
// the default minus the drops; then the adds. --privileged: every capability.
// InvalidArgument for an unknown name.
absl::StatusOr<kernel::CapabilitySet> ResolveCapabilities(const CapabilityFlags& flags);

// The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap).
int LastCapability();

// In the program's process before its exec, in this order (raw system calls only: it is
// a fork of init):
//  1. LimitBoundingAndAmbient: drops from the bounding set what `set` lacks and clears
//     the ambient set (needs CAP_SETPCAP, so before anything else is dropped);
//  2. the uid and gid change (needs CAP_SETUID/CAP_SETGID);
//  3. LimitProcessCapabilities: empties the inheritable set and limits the permitted and
//     effective ones to `set` (what the uid change left of them).
// Each returns 0 or an errno, with `*what` naming the failed call.
int LimitBoundingAndAmbient(kernel::CapabilitySet set, int last_cap, const char** what);
int LimitProcessCapabilities(kernel::CapabilitySet set, const char** what);

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_PROGRAM_CAPS_H_
