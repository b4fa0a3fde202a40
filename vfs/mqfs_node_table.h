// NodeTable: mqfs's bookkeeping, with no FUSE or host calls in it: which queue each FUSE
// inode number serves (and the inode metadata that only the file has: i_size and times),
// every open description (the record behind fuse_file_info::fh) with its latest poll
// handle, and the opens that Mqfs::Open is waiting for (descriptions the model has already
// counted, spec §3.5).
//
// Lifetime: the table holds each queue weakly. IpcNamespace keeps a QueueInode alive
// exactly until it destroys the queue (unlinked, or namespace dead, and no description
// left), and every open description here holds it strongly, so an entry expires when the
// kernel would have freed the inode; expired entries are swept lazily. This needs no
// "queue destroyed" call from the sentry.
//
// Thread safety: every method takes mu_. No method calls into ipc/ (queues or namespaces),
// so the table may be used under Queue::mu_ (PollWake). Lock order:
// IpcNamespace::mu_ -> Queue::mu_ -> NodeTable::mu_.
#ifndef MQSENTRY_VFS_MQFS_NODE_TABLE_H_
#define MQSENTRY_VFS_MQFS_NODE_TABLE_H_

#include <time.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "ipc/ipc_namespace.h"
#include "ipc/queue.h"
#include "ipc/status_line.h"

// libfuse's opaque poll handle; the table only stores and copies it (see PollHandle).
struct fuse_pollhandle;

namespace mqsentry::vfs {

// FUSE_ROOT_ID. Queue ids start at 1, so queue `id` is FUSE inode id + 1.
inline constexpr uint64_t kRootIno = 1;
constexpr uint64_t InoForQueue(uint64_t queue_id) { return queue_id + 1; }
// Each IPC namespace's queues live in a directory of their own under the root, named
// by the directory's decimal index (1, 2, ...), and each queue file is named after its
// queue, so that a file opened through a detached mount of its directory is "/NAME"
// to d_path() as on Linux (spec §8.3). Directory inode numbers are kDirInoBase + index.
inline constexpr uint64_t kDirInoBase = uint64_t{1} << 62;
constexpr bool IsDirIno(uint64_t ino) { return ino >= kDirInoBase; }
// Directory index 0: where Mqfs::Open opens a queue that is already unlinked (its name
// may belong to another queue by then), under its own name. Only the opening thread's
// lookups find anything in it.
inline constexpr uint64_t kUnlinkedDirIno = kDirInoBase;

// A poll handle is shared so that PollWake can notify with a copy taken under the table's
// lock while a poll request replaces it: the handle is freed (fuse_pollhandle_destroy)
// when the last copy goes. Notifying with a replaced handle is harmless (the kernel
// ignores unknown handles and a handle stays valid for its file's lifetime).
using PollHandle = std::shared_ptr<fuse_pollhandle>;

// Metadata that lives in the inode, not in the queue model (spec §2 "Per queue":
// timestamps and i_size).
struct NodeMeta {
  int64_t size = ipc::kStatusFileSize;  // 80 unless truncated (spec §8.3)
  timespec atime{};
  timespec mtime{};
  timespec ctime{};
};

// An inode's atime, mtime and ctime.
struct FileTimes {
  timespec atime{};
  timespec mtime{};
  timespec ctime{};
};

// A queue as mqfs serves it, with strong references for the caller's use.
struct QueueNode {
  uint64_t ino = 0;
  std::shared_ptr<ipc::QueueInode> inode;
  std::shared_ptr<ipc::IpcNamespace> ns;
  NodeMeta meta;
  std::string name;  // the file's name in its directory
  uint64_t dir = 0;  // its directory's inode number
  uint32_t generation = 0;  // the FUSE inode generation (see Mqfs::AddQueue)
};

// One open description (one FUSE open; shared by dup, fork and SCM_RIGHTS in the kernel).
struct OpenFile {
  uint64_t ino = 0;
  std::shared_ptr<ipc::QueueInode> inode;
  std::shared_ptr<ipc::IpcNamespace> ns;
  // Opened by open(2) (a program reopening /proc/<pid>/fd/N), which adds O_LARGEFILE on
  // 64-bit kernels; mq_open does not (spec §8.3 ftruncate).
  bool large_file = false;
};

class NodeTable {
 public:
  NodeTable() = default;
  NodeTable(const NodeTable&) = delete;
  NodeTable& operator=(const NodeTable&) = delete;

