// Tests of the mq registry of one IPC namespace: mq_open and mq_unlink check order,
// attributes and limits, permissions, accounting and queue lifetime (spec §3, §4, §9).
#include "ipc/ipc_namespace.h"

#include <cerrno>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "ipc/test_events.h"
#include "kernel/abi.h"
#include "kernel/capabilities.h"
#include "kernel/credentials.h"
#include "kernel/user_namespace.h"

namespace mqsentry::ipc {
namespace {

namespace abi = kernel::abi;
using kernel::Capability;
using kernel::CapabilitySet;
using kernel::Credentials;
using kernel::IdMap;
using kernel::KGid;
using kernel::KUid;
using kernel::UserNamespace;

constexpr int kRdwrCreat = abi::kORdwr | abi::kOCreat;

class IpcNamespaceTest : public testing::Test {
 protected:
  IpcNamespaceTest() { Reset(); }

  void Reset(MqSysctls sysctls = {}, KUid root_uid = KUid(0), KGid root_gid = KGid(0),
             std::shared_ptr<const UserNamespace> owner = UserNamespace::Initial()) {
    limits_ = std::make_shared<StaticLimits>(sysctls);
    accounting_ = std::make_shared<UserAccounting>();
    IpcNamespace::Options o;
    o.id = 1;
    o.owner_user_ns = std::move(owner);
    o.root_uid = root_uid;
    o.root_gid = root_gid;
    o.limits = limits_;
    o.accounting = accounting_;
    o.events = &events_;
    ns_ = std::make_unique<IpcNamespace>(std::move(o));
  }

  // Root without CAP_SYS_RESOURCE, as on the machine the spec was measured on.
  static Credentials Root() {
    Credentials c = Credentials::Root();
    c.effective.Remove(Capability::kSysResource);
    c.permitted.Remove(Capability::kSysResource);
    return c;
  }
  static Credentials User(uint32_t uid) { return Credentials::User(uid, uid); }

  static abi::MqAttr Attr(int64_t maxmsg, int64_t msgsize) {
    abi::MqAttr a{};
    a.mq_maxmsg = maxmsg;
    a.mq_msgsize = msgsize;
    return a;
  }

  int OpenErr(const Credentials& c, const std::string& name, int oflag, uint32_t mode = 0600,
              const abi::MqAttr* attr = nullptr) {
    OpenOutcome o = ns_->Open(c, name, oflag, mode, attr);
    if (o.result.ok()) ns_->ReleaseDescription(o.inode);
    return o.result.error();
  }

  void Send(Queue& q, uint32_t prio, const std::string& payload) {
    SendRequest r;
    r.priority = prio;
    r.payload = payload;
    r.nonblocking = true;
    ASSERT_TRUE(q.Send(std::move(r)).result.ok());
  }

