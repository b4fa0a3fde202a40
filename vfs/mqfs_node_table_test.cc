// Tests of NodeTable without FUSE: inode numbering, weak queue lifetime and sweeping, open
// descriptions, poll handle replacement, and the expected-open tokens of Mqfs::Open.
#include "vfs/mqfs_node_table.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ipc/accounting.h"
#include "ipc/ipc_namespace.h"
#include "ipc/queue.h"
#include "ipc/sysctls.h"
#include "kernel/user_namespace.h"

namespace mqsentry::vfs {
namespace {

std::shared_ptr<ipc::QueueInode> MakeInode(uint64_t id) {
  auto queue = std::make_unique<ipc::Queue>(kernel::KUid(0), kernel::KGid(0), 0600,
                                            ipc::QueueAttributes{2, 16}, nullptr);
  return std::make_shared<ipc::QueueInode>(id, "q" + std::to_string(id), std::move(queue),
                                           ipc::Charge{});
}

std::shared_ptr<ipc::IpcNamespace> MakeNamespace() {
  ipc::IpcNamespace::Options o;
  o.id = 1;
  o.owner_user_ns = kernel::UserNamespace::Initial();
  o.limits = std::make_shared<ipc::StaticLimits>();
  o.accounting = std::make_shared<ipc::UserAccounting>();
  return std::make_shared<ipc::IpcNamespace>(std::move(o));
}

// A stand-in for a libfuse poll handle that counts its destruction.
PollHandle FakeHandle(int* destroyed) {
  return PollHandle(reinterpret_cast<fuse_pollhandle*>(new char), [destroyed](fuse_pollhandle* p) {
    ++*destroyed;
    delete reinterpret_cast<char*>(p);
  });
}

constexpr timespec kT0{1000, 5};

class NodeTableTest : public testing::Test {
 protected:
  NodeTable table_;
  std::shared_ptr<ipc::IpcNamespace> ns_ = MakeNamespace();
};

TEST_F(NodeTableTest, QueueIdPlusOneIsTheInodeNumber) {
  auto inode = MakeInode(7);
  table_.AddQueue(inode, ns_, kT0);
  EXPECT_EQ(InoForQueue(7), 8u);
  std::optional<QueueNode> node = table_.Find(8);
  ASSERT_TRUE(node.has_value());
  EXPECT_EQ(node->inode, inode);
  EXPECT_EQ(node->ns, ns_);
  EXPECT_EQ(node->ino, 8u);
  EXPECT_FALSE(table_.Find(7).has_value());
  EXPECT_FALSE(table_.Find(kRootIno).has_value());
  EXPECT_EQ(table_.LiveInos(), std::vector<uint64_t>{8});
}

TEST_F(NodeTableTest, NewEntryMetadataIsSize80AndTheGivenTime_Spec8_3) {
  auto inode = MakeInode(2);
  table_.AddQueue(inode, ns_, kT0);
  NodeMeta meta = table_.Find(3)->meta;
  EXPECT_EQ(meta.size, 80);
  EXPECT_EQ(meta.atime.tv_sec, 1000);
  EXPECT_EQ(meta.mtime.tv_nsec, 5);
  std::optional<NodeMeta> updated = table_.UpdateMeta(3, [](NodeMeta& m) { m.size = 10; });
  ASSERT_TRUE(updated.has_value());
  EXPECT_EQ(updated->size, 10);
  EXPECT_EQ(table_.Find(3)->meta.size, 10);
  // Re-adding a live queue (restore) keeps what the file already had.
  table_.AddQueue(inode, ns_, timespec{2000, 0});
  EXPECT_EQ(table_.Find(3)->meta.size, 10);
  EXPECT_EQ(table_.Find(3)->meta.ctime.tv_sec, 1000);
  EXPECT_FALSE(table_.UpdateMeta(2, [](NodeMeta&) {}).has_value());
}

TEST_F(NodeTableTest, PresetTimesStartARestoredQueuesEntryOnce) {
  EXPECT_FALSE(table_.QueueTimes(InoForQueue(7)).has_value());
  const FileTimes saved{{1600000000, 0}, {1500000000, 0}, {1600000001, 0}};
  table_.PresetTimes(InoForQueue(7), saved);
  ASSERT_TRUE(table_.QueueTimes(InoForQueue(7)).has_value());  // before any entry: the preset
  EXPECT_EQ(table_.QueueTimes(InoForQueue(7))->mtime.tv_sec, 1500000000);
  auto inode = MakeInode(7);
  table_.AddQueue(inode, ns_, kT0);
  std::optional<QueueNode> node = table_.Find(InoForQueue(7));
  ASSERT_TRUE(node.has_value());
  EXPECT_EQ(node->meta.atime.tv_sec, 1600000000);
  EXPECT_EQ(node->meta.mtime.tv_sec, 1500000000);
  EXPECT_EQ(node->meta.ctime.tv_sec, 1600000001);
  // An mq call moves them; re-adding the live queue keeps what it has.
  table_.UpdateMeta(InoForQueue(7), [](NodeMeta& m) { m.atime = m.mtime = m.ctime = kT0; });
  table_.AddQueue(inode, ns_, timespec{2000, 0});
  EXPECT_EQ(table_.QueueTimes(InoForQueue(7))->mtime.tv_sec, kT0.tv_sec);
  // Other queues start at `now`.
  auto other = MakeInode(8);
  table_.AddQueue(other, ns_, kT0);
  ASSERT_TRUE(table_.Find(InoForQueue(8)).has_value());
  EXPECT_EQ(table_.Find(InoForQueue(8))->meta.atime.tv_sec, kT0.tv_sec);
}

TEST_F(NodeTableTest, EntryExpiresWithTheInode) {
  auto inode = MakeInode(4);
  table_.AddQueue(inode, ns_, kT0);
  inode.reset();  // the namespace destroyed the queue and nobody holds it
  EXPECT_FALSE(table_.Find(5).has_value());
  EXPECT_TRUE(table_.LiveInos().empty());
}

TEST_F(NodeTableTest, OpenFileKeepsTheQueueReachable) {
  auto inode = MakeInode(4);
  table_.AddQueue(inode, ns_, kT0);
  const uint64_t fh = table_.AddFile(OpenFile{5, inode, ns_});
  std::weak_ptr<ipc::QueueInode> weak = inode;
  inode.reset();
  EXPECT_TRUE(table_.Find(5).has_value());
  ASSERT_NE(table_.File(fh), nullptr);
  EXPECT_EQ(table_.File(fh)->ino, 5u);
  EXPECT_EQ(table_.open_files(), 1u);
  std::shared_ptr<const OpenFile> removed = table_.RemoveFile(fh);
  ASSERT_NE(removed, nullptr);
  removed.reset();
  EXPECT_TRUE(weak.expired());
  EXPECT_FALSE(table_.Find(5).has_value());
  EXPECT_EQ(table_.File(fh), nullptr);
  EXPECT_EQ(table_.RemoveFile(fh), nullptr);
  EXPECT_EQ(table_.open_files(), 0u);
}

TEST_F(NodeTableTest, FileHandlesAreUnique) {
  auto inode = MakeInode(1);
  table_.AddQueue(inode, ns_, kT0);
  const uint64_t a = table_.AddFile(OpenFile{2, inode, ns_});
  const uint64_t b = table_.AddFile(OpenFile{2, inode, ns_});
  EXPECT_NE(a, b);
  EXPECT_NE(a, 0u);
  EXPECT_NE(b, 0u);
}

TEST_F(NodeTableTest, PollHandlesAreReplacedAndDroppedWithTheFile) {
  auto inode = MakeInode(1);
  auto other = MakeInode(2);
  table_.AddQueue(inode, ns_, kT0);
  table_.AddQueue(other, ns_, kT0);
  const uint64_t a = table_.AddFile(OpenFile{2, inode, ns_});
  const uint64_t b = table_.AddFile(OpenFile{2, inode, ns_});
  table_.AddFile(OpenFile{3, other, ns_});
  EXPECT_TRUE(table_.PollHandlesOf(inode->queue()).empty());

  int destroyed = 0;
  table_.SetPollHandle(a, FakeHandle(&destroyed));
  table_.SetPollHandle(a, FakeHandle(&destroyed));  // replaces the first
  EXPECT_EQ(destroyed, 1);
  table_.SetPollHandle(b, FakeHandle(&destroyed));
  EXPECT_EQ(table_.PollHandlesOf(inode->queue()).size(), 2u);
  EXPECT_TRUE(table_.PollHandlesOf(other->queue()).empty());

  // A copy taken for notification outlives the replacement.
  std::vector<PollHandle> copies = table_.PollHandlesOf(inode->queue());
  table_.RemoveFile(a);
  EXPECT_EQ(destroyed, 1);
  copies.clear();
  EXPECT_EQ(destroyed, 2);
  EXPECT_EQ(table_.PollHandlesOf(inode->queue()).size(), 1u);

  // A handle for a description already released is dropped at once.
  table_.SetPollHandle(a, FakeHandle(&destroyed));
  EXPECT_EQ(destroyed, 3);

  table_.DropPollHandles();
  EXPECT_EQ(destroyed, 4);
  EXPECT_TRUE(table_.PollHandlesOf(inode->queue()).empty());
}

TEST_F(NodeTableTest, ExpectedOpensAreCountedPerInodeAndThread) {
  table_.ExpectOpen(5, 100);
  EXPECT_FALSE(table_.TakeExpectedOpen(5, 101));
  EXPECT_FALSE(table_.TakeExpectedOpen(6, 100));
  EXPECT_TRUE(table_.TakeExpectedOpen(5, 100));
  EXPECT_FALSE(table_.TakeExpectedOpen(5, 100));
  EXPECT_FALSE(table_.CancelExpectedOpen(5, 100));

  table_.ExpectOpen(5, 100);
  table_.ExpectOpen(5, 100);
  EXPECT_TRUE(table_.CancelExpectedOpen(5, 100));
  EXPECT_TRUE(table_.TakeExpectedOpen(5, 100));
  EXPECT_FALSE(table_.CancelExpectedOpen(5, 100));
}

TEST_F(NodeTableTest, DestroyedEntriesAreSwept) {
  for (uint64_t id = 1; id <= 1000; ++id) table_.AddQueue(MakeInode(id), ns_, kT0);
  EXPECT_LT(table_.entries(), 100u);
  auto keep = MakeInode(5000);
  table_.AddQueue(keep, ns_, kT0);
  for (uint64_t id = 1001; id <= 2000; ++id) table_.AddQueue(MakeInode(id), ns_, kT0);
  EXPECT_TRUE(table_.Find(InoForQueue(5000)).has_value());
  EXPECT_LT(table_.entries(), 100u);
}

TEST_F(NodeTableTest, ReusedQueueAddressWakesTheNewQueue) {
  // The address map follows AddQueue even if an old entry still names the same queue.
  auto inode = MakeInode(1);
  table_.AddQueue(inode, ns_, kT0);
  const uint64_t fh = table_.AddFile(OpenFile{2, inode, ns_});
  int destroyed = 0;
  table_.SetPollHandle(fh, FakeHandle(&destroyed));
  EXPECT_EQ(table_.PollHandlesOf(inode->queue()).size(), 1u);
  // The same inode under the same id again (restore): still one entry, same handles.
  table_.AddQueue(inode, ns_, kT0);
  EXPECT_EQ(table_.PollHandlesOf(inode->queue()).size(), 1u);
}

}  // namespace
}  // namespace mqsentry::vfs
