// Tests for the DAC checks on mqueue inodes: generic_permission() when opening an existing
// queue (spec §3.6) or creating in the mqueue root (spec §3.1 step 6.3), and the sticky rule
// of mq_unlink (spec §4).
#include "kernel/permission.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "kernel/capabilities.h"
#include "kernel/credentials.h"
#include "kernel/ids.h"
#include "kernel/user_namespace.h"

namespace mqsentry::kernel {
namespace {

// spec §3.6: O_RDONLY asks MAY_READ, O_WRONLY MAY_WRITE, O_RDWR both; never MAY_EXEC.
constexpr int kRd = kMayRead;
constexpr int kWr = kMayWrite;
constexpr int kRdWr = kMayRead | kMayWrite;

InodeOwnership Queue(uint32_t uid, uint32_t gid, uint32_t mode) {
  return {.uid = KUid(uid), .gid = KGid(gid), .mode = mode, .is_directory = false};
}

InodeOwnership Dir(uint32_t uid, uint32_t gid, uint32_t mode) {
  return {.uid = KUid(uid), .gid = KGid(gid), .mode = mode, .is_directory = true};
}

Credentials UserWith(uint32_t uid, uint32_t gid, CapabilitySet caps) {
  Credentials c = Credentials::User(uid, gid);
  c.effective = c.permitted = caps;
  return c;
}

Credentials WithGroups(Credentials c, std::vector<KGid> groups) {
  c.groups = std::move(groups);
  return c;
}

// uid 0 with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped (spec §3.6 [E]).
Credentials RootWithoutDac() {
  Credentials c = Credentials::Root();
  c.effective.Remove(Capability::kDacOverride);
  c.effective.Remove(Capability::kDacReadSearch);
  return c;
}

// Root of a user namespace created by uid 1000 that maps 0..65535 to 100000..165535.
Credentials RootOfChildNamespace() {
  // Built while the test cases are registered, before any test runs: nothing to report to.
  absl::StatusOr<IdMap> map = IdMap::Create({{.first = 0, .lower_first = 100000, .count = 65536}});
  if (!map.ok()) std::abort();
  absl::StatusOr<std::shared_ptr<const UserNamespace>> ns =
      UserNamespace::Create(UserNamespace::Initial(), KUid(1000), KGid(1000), *map, *map, 819200);
  if (!ns.ok()) std::abort();
  Credentials c = UserWith(100000, 100000, CapabilitySet::Full());
  c.user_ns = *ns;
  return c;
}

struct PermissionCase {
  std::string name;
  Credentials cred;
  InodeOwnership inode;
  int mask;
  int expected;  // 0 or EACCES
};

// Failure messages show the case name instead of a byte dump.
void PrintTo(const PermissionCase& c, std::ostream* os) { *os << c.name; }

class GenericPermissionTest : public testing::TestWithParam<PermissionCase> {};

TEST_P(GenericPermissionTest, Decides) {
  const PermissionCase& c = GetParam();
  EXPECT_EQ(GenericPermission(c.cred, c.inode, c.mask), c.expected);
}

std::string CaseName(const testing::TestParamInfo<PermissionCase>& info) { return info.param.name; }

const CapabilitySet kNoCaps;
const CapabilitySet kDacOverride{Capability::kDacOverride};
const CapabilitySet kDacReadSearch{Capability::kDacReadSearch};

// spec §3.6: owner -> group -> other; the first class that matches decides.
INSTANTIATE_TEST_SUITE_P(
    Spec36ClassSelection, GenericPermissionTest,
    testing::Values(PermissionCase{"OwnerRdwrOn0600", Credentials::User(1000, 100),
                                   Queue(1000, 100, 0600), kRdWr, 0},
                    PermissionCase{"OwnerWriteOn0400IsDenied", Credentials::User(1000, 100),
                                   Queue(1000, 100, 0400), kWr, EACCES},
                    // No fall-through: the owner class has no read bit, group and other do.
                    PermissionCase{"OwnerDoesNotFallThroughToGroupOrOther",
                                   Credentials::User(1000, 100), Queue(1000, 100, 0066), kRd,
                                   EACCES},
                    // The [E] example: a caller whose gid matches a mode-004 queue is denied read.
                    PermissionCase{"GroupMatchOn0004DeniesRead", Credentials::User(2000, 100),
                                   Queue(1000, 100, 0004), kRd, EACCES},
                    PermissionCase{"SupplementaryGroupOn0004DeniesRead",
                                   WithGroups(Credentials::User(2000, 200), {KGid(100)}),
                                   Queue(1000, 100, 0004), kRd, EACCES},
                    PermissionCase{"GroupReadOn0040",
                                   WithGroups(Credentials::User(2000, 200), {KGid(100)}),
                                   Queue(1000, 100, 0040), kRd, 0},
                    PermissionCase{"GroupWriteOn0040IsDenied", Credentials::User(2000, 100),
                                   Queue(1000, 100, 0040), kWr, EACCES},
                    PermissionCase{"OtherReadOn0004", Credentials::User(2000, 200),
                                   Queue(1000, 100, 0004), kRd, 0},
                    PermissionCase{"OtherRdwrOn0004IsDenied", Credentials::User(2000, 200),
                                   Queue(1000, 100, 0004), kRdWr, EACCES},
                    PermissionCase{"OtherRdwrOn0666", Credentials::User(2000, 200),
                                   Queue(1000, 100, 0666), kRdWr, 0},
                    PermissionCase{"OwnerOfMode000IsDenied", Credentials::User(1000, 100),
                                   Queue(1000, 100, 0000), kRd, EACCES},
                    // Bits of the mask above rwx (MAY_APPEND, MAY_ACCESS, MAY_OPEN) do not matter.
                    PermissionCase{"ExtraMaskBitsAreIgnored", Credentials::User(1000, 100),
                                   Queue(1000, 100, 0600), kRdWr | 0x08 | 0x10 | 0x20, 0}),
    CaseName);

// spec §3.6 "Capability overrides".
INSTANTIATE_TEST_SUITE_P(
    Spec36Capabilities, GenericPermissionTest,
    testing::Values(
        PermissionCase{"DacOverrideGrantsRead", UserWith(2000, 200, kDacOverride),
                       Queue(1000, 100, 0), kRd, 0},
        PermissionCase{"DacOverrideGrantsWrite", UserWith(2000, 200, kDacOverride),
                       Queue(1000, 100, 0), kWr, 0},
        PermissionCase{"DacOverrideGrantsRdwr", UserWith(2000, 200, kDacOverride),
                       Queue(1000, 100, 0), kRdWr, 0},
        PermissionCase{"ReadSearchGrantsRead", UserWith(2000, 200, kDacReadSearch),
                       Queue(1000, 100, 0), kRd, 0},
        PermissionCase{"ReadSearchDoesNotGrantWrite", UserWith(2000, 200, kDacReadSearch),
                       Queue(1000, 100, 0), kWr, EACCES},
        PermissionCase{"ReadSearchDoesNotGrantRdwr", UserWith(2000, 200, kDacReadSearch),
                       Queue(1000, 100, 0), kRdWr, EACCES},
        PermissionCase{"RootWithBothDroppedIsDeniedRead", RootWithoutDac(), Queue(12345, 12345, 0),
                       kRd, EACCES},
        PermissionCase{"RootWithBothDroppedIsDeniedWrite", RootWithoutDac(),
                       Queue(12345, 12345, 0600), kWr, EACCES},
        PermissionCase{"RootWithBothDroppedIsDeniedOnItsOwnMode000Queue", RootWithoutDac(),
                       Queue(0, 0, 0), kRdWr, EACCES},
        PermissionCase{"RootRdwrOnMode000", Credentials::Root(), Queue(12345, 12345, 0), kRdWr, 0},
        // Exec is overridable only if some x bit is set (never asked by mq_open).
        PermissionCase{"DacOverrideExecNeedsAnXBit", UserWith(2000, 200, kDacOverride),
                       Queue(1000, 100, 0600), kMayExec, EACCES},
        PermissionCase{"DacOverrideExecWithAnXBit", UserWith(2000, 200, kDacOverride),
                       Queue(1000, 100, 0100), kMayExec, 0},
        PermissionCase{"ReadSearchGrantsNoExecOnFiles", UserWith(2000, 200, kDacReadSearch),
                       Queue(1000, 100, 0111), kRd | kMayExec, EACCES}),
    CaseName);

// spec §3.6: the capabilities count only in the caller's namespace, over an inode whose uid
// and gid are mapped there.
INSTANTIATE_TEST_SUITE_P(
    Spec36Namespaces, GenericPermissionTest,
    testing::Values(PermissionCase{"ChildRootOverridesAMappedQueue", RootOfChildNamespace(),
                                   Queue(100005, 100005, 0), kRdWr, 0},
                    PermissionCase{"ChildRootIsDeniedWhenTheUidIsUnmapped", RootOfChildNamespace(),
                                   Queue(12345, 100005, 0), kRdWr, EACCES},
                    PermissionCase{"ChildRootIsDeniedWhenTheGidIsUnmapped", RootOfChildNamespace(),
                                   Queue(100005, 12345, 0), kRd, EACCES},
                    // Plain DAC needs no mapping: the other class applies to everyone.
                    PermissionCase{"ChildRootGetsOtherBitsOfAnUnmappedQueue",
                                   RootOfChildNamespace(), Queue(12345, 12345, 0004), kRd, 0}),
    CaseName);

// Directories: the mqueue root (spec §3.1 step 6.3, §4 step 5) and generic_permission's
// directory branch.
INSTANTIATE_TEST_SUITE_P(
    Directories, GenericPermissionTest,
    testing::Values(
        // The 1777 root passes may_create/may_delete's write+exec check for plain DAC.
        PermissionCase{"MqueueRootAllowsWriteSearchToAnyone", Credentials::User(2000, 200),
                       Dir(0, 0, 01777), kMayWrite | kMayExec, 0},
        PermissionCase{"ReadSearchGrantsReadAndSearchOnDirectories",
                       UserWith(2000, 200, kDacReadSearch), Dir(0, 0, 0700), kMayRead | kMayExec,
                       0},
        PermissionCase{"ReadSearchGrantsNoWriteOnDirectories", UserWith(2000, 200, kDacReadSearch),
                       Dir(0, 0, 0700), kMayWrite | kMayExec, EACCES},
        // Directories are always overridable, even for search without any x bit.
        PermissionCase{"DacOverrideGrantsWriteSearchWithoutXBits",
                       UserWith(2000, 200, kDacOverride), Dir(0, 0, 0600), kMayWrite | kMayExec,
                       0}),
    CaseName);

// ---- spec §4: the sticky rule of mq_unlink (may_delete on the 1777 root) ----

const InodeOwnership kInitialRoot = Dir(0, 0, 01777);  // the initial namespace's root

TEST(CheckStickyTest, NonStickyDirectoryLetsAnyoneRemove) {
  EXPECT_EQ(
      CheckSticky(Credentials::User(23456, 23456), Dir(0, 0, 0777), Queue(12345, 12345, 0666)), 0);
}

TEST(CheckStickyTest, QueueOwnerMayUnlink) {
  EXPECT_EQ(CheckSticky(Credentials::User(12345, 1), kInitialRoot, Queue(12345, 12345, 0)), 0);
}

// The [E] case: a raw mq_unlink from uid 23456 of a mode-0666 queue owned by 12345.
TEST(CheckStickyTest, AnyoneElseGetsEperm) {
  EXPECT_EQ(CheckSticky(Credentials::User(23456, 23456), kInitialRoot, Queue(12345, 12345, 0666)),
            EPERM);
}

// Only the fsuid counts: a matching group or a matching euid does not help.
TEST(CheckStickyTest, GroupOrEuidMatchIsNotEnough) {
  Credentials c = Credentials::User(23456, 12345);
  c.euid = c.ruid = KUid(12345);
  EXPECT_EQ(CheckSticky(c, kInitialRoot, Queue(12345, 12345, 0666)), EPERM);
}

// An IPC namespace created by uid 1000 has a root directory owned by kuid 1000, so that
// user can unlink anybody's queue there.
TEST(CheckStickyTest, RootDirectoryOwnerMayUnlinkAnyQueue) {
  EXPECT_EQ(
      CheckSticky(Credentials::User(1000, 1000), Dir(1000, 1000, 01777), Queue(12345, 12345, 0600)),
      0);
}

// The [E] case: uid 0 with DAC_OVERRIDE, DAC_READ_SEARCH and FOWNER dropped unlinks a queue
// owned by 12345, because it owns the initial namespace's root directory.
TEST(CheckStickyTest, UidZeroWithoutCapabilitiesOwnsTheInitialRoot) {
  Credentials root = RootWithoutDac();
  root.effective.Remove(Capability::kFowner);
  EXPECT_EQ(CheckSticky(root, kInitialRoot, Queue(12345, 12345, 0)), 0);
  // ...but not in a namespace whose root belongs to someone else.
  EXPECT_EQ(CheckSticky(root, Dir(1000, 1000, 01777), Queue(12345, 12345, 0)), EPERM);
}

TEST(CheckStickyTest, CapFownerMayUnlinkInADirectoryItDoesNotOwn) {
  const Credentials fowner = UserWith(23456, 23456, CapabilitySet{Capability::kFowner});
  EXPECT_EQ(CheckSticky(fowner, Dir(1000, 1000, 01777), Queue(12345, 12345, 0)), 0);
  EXPECT_EQ(CheckSticky(UserWith(23456, 23456, kDacOverride), Dir(1000, 1000, 01777),
                        Queue(12345, 12345, 0)),
            EPERM);  // DAC_OVERRIDE is not FOWNER
}

// CAP_FOWNER counts only over a queue whose uid and gid the caller's namespace maps.
TEST(CheckStickyTest, CapFownerNeedsTheQueuesIdsMapped) {
  const Credentials child_root = RootOfChildNamespace();
  const InodeOwnership root_dir = Dir(1000, 1000, 01777);
  EXPECT_EQ(CheckSticky(child_root, root_dir, Queue(100005, 100005, 0)), 0);
  EXPECT_EQ(CheckSticky(child_root, root_dir, Queue(12345, 100005, 0)), EPERM);
  EXPECT_EQ(CheckSticky(child_root, root_dir, Queue(100005, 12345, 0)), EPERM);
}

}  // namespace
}  // namespace mqsentry::kernel
