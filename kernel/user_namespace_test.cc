// Tests for IdMap (uid_map/gid_map validation and translation, user_namespaces(7)) and
// UserNamespace (the parent chain that spec §3.6, §4 and §6.3 resolve ids and capabilities
// through; si_uid reads 65534 when unmapped, spec §11 #15).
#include "kernel/user_namespace.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "kernel/ids.h"

namespace mqsentry::kernel {
namespace {

using NsPtr = std::shared_ptr<const UserNamespace>;

IdMap MapOf(std::vector<IdMapExtent> extents) {
  absl::StatusOr<IdMap> map = IdMap::Create(std::move(extents));
  EXPECT_TRUE(map.ok()) << map.status();
  return map.ok() ? *std::move(map) : IdMap();
}

// A child of `parent` owned by `owner` whose uid and gid maps are both `extents`.
absl::StatusOr<NsPtr> Child(NsPtr parent, uint32_t owner, std::vector<IdMapExtent> extents) {
  return UserNamespace::Create(std::move(parent), KUid(owner), KGid(owner), MapOf(extents),
                               MapOf(extents), 819200);
}

// ---- IdMap::Create: the checks map_write() makes ----

TEST(IdMapTest, SingleExtentMapsItsRangeBothWays) {
  const IdMap map = MapOf({{.first = 0, .lower_first = 100000, .count = 65536}});
  EXPECT_EQ(map.ToKernel(0), 100000u);
  EXPECT_EQ(map.ToKernel(65535), 165535u);
  EXPECT_EQ(map.ToKernel(65536), std::nullopt);
  EXPECT_EQ(map.FromKernel(100000), 0u);
  EXPECT_EQ(map.FromKernel(165535), 65535u);
  EXPECT_EQ(map.FromKernel(99999), std::nullopt);
  EXPECT_EQ(map.FromKernel(165536), std::nullopt);
}

TEST(IdMapTest, SeveralExtentsEachTranslateTheirOwnRange) {
  const IdMap map = MapOf({{.first = 0, .lower_first = 1000, .count = 1},
                           {.first = 1, .lower_first = 100000, .count = 999}});
  EXPECT_EQ(map.ToKernel(0), 1000u);
  EXPECT_EQ(map.ToKernel(1), 100000u);
  EXPECT_EQ(map.ToKernel(999), 100998u);
  EXPECT_EQ(map.ToKernel(1000), std::nullopt);
  EXPECT_EQ(map.FromKernel(1000), 0u);
  EXPECT_EQ(map.FromKernel(100500), 501u);
  EXPECT_EQ(map.FromKernel(1001), std::nullopt);
}

TEST(IdMapTest, DefaultAndEmptyMapsMapNothing) {
  EXPECT_EQ(IdMap().ToKernel(0), std::nullopt);
  absl::StatusOr<IdMap> empty = IdMap::Create({});
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->FromKernel(0), std::nullopt);
}

TEST(IdMapTest, RejectsCountZero) {
  EXPECT_FALSE(IdMap::Create({{.first = 0, .lower_first = 0, .count = 0}}).ok());
}

// map_write(): first+count and lower_first+count must not wrap past 2^32.
TEST(IdMapTest, RejectsUpperRangeOverflow) {
  EXPECT_FALSE(IdMap::Create({{.first = 0xfffffff6u, .lower_first = 0, .count = 10}}).ok());
  EXPECT_FALSE(IdMap::Create({{.first = kNoId, .lower_first = 0, .count = 1}}).ok());
}

TEST(IdMapTest, RejectsLowerRangeOverflow) {
  EXPECT_FALSE(IdMap::Create({{.first = 0, .lower_first = 0xfffffff6u, .count = 10}}).ok());
}

TEST(IdMapTest, AcceptsARangeEndingJustBeforeNoId) {
  absl::StatusOr<IdMap> map =
      IdMap::Create({{.first = 0xfffffff5u, .lower_first = 0, .count = 10}});
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->ToKernel(0xfffffffeu), 9u);
  EXPECT_EQ(map->ToKernel(kNoId), std::nullopt);
}

// mappings_overlap(): no two extents may share an id on either side.
TEST(IdMapTest, RejectsOverlapInside) {
  EXPECT_FALSE(IdMap::Create({{.first = 0, .lower_first = 1000, .count = 10},
                              {.first = 9, .lower_first = 5000, .count = 10}})
                   .ok());
}

