// Conformance tests for the permission check when opening an existing queue (spec §3.6) and
// for the owner of a new queue (§3.3): owner/group/other class selection without
// fall-through, CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, uid 0 without capabilities, and
// fsuid/fsgid as the identity that owns and opens queues.
//
// Queues are created by a child running as the owning user; each open is attempted in a
// child that has switched to the user (or dropped capabilities) under test.
#include <fcntl.h>
#include <linux/capability.h>
#include <mqueue.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/util/mq_test_util.h"

namespace mqsentry::testing {
namespace {

constexpr uid_t kOwner = 12345;
constexpr gid_t kGroup = 12345;
constexpr uid_t kOther = 23456;

struct Who {
  uid_t uid;
  gid_t gid;
  std::vector<gid_t> groups;
};

const Who kOwnerUser = {kOwner, kGroup, {}};
const Who kGroupMember = {kOther, kGroup, {}};
const Who kSupplementaryMember = {kOther, 999, {kGroup}};
const Who kStranger = {kOther, kOther, {}};

// Opens name with oflag in a child running as `who`; returns 0 on success, else the errno
// (or 200+ if the child could not be set up).
int OpenErrnoAs(const Who& who, const std::string& name, int oflag) {
  return RunInChild([&]() -> int {
    if (SwitchToUser(who.uid, who.gid, who.groups) != 0) return 200;
    const int fd = RawMqOpen(name.c_str(), oflag);
    return fd >= 0 ? 0 : errno;
  });
}

// Opens name with oflag in a child that stays uid 0 but drops `caps`.
int OpenErrnoWithoutCaps(std::initializer_list<int> caps, const std::string& name, int oflag) {
  return RunInChild([&]() -> int {
    if (DropCapabilities(caps) != 0) return 201;
    for (int cap : caps) {
      if (HaveEffectiveCapability(cap)) return 202;
    }
    const int fd = RawMqOpen(name.c_str(), oflag);
    return fd >= 0 ? 0 : errno;
  });
}

// A queue owned by kOwner:kGroup with the given mode, unlinked at the end of the test.
class OwnedQueue {
 public:
  explicit OwnedQueue(mode_t mode) : name_(UniqueName()), cleanup_(name_) {
    status_ = CreateQueueAs(kOwner, kGroup, name_, mode);
  }
  const std::string& name() const { return name_; }
  int status() const { return status_; }

