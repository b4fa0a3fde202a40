// Tests of RLIMIT_MSGQUEUE accounting (spec §3.5).
#include "ipc/accounting.h"

#include <gtest/gtest.h>

#include "kernel/credentials.h"
#include "kernel/user_namespace.h"

namespace mqsentry::ipc {
namespace {

using kernel::Credentials;
using kernel::IdMap;
using kernel::KGid;
using kernel::KUid;
using kernel::UserNamespace;

struct CostCase {
  int64_t maxmsg, msgsize;
  uint64_t cost;
};

class QueueCostTest : public testing::TestWithParam<CostCase> {};

// spec §3.5: the measured minimum rlimits (the cost of one queue) on this kernel.
TEST_P(QueueCostTest, FormulaMatchesMeasuredMinimum_Spec3_5) {
  EXPECT_EQ(QueueCost(GetParam().maxmsg, GetParam().msgsize), GetParam().cost);
}

INSTANTIATE_TEST_SUITE_P(Measured, QueueCostTest,
                         testing::Values(CostCase{1, 1, 97}, CostCase{1, 128, 224},
                                         CostCase{3, 100, 588}, CostCase{10, 8192, 82880},
                                         // min(maxmsg, 32768) caps the tree-node term.
                                         CostCase{65536, 1, 65536 * 48 + 32768 * 48 + 65536}));

TEST(QueueCostTest, OverflowAndNonPositiveAreRejected) {
  EXPECT_FALSE(QueueCost(0, 10).has_value());
  EXPECT_FALSE(QueueCost(10, 0).has_value());
  EXPECT_FALSE(QueueCost(-1, 10).has_value());
  EXPECT_FALSE(QueueCost(INT64_MAX, INT64_MAX).has_value());
  EXPECT_FALSE(QueueCost(INT64_MAX, 1).has_value());
}

// spec §3.5: under the default 819200, nine default queues fit and the tenth fails.
TEST(UserAccountingTest, TenthDefaultQueueFails_Spec3_5) {
  UserAccounting acct;
  Credentials cred = Credentials::User(1000, 1000);
  const uint64_t cost = *QueueCost(10, 8192);
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(acct.TryCharge(cred, cost).has_value()) << i;
  EXPECT_FALSE(acct.TryCharge(cred, cost).has_value());
  EXPECT_EQ(acct.Usage(*UserNamespace::Initial(), KUid(1000)), 9 * cost);
}

// spec §3.5: (usage + cost) > rlimit fails; equality is allowed.
TEST(UserAccountingTest, EqualityAllowed_Spec3_5) {
  UserAccounting acct;
  Credentials cred = Credentials::User(1000, 1000);
  cred.rlimit_msgqueue = 97;
  EXPECT_TRUE(acct.TryCharge(cred, 97).has_value());
  EXPECT_FALSE(acct.TryCharge(cred, 1).has_value());
  UserAccounting fresh;
  cred.rlimit_msgqueue = 96;
  EXPECT_FALSE(fresh.TryCharge(cred, 97).has_value());
  EXPECT_EQ(fresh.Usage(*UserNamespace::Initial(), KUid(1000)), 0u) << "failure charges nothing";
}

TEST(UserAccountingTest, RlimInfinityNeverFails_Spec3_5) {
  UserAccounting acct;
  Credentials cred = Credentials::User(1000, 1000);
  cred.rlimit_msgqueue = Credentials::kRlimInfinity;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(acct.TryCharge(cred, *QueueCost(65536, 1 << 24)));
}

TEST(UserAccountingTest, ZeroLimitRefusesEverything_Spec3_5) {
  UserAccounting acct;
  Credentials cred = Credentials::User(1000, 1000);
  cred.rlimit_msgqueue = 0;
  EXPECT_FALSE(acct.TryCharge(cred, 97).has_value());
}

// spec §3.5: the charge follows the real uid (ruid 12345, euid 23456 -> 12345).
TEST(UserAccountingTest, ChargesRealUid_Spec3_5) {
  UserAccounting acct;
  Credentials cred = Credentials::User(23456, 100);
  cred.ruid = KUid(12345);
  auto charge = acct.TryCharge(cred, 500);
  ASSERT_TRUE(charge.has_value());
  EXPECT_EQ(charge->ruid, KUid(12345));
  EXPECT_EQ(acct.Usage(*UserNamespace::Initial(), KUid(12345)), 500u);
  EXPECT_EQ(acct.Usage(*UserNamespace::Initial(), KUid(23456)), 0u);
}

TEST(UserAccountingTest, UsersAreIndependent_Spec3_5) {
  UserAccounting acct;
  Credentials a = Credentials::User(1000, 1000);
  Credentials b = Credentials::User(1001, 1001);
  a.rlimit_msgqueue = b.rlimit_msgqueue = 100;
  EXPECT_TRUE(acct.TryCharge(a, 100));
  EXPECT_TRUE(acct.TryCharge(b, 100));
  EXPECT_FALSE(acct.TryCharge(a, 1));
}

TEST(UserAccountingTest, ReleaseReturnsTheCharge_Spec3_5) {
  UserAccounting acct;
  Credentials cred = Credentials::User(1000, 1000);
  cred.rlimit_msgqueue = 100;
  auto c = acct.TryCharge(cred, 100);
  ASSERT_TRUE(c);
  EXPECT_FALSE(acct.TryCharge(cred, 1));
  acct.Release(*c);
  EXPECT_EQ(acct.Usage(*UserNamespace::Initial(), KUid(1000)), 0u);
  EXPECT_TRUE(acct.Snapshot().empty()) << "zero counters are dropped";
  EXPECT_TRUE(acct.TryCharge(cred, 100));
}

// spec §3.5 [S]: nested user namespaces are also checked against each ancestor's counter,
// with the limit recorded when the child namespace was created.
TEST(UserAccountingTest, AncestorLevelsAreChargedAndChecked_Spec3_5) {
  // uid 1000 creates a user namespace while its RLIMIT_MSGQUEUE is 1000 bytes.
  auto child = UserNamespace::Create(UserNamespace::Initial(), KUid(1000), KGid(1000),
                                     *IdMap::Create({{0, 1000, 1}}),
                                     *IdMap::Create({{0, 1000, 1}}), /*rlimit=*/1000);
  ASSERT_TRUE(child.ok()) << child.status();
  Credentials inside = Credentials::User(1000, 1000);
  inside.user_ns = *child;
  inside.rlimit_msgqueue = Credentials::kRlimInfinity;  // raised inside: does not help
  UserAccounting acct;
  auto c1 = acct.TryCharge(inside, 600);
  ASSERT_TRUE(c1);
  EXPECT_EQ(acct.Usage(**child, KUid(1000)), 600u);
  EXPECT_EQ(acct.Usage(*UserNamespace::Initial(), KUid(1000)), 600u) << "owner's level";
  EXPECT_FALSE(acct.TryCharge(inside, 401)) << "ancestor level would exceed 1000";
  EXPECT_TRUE(acct.TryCharge(inside, 400)) << "equality at the ancestor level";
  acct.Release(*c1);
  EXPECT_EQ(acct.Usage(*UserNamespace::Initial(), KUid(1000)), 400u);
}

TEST(UserAccountingTest, RestoreSkipsLimits) {
  UserAccounting acct;
  Credentials cred = Credentials::User(1000, 1000);
  acct.Restore(Charge{cred.user_ns, KUid(1000), 5'000'000});
  EXPECT_EQ(acct.Usage(*UserNamespace::Initial(), KUid(1000)), 5'000'000u);
  EXPECT_FALSE(acct.TryCharge(cred, 1));
}

}  // namespace
}  // namespace mqsentry::ipc
