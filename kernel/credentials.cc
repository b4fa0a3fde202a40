// Credentials: the stock identities (root, plain user), group membership (in_group_p) and
// the capability checks of security/commoncap.c (cap_capable) and kernel/capability.c.
#include "kernel/credentials.h"

#include <algorithm>
#include <cstdint>

#include "kernel/capabilities.h"
#include "kernel/ids.h"
#include "kernel/user_namespace.h"

namespace mqsentry::kernel {

Credentials Credentials::Root() {
  Credentials c;  // every id defaults to 0, the namespace to the initial one
  c.effective = CapabilitySet::Full();
  c.permitted = CapabilitySet::Full();
  return c;
}

Credentials Credentials::User(uint32_t uid, uint32_t gid) {
  Credentials c;
  c.ruid = c.euid = c.suid = c.fsuid = KUid(uid);
  c.rgid = c.egid = c.sgid = c.fsgid = KGid(gid);
  return c;
}

bool Credentials::InGroup(KGid gid) const {
  // in_group_p() tests the fsgid, not the egid, then the supplementary groups.
  return gid == fsgid || std::find(groups.begin(), groups.end(), gid) != groups.end();
}

bool Credentials::HasCapabilityIn(Capability cap, const UserNamespace& target) const {
  // cap_capable(): walk from the target towards the root. Namespaces are compared by
  // identity: two namespaces with the same maps are still different namespaces.
  const UserNamespace* ns = &target;
  for (;;) {
    // In the task's own namespace its effective set decides.
    if (ns == user_ns.get()) return effective.Has(cap);
    // At or above the task's level without meeting its namespace: not a descendant.
    if (ns->level() <= user_ns->level()) return false;
    // The owner of a child of the task's namespace holds every capability in it (and so
    // in all of its descendants).
    if (ns->parent().get() == user_ns.get() && ns->owner() == euid) return true;
    ns = ns->parent().get();
  }
}

bool Credentials::Capable(Capability cap) const {
  return HasCapabilityIn(cap, *UserNamespace::Initial());
}

bool Credentials::CapableWrtInode(Capability cap, KUid inode_uid, KGid inode_gid) const {
  // capable_wrt_inode_uidgid(): privileged in the task's own namespace, over an inode whose
  // owner and group that namespace can name.
  return HasCapabilityIn(cap, *user_ns) && user_ns->HasMapping(inode_uid) &&
         user_ns->HasMapping(inode_gid);
}

}  // namespace mqsentry::kernel