 private:
  std::string name_;
  QueueCleanup cleanup_;
  int status_;
};

// ---- Class selection (§3.6) ----

// §3.6: "O_RDONLY asks for MAY_READ; O_WRONLY asks for MAY_WRITE; O_RDWR asks for both" --
// the owner class.
TEST(MqPermissions, OwnerClassDecidesForTheOwner_Spec3_6) {
  OwnedQueue r(0400), w(0200), rw(0600);
  ASSERT_CHILD_OK(r.status());
  ASSERT_CHILD_OK(w.status());
  ASSERT_CHILD_OK(rw.status());
  EXPECT_EQ(OpenErrnoAs(kOwnerUser, r.name(), O_RDONLY), 0);
  EXPECT_EQ(OpenErrnoAs(kOwnerUser, r.name(), O_WRONLY), EACCES);
  EXPECT_EQ(OpenErrnoAs(kOwnerUser, r.name(), O_RDWR), EACCES);
  EXPECT_EQ(OpenErrnoAs(kOwnerUser, w.name(), O_WRONLY), 0);
  EXPECT_EQ(OpenErrnoAs(kOwnerUser, w.name(), O_RDONLY), EACCES);
  EXPECT_EQ(OpenErrnoAs(kOwnerUser, w.name(), O_RDWR), EACCES);
  EXPECT_EQ(OpenErrnoAs(kOwnerUser, rw.name(), O_RDWR), 0);
}

// §3.6: the group class for a caller whose gid matches.
TEST(MqPermissions, GroupClassDecidesForGroupMembers_Spec3_6) {
  OwnedQueue r(0040), rw(0060);
  ASSERT_CHILD_OK(r.status());
  ASSERT_CHILD_OK(rw.status());
  EXPECT_EQ(OpenErrnoAs(kGroupMember, r.name(), O_RDONLY), 0);
  EXPECT_EQ(OpenErrnoAs(kGroupMember, r.name(), O_WRONLY), EACCES);
  EXPECT_EQ(OpenErrnoAs(kGroupMember, rw.name(), O_RDWR), 0);
  EXPECT_EQ(OpenErrnoAs(kStranger, rw.name(), O_RDONLY), EACCES);
}

// §3.6: a supplementary group selects the group class as well.
TEST(MqPermissions, SupplementaryGroupSelectsGroupClass_Spec3_6) {
  OwnedQueue q(0040);
  ASSERT_CHILD_OK(q.status());
  EXPECT_EQ(OpenErrnoAs(kSupplementaryMember, q.name(), O_RDONLY), 0);
  EXPECT_EQ(OpenErrnoAs(kSupplementaryMember, q.name(), O_WRONLY), EACCES);
}

// §3.6: the other class for everybody else.
TEST(MqPermissions, OtherClassDecidesForStrangers_Spec3_6) {
  OwnedQueue r(0004), w(0002);
  ASSERT_CHILD_OK(r.status());
  ASSERT_CHILD_OK(w.status());
  EXPECT_EQ(OpenErrnoAs(kStranger, r.name(), O_RDONLY), 0);
  EXPECT_EQ(OpenErrnoAs(kStranger, r.name(), O_WRONLY), EACCES);
  EXPECT_EQ(OpenErrnoAs(kStranger, w.name(), O_WRONLY), 0);
  EXPECT_EQ(OpenErrnoAs(kStranger, w.name(), O_RDWR), EACCES);
}

// §3.6: "the first class that matches decides, with no fall-through" -- an owner is denied
// what group and other may do.
TEST(MqPermissions, NoFallThroughFromTheOwnerClass_Spec3_6) {
  OwnedQueue q(0077);
  ASSERT_CHILD_OK(q.status());
  EXPECT_EQ(OpenErrnoAs(kOwnerUser, q.name(), O_RDONLY), EACCES);
  EXPECT_EQ(OpenErrnoAs(kOwnerUser, q.name(), O_WRONLY), EACCES);
  EXPECT_EQ(OpenErrnoAs(kGroupMember, q.name(), O_RDWR), 0);
  EXPECT_EQ(OpenErrnoAs(kStranger, q.name(), O_RDWR), 0);
}

// §3.6: "For example, a caller whose gid matches the group of a mode-004 queue is denied
// read."
TEST(MqPermissions, NoFallThroughFromTheGroupClass_Spec3_6) {
  OwnedQueue q(0004);
  ASSERT_CHILD_OK(q.status());
  EXPECT_EQ(OpenErrnoAs(kGroupMember, q.name(), O_RDONLY), EACCES);
  EXPECT_EQ(OpenErrnoAs(kSupplementaryMember, q.name(), O_RDONLY), EACCES);
  EXPECT_EQ(OpenErrnoAs(kStranger, q.name(), O_RDONLY), 0);
}

// §3.6: "No exec bit is ever requested" -- and the exec bit grants nothing.
TEST(MqPermissions, ExecBitIsIrrelevant_Spec3_6) {
  OwnedQueue x(0111), rw(0666);
  ASSERT_CHILD_OK(x.status());
  ASSERT_CHILD_OK(rw.status());
  for (const Who& who : {kOwnerUser, kGroupMember, kStranger}) {
    EXPECT_EQ(OpenErrnoAs(who, x.name(), O_RDONLY), EACCES);
    EXPECT_EQ(OpenErrnoAs(who, x.name(), O_WRONLY), EACCES);
    EXPECT_EQ(OpenErrnoAs(who, rw.name(), O_RDWR), 0);
  }
}

// §3.1 step 7: EEXIST (7.1) and the access-mode EINVAL (7.2) come before the permission
// check (7.3); O_CREAT on an existing queue still needs permission.
TEST(MqPermissions, EexistAndEinvalComeBeforeEacces_Spec3_1) {
  OwnedQueue q(0);
  ASSERT_CHILD_OK(q.status());
  EXPECT_EQ(OpenErrnoAs(kStranger, q.name(), O_RDWR | O_CREAT | O_EXCL), EEXIST);
  EXPECT_EQ(OpenErrnoAs(kStranger, q.name(), 3), EINVAL);
  EXPECT_EQ(OpenErrnoAs(kStranger, q.name(), O_RDONLY | O_CREAT), EACCES);
}

// §3.1 step 6.3: creating needs write+exec on the 1777 root directory, which every user
// has: an unprivileged user creates queues, and owns them.
TEST(MqPermissions, UnprivilegedUsersCanCreateQueues_Spec3_3) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  ASSERT_CHILD_OK(CreateQueueAs(kOther, 777, name, 0640));
  ScopedFd fd(RawMqOpen(name.c_str(), O_RDONLY));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_uid, kOther);
  // "The group is not inherited from the directory": it is the creator's fsgid.
  EXPECT_EQ(st.st_gid, 777u);
  EXPECT_EQ(st.st_mode, static_cast<mode_t>(S_IFREG | 0640));
}