  // Makes `inode` reachable at InoForQueue(inode->id()). Re-adding a live queue keeps its
  // metadata; `now` initialises the times of a new entry.
  void AddQueue(std::shared_ptr<ipc::QueueInode> inode, std::shared_ptr<ipc::IpcNamespace> ns,
                timespec now);
  // The same, with the file's name (the queue's; AddQueue alone names it "#<id>"). The
  // queue goes in its namespace's directory, made on first use.
  void AddQueue(std::shared_ptr<ipc::QueueInode> inode, std::shared_ptr<ipc::IpcNamespace> ns,
                std::string name, timespec now, uint32_t generation = 0);
  // A restored queue's times: the entry AddQueue makes for `ino` starts with them instead
  // of `now` (once; a restored queue gets its entry only when first looked up or opened).
  void PresetTimes(uint64_t ino, const FileTimes& times);
  // The times of queue `ino`: its entry's, else preset ones; nullopt if neither.
  std::optional<FileTimes> QueueTimes(uint64_t ino) const;
  // The directory of namespace `ns`, if it has one.
  std::optional<uint64_t> DirOf(const ipc::IpcNamespace* ns) const;
  // The directory of namespace `ns`, made if it has none yet (a mount of an empty one).
  uint64_t DirFor(const std::shared_ptr<ipc::IpcNamespace>& ns, timespec now);
  // A directory's times: made at its creation, all three set by every name added or
  // removed (mqueue_create_attr(), mqueue_unlink()). nullopt for an unknown directory.
  struct DirTimes {
    timespec atime{}, mtime{}, ctime{};
  };
  std::optional<DirTimes> TimesOf(uint64_t dir) const;
  void TouchDir(uint64_t dir, timespec now);
  // The namespace whose directory `dir` is (or was, for a dead one); nullptr if none.
  std::shared_ptr<ipc::IpcNamespace> NamespaceOfDir(uint64_t dir) const;
  // Namespace `ns` is gone: its directory (returned, if any) stays with the queues in it
  // but is no longer `ns`'s, so that another namespace at its address gets a new one.
  std::optional<uint64_t> ForgetNamespace(const ipc::IpcNamespace* ns);
  // Whether `ino` is a directory that exists.
  bool IsDir(uint64_t ino) const;
  // Directory inode numbers, ascending (readdir of the root).
  std::vector<uint64_t> Dirs() const;
  // Queues (not yet destroyed) named `name` in directory `dir`, ascending.
  std::vector<uint64_t> InosNamed(uint64_t dir, const std::string& name) const;
  // Queues (not yet destroyed) in directory `dir`: (name, ino), ascending by ino.
  std::vector<std::pair<std::string, uint64_t>> EntriesOf(uint64_t dir) const;
  // Whether thread `tid` expects to open `ino` (see ExpectOpen), and which it expects.
  bool HasExpectedOpen(uint64_t ino, int32_t tid) const;
  std::vector<uint64_t> ExpectedOpensOf(int32_t tid) const;
  // The queue served at `ino`; nullopt for the root, unknown numbers and destroyed queues.
  std::optional<QueueNode> Find(uint64_t ino) const;
  // Inode numbers of the queues not yet destroyed, ascending (readdir).
  std::vector<uint64_t> LiveInos() const;
  // Applies `update` to the metadata of `ino`; the result, or nullopt if there is no such
  // queue. `update` runs under mu_: it must not call out.
  template <typename F>
  std::optional<NodeMeta> UpdateMeta(uint64_t ino, F update);

