// Mqfs: the message-queue filesystem, served by the supervisor over FUSE, that holds every
// mq descriptor of the sandbox as a real host fd (architecture "Descriptors live in mqfs",
// spec §8). One inode per queue, named after the queue in a directory per IPC namespace;
// one FUSE open per open description. Files are opened through a detached copy of their
// directory's mount, so /proc/<pid>/fd shows "/NAME" (or "/NAME (deleted)") as on Linux
// and ".." leads nowhere. The host kernel then gives the descriptors Linux's file behaviour: dup,
// fork, SCM_RIGHTS, F_GETFL/F_SETFL, file position, poll/select/epoll, close-time flush,
// /proc/self/fd reopening; mqfs answers read (the status line), poll, getattr/setattr
// (fchmod, fchown, ftruncate), flush (close) and release.
//
// Threads: FUSE requests are served by a fixed pool of mqfs threads. Mqfs::Open blocks on a
// FUSE open served by one of them, so it must never be called from an mqfs thread (that
// is, from a hook), nor while holding a lock a FUSE handler takes: IpcNamespace::mu_ and
// Queue::mu_ (lookup/getattr/open read the queue and the namespace), or any sentry lock the
// hooks take.
//
// Lock order: IpcNamespace::mu_ -> Queue::mu_ -> NodeTable::mu_ -> Mqfs::session_mu_.
// Hooks are called with no mqfs lock held.
#ifndef MQSENTRY_VFS_MQFS_H_
#define MQSENTRY_VFS_MQFS_H_

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ipc/ipc_namespace.h"
#include "ipc/queue.h"
#include "vfs/mqfs_node_table.h"

struct fuse_session;

namespace mqsentry::vfs {

// What mqfs needs from the sentry; called on mqfs threads, never with mqfs locks held.
class MqfsHooks {
 public:
  virtual ~MqfsHooks() = default;
  // close() of a descriptor of `inode` by thread `tid` (FUSE flush; tid as the supervisor's
  // PID namespace sees it, 0 if invisible there). Every close(2) of every fd sends one,
  // including the supervisor's own closes (e.g. of its copy after SECCOMP_IOCTL_NOTIF_ADDFD).
  // The closing thread is blocked in close(2) until this returns.
  virtual void OnFlush(const std::shared_ptr<ipc::QueueInode>& inode, ipc::IpcNamespace& ns,
                       int32_t tid) = 0;
  // The last reference to one open description went (FUSE release); mqfs has already
  // forgotten it. Asynchronous: it can arrive after the close(2) that caused it returned.
  virtual void OnRelease(const std::shared_ptr<ipc::QueueInode>& inode, ipc::IpcNamespace& ns) = 0;
  // NOTIFY_PID for the status line: the notification owner's pid (owner_host_tgid,
  // supervisor's view) as seen by the reading thread reader_tid; 0 if invisible.
  virtual int32_t NotifyPidFor(int32_t reader_tid, int32_t owner_host_tgid) = 0;

  // Through a program's mount of a namespace's directory (Mqfs::NewView, spec §8.5):
  // open(O_CREAT) of a name not found there, by thread `tid`, creates the queue as mq_open
  // would (`flags`: open(2)'s; `mode` already masked by the kernel) and adds it to mqfs.
  // The queue's inode with one description counted for the open, or an errno.
  struct Created {
    int err = 0;
    std::shared_ptr<ipc::QueueInode> inode;
  };
  virtual Created OnCreate(const std::shared_ptr<ipc::IpcNamespace>& ns, int32_t tid,
                           const std::string& name, mode_t mode, int flags) {
    return Created{EPERM, nullptr};
  }
  // unlink(2) of a name there: mq_unlink by `tid`. 0 or an errno.
  virtual int OnUnlink(const std::shared_ptr<ipc::IpcNamespace>& ns, int32_t tid,
                       const std::string& name) {
    return EPERM;
  }
};

class Mqfs {
 public:
  // FUSE request threads. Each blocks only in hooks and in queue/namespace locks; while
  // one is busy in a hook the others keep serving (Mqfs::Open needs one free thread).
  static constexpr int kServeThreads = 4;

  // Mounts a new FUSE filesystem at `mountpoint` (an existing empty directory) with
  // default_permissions and allow_other (and nosuid, nodev, noexec), and serves it on
  // kServeThreads threads. Fails with a clear Status if /dev/fuse cannot be opened or the
  // mount fails.
  static absl::StatusOr<std::unique_ptr<Mqfs>> Mount(const std::string& mountpoint,
                                                     MqfsHooks* hooks);
  Mqfs(const Mqfs&) = delete;
  Mqfs& operator=(const Mqfs&) = delete;
  // Unmounts (lazily) and joins its threads. Files still open elsewhere then fail with
  // ENOTCONN. No PollWake may run concurrently with or after this.
  ~Mqfs();