// ---- Capabilities (§3.6) ----

// §3.6: "CAP_DAC_OVERRIDE grants read and write."
TEST(MqPermissions, DacOverrideGrantsReadAndWrite_Spec3_6) {
  OwnedQueue q(0);
  ASSERT_CHILD_OK(q.status());
  // Root with every capability except CAP_DAC_READ_SEARCH.
  EXPECT_EQ(OpenErrnoWithoutCaps({CAP_DAC_READ_SEARCH}, q.name(), O_RDWR), 0);
  EXPECT_EQ(OpenErrnoWithoutCaps({CAP_DAC_READ_SEARCH}, q.name(), O_WRONLY), 0);
  EXPECT_EQ(OpenErrnoWithoutCaps({CAP_DAC_READ_SEARCH}, q.name(), O_RDONLY), 0);
}

// §3.6: "CAP_DAC_READ_SEARCH grants read only. With DAC_OVERRIDE dropped but READ_SEARCH
// kept, O_RDONLY on a mode-000 queue succeeds and O_WRONLY/O_RDWR give EACCES."
TEST(MqPermissions, DacReadSearchGrantsOnlyRead_Spec3_6) {
  OwnedQueue q(0);
  ASSERT_CHILD_OK(q.status());
  EXPECT_EQ(OpenErrnoWithoutCaps({CAP_DAC_OVERRIDE}, q.name(), O_RDONLY), 0);
  EXPECT_EQ(OpenErrnoWithoutCaps({CAP_DAC_OVERRIDE}, q.name(), O_WRONLY), EACCES);
  EXPECT_EQ(OpenErrnoWithoutCaps({CAP_DAC_OVERRIDE}, q.name(), O_RDWR), EACCES);
}

// §3.6: "With both dropped, every mode gives EACCES, even for uid 0."
TEST(MqPermissions, Uid0WithoutDacCapabilitiesIsDenied_Spec3_6) {
  OwnedQueue q(0);
  ASSERT_CHILD_OK(q.status());
  for (int oflag : {O_RDONLY, O_WRONLY, O_RDWR}) {
    EXPECT_EQ(OpenErrnoWithoutCaps({CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH}, q.name(), oflag),
              EACCES);
  }
  // uid 0 is then an ordinary "other" for this queue.
  OwnedQueue readable(0004);
  ASSERT_CHILD_OK(readable.status());
  EXPECT_EQ(
      OpenErrnoWithoutCaps({CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH}, readable.name(), O_RDONLY), 0);
  EXPECT_EQ(
      OpenErrnoWithoutCaps({CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH}, readable.name(), O_WRONLY),
      EACCES);
}