  // Open descriptions. AddFile returns the handle to store in fuse_file_info::fh.
  uint64_t AddFile(OpenFile file);
  std::shared_ptr<const OpenFile> File(uint64_t fh) const;
  // Forgets a description and its poll handle; returns it (nullptr if unknown).
  std::shared_ptr<const OpenFile> RemoveFile(uint64_t fh);
  // Keeps `handle` as the description's poll handle, replacing the previous one.
  void SetPollHandle(uint64_t fh, PollHandle handle);
  // Copies of the poll handles of every open description of `queue`; empty (and no
  // allocation) when nobody polls it. Called under Queue::mu_.
  std::vector<PollHandle> PollHandlesOf(const ipc::Queue& queue) const;
  // Drops every poll handle (the FUSE session is going away).
  void DropPollHandles();
  size_t open_files() const;
  size_t entries() const;  // including expired, not yet swept ones (tests)

  // Mqfs::Open: thread `tid` is about to open `ino` for a description the model has
  // already counted. The FUSE open it causes takes the expectation (TakeExpectedOpen says
  // true) and must not count it again; CancelExpectedOpen removes an expectation that no
  // FUSE open took (true if it was still there).
  void ExpectOpen(uint64_t ino, int32_t tid);
  bool TakeExpectedOpen(uint64_t ino, int32_t tid);
  bool CancelExpectedOpen(uint64_t ino, int32_t tid);

 private:
  struct Entry {
    std::weak_ptr<ipc::QueueInode> inode;
    std::shared_ptr<ipc::IpcNamespace> ns;
    std::string name;
    uint64_t dir = 0;
    uint32_t generation = 0;
    const ipc::Queue* queue = nullptr;  // key of by_queue_
    NodeMeta meta;
    absl::flat_hash_set<uint64_t> files;  // open descriptions (fh)
  };
  struct FileSlot {
    std::shared_ptr<const OpenFile> file;
    PollHandle poll_handle;
  };

  uint64_t DirForLocked(const std::shared_ptr<ipc::IpcNamespace>& ns, timespec now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes entries whose queue was destroyed and which have no open description.
  void SweepLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseEntryLocked(uint64_t ino) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // PollWake gets a Queue&; a queue's address is stable while its QueueInode lives. A
  // destroyed queue's address can be reused by a new queue before the sweep: AddQueue
  // then re-points it, and until then it names an entry without open files (no effect).
  absl::flat_hash_map<const ipc::Queue*, uint64_t> by_queue_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, FileSlot> files_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, FileTimes> preset_times_ ABSL_GUARDED_BY(mu_);
  uint64_t next_fh_ ABSL_GUARDED_BY(mu_) = 1;
  // Sweeping is amortised: it runs when the table has doubled since the last sweep.
  size_t sweep_at_ ABSL_GUARDED_BY(mu_) = 64;
  absl::flat_hash_map<std::pair<uint64_t, int32_t>, int> expected_opens_ ABSL_GUARDED_BY(mu_);
  // Directories by namespace. A namespace is never destroyed while an entry holds it, so
  // an address reused by a new namespace can only name an empty directory, which the new
  // namespace then simply takes over.
  absl::flat_hash_map<const ipc::IpcNamespace*, uint64_t> dir_of_ns_ ABSL_GUARDED_BY(mu_);
  uint64_t next_dir_ ABSL_GUARDED_BY(mu_) = kDirInoBase + 1;
  // The other way round; weak, so that an empty directory does not keep a namespace.
  absl::flat_hash_map<uint64_t, std::weak_ptr<ipc::IpcNamespace>> ns_of_dir_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, DirTimes> dir_times_ ABSL_GUARDED_BY(mu_);
  // (dir, name) -> inode numbers: one linked queue at most, and unlinked ones still open.
  absl::flat_hash_map<std::pair<uint64_t, std::string>, absl::flat_hash_set<uint64_t>> by_name_
      ABSL_GUARDED_BY(mu_);
};

template <typename F>
std::optional<NodeMeta> NodeTable::UpdateMeta(uint64_t ino, F update) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(ino);
  if (it == entries_.end() || it->second.inode.expired()) return std::nullopt;
  update(it->second.meta);
  return it->second.meta;
}

}  // namespace mqsentry::vfs

#endif  // MQSENTRY_VFS_MQFS_NODE_TABLE_H_