TEST(IdMapTest, RejectsOverlapOutside) {
  EXPECT_FALSE(IdMap::Create({{.first = 0, .lower_first = 1000, .count = 10},
                              {.first = 100, .lower_first = 1005, .count = 1}})
                   .ok());
}

TEST(IdMapTest, RejectsAnExtentContainingAnother) {
  EXPECT_FALSE(IdMap::Create({{.first = 5, .lower_first = 5000, .count = 1},
                              {.first = 0, .lower_first = 1000, .count = 10}})
                   .ok());
}

TEST(IdMapTest, AcceptsAdjacentExtents) {
  EXPECT_TRUE(IdMap::Create({{.first = 0, .lower_first = 1000, .count = 10},
                             {.first = 10, .lower_first = 1010, .count = 10}})
                  .ok());
}

// user_namespaces(7): at most 340 lines.
TEST(IdMapTest, AcceptsAtMost340Extents) {
  std::vector<IdMapExtent> extents;
  for (uint32_t i = 0; i < IdMap::kMaxExtents; ++i) {
    extents.push_back({.first = i, .lower_first = 1000 + i, .count = 1});
  }
  absl::StatusOr<IdMap> full = IdMap::Create(extents);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->ToKernel(339), 1339u);
  extents.push_back({.first = 340, .lower_first = 1340, .count = 1});
  EXPECT_FALSE(IdMap::Create(extents).ok());
}

TEST(IdMapTest, IdentityMapsEveryIdButNoId) {
  const IdMap identity = IdMap::Identity();
  ASSERT_EQ(identity.extents().size(), 1u);
  EXPECT_EQ(identity.extents()[0], (IdMapExtent{.first = 0, .lower_first = 0, .count = kNoId}));
  EXPECT_EQ(identity.ToKernel(0), 0u);
  EXPECT_EQ(identity.ToKernel(4294967294u), 4294967294u);
  EXPECT_EQ(identity.FromKernel(kNoId), std::nullopt);
  // The initial namespace's map is itself one the kernel would accept.
  EXPECT_TRUE(IdMap::Create(identity.extents()).ok());
}

// ---- IdMap::Parse: the text of /proc/PID/uid_map ----

TEST(IdMapParseTest, ParsesProcFormatWithPadding) {
  absl::StatusOr<IdMap> map = IdMap::Parse(
      "         0       1000          1\n"
      "         1     100000      65536\n");
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->extents(),
            (std::vector<IdMapExtent>{{.first = 0, .lower_first = 1000, .count = 1},
                                      {.first = 1, .lower_first = 100000, .count = 65536}}));
}

TEST(IdMapParseTest, ParsesTheInitialNamespacesMap) {
  absl::StatusOr<IdMap> map = IdMap::Parse("         0          0 4294967295\n");
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->extents(), IdMap::Identity().extents());
}

// A namespace whose uid_map was never written reads as empty and maps nothing.
TEST(IdMapParseTest, EmptyTextIsAnEmptyMap) {
  absl::StatusOr<IdMap> map = IdMap::Parse("");
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_TRUE(map->extents().empty());
}

TEST(IdMapParseTest, RejectsMalformedLines) {
  for (const char* text :
       {"0 1000\n", "0 1000 1 7\n", "a b c\n", "-1 0 1\n", "0 0 4294967296\n", "0 0x10 1\n"}) {
    EXPECT_FALSE(IdMap::Parse(text).ok()) << "accepted: " << text;
  }
}

TEST(IdMapParseTest, AppliesTheKernelsValidation) {
  EXPECT_FALSE(IdMap::Parse("0 1000 10\n5 2000 10\n").ok());  // overlap
  EXPECT_FALSE(IdMap::Parse("0 1000 0\n").ok());              // count 0
}

// ---- UserNamespace ----

TEST(UserNamespaceTest, InitialIsOneSingletonAtLevelZero) {
  const NsPtr init = UserNamespace::Initial();
  ASSERT_NE(init, nullptr);
  EXPECT_EQ(init.get(), UserNamespace::Initial().get());
  EXPECT_TRUE(init->is_initial());
  EXPECT_EQ(init->parent(), nullptr);
  EXPECT_EQ(init->level(), 0);
  EXPECT_EQ(init->owner(), kRootKUid);
  EXPECT_EQ(init->uid_map().extents(), IdMap::Identity().extents());
  EXPECT_EQ(init->gid_map().extents(), IdMap::Identity().extents());
}