  // Makes a queue reachable as "<mountpoint>/<namespace index>/<name>". Called on creation
  // and restore, with no ipc lock held. The entry goes by itself once the namespace has
  // destroyed the queue and no description of it is open here.
  void AddQueue(std::shared_ptr<ipc::QueueInode> inode, std::shared_ptr<ipc::IpcNamespace> ns);
  // `name` was unlinked from `ns` (mq_unlink succeeded): the open files of the queue it
  // named read "/NAME (deleted)" from now on (spec §8.3). With no ipc lock held; not from
  // an mqfs thread.
  void QueueUnlinked(const ipc::IpcNamespace& ns, const std::string& name);

  // Namespace `ns` died and its registry forgets it (spec §9.3): its directory is no
  // longer a namespace's (a namespace made later gets a new one, even at the same
  // address) and the detached trees of it are closed. Its queues still open stay
  // reachable through their descriptions. With no ipc lock held; not from an mqfs thread.
  void ForgetNamespace(const ipc::IpcNamespace& ns);

  // Opens a new open description of `inode` (added with AddQueue) with open(2) `flags`:
  // access mode 0/1/2/3, O_NONBLOCK, O_APPEND and the other bits the kernel keeps;
  // O_CREAT, O_EXCL, O_NOCTTY and O_TRUNC are dropped, O_CLOEXEC is added. The
  // description is already counted by IpcNamespace::Open, so this open does not call
  // AddDescription (every other FUSE open does). Returns a host fd owned by the caller.
  // Must be called from a non-mqfs thread with no ipc lock held (see the file comment).
  // With O_PATH no FUSE open, flush or release ever happens: the caller releases the
  // counted description itself.
  //
  // F_GETFL of a description opened by mq_open is its oflag, bits open(2) would drop or
  // add included (spec §3.3). The file itself gets only the bits fcntl can see change
  // (kHostOpenFlags); the others are carried by the mount it is opened through: a
  // detached tree per (namespace, combination) in use, whose mount id fdinfo shows
  // (ExtraFlagsOfMount).
  absl::StatusOr<int> Open(const ipc::QueueInode& inode, int flags);

  // The open flags of an mq_open description that the file does not hold (see Open), from
  // the mount id fdinfo shows for it; nullopt for a mount that is not one of ours. A
  // description opened by a program through /proc/<pid>/fd/N shares its original's
  // mount, and so its extra flags.
  std::optional<int> ExtraFlagsOfMount(uint64_t mount_id) const;
  // What Open gives the file: the access mode, O_PATH, and what F_SETFL changes.
  static constexpr int kHostOpenFlags =
      O_ACCMODE | O_PATH | O_APPEND | O_NONBLOCK | O_NOATIME | O_ASYNC;
  // Trees with extra flags beyond this many share their namespace's plain tree (their
  // extra flags are not shown).
  static constexpr size_t kMaxViews = 64;
  // Trees (one supervisor descriptor each) beyond this many are not made: such files are
  // opened through the mount itself (the fd link then shows the supervisor's path).
  static constexpr size_t kMaxTrees = 4096;

  // A new detached mount of namespace `ns`'s directory (made if it has none), for a
  // program's mount of the mqueue filesystem (spec §8.5): names are its queues, looked up,
  // listed, created and removed by the program's threads. The open_tree descriptor, the
  // caller's to move into place. Not from an mqfs thread.
  absl::StatusOr<int> NewView(const std::shared_ptr<ipc::IpcNamespace>& ns);
  // Whether `mount_id` is, or was, one of the views NewView made: a descriptor on such a
  // mount must be checked with Identify() (a view's mount id is reused once the program
  // unmounts it).
  bool IsViewMount(uint64_t mount_id) const;
  // If host fd `fd` (in the supervisor) is one of mqfs's directories (its root, a
  // namespace's, on any mount of it): the namespace it shows, nullptr for the root or a
  // namespace that is gone. nullopt for anything else.
  std::optional<std::shared_ptr<ipc::IpcNamespace>> IdentifyDirectory(int fd) const;
  // Whether `ino` may be one of mqfs's directories (their numbers are far above any
  // queue's).
  static bool IsDirectoryIno(uint64_t ino);
  // Whether `ino` is the inode number of a queue mqfs serves (on any mount of it).
  bool HasQueueIno(uint64_t ino) const { return table_.Find(ino).has_value(); }
  // Whether a program has mounted namespace `ns`'s directory (NewView).
  bool HasView(const ipc::IpcNamespace& ns) const;

  // An mq call on `inode` succeeded: atime and ctime become now, and mtime too if it
  // sent or received a message (spec §8.3 "Timestamps"). Whole seconds, as mqueue keeps.
  void Touch(const ipc::QueueInode& inode, bool modified);
  // Checkpoint and restore: queue `queue_id`'s file times (nullopt if mqfs has never
  // served it), and the times a restored queue's file starts with.
  std::optional<FileTimes> QueueTimes(uint64_t queue_id) const;
  void PresetQueueTimes(uint64_t queue_id, const FileTimes& times);

  // Waits until every request the kernel had queued for this filesystem when it was
  // called has been answered, for at most `timeout_ms`. The kernel sends a release in the
  // background, after the close(2) that dropped the last reference has returned, so a
  // program's next call can reach the sentry before its description is given back (and
  // with it, say, a queue that counts against queues_max). True if anything was pending.
  // Not from an mqfs thread.
  bool WaitForQueuedRequests(int timeout_ms);