  RecordingEvents events_;
  std::shared_ptr<StaticLimits> limits_;
  std::shared_ptr<UserAccounting> accounting_;
  std::unique_ptr<IpcNamespace> ns_;
};

// ---- Names (spec §3.2, §3.1 step 5) ----

struct NameCase {
  std::string name;
  int err;
};

class QueueNameTest : public testing::TestWithParam<NameCase> {};

TEST_P(QueueNameTest, LookupChecks_Spec3_2) {
  EXPECT_EQ(CheckQueueName(GetParam().name), GetParam().err);
}

INSTANTIATE_TEST_SUITE_P(
    Spec3_2, QueueNameTest,
    testing::Values(NameCase{"", ENOENT}, NameCase{".", EACCES}, NameCase{"..", EACCES},
                    NameCase{"a/b", EACCES}, NameCase{"/x", EACCES}, NameCase{"a/", EACCES},
                    NameCase{std::string(255, 'a'), 0},
                    NameCase{std::string(256, 'a'), ENAMETOOLONG},
                    NameCase{std::string(4095, 'a'), ENAMETOOLONG},
                    // '/' is checked before the length.
                    NameCase{std::string(255, 'a') + "/", EACCES}, NameCase{"...", 0},
                    NameCase{" ", 0}, NameCase{"a\nb", 0}, NameCase{"\xff", 0},
                    NameCase{".a", 0}, NameCase{"..a", 0}));

TEST_F(IpcNamespaceTest, OpenAndUnlinkApplyNameChecks_Spec3_1_Step5) {
  EXPECT_EQ(OpenErr(Root(), ".", kRdwrCreat), EACCES);
  EXPECT_EQ(OpenErr(Root(), "..", abi::kORdonly), EACCES);
  EXPECT_EQ(OpenErr(Root(), std::string(256, 'q'), kRdwrCreat), ENAMETOOLONG);
  EXPECT_EQ(ns_->Unlink(Root(), "..").error(), EACCES);
  EXPECT_EQ(ns_->Unlink(Root(), std::string(300, 'q')).error(), ENAMETOOLONG);
  EXPECT_EQ(ns_->Unlink(Root(), "").error(), ENOENT);
  EXPECT_EQ(ns_->queues_count(), 0u);
}

// ---- Creation (spec §3.1 step 6, §3.3, §3.4) ----

TEST_F(IpcNamespaceTest, MissingWithoutCreatIsEnoent_Spec3_1_Step6_1) {
  EXPECT_EQ(OpenErr(Root(), "q", abi::kORdwr), ENOENT);
}

TEST_F(IpcNamespaceTest, DefaultAttributes_Spec3_4) {
  OpenOutcome o = ns_->Open(Root(), "q", kRdwrCreat, 0600, nullptr);
  ASSERT_TRUE(o.result.ok());
  EXPECT_TRUE(o.created);
  EXPECT_EQ(o.inode->queue().attributes().maxmsg, 10);
  EXPECT_EQ(o.inode->queue().attributes().msgsize, 8192);
}

TEST_F(IpcNamespaceTest, DefaultsAreCappedByMaxima_Spec3_4) {
  MqSysctls s;
  s.msg_max = 3;
  s.msg_default = 2;
  s.msgsize_max = 200;
  s.msgsize_default = 150;
  Reset(s);
  OpenOutcome o = ns_->Open(Root(), "q", kRdwrCreat, 0600, nullptr);
  ASSERT_TRUE(o.result.ok());
  EXPECT_EQ(o.inode->queue().attributes().maxmsg, 2);
  EXPECT_EQ(o.inode->queue().attributes().msgsize, 150);

  s = {};
  s.msg_default = 50;
  s.msgsize_default = 100000;
  s.msgsize_max = 8192;
  Reset(s);
  o = ns_->Open(Root(), "q", kRdwrCreat, 0600, nullptr);
  ASSERT_TRUE(o.result.ok());
  EXPECT_EQ(o.inode->queue().attributes().maxmsg, 10);
  EXPECT_EQ(o.inode->queue().attributes().msgsize, 8192);
}

TEST_F(IpcNamespaceTest, LimitsAreReadAtEveryOpen_Spec9_2) {
  MqSysctls s;
  s.msg_max = 64;
  limits_->Set(s);
  abi::MqAttr a = Attr(64, 100);
  EXPECT_EQ(OpenErr(Root(), "q", kRdwrCreat, 0600, &a), 0);
}

struct AttrCase {
  int64_t maxmsg, msgsize;
  int err;
};

class AttrValidationTest : public IpcNamespaceTest, public testing::WithParamInterface<AttrCase> {};

// spec §3.4: <= 0 -> EINVAL; > msg_max/msgsize_max -> EINVAL (64-bit compare).
TEST_P(AttrValidationTest, UnprivilegedLimits_Spec3_4) {
  abi::MqAttr a = Attr(GetParam().maxmsg, GetParam().msgsize);
  EXPECT_EQ(OpenErr(Root(), "q", kRdwrCreat, 0600, &a), GetParam().err);
  EXPECT_EQ(ns_->queues_count(), GetParam().err == 0 ? 1u : 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Spec3_4, AttrValidationTest,
    testing::Values(AttrCase{1, 1, 0}, AttrCase{10, 8192, 0}, AttrCase{0, 10, EINVAL},
                    AttrCase{10, 0, EINVAL}, AttrCase{-1, 10, EINVAL}, AttrCase{10, -1, EINVAL},
                    AttrCase{11, 10, EINVAL}, AttrCase{10, 8193, EINVAL},
                    AttrCase{4294967297, 10, EINVAL}, AttrCase{10, 4294967297, EINVAL},
                    AttrCase{INT64_MIN, 1, EINVAL}));

TEST_F(IpcNamespaceTest, AttrFlagsAndCurmsgsAreIgnored_Spec3_4) {
  abi::MqAttr a = Attr(5, 50);
  a.mq_flags = abi::kONonblock;
  a.mq_curmsgs = 3;
  a.reserved[0] = 77;
  OpenOutcome o = ns_->Open(Root(), "q", kRdwrCreat, 0600, &a);
  ASSERT_TRUE(o.result.ok());
  abi::MqAttr got = o.inode->queue().Attributes(o.file_flags);
  EXPECT_EQ(got.mq_flags, 0);
  EXPECT_EQ(got.mq_maxmsg, 5);
  EXPECT_EQ(got.mq_msgsize, 50);
  EXPECT_EQ(got.mq_curmsgs, 0);
  EXPECT_EQ(got.reserved[0], 0);
}

// spec §3.4 [S]: with CAP_SYS_RESOURCE in the initial namespace, the hard limits apply.
TEST_F(IpcNamespaceTest, CapSysResourceUsesHardLimits_Spec3_4) {
  Credentials c = Credentials::Root();
  c.rlimit_msgqueue = Credentials::kRlimInfinity;
  abi::MqAttr a = Attr(65536, 1);
  EXPECT_EQ(OpenErr(c, "a", kRdwrCreat, 0600, &a), 0);
  a = Attr(65537, 1);
  EXPECT_EQ(OpenErr(c, "b", kRdwrCreat, 0600, &a), EINVAL);
  a = Attr(1, 16777216);
  EXPECT_EQ(OpenErr(c, "c", kRdwrCreat, 0600, &a), 0);
  a = Attr(1, 16777217);
  EXPECT_EQ(OpenErr(c, "d", kRdwrCreat, 0600, &a), EINVAL);
}

// spec §3.4: root with every capability inside a child user namespace is still limited.
TEST_F(IpcNamespaceTest, CapabilitiesInChildUserNsDoNotLiftLimits_Spec3_4) {
  auto child = UserNamespace::Create(UserNamespace::Initial(), KUid(1000), KGid(1000),
                                     *IdMap::Create({{0, 1000, 1}}),
                                     *IdMap::Create({{0, 1000, 1}}), abi::kMqBytesMax);
  ASSERT_TRUE(child.ok());
  Reset({}, KUid(1000), KGid(1000), *child);
  Credentials c = Credentials::User(1000, 1000);
  c.user_ns = *child;
  c.effective = c.permitted = CapabilitySet::Full();
  abi::MqAttr a = Attr(11, 10);
  EXPECT_EQ(OpenErr(c, "q", kRdwrCreat, 0600, &a), EINVAL);
  MqSysctls s;
  s.queues_max = 1;
  limits_->Set(s);
  EXPECT_EQ(OpenErr(c, "q1", kRdwrCreat), 0);
  EXPECT_EQ(OpenErr(c, "q2", kRdwrCreat), ENOSPC);
}

// spec §3.1 step 6.6: queues_max, unsigned, before attribute validation.
TEST_F(IpcNamespaceTest, QueuesMaxComesBeforeAttributeValidation_Spec3_1_Step6_6) {
  MqSysctls s;
  s.queues_max = 2;
  Reset(s);
  EXPECT_EQ(OpenErr(Root(), "a", kRdwrCreat), 0);
  EXPECT_EQ(OpenErr(Root(), "b", kRdwrCreat), 0);
  EXPECT_EQ(OpenErr(Root(), "c", kRdwrCreat), ENOSPC);
  abi::MqAttr bad = Attr(0, 0);
  EXPECT_EQ(OpenErr(Root(), "c", kRdwrCreat, 0600, &bad), ENOSPC);
  // Opening an existing queue is not a creation.
  EXPECT_EQ(OpenErr(Root(), "a", abi::kORdwr), 0);
}

TEST_F(IpcNamespaceTest, QueuesMaxZeroForbidsAndMinusOneUnlimited_Spec9_2) {
  MqSysctls s;
  s.queues_max = 0;
  Reset(s);
  EXPECT_EQ(OpenErr(Root(), "a", kRdwrCreat), ENOSPC);
  s.queues_max = -1;
  limits_->Set(s);
  Credentials c = Root();
  c.rlimit_msgqueue = Credentials::kRlimInfinity;
  for (int i = 0; i < 300; ++i) ASSERT_EQ(OpenErr(c, "q" + std::to_string(i), kRdwrCreat), 0);
  EXPECT_EQ(ns_->queues_count(), 300u);
}

TEST_F(IpcNamespaceTest, CapSysResourceBypassesQueuesMax_Spec3_1_Step6_6) {
  MqSysctls s;
  s.queues_max = 0;
  Reset(s);
  EXPECT_EQ(OpenErr(Credentials::Root(), "a", kRdwrCreat), 0);
}

// spec §3.4 step 4 / §11.7: EINVAL is reported before EMFILE.
TEST_F(IpcNamespaceTest, EinvalBeforeEmfile_Spec3_4) {
  Credentials c = User(1000);
  c.rlimit_msgqueue = 0;
  abi::MqAttr a = Attr(0, 10);
  EXPECT_EQ(OpenErr(c, "q", kRdwrCreat, 0600, &a), EINVAL);
  a = Attr(1, 1);
  EXPECT_EQ(OpenErr(c, "q", kRdwrCreat, 0600, &a), EMFILE);
  EXPECT_EQ(ns_->queues_count(), 0u) << "a failed creation gives its slot back";
}

TEST_F(IpcNamespaceTest, TenthDefaultQueueIsEmfile_Spec3_5) {
  Credentials c = User(1000);
  for (int i = 0; i < 9; ++i) ASSERT_EQ(OpenErr(c, "q" + std::to_string(i), kRdwrCreat), 0);
  EXPECT_EQ(OpenErr(c, "q9", kRdwrCreat), EMFILE);
  EXPECT_EQ(OpenErr(User(1001), "other", kRdwrCreat), 0) << "another user has its own counter";
}

// spec §3.5: released only when unlinked AND the last descriptor is closed.
TEST_F(IpcNamespaceTest, ChargeAndSlotReleasedOnlyWhenUnlinkedAndClosed_Spec3_5) {
  Credentials c = User(1000);
  const uint64_t cost = *QueueCost(10, 8192);
  OpenOutcome o = ns_->Open(c, "q", kRdwrCreat, 0600, nullptr);
  ASSERT_TRUE(o.result.ok());
  ns_->ReleaseDescription(o.inode);
  EXPECT_EQ(accounting_->Usage(*UserNamespace::Initial(), KUid(1000)), cost)
      << "closed but linked keeps the charge";
  o = ns_->Open(c, "q", abi::kORdwr, 0, nullptr);
  ASSERT_TRUE(o.result.ok());
  ASSERT_TRUE(ns_->Unlink(c, "q").ok());
  EXPECT_EQ(accounting_->Usage(*UserNamespace::Initial(), KUid(1000)), cost)
      << "unlinked but open keeps the charge";
  EXPECT_EQ(ns_->queues_count(), 1u) << "unlinked but open still counts toward queues_max";
  ns_->ReleaseDescription(o.inode);
  EXPECT_EQ(accounting_->Usage(*UserNamespace::Initial(), KUid(1000)), 0u);
  EXPECT_EQ(ns_->queues_count(), 0u);
}

TEST_F(IpcNamespaceTest, UnlinkWithoutDescriptorsReleasesAtOnce_Spec3_5) {
  ASSERT_EQ(OpenErr(User(1000), "q", kRdwrCreat), 0);
  ASSERT_TRUE(ns_->Unlink(User(1000), "q").ok());
  EXPECT_EQ(ns_->queues_count(), 0u);
  EXPECT_EQ(accounting_->Usage(*UserNamespace::Initial(), KUid(1000)), 0u);
}

TEST_F(IpcNamespaceTest, UnlinkedOpenQueueBlocksQueuesMax_Spec3_5) {
  MqSysctls s;
  s.queues_max = 1;
  Reset(s);
  OpenOutcome o = ns_->Open(Root(), "q", kRdwrCreat, 0600, nullptr);
  ASSERT_TRUE(ns_->Unlink(Root(), "q").ok());
  EXPECT_EQ(OpenErr(Root(), "r", kRdwrCreat), ENOSPC);
  ns_->ReleaseDescription(o.inode);
  EXPECT_EQ(OpenErr(Root(), "r", kRdwrCreat), 0);
}

// ---- Mode, owner, flags (spec §3.3) ----

struct ModeCase {
  uint32_t mode;
  uint32_t umask;
  uint32_t expected;
};

class ModeTest : public IpcNamespaceTest, public testing::WithParamInterface<ModeCase> {};

TEST_P(ModeTest, ModeIsMasked_Spec3_3) {
  Credentials c = Root();
  c.umask = GetParam().umask;
  OpenOutcome o = ns_->Open(c, "q", kRdwrCreat, GetParam().mode, nullptr);
  ASSERT_TRUE(o.result.ok());
  EXPECT_EQ(o.inode->queue().mode(), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(Spec3_3, ModeTest,
                         testing::Values(ModeCase{0xffffffff, 0, 07777},
                                         ModeCase{0170644, 0, 0644}, ModeCase{07777, 022, 07755},
                                         ModeCase{0666, 022, 0644}, ModeCase{0600, 077, 0600},
                                         ModeCase{0, 0, 0}, ModeCase{0100644, 0, 0644}));

TEST_F(IpcNamespaceTest, OwnerIsFsuidFsgid_Spec3_3) {
  Credentials c = Root();
  c.fsuid = KUid(4242);
  c.fsgid = KGid(4343);
  OpenOutcome o = ns_->Open(c, "q", kRdwrCreat, 0600, nullptr);
  ASSERT_TRUE(o.result.ok());
  EXPECT_EQ(o.inode->queue().uid(), KUid(4242));
  EXPECT_EQ(o.inode->queue().gid(), KGid(4343));
  EXPECT_EQ(accounting_->Usage(*UserNamespace::Initial(), KUid(0)), *QueueCost(10, 8192))
      << "charged to the real uid, not the fsuid";
}

TEST_F(IpcNamespaceTest, FileFlags_Spec3_3) {
  const int unknown = 1 << 30;
  OpenOutcome o = ns_->Open(Root(), "q",
                            kRdwrCreat | abi::kOExcl | abi::kONonblock | abi::kOCloexec |
                                abi::kONoctty | abi::kOTrunc | abi::kOAppend | unknown,
                            0600, nullptr);
  ASSERT_TRUE(o.result.ok());
  EXPECT_EQ(o.file_flags,
            abi::kORdwr | abi::kONonblock | abi::kOCloexec | abi::kOAppend | unknown);
  EXPECT_EQ(o.file_flags & abi::kOLargefile, 0) << "no O_LARGEFILE is added";
  EXPECT_TRUE(o.readable);
  EXPECT_TRUE(o.writable);
}

struct AccessCase {
  int accmode;
  bool readable, writable;
};

class AccessModeTest : public IpcNamespaceTest, public testing::WithParamInterface<AccessCase> {};

TEST_P(AccessModeTest, AccessModes_Spec3_3) {
  OpenOutcome o = ns_->Open(Root(), "q", abi::kOCreat | GetParam().accmode, 0600, nullptr);
  ASSERT_TRUE(o.result.ok());
  EXPECT_EQ(o.readable, GetParam().readable);
  EXPECT_EQ(o.writable, GetParam().writable);
}

INSTANTIATE_TEST_SUITE_P(Spec3_3, AccessModeTest,
                         testing::Values(AccessCase{abi::kORdonly, true, false},
                                         AccessCase{abi::kOWronly, false, true},
                                         AccessCase{abi::kORdwr, true, true},
                                         // Access mode 3 creates a queue nobody can use.
                                         AccessCase{3, false, false}));

TEST_F(IpcNamespaceTest, AccessModeThreeOnExistingQueueIsEinval_Spec3_1_Step7_2) {
  ASSERT_EQ(OpenErr(Root(), "q", kRdwrCreat), 0);
  EXPECT_EQ(OpenErr(Root(), "q", 3), EINVAL);
  EXPECT_EQ(OpenErr(Root(), "q", 3 | abi::kOCreat), EINVAL);
}

TEST_F(IpcNamespaceTest, ExclBeforeAccessMode_Spec3_1_Step7_1) {
  ASSERT_EQ(OpenErr(Root(), "q", kRdwrCreat), 0);
  EXPECT_EQ(OpenErr(Root(), "q", abi::kOCreat | abi::kOExcl | 3), EEXIST);
  EXPECT_EQ(OpenErr(User(1000), "q", abi::kOCreat | abi::kOExcl | abi::kORdwr), EEXIST)
      << "EEXIST before the permission check too";
}

TEST_F(IpcNamespaceTest, ExistingQueueIgnoresAttrAndMode_Spec3_1_Step7_4) {
  ASSERT_EQ(OpenErr(Root(), "q", kRdwrCreat, 0600), 0);
  abi::MqAttr bad = Attr(-5, 0);
  OpenOutcome o = ns_->Open(Root(), "q", kRdwrCreat, 0777, &bad);
  ASSERT_TRUE(o.result.ok());
  EXPECT_FALSE(o.created);
  EXPECT_EQ(o.inode->queue().mode(), 0600u);
  EXPECT_EQ(o.inode->queue().attributes().maxmsg, 10);
}

TEST_F(IpcNamespaceTest, OdirectCreatesThenFails_Spec3_1_Step8) {
  OpenOutcome o = ns_->Open(Root(), "q", kRdwrCreat | abi::kODirect, 0600, nullptr);
  EXPECT_EQ(o.result.error(), EINVAL);
  EXPECT_TRUE(o.created);
  EXPECT_NE(ns_->Lookup("q"), nullptr) << "the queue stays linked";
  EXPECT_EQ(OpenErr(Root(), "q", abi::kORdwr | abi::kODirect), EINVAL);
  EXPECT_EQ(OpenErr(Root(), "q", abi::kORdwr), 0);
}

// ---- Permissions on existing queues (spec §3.6) ----

TEST_F(IpcNamespaceTest, CreatorGetsDescriptorWhateverTheMode_Spec3_3) {
  OpenOutcome o = ns_->Open(User(1000), "q", kRdwrCreat, 0, nullptr);
  ASSERT_TRUE(o.result.ok());
  EXPECT_TRUE(o.readable && o.writable);
  EXPECT_EQ(OpenErr(User(1000), "q", abi::kORdonly), EACCES) << "a later open is checked";
}

struct PermCase {
  const char* what;
  uint32_t mode;
  int accmode;
  bool drop_override, drop_read_search;
  uint32_t caller_uid;
  int err;
};

class PermissionTest : public IpcNamespaceTest, public testing::WithParamInterface<PermCase> {};

TEST_P(PermissionTest, ExistingQueue_Spec3_6) {
  const PermCase& p = GetParam();
  Credentials owner = User(1000);
  owner.umask = 0;
  ASSERT_EQ(OpenErr(owner, "q", kRdwrCreat, p.mode), 0);
  Credentials c = p.caller_uid == 0 ? Root() : User(p.caller_uid);
  if (p.drop_override) c.effective.Remove(Capability::kDacOverride);
  if (p.drop_read_search) c.effective.Remove(Capability::kDacReadSearch);
  EXPECT_EQ(OpenErr(c, "q", p.accmode), p.err) << p.what;
}

INSTANTIATE_TEST_SUITE_P(
    Spec3_6, PermissionTest,
    testing::Values(
        PermCase{"owner rw", 0600, abi::kORdwr, false, false, 1000, 0},
        PermCase{"owner r of 0400", 0400, abi::kORdonly, false, false, 1000, 0},
        PermCase{"owner w of 0400", 0400, abi::kOWronly, false, false, 1000, EACCES},
        PermCase{"owner class decides, no fall-through", 0066, abi::kORdonly, false, false,
                 1000, EACCES},
        PermCase{"other r", 0604, abi::kORdonly, false, false, 2000, 0},
        PermCase{"other w denied", 0604, abi::kOWronly, false, false, 2000, EACCES},
        PermCase{"other rw needs both", 0604, abi::kORdwr, false, false, 2000, EACCES},
        PermCase{"root via DAC_OVERRIDE", 0, abi::kORdwr, false, false, 0, 0},
        PermCase{"READ_SEARCH grants read", 0, abi::kORdonly, true, false, 0, 0},
        PermCase{"READ_SEARCH not write", 0, abi::kOWronly, true, false, 0, EACCES},
        PermCase{"READ_SEARCH not rdwr", 0, abi::kORdwr, true, false, 0, EACCES},
        PermCase{"both dropped: uid 0 denied", 0, abi::kORdonly, true, true, 0, EACCES},
        PermCase{"both dropped: other bits still work", 0006, abi::kORdwr, true, true, 0,
                 0}));

TEST_F(IpcNamespaceTest, GroupClassDoesNotFallThrough_Spec3_6) {
  Credentials owner = User(1000);
  owner.umask = 0;
  owner.fsgid = KGid(500);
  ASSERT_EQ(OpenErr(owner, "q", kRdwrCreat, 0004), 0);
  Credentials member = User(2000);
  member.groups = {KGid(500)};
  EXPECT_EQ(OpenErr(member, "q", abi::kORdonly), EACCES) << "group matches: denied read";
  EXPECT_EQ(OpenErr(User(3000), "q", abi::kORdonly), 0) << "others may read";
}

// Capabilities count only when the queue's ids are mapped in the caller's namespace.
TEST_F(IpcNamespaceTest, CapabilitiesNeedMappedInodeIds_Spec3_6) {
  Credentials owner = User(5000);
  ASSERT_EQ(OpenErr(owner, "q", kRdwrCreat, 0600), 0);
  auto child = UserNamespace::Create(UserNamespace::Initial(), KUid(1000), KGid(1000),
                                     *IdMap::Create({{0, 1000, 1}}),
                                     *IdMap::Create({{0, 1000, 1}}), abi::kMqBytesMax);
  ASSERT_TRUE(child.ok());
  Credentials c = User(1000);
  c.user_ns = *child;
  c.effective = c.permitted = CapabilitySet::Full();
  EXPECT_EQ(OpenErr(c, "q", abi::kORdonly), EACCES);
}

// ---- EOVERFLOW (spec §3.1 step 6.3) ----

TEST_F(IpcNamespaceTest, UnmappedCreatorIsEoverflow_Spec3_1_Step6_3) {
  auto child = UserNamespace::Create(UserNamespace::Initial(), KUid(1000), KGid(1000),
                                     *IdMap::Create({{0, 1000, 1}}),
                                     *IdMap::Create({{0, 1000, 1}}), abi::kMqBytesMax);
  ASSERT_TRUE(child.ok());
  Reset({}, KUid(1000), KGid(1000), *child);
  Credentials c = User(2000);  // fsuid 2000 has no mapping in the owning namespace
  EXPECT_EQ(OpenErr(c, "q", kRdwrCreat), EOVERFLOW);
  EXPECT_EQ(OpenErr(User(1000), "q", kRdwrCreat), 0);
}

// ---- mq_unlink (spec §4) ----

TEST_F(IpcNamespaceTest, UnlinkMissingIsEnoent_Spec4) {
  EXPECT_EQ(ns_->Unlink(Root(), "nope").error(), ENOENT);
}

TEST_F(IpcNamespaceTest, UnlinkStickyRule_Spec4) {
  Credentials owner = User(12345);
  owner.umask = 0;
  ASSERT_EQ(OpenErr(owner, "q", kRdwrCreat, 0666), 0);
  EXPECT_EQ(ns_->Unlink(User(23456), "q").error(), EPERM) << "someone else's queue";
  Credentials fowner = User(23456);
  fowner.effective.Add(Capability::kFowner);
  EXPECT_TRUE(ns_->Unlink(fowner, "q").ok()) << "CAP_FOWNER";
  ASSERT_EQ(OpenErr(owner, "q", kRdwrCreat, 0666), 0);
  EXPECT_TRUE(ns_->Unlink(owner, "q").ok()) << "the queue's owner";
}

TEST_F(IpcNamespaceTest, RootDirOwnerUnlinksAnythingWithoutCaps_Spec4) {
  ASSERT_EQ(OpenErr(User(12345), "q", kRdwrCreat, 0600), 0);
  Credentials c = Credentials::Root();
  c.effective = CapabilitySet();
  EXPECT_TRUE(ns_->Unlink(c, "q").ok()) << "fsuid 0 owns the initial root directory";
}

TEST_F(IpcNamespaceTest, NamespaceCreatorOwnsRootDir_Spec4) {
  Reset({}, KUid(1000), KGid(1000));
  ASSERT_EQ(OpenErr(User(2000), "q", kRdwrCreat, 0600), 0);
  EXPECT_EQ(ns_->Unlink(User(3000), "q").error(), EPERM);
  EXPECT_TRUE(ns_->Unlink(User(1000), "q").ok());
}

TEST_F(IpcNamespaceTest, UnlinkedQueueLivesOnAndNameIsReusable_Spec4) {
  OpenOutcome old = ns_->Open(Root(), "q", kRdwrCreat, 0600, nullptr);
  ASSERT_TRUE(old.result.ok());
  Send(old.inode->queue(), 1, "before");
  ASSERT_TRUE(ns_->Unlink(Root(), "q").ok());
  EXPECT_FALSE(ns_->linked(*old.inode));
  EXPECT_EQ(ns_->Lookup("q"), nullptr);
  EXPECT_EQ(OpenErr(Root(), "q", abi::kORdwr), ENOENT);
  Send(old.inode->queue(), 1, "after");
  EXPECT_EQ(old.inode->queue().Status().curmsgs, 2);
  OpenOutcome fresh = ns_->Open(Root(), "q", kRdwrCreat | abi::kOExcl, 0600, nullptr);
  ASSERT_TRUE(fresh.result.ok()) << "a new queue with the same name is independent";
  EXPECT_NE(fresh.inode, old.inode);
  EXPECT_EQ(fresh.inode->queue().Status().curmsgs, 0);
  EXPECT_EQ(ns_->queues_count(), 2u);
}

TEST_F(IpcNamespaceTest, ReopenOfUnlinkedQueueKeepsItAlive_Spec8_3) {
  OpenOutcome o = ns_->Open(Root(), "q", kRdwrCreat, 0600, nullptr);
  ASSERT_TRUE(ns_->Unlink(Root(), "q").ok());
  ns_->AddDescription(o.inode);  // open("/proc/self/fd/N")
  ns_->ReleaseDescription(o.inode);
  EXPECT_EQ(ns_->queues_count(), 1u);
  ns_->ReleaseDescription(o.inode);
  EXPECT_EQ(ns_->queues_count(), 0u);
}

TEST_F(IpcNamespaceTest, NamesAndLookup) {
  for (const char* n : {"b", "a", "c"}) ASSERT_EQ(OpenErr(Root(), n, kRdwrCreat), 0);
  EXPECT_EQ(ns_->Names(), (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_NE(ns_->Lookup("b"), nullptr);
  EXPECT_EQ(ns_->name(*ns_->Lookup("b")), "b");
}

// ---- A dying namespace (spec §9.3) ----

TEST_F(IpcNamespaceTest, DeadNamespace_Spec9_3) {
  Credentials c = User(1000);
  OpenOutcome held = ns_->Open(c, "held", kRdwrCreat, 0600, nullptr);
  ASSERT_TRUE(held.result.ok());
  ASSERT_EQ(OpenErr(c, "closed", kRdwrCreat), 0);
  const uint64_t cost = *QueueCost(10, 8192);
  EXPECT_EQ(accounting_->Usage(*UserNamespace::Initial(), KUid(1000)), 2 * cost);
  ns_->Die();
  EXPECT_TRUE(ns_->dead());
  EXPECT_EQ(accounting_->Usage(*UserNamespace::Initial(), KUid(1000)), cost)
      << "a queue nobody holds is freed with the namespace";
  EXPECT_EQ(OpenErr(c, "held", abi::kORdwr), ENOENT) << "names are unreachable";
  EXPECT_EQ(OpenErr(c, "new", kRdwrCreat), EACCES) << "creation in a dead namespace";
  Send(held.inode->queue(), 7, "from-dead-ns");
  EXPECT_EQ(held.inode->queue().Status().curmsgs, 1) << "open descriptors keep working";
  ns_->ReleaseDescription(held.inode);
  EXPECT_EQ(accounting_->Usage(*UserNamespace::Initial(), KUid(1000)), 0u);
}

// ---- Checkpoint export/import ----

TEST_F(IpcNamespaceTest, ExportImportRoundTrip) {
  Credentials c = User(1000);
  c.umask = 0;
  abi::MqAttr a = Attr(4, 64);
  OpenOutcome q1 = ns_->Open(c, "one", kRdwrCreat, 0640, &a);
  ASSERT_TRUE(q1.result.ok());
  Send(q1.inode->queue(), 1, "a1");
  Send(q1.inode->queue(), 5, "b5");
  Send(q1.inode->queue(), 1, "c1");
  NotificationRegistration reg;
  reg.owner = ProcessRef{42};
  reg.owner_host_tgid = 4242;
  reg.owner_user_ns = UserNamespace::Initial();
  reg.notify = abi::kSigevSignal;
  reg.signo = 10;
  reg.value = 0x1122334455667788;
  ASSERT_TRUE(q1.inode->queue().RegisterNotification(reg).ok());
  OpenOutcome q2 = ns_->Open(c, "two", kRdwrCreat, 0600, nullptr);
  ASSERT_TRUE(q2.result.ok());
  Send(q2.inode->queue(), 0, "unlinked payload");
  ASSERT_TRUE(ns_->Unlink(c, "two").ok());

  auto index = [](const UserNamespace* ns) { return ns == UserNamespace::Initial().get() ? 0 : -1; };
  state::IpcNamespaceState st = ns_->Export(index);
  ASSERT_EQ(st.queues.size(), 2u);
  EXPECT_EQ(st.queues[0].name, std::optional<std::string>("one"));
  EXPECT_EQ(st.queues[1].name, std::nullopt);
  ASSERT_EQ(st.queues[0].messages.size(), 3u);
  EXPECT_EQ(st.queues[0].messages[0].payload, "b5");
  EXPECT_EQ(st.queues[0].messages[1].payload, "a1");
  EXPECT_EQ(st.queues[0].messages[2].payload, "c1");
  ASSERT_TRUE(st.queues[0].notification.has_value());
  EXPECT_EQ(st.queues[0].notification->signo, 10);
  EXPECT_EQ(st.queues[0].charge.bytes, *QueueCost(4, 64));
  EXPECT_EQ(st.queues[0].mode, 0640u);

  // Import into a fresh namespace with fresh accounting.
  auto accounting = std::make_shared<UserAccounting>();
  IpcNamespace::Options o;
  o.id = st.id;
  o.owner_user_ns = UserNamespace::Initial();
  o.limits = std::make_shared<StaticLimits>();
  o.accounting = accounting;
  IpcNamespace restored(std::move(o));
  auto held = restored.Import(st, [](int32_t i) {
    return i == 0 ? UserNamespace::Initial() : nullptr;
  });
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_EQ(held->size(), 1u) << "the unlinked queue is held for the restorer";
  EXPECT_EQ(restored.queues_count(), 2u);
  EXPECT_EQ(accounting->Usage(*UserNamespace::Initial(), KUid(1000)),
            *QueueCost(4, 64) + *QueueCost(10, 8192));
  state::IpcNamespaceState again = restored.Export(index);
  ASSERT_EQ(again.queues.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(again.queues[i].name, st.queues[i].name);
    EXPECT_EQ(again.queues[i].id, st.queues[i].id);
    EXPECT_EQ(again.queues[i].messages.size(), st.queues[i].messages.size());
    for (size_t m = 0; m < st.queues[i].messages.size(); ++m) {
      EXPECT_EQ(again.queues[i].messages[m].payload, st.queues[i].messages[m].payload);
      EXPECT_EQ(again.queues[i].messages[m].priority, st.queues[i].messages[m].priority);
    }
    EXPECT_EQ(again.queues[i].notification.has_value(),
              st.queues[i].notification.has_value());
    EXPECT_EQ(again.queues[i].charge.bytes, st.queues[i].charge.bytes);
  }
  // The restored queue behaves: it receives in the same order.
  std::shared_ptr<QueueInode> one = restored.Lookup("one");
  ASSERT_NE(one, nullptr);
  ReceiveRequest r;
  r.buffer_len = 64;
  r.nonblocking = true;
  ReceiveOutcome got = one->queue().Receive(r);
  ASSERT_TRUE(got.message.has_value());
  EXPECT_EQ(got.message->payload, "b5");
  // Releasing the held unlinked queue destroys it and returns its charge.
  restored.ReleaseDescription((*held)[0]);
  EXPECT_EQ(restored.queues_count(), 1u);
  EXPECT_FALSE(restored.Import(st, [](int32_t) { return UserNamespace::Initial(); }).ok())
      << "import needs a new namespace";
}

// A live checkpoint captures while the program's calls are paused: the export must take
// references to the queued payloads, not copies, and the capture must stay intact while
// the queue goes on (receives free nothing the capture holds; nothing is lost or doubled).
TEST_F(IpcNamespaceTest, ExportSharesPayloadsWithTheQueue) {
  Credentials c = User(1000);
  abi::MqAttr a = Attr(4, 4096);
  OpenOutcome q = ns_->Open(c, "shared", kRdwrCreat, 0600, &a);
  ASSERT_TRUE(q.result.ok());
  const std::string big(4096, 'x');
  Send(q.inode->queue(), 3, big);
  Send(q.inode->queue(), 1, "small");
  std::vector<const char*> queued;
  q.inode->queue().ForEachMessage([&queued](const Message& m) {
    queued.push_back(m.payload.data());
  });
  ASSERT_EQ(queued.size(), 2u);

  auto index = [](const UserNamespace*) { return 0; };
  state::IpcNamespaceState st = ns_->Export(index);
  ASSERT_EQ(st.queues.size(), 1u);
  ASSERT_EQ(st.queues[0].messages.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(st.queues[0].messages[i].payload.data(), queued[i]) << "message " << i;
    EXPECT_EQ(st.queues[0].messages[i].payload.use_count(), 2u) << "queue and capture";
  }

  ReceiveRequest r;
  r.buffer_len = 4096;
  r.nonblocking = true;
  ReceiveOutcome first = q.inode->queue().Receive(r);
  ASSERT_TRUE(first.message.has_value());
  EXPECT_EQ(first.message->payload.data(), queued[0]) << "received without a copy";
  first = ReceiveOutcome();
  ReceiveOutcome second = q.inode->queue().Receive(r);
  ASSERT_TRUE(second.message.has_value());
  second = ReceiveOutcome();
  EXPECT_EQ(q.inode->queue().Status().curmsgs, 0);
  EXPECT_EQ(st.queues[0].messages[0].payload, big);
  EXPECT_EQ(st.queues[0].messages[1].payload, "small");
  EXPECT_EQ(st.queues[0].messages[0].payload.use_count(), 1u) << "only the capture is left";
}

}  // namespace
}  // namespace mqsentry::ipc