TEST(UserNamespaceTest, InitialTranslatesIdsToThemselves) {
  const NsPtr init = UserNamespace::Initial();
  EXPECT_EQ(init->ToKernel(NsUid(12345)), KUid(12345));
  EXPECT_EQ(init->ToKernel(NsGid(4343)), KGid(4343));
  EXPECT_EQ(init->FromKernel(KUid(12345)), NsUid(12345));
  EXPECT_EQ(init->FromKernelOrOverflow(KGid(65534)), NsGid(65534));
  EXPECT_TRUE(init->HasMapping(KUid(0)));
  EXPECT_FALSE(init->HasMapping(KUid(kNoId)));
}

TEST(UserNamespaceTest, ChildRecordsParentLevelOwnerAndRlimit) {
  absl::StatusOr<NsPtr> child =
      UserNamespace::Create(UserNamespace::Initial(), KUid(1000), KGid(100),
                            MapOf({{.first = 0, .lower_first = 1000, .count = 1}}),
                            MapOf({{.first = 0, .lower_first = 100, .count = 1}}), 4096);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ((*child)->parent(), UserNamespace::Initial());
  EXPECT_EQ((*child)->level(), 1);
  EXPECT_FALSE((*child)->is_initial());
  EXPECT_EQ((*child)->owner(), KUid(1000));
  EXPECT_EQ((*child)->group(), KGid(100));
  EXPECT_EQ((*child)->rlimit_msgqueue(), 4096u);
}

TEST(UserNamespaceTest, ChildTranslatesThroughItsMaps) {
  absl::StatusOr<NsPtr> child =
      UserNamespace::Create(UserNamespace::Initial(), KUid(1000), KGid(1000),
                            MapOf({{.first = 0, .lower_first = 100000, .count = 65536}}),
                            MapOf({{.first = 0, .lower_first = 200000, .count = 65536}}), 819200);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ((*child)->ToKernel(NsUid(0)), KUid(100000));
  EXPECT_EQ((*child)->ToKernel(NsGid(0)), KGid(200000));
  EXPECT_EQ((*child)->FromKernel(KUid(100042)), NsUid(42));
  EXPECT_EQ((*child)->FromKernel(KGid(200042)), NsGid(42));
  EXPECT_EQ((*child)->FromKernel(KGid(100042)), std::nullopt);  // that is a uid range
}

// make_kuid() of an unmapped id is INVALID_UID.
TEST(UserNamespaceTest, UnmappedIdsAreInvalidGoingDown) {
  absl::StatusOr<NsPtr> child =
      Child(UserNamespace::Initial(), 1000, {{.first = 0, .lower_first = 1000, .count = 1}});
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_FALSE((*child)->ToKernel(NsUid(1)).valid());
  EXPECT_FALSE((*child)->ToKernel(NsGid(1)).valid());
  EXPECT_EQ((*child)->FromKernel(KUid(0)), std::nullopt);
  EXPECT_FALSE((*child)->HasMapping(KUid(0)));
  EXPECT_TRUE((*child)->HasMapping(KGid(1000)));
}

// spec §11 #15: si_uid is 65534 when the sender is unmapped in the owner's namespace.
TEST(UserNamespaceTest, UnmappedIdsReadAsOverflowId) {
  absl::StatusOr<NsPtr> child =
      Child(UserNamespace::Initial(), 1000, {{.first = 0, .lower_first = 1000, .count = 1}});
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ((*child)->FromKernelOrOverflow(KUid(0)), NsUid(kOverflowId));
  EXPECT_EQ((*child)->FromKernelOrOverflow(KGid(0)), NsGid(kOverflowId));
  EXPECT_EQ((*child)->FromKernelOrOverflow(KUid(1000)), NsUid(0));
  EXPECT_EQ(kOverflowId, 65534u);
}

TEST(UserNamespaceTest, CreateRejectsNullParent) {
  EXPECT_FALSE(Child(nullptr, 0, {{.first = 0, .lower_first = 0, .count = 1}}).ok());
}

// map_write() refuses ids the parent does not map.
TEST(UserNamespaceTest, CreateRejectsUidsTheParentDoesNotMap) {
  absl::StatusOr<NsPtr> child =
      Child(UserNamespace::Initial(), 1000, {{.first = 0, .lower_first = 100000, .count = 1000}});
  ASSERT_TRUE(child.ok()) << child.status();
  // Partly outside: kernel ids 100500..101499, of which 101000.. are unmapped in the child.
  EXPECT_FALSE(UserNamespace::Create(*child, KUid(100000), KGid(100000),
                                     MapOf({{.first = 0, .lower_first = 100500, .count = 1000}}),
                                     MapOf({{.first = 0, .lower_first = 100000, .count = 1}}),
                                     819200)
                   .ok());
}