// §3.6 without capabilities, uid 0 owning a queue is in the owner class like anyone else.
TEST(MqPermissions, Uid0OwnerWithoutCapabilitiesUsesOwnerClass_Spec3_6) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  const mode_t old_umask = umask(0);
  ScopedFd fd(RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0407));
  umask(old_umask);
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  const std::initializer_list<int> caps = {CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH};
  EXPECT_EQ(OpenErrnoWithoutCaps(caps, name, O_RDONLY), 0);
  // Not write, although "other" (07) would allow it: no fall-through.
  EXPECT_EQ(OpenErrnoWithoutCaps(caps, name, O_WRONLY), EACCES);
}

// §3.3: "The creator gets the fd regardless of the mode bits ... no permission check is
// made on a newly created inode", even without any capability.
TEST(MqPermissions, CreatorWithoutCapabilitiesGetsRdwrFd_Spec3_3) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK_OK(DropCapabilities({CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH}));
    const mq_attr attr = MakeAttr(1, 8);
    const int fd = RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0, &attr);
    CHILD_CHECK_OK(fd);
    CHILD_CHECK_OK(RawMqTimedSend(fd, "c", 1, 0, nullptr));
    char buf[8];
    CHILD_CHECK_EQ(RawMqTimedReceive(fd, buf, sizeof(buf), nullptr, nullptr), 1);
    CHILD_CHECK_ERRNO(RawMqOpen(name.c_str(), O_RDONLY), EACCES);
    return 0;
  }));
}

// ---- fsuid / fsgid ----

// §3.3: "The owner is fsuid/fsgid. A queue created with fsuid 4242 and fsgid 4343 (while
// ruid was 0) is owned by 4242:4343." (§11.21: not the euid, as the man page says.)
TEST(MqPermissions, NewQueueIsOwnedByFsuidAndFsgid_Spec3_3) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK_OK(syscall(SYS_setfsgid, 4343));
    CHILD_CHECK_OK(syscall(SYS_setfsuid, 4242));
    CHILD_CHECK_EQ(syscall(SYS_setfsuid, -1), 4242L);
    CHILD_CHECK_EQ(syscall(SYS_setfsgid, -1), 4343L);
    CHILD_CHECK_EQ(geteuid(), 0u);
    const int fd = RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    CHILD_CHECK_OK(fd);
    struct stat st;
    CHILD_CHECK_OK(fstat(fd, &st));
    CHILD_CHECK_EQ(st.st_uid, 4242u);
    CHILD_CHECK_EQ(st.st_gid, 4343u);
    return 0;
  }));
  ScopedFd fd(RawMqOpen(name.c_str(), O_RDONLY));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_uid, 4242u);
  EXPECT_EQ(st.st_gid, 4343u);
}

// The permission check uses the fsuid as well: euid 0 with fsuid 12345 is the owner of a
// mode-0400 queue (and has lost CAP_DAC_* from its effective set by the fsuid change).
TEST(MqPermissions, PermissionCheckUsesFsuid_Spec3_6) {
  OwnedQueue q(0400);
  ASSERT_CHILD_OK(q.status());
  auto open_with_fsuid = [&](uid_t fsuid, int oflag) {
    return RunInChild([&]() -> int {
      if (syscall(SYS_setfsuid, fsuid) < 0 || syscall(SYS_setfsuid, -1) != fsuid) return 200;
      if (HaveEffectiveCapability(CAP_DAC_OVERRIDE)) return 201;
      const int fd = RawMqOpen(q.name().c_str(), oflag);
      return fd >= 0 ? 0 : errno;
    });
  };
  EXPECT_EQ(open_with_fsuid(kOwner, O_RDONLY), 0);
  EXPECT_EQ(open_with_fsuid(kOwner, O_WRONLY), EACCES);
  EXPECT_EQ(open_with_fsuid(kOther, O_RDONLY), EACCES);
}

}  // namespace
}  // namespace mqsentry::testing
