// Credentials: the identity of a calling task (struct cred), and Linux's capability
// check against a user namespace (security/commoncap.c: cap_capable).
#ifndef MQSENTRY_KERNEL_CREDENTIALS_H_
#define MQSENTRY_KERNEL_CREDENTIALS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "kernel/capabilities.h"
#include "kernel/ids.h"
#include "kernel/user_namespace.h"

namespace mqsentry::kernel {

struct Credentials {
  KUid ruid{0}, euid{0}, suid{0}, fsuid{0};
  KGid rgid{0}, egid{0}, sgid{0}, fsgid{0};
  std::vector<KGid> groups;  // supplementary groups
  CapabilitySet effective;
  CapabilitySet permitted;
  CapabilitySet inheritable;
  // The task's own user namespace; never null (use UserNamespace::Initial()).
  std::shared_ptr<const UserNamespace> user_ns = UserNamespace::Initial();
  // Soft RLIMIT_MSGQUEUE of the task (bytes); kRlimInfinity means unlimited.
  uint64_t rlimit_msgqueue = 819200;
  // umask of the task; mq_open masks the mode with it (spec §3.3).
  uint32_t umask = 022;

  static constexpr uint64_t kRlimInfinity = ~uint64_t{0};

  // Root in the initial namespace with every capability.
  static Credentials Root();
  // An unprivileged user in the initial namespace (all ids = uid/gid, no capabilities).
  static Credentials User(uint32_t uid, uint32_t gid);

  // in_group_p(): fsgid or a supplementary group.
  bool InGroup(KGid gid) const;
  // ns_capable(ns, cap): the task holds `cap` in its own namespace and `target` is that
  // namespace, or `target` descends from a namespace whose parent is the task's and whose
  // owner is the task's euid (the owner of a child namespace holds every capability in it).
  bool HasCapabilityIn(Capability cap, const UserNamespace& target) const;
  // capable(cap): HasCapabilityIn(cap, initial namespace).
  bool Capable(Capability cap) const;
  // capable_wrt_inode_uidgid(): HasCapabilityIn(cap, own namespace) and the inode's uid and
  // gid are both mapped in the task's namespace.
  bool CapableWrtInode(Capability cap, KUid inode_uid, KGid inode_gid) const;
};

}  // namespace mqsentry::kernel

#endif  // MQSENTRY_KERNEL_CREDENTIALS_H_
