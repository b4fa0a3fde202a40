// The DAC checks of fs/namei.c for mqueue inodes: generic_permission() with
// acl_permission_check() (mqueue has no ACLs) and check_sticky() (spec §3.6, §4).
#include "kernel/permission.h"

#include <cerrno>
#include <cstdint>

#include "kernel/capabilities.h"
#include "kernel/credentials.h"

namespace mqsentry::kernel {
namespace {

constexpr uint32_t kSIsvtx = 01000;  // S_ISVTX, the sticky bit
constexpr uint32_t kSIxugo = 0111;   // S_IXUGO, any exec bit
constexpr int kMayRwx = kMayRead | kMayWrite | kMayExec;

// acl_permission_check(): the first class that matches decides, with no fall-through to
// the next one (spec §3.6: a group member is denied by a mode-004 queue).
bool ClassGrants(const Credentials& cred, const InodeOwnership& inode, int mask) {
  uint32_t bits;
  if (cred.fsuid == inode.uid) {
    bits = inode.mode >> 6;
  } else if (cred.InGroup(inode.gid)) {
    bits = inode.mode >> 3;
  } else {
    bits = inode.mode;
  }
  return (static_cast<uint32_t>(mask) & ~bits & 7) == 0;
}

}  // namespace

int GenericPermission(const Credentials& cred, const InodeOwnership& inode, int mask) {
  if (ClassGrants(cred, inode, mask)) return 0;

  auto capable = [&](Capability cap) { return cred.CapableWrtInode(cap, inode.uid, inode.gid); };
  if (inode.is_directory) {
    // DACs are overridable for directories; READ_SEARCH covers read and search.
    if (!(mask & kMayWrite) && capable(Capability::kDacReadSearch)) return 0;
    if (capable(Capability::kDacOverride)) return 0;
    return EACCES;  // spec §3.6
  }

  mask &= kMayRwx;
  // spec §3.6: CAP_DAC_READ_SEARCH grants read only.
  if (mask == kMayRead && capable(Capability::kDacReadSearch)) return 0;
  // spec §3.6: CAP_DAC_OVERRIDE grants read and write; exec only if some x bit is set.
  if ((!(mask & kMayExec) || (inode.mode & kSIxugo)) && capable(Capability::kDacOverride)) {
    return 0;
  }
  return EACCES;  // spec §3.6: with both capabilities dropped even uid 0 is refused
}

int CheckSticky(const Credentials& cred, const InodeOwnership& dir, const InodeOwnership& victim) {
  if (!(dir.mode & kSIsvtx)) return 0;
  if (cred.fsuid == victim.uid) return 0;
  // spec §4: the owner of the namespace's root directory may unlink every queue.
  if (cred.fsuid == dir.uid) return 0;
  if (cred.CapableWrtInode(Capability::kFowner, victim.uid, victim.gid)) return 0;
  return EPERM;  // spec §4: the kernel says EPERM (glibc's mq_unlink turns it into EACCES)
}

}  // namespace mqsentry::kernel
