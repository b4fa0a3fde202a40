// What --restore brings back and the limits it checks (ipc/checkpoint/restore_plan.h).
#include "ipc/checkpoint/restore_plan.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "ipc/checkpoint/state_testing.h"

namespace mqsentry::ipc::checkpoint {
namespace {

using checkpoint_testing::MakeQueue;
using checkpoint_testing::RichState;

CheckpointFile Rich() {
  CheckpointFile f;
  f.state = RichState();
  f.info.own_ipc_namespace = f.state.ipc_namespaces[0].id;
  return f;
}

TEST(PlanRestore, OwnNamedQueuesWithoutRegistrations) {
  const CheckpointFile f = Rich();
  const RestorePlan plan = PlanRestore(f);
  ASSERT_TRUE(plan.own.has_value());
  const state::IpcNamespaceState& own = f.state.ipc_namespaces[0];
  size_t named = 0;
  for (const auto& q : own.queues) named += q.name.has_value();
  ASSERT_EQ(plan.own->queues.size(), named);
  for (const auto& q : plan.own->queues) {
    EXPECT_TRUE(q.name.has_value());
    EXPECT_FALSE(q.notification.has_value());
    EXPECT_EQ(q.charge.user_ns, own.owner_user_ns);
  }
  EXPECT_EQ(plan.own->sysctls.msg_max, own.sysctls.msg_max);
  // One line per nested namespace, unlinked queue and registration.
  size_t want = f.state.ipc_namespaces.size() - 1;
  for (const auto& q : own.queues) want += !q.name.has_value() || q.notification.has_value();
  EXPECT_EQ(plan.not_restored.size(), want);
}

TEST(PlanRestore, NoOwnNamespace) {
  CheckpointFile f = Rich();
  f.info.own_ipc_namespace = 0;
  const RestorePlan plan = PlanRestore(f);
  EXPECT_FALSE(plan.own.has_value());
  EXPECT_EQ(plan.not_restored.size(), f.state.ipc_namespaces.size());
}

state::IpcNamespaceState Own(int queues, int64_t maxmsg, int64_t msgsize) {
  state::IpcNamespaceState own = checkpoint_testing::MakeIpcNamespace(1);
  for (int i = 0; i < queues; ++i) {
    own.queues.push_back(MakeQueue("q" + std::to_string(i), 10 + i, maxmsg, msgsize));
  }
  return own;
}

TEST(CheckRestoreLimits, WithinLimits) {
  EXPECT_TRUE(CheckRestoreLimits(Own(3, 10, 64), RestoreLimits{}).ok());
}

TEST(CheckRestoreLimits, EachLimitNamesTheQueue) {
  RestoreLimits l;
  l.msg_max = 5;
  absl::Status s = CheckRestoreLimits(Own(1, 10, 64), l);
  EXPECT_TRUE(absl::StrContains(s.message(), "queue /q0: maxmsg 10 > fs.mqueue.msg_max 5")) << s;
  l = RestoreLimits{};
  l.msgsize_max = 128;
  s = CheckRestoreLimits(Own(1, 10, 129), l);
  EXPECT_TRUE(absl::StrContains(s.message(), "queue /q0: msgsize 129 > fs.mqueue.msgsize_max 128"))
      << s;
  l = RestoreLimits{};
  l.queues_max = 2;
  s = CheckRestoreLimits(Own(3, 1, 1), l);
  EXPECT_TRUE(absl::StrContains(s.message(), "queue /q2: 3 queues > fs.mqueue.queues_max 2")) << s;
  l = RestoreLimits{};
  l.queues_max = -1;  // unlimited (compared unsigned)
  EXPECT_TRUE(CheckRestoreLimits(Own(300, 1, 1), l).ok());
  l = RestoreLimits{};
  l.rlimit_msgqueue = 2 * (10 * 96 + 640) + 1;  // two queues of maxmsg 10, msgsize 64 fit
  s = CheckRestoreLimits(Own(3, 10, 64), l);
  EXPECT_TRUE(absl::StrContains(s.message(), "queue /q2: uid ")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "> RLIMIT_MSGQUEUE 3201")) << s;
}

}  // namespace
}  // namespace mqsentry::ipc::checkpoint
