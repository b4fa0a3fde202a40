// Tests for Credentials: the stock identities, in_group_p(), and cap_capable() across user
// namespaces (spec §3.4: CAP_SYS_RESOURCE counts only in the initial namespace; spec §3.6
// and §4: DAC_OVERRIDE, DAC_READ_SEARCH and FOWNER count only over mapped inodes).
#include "kernel/credentials.h"

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "kernel/capabilities.h"
#include "kernel/ids.h"
#include "kernel/user_namespace.h"

namespace mqsentry::kernel {
namespace {

using NsPtr = std::shared_ptr<const UserNamespace>;

// A child of `parent`, created by kernel uid/gid `owner`, mapping ids 0..count-1 inside to
// lower..lower+count-1 in the kernel (uids and gids alike).
NsPtr MakeChild(NsPtr parent, uint32_t owner, uint32_t lower, uint32_t count) {
  absl::StatusOr<IdMap> map = IdMap::Create({{.first = 0, .lower_first = lower, .count = count}});
  EXPECT_TRUE(map.ok()) << map.status();
  absl::StatusOr<NsPtr> ns =
      UserNamespace::Create(std::move(parent), KUid(owner), KGid(owner), *map, *map, 819200);
  EXPECT_TRUE(ns.ok()) << ns.status();
  return ns.ok() ? *ns : nullptr;
}

// Root inside `ns`: kernel ids of its uid 0, every capability in `ns`.
Credentials RootIn(NsPtr ns) {
  Credentials c = Credentials::User(ns->ToKernel(NsUid(0)).value(), ns->ToKernel(NsGid(0)).value());
  c.effective = c.permitted = CapabilitySet::Full();
  c.user_ns = std::move(ns);
  return c;
}

TEST(CredentialsTest, RootHasIdZeroEveryCapabilityAndDefaults) {
  const Credentials root = Credentials::Root();
  for (KUid id : {root.ruid, root.euid, root.suid, root.fsuid}) EXPECT_EQ(id, kRootKUid);
  for (KGid id : {root.rgid, root.egid, root.sgid, root.fsgid}) EXPECT_EQ(id, kRootKGid);
  EXPECT_EQ(root.effective, CapabilitySet::Full());
  EXPECT_EQ(root.permitted, CapabilitySet::Full());
  EXPECT_EQ(root.user_ns, UserNamespace::Initial());
  EXPECT_EQ(root.rlimit_msgqueue, 819200u);  // spec §1.5 MQ_BYTES_MAX
  EXPECT_EQ(root.umask, 022u);
  EXPECT_TRUE(root.groups.empty());
}

TEST(CredentialsTest, UserSetsEveryIdAndNoCapability) {
  const Credentials u = Credentials::User(1000, 100);
  for (KUid id : {u.ruid, u.euid, u.suid, u.fsuid}) EXPECT_EQ(id, KUid(1000));
  for (KGid id : {u.rgid, u.egid, u.sgid, u.fsgid}) EXPECT_EQ(id, KGid(100));
  EXPECT_EQ(u.effective, CapabilitySet());
  EXPECT_EQ(u.permitted, CapabilitySet());
  EXPECT_EQ(u.user_ns, UserNamespace::Initial());
  EXPECT_FALSE(u.Capable(Capability::kDacOverride));
}

// in_group_p(): the fsgid or a supplementary group; the egid alone does not count.
TEST(CredentialsTest, InGroupUsesFsgidAndSupplementaryGroups) {
  Credentials u = Credentials::User(1000, 100);
  u.egid = KGid(300);
  u.groups = {KGid(200), KGid(201)};
  EXPECT_TRUE(u.InGroup(KGid(100)));
  EXPECT_TRUE(u.InGroup(KGid(201)));
  EXPECT_FALSE(u.InGroup(KGid(300)));
  EXPECT_FALSE(u.InGroup(KGid(0)));
}

TEST(CredentialsTest, OwnNamespaceUsesTheEffectiveSet) {
  Credentials u = Credentials::User(1000, 1000);
  u.effective = {Capability::kDacReadSearch};
  EXPECT_TRUE(u.HasCapabilityIn(Capability::kDacReadSearch, *UserNamespace::Initial()));
  EXPECT_FALSE(u.HasCapabilityIn(Capability::kDacOverride, *UserNamespace::Initial()));
}

// A permitted but not effective capability (dropped with capset) is not used.
TEST(CredentialsTest, PermittedButNotEffectiveDoesNotCount) {
  Credentials root = Credentials::Root();
  root.effective.Remove(Capability::kFowner);
  EXPECT_TRUE(root.permitted.Has(Capability::kFowner));
  EXPECT_FALSE(root.Capable(Capability::kFowner));
  EXPECT_TRUE(root.Capable(Capability::kChown));
}

// spec §3.4 / §11 #9: root in a user namespace is not capable() in the initial namespace.
TEST(CredentialsTest, RootInAChildIsNotCapableInTheInitialNamespace) {
  const Credentials child_root = RootIn(MakeChild(UserNamespace::Initial(), 1000, 100000, 65536));
  EXPECT_FALSE(child_root.Capable(Capability::kSysResource));
  EXPECT_FALSE(child_root.Capable(Capability::kDacOverride));
  EXPECT_TRUE(child_root.HasCapabilityIn(Capability::kSysResource, *child_root.user_ns));
}

// Capabilities in a namespace hold in all its descendants.
TEST(CredentialsTest, CapabilityInParentHoldsInDescendants) {
  const NsPtr child = MakeChild(UserNamespace::Initial(), 1000, 100000, 65536);
  const NsPtr grandchild = MakeChild(child, 100000, 100000, 10);
  const Credentials root = Credentials::Root();
  EXPECT_TRUE(root.HasCapabilityIn(Capability::kFowner, *child));
  EXPECT_TRUE(root.HasCapabilityIn(Capability::kFowner, *grandchild));
  Credentials no_fowner = Credentials::Root();
  no_fowner.effective.Remove(Capability::kFowner);
  EXPECT_FALSE(no_fowner.HasCapabilityIn(Capability::kFowner, *grandchild));
}

// cap_capable(): the owner of a child namespace has every capability in it, even with an
// empty effective set (that is how an unprivileged user becomes root in its namespace).
TEST(CredentialsTest, OwnerOfAChildNamespaceHasAllCapabilitiesInIt) {
  const NsPtr child = MakeChild(UserNamespace::Initial(), 1000, 1000, 1);
  const Credentials owner = Credentials::User(1000, 1000);
  EXPECT_TRUE(owner.HasCapabilityIn(Capability::kDacOverride, *child));
  EXPECT_TRUE(owner.HasCapabilityIn(Capability::kSysAdmin, *child));
  EXPECT_FALSE(owner.Capable(Capability::kDacOverride));  // but not in its own namespace
}

TEST(CredentialsTest, OwnerOfAChildNamespaceHasAllCapabilitiesInItsDescendants) {
  const NsPtr child = MakeChild(UserNamespace::Initial(), 1000, 100000, 65536);
  const NsPtr grandchild = MakeChild(child, 100000, 100000, 10);
  EXPECT_TRUE(Credentials::User(1000, 1000).HasCapabilityIn(Capability::kFowner, *grandchild));
}

TEST(CredentialsTest, NonOwnerWithoutCapabilitiesHasNoneInAChild) {
  const NsPtr child = MakeChild(UserNamespace::Initial(), 1000, 100000, 65536);
  EXPECT_FALSE(Credentials::User(2000, 2000).HasCapabilityIn(Capability::kFowner, *child));
}

// The owner rule compares the euid only.
TEST(CredentialsTest, OwnershipIsDecidedByTheEuid) {
  const NsPtr child = MakeChild(UserNamespace::Initial(), 1000, 100000, 65536);
  Credentials c = Credentials::User(1000, 1000);
  c.euid = KUid(2000);
  EXPECT_FALSE(c.HasCapabilityIn(Capability::kFowner, *child));
  Credentials d = Credentials::User(2000, 2000);
  d.euid = KUid(1000);
  EXPECT_TRUE(d.HasCapabilityIn(Capability::kFowner, *child));
}

// The owner rule applies only to a namespace whose parent is the caller's: owning a
// grandchild whose parent belongs to someone else gives nothing.
TEST(CredentialsTest, OwningAGrandchildOfAnotherUsersChildGivesNothing) {
  const NsPtr other_child = MakeChild(UserNamespace::Initial(), 2000, 1000, 1);
  const NsPtr grandchild = MakeChild(other_child, 1000, 1000, 1);
  EXPECT_EQ(grandchild->owner(), KUid(1000));
  EXPECT_FALSE(Credentials::User(1000, 1000).HasCapabilityIn(Capability::kFowner, *grandchild));
}

// cap_capable(): a task has nothing in a namespace that is not its own or a descendant.
TEST(CredentialsTest, NoCapabilityInASiblingNamespace) {
  const NsPtr a = MakeChild(UserNamespace::Initial(), 1000, 100000, 65536);
  const NsPtr b = MakeChild(UserNamespace::Initial(), 1000, 100000, 65536);  // same content
  const Credentials root_a = RootIn(a);
  EXPECT_TRUE(root_a.HasCapabilityIn(Capability::kFowner, *a));
  EXPECT_FALSE(root_a.HasCapabilityIn(Capability::kFowner, *b));
}

TEST(CredentialsTest, NoCapabilityInTheParentNamespace) {
  const NsPtr child = MakeChild(UserNamespace::Initial(), 1000, 100000, 65536);
  const NsPtr grandchild = MakeChild(child, 100000, 100000, 10);
  const Credentials root_gc = RootIn(grandchild);
  EXPECT_FALSE(root_gc.HasCapabilityIn(Capability::kFowner, *child));
  EXPECT_FALSE(root_gc.HasCapabilityIn(Capability::kFowner, *UserNamespace::Initial()));
}

// capable_wrt_inode_uidgid(): the capability in the caller's namespace, over an inode whose
// uid and gid are both mapped there (spec §3.6).
TEST(CredentialsTest, CapableWrtInodeNeedsBothIdsMapped) {
  const Credentials child_root = RootIn(MakeChild(UserNamespace::Initial(), 1000, 100000, 65536));
  EXPECT_TRUE(child_root.CapableWrtInode(Capability::kDacOverride, KUid(100005), KGid(100006)));
  EXPECT_FALSE(child_root.CapableWrtInode(Capability::kDacOverride, KUid(12345), KGid(100006)));
  EXPECT_FALSE(child_root.CapableWrtInode(Capability::kDacOverride, KUid(100005), KGid(12345)));
}

TEST(CredentialsTest, CapableWrtInodeNeedsTheCapability) {
  Credentials root = Credentials::Root();
  EXPECT_TRUE(root.CapableWrtInode(Capability::kFowner, KUid(12345), KGid(12345)));
  root.effective.Remove(Capability::kFowner);
  EXPECT_FALSE(root.CapableWrtInode(Capability::kFowner, KUid(12345), KGid(12345)));
}

// capable_wrt_inode_uidgid() asks about the caller's own namespace: the owner of a child
// namespace living in the parent does not gain its powers over inodes.
TEST(CredentialsTest, CapableWrtInodeIgnoresOwnershipOfChildNamespaces) {
  const NsPtr child = MakeChild(UserNamespace::Initial(), 1000, 1000, 1);
  const Credentials owner = Credentials::User(1000, 1000);
  ASSERT_TRUE(owner.HasCapabilityIn(Capability::kDacOverride, *child));
  EXPECT_FALSE(owner.CapableWrtInode(Capability::kDacOverride, KUid(1000), KGid(1000)));
}

}  // namespace
}  // namespace mqsentry::kernel
