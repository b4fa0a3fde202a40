// The codec against the real model: what ipc::ExportSandbox() exports from live namespaces
// (a child user namespace, queues created from it, an unlinked queue kept open,
// notifications of two kinds, hierarchical accounting) passes ValidateSandboxState(),
// survives EncodeCheckpoint/DecodeCheckpoint, imports back with ipc::ImportSandbox(), and
// exports again to the same state and the same bytes.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "ipc/accounting.h"
#include "ipc/checkpoint/codec.h"
#include "ipc/checkpoint/state_testing.h"
#include "ipc/ipc_namespace.h"
#include "ipc/notification.h"
#include "ipc/queue.h"
#include "ipc/sandbox_snapshot.h"
#include "ipc/state.h"
#include "ipc/sysctls.h"
#include "kernel/abi.h"
#include "kernel/credentials.h"
#include "kernel/ids.h"
#include "kernel/user_namespace.h"

namespace mqsentry::ipc::checkpoint {
namespace {

namespace abi = ::mqsentry::kernel::abi;
using kernel::Credentials;
using kernel::IdMap;
using kernel::KGid;
using kernel::KUid;
using kernel::UserNamespace;
using ::mqsentry::ipc::checkpoint_testing::StatesEqual;

abi::MqAttr Attr(int64_t maxmsg, int64_t msgsize) {
  abi::MqAttr a{};
  a.mq_maxmsg = maxmsg;
  a.mq_msgsize = msgsize;
  return a;
}

void Send(Queue& q, uint32_t priority, std::string payload) {
  SendRequest s;
  s.priority = priority;
  s.payload = std::move(payload);
  s.nonblocking = true;
  ASSERT_TRUE(q.Send(std::move(s)).result.ok());
}

TEST(ModelCheckpoint, ExportEncodeDecodeImportExportIsIdentity) {
  absl::StatusOr<std::shared_ptr<const UserNamespace>> child = UserNamespace::Create(
      UserNamespace::Initial(), KUid(1000), KGid(1000), *IdMap::Create({{0, 100000, 65536}}),
      *IdMap::Create({{0, 100000, 65536}}), abi::kMqBytesMax);
  ASSERT_TRUE(child.ok()) << child.status();

  auto accounting = std::make_shared<UserAccounting>();
  auto make_namespace = [&](uint64_t id, std::shared_ptr<const UserNamespace> owner,
                            uint32_t root) {
    IpcNamespace::Options o;
    o.id = id;
    o.owner_user_ns = std::move(owner);
    o.root_uid = KUid(root);
    o.root_gid = KGid(root);
    o.limits = std::make_shared<StaticLimits>();
    o.accounting = accounting;
    return std::make_shared<IpcNamespace>(std::move(o));
  };
  std::vector<std::shared_ptr<IpcNamespace>> namespaces = {
      make_namespace(1, UserNamespace::Initial(), 0), make_namespace(2, *child, 100000)};

  // In the initial namespace: a queue with messages and a signal registration, and an
  // unlinked queue that an open description keeps alive.
  Credentials user = Credentials::User(1000, 1000);
  user.umask = 0;
  abi::MqAttr orders_attr = Attr(4, 64);
  OpenOutcome orders =
      namespaces[0]->Open(user, "orders", abi::kORdwr | abi::kOCreat, 0640, &orders_attr);
  ASSERT_TRUE(orders.result.ok());
  Send(orders.inode->queue(), 1, "low");
  Send(orders.inode->queue(), 9, std::string("urgent\0\xff", 8));
  Send(orders.inode->queue(), 1, "low, second");
  NotificationRegistration signal;
  signal.owner = ProcessRef{42};
  signal.owner_host_tgid = 4242;
  signal.owner_user_ns = UserNamespace::Initial();
  signal.owner_exec_generation = 3;
  signal.notify = abi::kSigevSignal;
  signal.signo = 10;
  signal.value = 0x1122334455667788;
  ASSERT_TRUE(orders.inode->queue().RegisterNotification(signal).ok());
  OpenOutcome temp = namespaces[0]->Open(user, "temp", abi::kORdwr | abi::kOCreat, 0600, nullptr);
  ASSERT_TRUE(temp.result.ok());
  Send(temp.inode->queue(), 0, "left behind");
  ASSERT_TRUE(namespaces[0]->Unlink(user, "temp").ok());

  // In the child namespace: a queue charged to (child, 100000) and, through the
  // hierarchy, to (initial, 1000), with a SIGEV_THREAD registration.
  Credentials inner = Credentials::User(100000, 100000);
  inner.user_ns = *child;
  abi::MqAttr jobs_attr = Attr(2, 128);
  OpenOutcome jobs =
      namespaces[1]->Open(inner, "jobs", abi::kOWronly | abi::kOCreat, 0600, &jobs_attr);
  ASSERT_TRUE(jobs.result.ok());
  Send(jobs.inode->queue(), 32767, std::string(128, 'j'));
  NotificationRegistration thread;
  thread.owner = ProcessRef{43};
  thread.owner_host_tgid = 4300;
  thread.owner_user_ns = *child;
  thread.notify = abi::kSigevThread;
  thread.socket = 7;
  for (size_t i = 0; i < thread.cookie.size(); ++i) thread.cookie[i] = static_cast<uint8_t>(i);
  ASSERT_TRUE(jobs.inode->queue().RegisterNotification(thread).ok());

  const state::SandboxState exported = ExportSandbox(*accounting, namespaces);
  ASSERT_EQ(exported.user_namespaces.size(), 2u);
  ASSERT_EQ(exported.ipc_namespaces.size(), 2u);
  ASSERT_EQ(exported.ipc_namespaces[0].queues.size(), 2u);
  EXPECT_EQ(exported.accounting.size(), 2u);  // (0, 1000) and (1, 100000)
  ASSERT_TRUE(ValidateSandboxState(exported).ok()) << ValidateSandboxState(exported);

  absl::StatusOr<std::string> bytes = EncodeCheckpoint(exported);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<state::SandboxState> decoded = DecodeCheckpoint(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(StatesEqual(exported, *decoded));

  absl::StatusOr<ImportedSandbox> imported = ImportSandbox(*decoded, nullptr);
  ASSERT_TRUE(imported.ok()) << imported.status();
  const state::SandboxState again = ExportSandbox(*imported->accounting, imported->namespaces);
  EXPECT_TRUE(StatesEqual(exported, again));
  absl::StatusOr<std::string> bytes_again = EncodeCheckpoint(again);
  ASSERT_TRUE(bytes_again.ok()) << bytes_again.status();
  EXPECT_EQ(*bytes, *bytes_again);
}

}  // namespace
}  // namespace mqsentry::ipc::checkpoint