  // If host fd `fd` (in the supervisor) refers to a file of this filesystem (st_dev equals
  // the mount's device, st_ino maps to a known queue) returns its inode and namespace, else
  // nullopt. One statx(AT_STATX_DONT_SYNC), which FUSE answers from the inode without a
  // request, so it may be called under any lock. O_PATH fds of a queue are identified too
  // (mq calls must answer EBADF for them: check F_GETFL).
  std::optional<std::pair<std::shared_ptr<ipc::QueueInode>, std::shared_ptr<ipc::IpcNamespace>>>
  Identify(int fd) const;

  // The same, from what /proc/<tid>/fdinfo/<fd> shows of a descriptor in another process:
  // its mount id and inode number. No system call at all: the sentry resolves descriptors
  // this way so that it never opens (and so never flushes) mqfs files on the hot path.
  std::optional<std::pair<std::shared_ptr<ipc::QueueInode>, std::shared_ptr<ipc::IpcNamespace>>>
  IdentifyMountInode(uint64_t mount_id, uint64_t ino) const;
  // The mount id of this filesystem (statx STATX_MNT_ID of the mountpoint).
  uint64_t mount_id() const { return mount_id_; }

  // The queue's readiness may have changed: wakes pollers of every open file of it. Safe
  // under Queue::mu_ (it takes only NodeTable::mu_ and session_mu_ and never calls the
  // queue) and never waits for a FUSE request: a poll notification is one write(2) to
  // /dev/fuse that the kernel handles without waiting for us.
  void PollWake(const ipc::Queue& queue);

  dev_t device() const { return device_; }
  const std::string& mountpoint() const { return mountpoint_; }

  // For tests: open descriptions currently known.
  size_t open_files() const { return table_.open_files(); }

 private:
  class Ops;  // the FUSE low-level callbacks (mqfs.cc)

  Mqfs(std::string mountpoint, MqfsHooks* hooks);
  absl::Status Start();
  void Serve(int epoll_fd);  // one FUSE request thread
  // Makes the kernel ask for the attributes of `ino` again on its next stat.
  void InvalidateAttributes(uint64_t ino);
  void Stop();

  const std::string mountpoint_;
  MqfsHooks* const hooks_;
  const timespec mount_time_;  // the root directory's times
  NodeTable table_;
  dev_t device_ = 0;
  uint64_t mount_id_ = 0;
  bool mounted_ = false;
  int stop_fd_ = -1;  // eventfd that ends the request threads
  std::vector<std::thread> threads_;
  std::vector<int> epoll_fds_;  // one per request thread (see Serve)
  // The detached trees that files are opened through (see Open), by (directory, extra
  // flags), and the extra flags by mount id.
  struct TreeMount {
    int fd = -1;
    uint64_t mount_id = 0;
  };
  struct Tree {
    int fd = -1;       // open_tree descriptor, or -1: open by path
    std::string path;  // when fd is -1: the directory through the mount itself
  };
  absl::StatusOr<Tree> TreeFor(uint64_t dir, int extra_flags) ABSL_LOCKS_EXCLUDED(views_mu_);
  // Drop `node`'s cached name (open files on it read "(deleted)"; fuse
  // notify_inval_entry).
  void NotifyDeleted(const QueueNode& node);
  void ForgetName(const QueueNode& node);
  mutable absl::Mutex views_mu_;
  absl::flat_hash_map<std::pair<uint64_t, int>, TreeMount> trees_ ABSL_GUARDED_BY(views_mu_);
  size_t extra_trees_ ABSL_GUARDED_BY(views_mu_) = 0;
  absl::flat_hash_map<uint64_t, int> views_by_mount_id_ ABSL_GUARDED_BY(views_mu_);
  // Mount ids NewView handed out, and the directories they show (their attributes are
  // invalidated when their entries change, so that a program's stat sees st_size move).
  absl::flat_hash_set<uint64_t> program_view_ids_ ABSL_GUARDED_BY(views_mu_);
  absl::flat_hash_set<uint64_t> viewed_dirs_ ABSL_GUARDED_BY(views_mu_);
  // A name was added to or removed from `dir`: its times move, and a viewed one's cached
  // attributes are dropped.
  void DirChanged(uint64_t dir) ABSL_LOCKS_EXCLUDED(views_mu_);
  // stat of mqfs's root or a namespace's directory.
  struct stat DirAttributes(uint64_t ino) const;
  // Request threads between waking for a request and having answered it.
  std::atomic<int> busy_threads_{0};

  // Held shared while notifying pollers (PollWake, any thread) and exclusively while the
  // session is destroyed, so no notification writes to a freed session.
  mutable absl::Mutex session_mu_;
  fuse_session* session_ ABSL_GUARDED_BY(session_mu_) = nullptr;
  // The same pointer, for the request threads and Start/Stop (which own its lifetime).
  fuse_session* serving_session_ = nullptr;
};

}  // namespace mqsentry::vfs

#endif  // MQSENTRY_VFS_MQFS_H_