TEST(UserNamespaceTest, CreateRejectsGidsTheParentDoesNotMap) {
  absl::StatusOr<NsPtr> child =
      Child(UserNamespace::Initial(), 1000, {{.first = 0, .lower_first = 100000, .count = 1000}});
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_FALSE(UserNamespace::Create(*child, KUid(100000), KGid(100000),
                                     MapOf({{.first = 0, .lower_first = 100000, .count = 1}}),
                                     MapOf({{.first = 0, .lower_first = 5, .count = 1}}), 819200)
                   .ok());
}

// Both ends of the range are mapped by the parent but the middle is not: the whole range
// must be covered, not just its endpoints.
TEST(UserNamespaceTest, CreateRejectsARangeWithAHoleInTheParent) {
  absl::StatusOr<NsPtr> parent = Child(UserNamespace::Initial(), 1000,
                                       {{.first = 0, .lower_first = 1000, .count = 10},
                                        {.first = 10, .lower_first = 2000, .count = 10}});
  ASSERT_TRUE(parent.ok()) << parent.status();
  EXPECT_FALSE(Child(*parent, 1000, {{.first = 0, .lower_first = 1005, .count = 1000}}).ok());
}

// A kernel-id range covered by two adjacent extents of the parent is fully mapped there.
TEST(UserNamespaceTest, CreateAcceptsARangeCoveredByAdjacentParentExtents) {
  absl::StatusOr<NsPtr> parent = Child(UserNamespace::Initial(), 1000,
                                       {{.first = 0, .lower_first = 1000, .count = 10},
                                        {.first = 100, .lower_first = 1010, .count = 10}});
  ASSERT_TRUE(parent.ok()) << parent.status();
  absl::StatusOr<NsPtr> child =
      Child(*parent, 1000, {{.first = 0, .lower_first = 1000, .count = 20}});
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ((*child)->ToKernel(NsUid(15)), KUid(1015));
}

// create_user_ns(): the creator's euid and egid must be mapped in the parent.
TEST(UserNamespaceTest, CreateRejectsAnOwnerUnmappedInTheParent) {
  absl::StatusOr<NsPtr> parent =
      Child(UserNamespace::Initial(), 1000, {{.first = 0, .lower_first = 1000, .count = 1}});
  ASSERT_TRUE(parent.ok()) << parent.status();
  EXPECT_FALSE(Child(*parent, 2000, {{.first = 0, .lower_first = 1000, .count = 1}}).ok());
}

// create_user_ns() refuses a child of a namespace above level 32, so level 33 is the
// deepest a host can produce, and the model must accept it.
TEST(UserNamespaceTest, NestingStopsBelowLevel33) {
  NsPtr ns = UserNamespace::Initial();
  for (int level = 1; level <= 33; ++level) {
    absl::StatusOr<NsPtr> child = Child(ns, 0, {{.first = 0, .lower_first = 0, .count = 1}});
    ASSERT_TRUE(child.ok()) << "level " << level << ": " << child.status();
    ASSERT_EQ((*child)->level(), level);
    ns = *std::move(child);
  }
  EXPECT_FALSE(Child(ns, 0, {{.first = 0, .lower_first = 0, .count = 1}}).ok());
}

TEST(UserNamespaceTest, IsSameOrAncestorOfWalksTheParentChain) {
  const NsPtr init = UserNamespace::Initial();
  absl::StatusOr<NsPtr> a = Child(init, 1000, {{.first = 0, .lower_first = 1000, .count = 1}});
  absl::StatusOr<NsPtr> b = Child(init, 1000, {{.first = 0, .lower_first = 1000, .count = 1}});
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<NsPtr> a1 = Child(*a, 1000, {{.first = 0, .lower_first = 1000, .count = 1}});
  ASSERT_TRUE(a1.ok());
  EXPECT_TRUE(init->IsSameOrAncestorOf(*init));
  EXPECT_TRUE(init->IsSameOrAncestorOf(**a1));
  EXPECT_TRUE((*a)->IsSameOrAncestorOf(**a1));
  EXPECT_TRUE((*a1)->IsSameOrAncestorOf(**a1));
  EXPECT_FALSE((*a1)->IsSameOrAncestorOf(**a));
  EXPECT_FALSE((*a)->IsSameOrAncestorOf(*init));
  // Same maps, different namespace: identity, not content, decides.
  EXPECT_FALSE((*b)->IsSameOrAncestorOf(**a1));
}

}  // namespace
}  // namespace mqsentry::kernel
