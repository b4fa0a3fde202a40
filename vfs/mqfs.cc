// Mqfs: mounting and serving the message-queue filesystem over FUSE (libfuse3 low-level
// API), and the FUSE request handlers that give mq descriptors their file behaviour
// (spec §8). Host calls live here; the bookkeeping is NodeTable's.
#define FUSE_USE_VERSION 314

#include "vfs/mqfs.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <fuse3/fuse_lowlevel.h>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipc/status_line.h"
#include "kernel/ids.h"

namespace mqsentry::vfs {
namespace {

// The root directory: read and search for everybody, writable by nobody. Queues are
// created through mq_open only; default_permissions still checks each queue's own mode.
constexpr mode_t kRootMode = 0555;
// Seconds the kernel may keep a name (and the root's attributes), and a looked-up queue's
// attributes before Mqfs::Open invalidates them (see Lookup).
constexpr double kEntryTimeout = 86400;
constexpr double kLookupAttrTimeout = 10;
// st_blksize of a queue inode (spec §8.3) and f_bsize/f_namelen of statfs.
constexpr blksize_t kBlockSize = 4096;
constexpr unsigned long kNameMax = 255;
// MAX_NON_LFS: the largest size ftruncate accepts on a file without O_LARGEFILE, and the
// mqueue superblock's s_maxbytes (alloc_super's default, which mqueue keeps).
constexpr off_t kMaxNonLfs = 0x7fffffff;

// Set on mqfs request threads, so that Mqfs::Open refuses to wait for itself.
thread_local bool tls_mqfs_thread = false;

absl::Status ErrnoStatus(int err, absl::string_view what) {
  return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat(what, ": ", std::strerror(err)));
}

// The mqueue superblock keeps times in whole seconds (spec §8.3: every time a queue file
// shows has tv_nsec 0).
timespec Now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec = 0;
  return ts;
}

timespec WholeSeconds(timespec ts) {
  ts.tv_nsec = 0;
  return ts;
}

int32_t CurrentTid() { return static_cast<int32_t>(syscall(SYS_gettid)); }

// Whether FUSE caller `tid` (in the supervisor's PID namespace, as the kernel reports it)
// is a thread of this process: the supervisor's own lookups. No sandboxed program has a
// path into mqfs; one that got a directory by decoding a file handle (which the sentry
// refuses, see sentry/file_handlers.cc) still finds nothing in it.
bool CallerIsThisProcess(int32_t tid) {
  if (tid <= 0) return false;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d", tid);
  return access(path, F_OK) == 0;
}

// A FUSE inode generation that a program cannot guess: a file handle names a node by id
// and generation, so a handle forged for another namespace's queue does not decode.
uint32_t RandomGeneration() {
  uint32_t g = 0;
  while (getrandom(&g, sizeof(g), 0) != sizeof(g)) {
  }
  return g;
}

// Queue ids in decimal, as AddQueue names them: digits only, no leading zero.
std::optional<uint64_t> ParseQueueId(const char* name) {
  const absl::string_view text(name);
  if (text.empty() || text.size() > 20 || (text.size() > 1 && text[0] == '0')) {
    return std::nullopt;
  }
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  uint64_t id = 0;
  if (!absl::SimpleAtoi(text, &id) || id == UINT64_MAX) return std::nullopt;
  return id;
}

// Spec §8.3: S_IFREG | mode, nlink 1 (0 once unlinked), the queue's owner, i_size 80
// unless truncated, st_blksize 4096, no blocks.
struct stat QueueStat(const QueueNode& node) {
  const ipc::Queue& queue = node.inode->queue();
  struct stat st {};
  st.st_ino = node.ino;
  st.st_mode = S_IFREG | (queue.mode() & 07777);
  st.st_nlink = node.ns->linked(*node.inode) ? 1 : 0;
  st.st_uid = queue.uid().value();
  st.st_gid = queue.gid().value();
  st.st_size = node.meta.size;
  st.st_blksize = kBlockSize;
  st.st_blocks = 0;
  st.st_atim = node.meta.atime;
  st.st_mtim = node.meta.mtime;
  st.st_ctim = node.meta.ctime;
  return st;
}

struct stat RootStat() {
  struct stat st {};
  st.st_ino = kRootIno;
  st.st_mode = S_IFDIR | kRootMode;
  st.st_nlink = 2;
  st.st_blksize = kBlockSize;
  return st;
}

// A namespace's directory is the root of its mqueue superblock (spec §8.5, §9.1): 01777,
// owned by the namespace's creator, st_size 40 + 20 per queue. (The directory of unlinked
// queues, and one whose namespace is gone, look like mqfs's root.)
struct stat DirStat(uint64_t ino, const ipc::IpcNamespace* ns) {
  struct stat st = RootStat();
  st.st_ino = ino;
  if (ns != nullptr) {
    st.st_mode = S_IFDIR | 01777;
    st.st_uid = ns->root_uid().value();
    st.st_gid = ns->root_gid().value();
    st.st_size = 40 + 20 * static_cast<off_t>(ns->Names().size());
  }
  return st;
}

}  // namespace

// The FUSE low-level callbacks. Each finds its Mqfs through the session's user data, does
// its table work under NodeTable::mu_ only, and calls queues, namespaces and hooks with no
// mqfs lock held.
class Mqfs::Ops {
 public:
  static const fuse_lowlevel_ops kOps;

 private:
  static Mqfs& Self(fuse_req_t req) { return *static_cast<Mqfs*>(fuse_req_userdata(req)); }
  static int32_t CallerTid(fuse_req_t req) { return fuse_req_ctx(req)->pid; }

  static void Init(void* userdata, fuse_conn_info* conn) {
    // O_TRUNC must arrive as a size change (setattr), which is how it reaches i_size.
    conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
    // Let the kernel clear set-id bits on chown/truncate itself, as simple_setattr does.
    conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
    // Nothing is cached: attributes and the status line are always asked for.
    conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_AUTO_INVAL_DATA);
  }

  // Only Mqfs::Open looks queues up (the sandbox never reaches these directories: no path
  // leads there and no handle is decoded on mqfs). Each namespace's directory is named by
  // its index; in it, a name is the queue the looking-up thread is opening (Mqfs::Open
  // expects it: even an unlinked one, or one whose name a new queue took meanwhile), else
  // the queue linked under that name.
  //
  // A program reaches a namespace's directory only through a mount of it (NewView), where
  // it looks up the linked queues.
  static void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    Mqfs& fs = Self(req);
    const bool supervisor = CallerIsThisProcess(CallerTid(req));
    if (!supervisor && !IsNamespaceDir(fs, parent)) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    if (!supervisor && std::strlen(name) > kNameMax) {
      fuse_reply_err(req, ENAMETOOLONG);
      return;
    }
    fuse_entry_param entry{};
    entry.generation = 0;  // directory indexes are never reused
    if (parent == kRootIno) {
      const std::optional<uint64_t> index = ParseQueueId(name);
      if (!index.has_value() || *index >= kDirInoBase || !fs.table_.IsDir(kDirInoBase + *index)) {
        fuse_reply_err(req, ENOENT);
        return;
      }
      entry.ino = kDirInoBase + *index;
      entry.attr = fs.DirAttributes(entry.ino);
      entry.attr_timeout = kEntryTimeout;
      entry.entry_timeout = kEntryTimeout;
      fuse_reply_entry(req, &entry);
      return;
    }
    if (!fs.table_.IsDir(parent)) {
      fuse_reply_err(req, ENOTDIR);
      return;
    }
    std::optional<QueueNode> node;
    if (parent == kUnlinkedDirIno) {
      for (uint64_t ino : fs.table_.ExpectedOpensOf(CallerTid(req))) {
        std::optional<QueueNode> candidate = fs.table_.Find(ino);
        if (candidate.has_value() && candidate->name == name) node = std::move(candidate);
      }
    }
    for (uint64_t ino : parent == kUnlinkedDirIno ? std::vector<uint64_t>{}
                                                  : fs.table_.InosNamed(parent, name)) {
      std::optional<QueueNode> candidate = fs.table_.Find(ino);
      if (!candidate.has_value()) continue;
      if (fs.table_.HasExpectedOpen(ino, CallerTid(req))) {
        node = std::move(candidate);
        break;
      }
      if (!node.has_value() && candidate->ns->linked(*candidate->inode)) node = std::move(candidate);
    }
    if (!node.has_value()) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    entry.ino = node->ino;
    entry.generation = node->generation;
    entry.attr = QueueStat(*node);
    // The name may stay cached: an unlink removes it (Mqfs::QueueUnlinked), and a cached
    // name that leads to another queue than the one expected is dropped and looked up
    // again (Mqfs::Open). The attributes are cached just long enough for the permission
    // check of that open, which then invalidates them, so that every later stat asks
    // again (times and links change in the model, not through FUSE).
    // A program's stat must see what the model says now.
    entry.attr_timeout = supervisor ? kLookupAttrTimeout : 0;
    entry.entry_timeout = kEntryTimeout;
    fuse_reply_entry(req, &entry);
  }

  // A namespace's directory (not the root, not the directory of unlinked queues) that a
  // program has mounted (NewView). The others stay the supervisor's alone, whatever path
  // or decoded handle reaches them.
  static bool IsNamespaceDir(Mqfs& fs, fuse_ino_t ino) {
    if (ino == kRootIno || ino == kUnlinkedDirIno || !fs.table_.IsDir(ino)) return false;
    absl::MutexLock lock(&fs.views_mu_);
    return fs.viewed_dirs_.contains(ino);
  }

  static void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    if (ino == kRootIno || Self(req).table_.IsDir(ino)) {
      struct stat st = Self(req).DirAttributes(ino);
      // The root never changes: no GETATTR for every path walk of Mqfs::Open.
      fuse_reply_attr(req, &st, kEntryTimeout);
      return;
    }
    const std::optional<QueueNode> node = Self(req).table_.Find(ino);
    if (!node.has_value()) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    const struct stat st = QueueStat(*node);
    fuse_reply_attr(req, &st, 0);
  }

  // fchmod, fchown, ftruncate, utimensat (spec §8.3). Permission checks (ownership,
  // CAP_CHOWN, FMODE_WRITE for ftruncate) were made by the kernel: default_permissions.
  static void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                      fuse_file_info* fi) {
    Mqfs& fs = Self(req);
    if (ino == kRootIno || fs.table_.IsDir(ino)) {
      fuse_reply_err(req, EPERM);
      return;
    }
    const std::optional<QueueNode> node = fs.table_.Find(ino);
    if (!node.has_value()) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    if ((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size > kMaxNonLfs) {
      // Spec §8.3 ftruncate: do_sys_ftruncate() refuses a size above MAX_NON_LFS with
      // EINVAL on a description without O_LARGEFILE (every mq_open one); otherwise
      // inode_newsize_ok() refuses growth past s_maxbytes (MAX_NON_LFS too) with EFBIG.
      const std::shared_ptr<const OpenFile> file =
          fi != nullptr ? fs.table_.File(fi->fh) : nullptr;
      if (file != nullptr && !file->large_file) {
        fuse_reply_err(req, EINVAL);
        return;
      }
      if (attr->st_size > node->meta.size) {
        fuse_reply_err(req, EFBIG);
        return;
      }
    }
    ipc::Queue& queue = node->inode->queue();
    if (to_set & FUSE_SET_ATTR_MODE) queue.SetMode(attr->st_mode & 07777);
    if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
      const kernel::KUid uid =
          (to_set & FUSE_SET_ATTR_UID) ? kernel::KUid(attr->st_uid) : queue.uid();
      const kernel::KGid gid =
          (to_set & FUSE_SET_ATTR_GID) ? kernel::KGid(attr->st_gid) : queue.gid();
      queue.SetOwner(uid, gid);
    }
    const timespec now = Now();
    const std::optional<NodeMeta> meta = fs.table_.UpdateMeta(ino, [&](NodeMeta& m) {
      if (to_set & FUSE_SET_ATTR_SIZE) m.size = attr->st_size;
      if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
        m.atime = now;
      } else if (to_set & FUSE_SET_ATTR_ATIME) {
        m.atime = WholeSeconds(attr->st_atim);
      }
      if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
        m.mtime = now;
      } else if (to_set & FUSE_SET_ATTR_MTIME) {
        m.mtime = WholeSeconds(attr->st_mtim);
      }
      // notify_change() always sets ctime; FUSE passes it only with writeback caching.
      m.ctime = (to_set & FUSE_SET_ATTR_CTIME) ? WholeSeconds(attr->st_ctim) : now;
    });
    if (!meta.has_value()) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    QueueNode updated = *node;
    updated.meta = *meta;
    const struct stat st = QueueStat(updated);
    fuse_reply_attr(req, &st, 0);
  }

  static void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Mqfs& fs = Self(req);
    const std::optional<QueueNode> node = fs.table_.Find(ino);
    if (!node.has_value()) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    // do_dentry_open(): O_DIRECT needs FMODE_CAN_ODIRECT, which an mqueue file lacks
    // (spec §3.3; Mqfs::Open never passes it to the file).
    if (fi->flags & O_DIRECT) {
      fuse_reply_err(req, EINVAL);
      return;
    }
    // Mqfs::Open's description was counted by IpcNamespace::Open; any other open (a
    // program reopening /proc/self/fd/N, spec §8.3) is a new description of the queue.
    const bool counted = fs.table_.TakeExpectedOpen(ino, CallerTid(req));
    if (!counted) node->ns->AddDescription(node->inode);
    const uint64_t fh =
        fs.table_.AddFile(OpenFile{ino, node->inode, node->ns, /*large_file=*/!counted});
    fi->fh = fh;
    // The status line changes under the reader: no page cache, every read comes here.
    fi->direct_io = 1;
    fi->keep_cache = 0;
    fi->nonseekable = 0;  // read/pread/lseek use the file position (spec §8.1)
    fi->noflush = 0;      // close must reach OnFlush (spec §6.2)
    if (fuse_reply_open(req, fi) != 0) {
      // The opener was killed before the reply: the kernel drops this open and sends no
      // release for it. Undo our side; a counted (Mqfs::Open) description stays the
      // caller's, whose open(2) fails.
      fs.table_.RemoveFile(fh);
      if (!counted) node->ns->ReleaseDescription(node->inode);
    }
  }

  // Spec §8.1: the status line at the file position. NOTIFY_PID is relative to the
  // reader's PID namespace, which only the sentry knows.
  static void Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    Mqfs& fs = Self(req);
    const std::shared_ptr<const OpenFile> file = fs.table_.File(fi->fh);
    if (file == nullptr) {
      fuse_reply_err(req, EBADF);
      return;
    }
    const ipc::QueueStatus status = file->inode->queue().Status();
    int32_t notify_pid = 0;
    if (status.notify_owner.has_value()) {
      notify_pid = fs.hooks_->NotifyPidFor(CallerTid(req), status.notify_owner_host_tgid);
    }
    const std::string line =
        ipc::FormatStatusLine(status.qsize, status.notify, status.signo, notify_pid);
    if (off < 0 || static_cast<uint64_t>(off) >= line.size()) {
      fuse_reply_buf(req, nullptr, 0);
      return;
    }
    const size_t n = std::min(size, line.size() - static_cast<size_t>(off));
    // mqueue_read_file(): a read that returned bytes sets atime and ctime.
    const timespec now = Now();
    fs.table_.UpdateMeta(ino, [&](NodeMeta& m) { m.atime = m.ctime = now; });
    fuse_reply_buf(req, line.data() + off, n);
  }

  // Spec §8.1: a writable descriptor gets EINVAL (the kernel answers EBADF for O_RDONLY
  // before asking us).
  static void Write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
                    fuse_file_info* fi) {
    fuse_reply_err(req, EINVAL);
  }

  // Spec §8.2. The handle is stored before readiness is read: a PollWake in between then
  // notifies a poller that the kernel has already put on its wait queue, so no wake-up is
  // lost.
  static void Poll(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, fuse_pollhandle* ph) {
    Mqfs& fs = Self(req);
    const std::shared_ptr<const OpenFile> file = fs.table_.File(fi->fh);
    if (file == nullptr) {
      if (ph != nullptr) fuse_pollhandle_destroy(ph);
      fuse_reply_err(req, EBADF);
      return;
    }
    if (ph != nullptr) fs.table_.SetPollHandle(fi->fh, PollHandle(ph, fuse_pollhandle_destroy));
    fuse_reply_poll(req, file->inode->queue().Readiness());
  }

  // Every close(2) of any fd (spec §6.2, §8.4): the notification rule is the sentry's.
  static void Flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Mqfs& fs = Self(req);
    const std::shared_ptr<const OpenFile> file = fs.table_.File(fi->fh);
    if (file != nullptr) fs.hooks_->OnFlush(file->inode, *file->ns, CallerTid(req));
    fuse_reply_err(req, 0);
  }

  static void Release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Mqfs& fs = Self(req);
    // Forgotten first, so that when the hook runs mqfs no longer counts the description
    // (open_files() and poll wake-ups agree with what the hook is told).
    const std::shared_ptr<const OpenFile> file = fs.table_.RemoveFile(fi->fh);
    if (file != nullptr) fs.hooks_->OnRelease(file->inode, *file->ns);
    fuse_reply_err(req, 0);
  }

  // Spec §8.3: mqueue has no fsync (vfs_fsync_range answers EINVAL). ENOSYS would make
  // the kernel report success from then on.
  static void Fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
    fuse_reply_err(req, EINVAL);
  }

  // Only the supervisor lists the root (see CallerIsThisProcess); a program lists the
  // namespace directory it mounted.
  static void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    if (!IsNamespaceDir(Self(req), ino) && !CallerIsThisProcess(CallerTid(req))) {
      fuse_reply_err(req, EACCES);
      return;
    }
    fuse_reply_open(req, fi);
  }

  // The root lists the namespaces' directories, each directory its queues.
  static void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    Mqfs& fs = Self(req);
    const bool root = ino == kRootIno;
    if (!root && !fs.table_.IsDir(ino)) {
      fuse_reply_err(req, ENOTDIR);
      return;
    }
    struct Dirent {
      std::string name;
      fuse_ino_t ino;
      mode_t type;
    };
    std::vector<Dirent> all = {{".", ino, S_IFDIR}, {"..", kRootIno, S_IFDIR}};
    if (root) {
      for (uint64_t dir : fs.table_.Dirs()) {
        all.push_back({absl::StrCat(dir - kDirInoBase), dir, S_IFDIR});
      }
    } else {
      for (auto& [name, queue_ino] : fs.table_.EntriesOf(ino)) {
        std::optional<QueueNode> node = fs.table_.Find(queue_ino);
        if (node.has_value() && node->ns->linked(*node->inode)) {
          all.push_back({std::move(name), queue_ino, S_IFREG});
        }
      }
    }
    std::string buf(size, '\0');
    size_t used = 0;
    for (size_t i = off > 0 ? static_cast<size_t>(off) : 0; i < all.size(); ++i) {
      struct stat st {};
      st.st_ino = all[i].ino;
      st.st_mode = all[i].type;
      // The offset of an entry is the offset of the next one.
      const size_t need =
          fuse_add_direntry(req, buf.data() + used, size - used, all[i].name.c_str(), &st, i + 1);
      if (need > size - used) break;
      used += need;
    }
    fuse_reply_buf(req, buf.data(), used);
  }

  // Spec §8.3 wants f_type 0x19800202; FUSE always reports FUSE_SUPER_MAGIC. The rest is
  // mqueue's simple_statfs answer.
  static void StatFs(fuse_req_t req, fuse_ino_t ino) {
    struct statvfs st {};
    st.f_bsize = kBlockSize;
    st.f_frsize = kBlockSize;
    st.f_namemax = kNameMax;
    fuse_reply_statfs(req, &st);
  }

  // Spec §8.3: an mqueue inode has no xattr handlers, so listxattr() falls back to the
  // security module's list, empty here: 0 bytes. (getxattr, setxattr and removexattr stay
  // unanswered, which FUSE turns into EOPNOTSUPP, as mqueue gives.)
  static void ListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
    if (size == 0) {
      fuse_reply_xattr(req, 0);
    } else {
      fuse_reply_buf(req, nullptr, 0);
    }
  }

  // Names are created and removed through mq_open/mq_unlink only.
  static void Mknod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) {
    fuse_reply_err(req, EPERM);
  }
  static void Mkdir(fuse_req_t req, fuse_ino_t, const char*, mode_t) { fuse_reply_err(req, EPERM); }
  static void Remove(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, EPERM); }
  static void Symlink(fuse_req_t req, const char*, fuse_ino_t, const char*) {
    fuse_reply_err(req, EPERM);
  }
  static void Rename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*,
                     unsigned int) {
    fuse_reply_err(req, EPERM);
  }
  static void Link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) {
    fuse_reply_err(req, EPERM);
  }
  // open(O_CREAT) of a new name in a mounted namespace directory: mq_open's creation
  // (spec §8.5), by the sentry. The description it counts is this open's.
  static void Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                     fuse_file_info* fi) {
    Mqfs& fs = Self(req);
    if (!IsNamespaceDir(fs, parent)) {
      fuse_reply_err(req, EPERM);
      return;
    }
    // Spec §9.3: a mount of a namespace that is gone refuses new files.
    const std::shared_ptr<ipc::IpcNamespace> ns = fs.table_.NamespaceOfDir(parent);
    if (ns == nullptr || ns->dead()) {
      fuse_reply_err(req, EACCES);
      return;
    }
    const MqfsHooks::Created created =
        fs.hooks_->OnCreate(ns, CallerTid(req), name, mode & 07777, fi->flags);
    if (created.err != 0) {
      fuse_reply_err(req, created.err);
      return;
    }
    const uint64_t ino = InoForQueue(created.inode->id());
    const std::optional<QueueNode> node = fs.table_.Find(ino);
    if (!node.has_value()) {
      ns->ReleaseDescription(created.inode);
      fuse_reply_err(req, ENOENT);
      return;
    }
    fuse_entry_param entry{};
    entry.ino = ino;
    entry.generation = node->generation;
    entry.attr = QueueStat(*node);
    entry.attr_timeout = 0;
    entry.entry_timeout = kEntryTimeout;
    const uint64_t fh =
        fs.table_.AddFile(OpenFile{ino, node->inode, node->ns, /*large_file=*/true});
    fi->fh = fh;
    fi->direct_io = 1;
    fi->keep_cache = 0;
    fi->nonseekable = 0;
    fi->noflush = 0;
    if (fuse_reply_create(req, &entry, fi) != 0) {
      fs.table_.RemoveFile(fh);
      ns->ReleaseDescription(created.inode);
    }
  }

  // unlink(2) in a mounted namespace directory: mq_unlink (spec §8.5). The kernel has
  // checked the directory's write and sticky rules against the attributes we gave it.
  static void Unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
    Mqfs& fs = Self(req);
    const std::shared_ptr<ipc::IpcNamespace> ns =
        IsNamespaceDir(fs, parent) ? fs.table_.NamespaceOfDir(parent) : nullptr;
    if (ns == nullptr) {
      fuse_reply_err(req, EPERM);
      return;
    }
    const int err = fs.hooks_->OnUnlink(ns, CallerTid(req), name);
    if (err == 0) fs.DirChanged(parent);
    fuse_reply_err(req, err);
  }

  static fuse_lowlevel_ops MakeOps() {
    fuse_lowlevel_ops ops{};
    ops.init = Init;
    ops.lookup = Lookup;
    ops.getattr = GetAttr;
    ops.setattr = SetAttr;
    ops.open = Open;
    ops.read = Read;
    ops.write = Write;
    ops.poll = Poll;
    ops.flush = Flush;
    ops.release = Release;
    ops.fsync = Fsync;
    ops.opendir = OpenDir;
    ops.readdir = ReadDir;
    ops.statfs = StatFs;
    ops.mknod = Mknod;
    ops.mkdir = Mkdir;
    ops.unlink = Unlink;
    ops.rmdir = Remove;
    ops.symlink = Symlink;
    ops.rename = Rename;
    ops.link = Link;
    ops.create = Create;
    ops.listxattr = ListXattr;
    return ops;
  }
};

const fuse_lowlevel_ops Mqfs::Ops::kOps = Mqfs::Ops::MakeOps();

Mqfs::Mqfs(std::string mountpoint, MqfsHooks* hooks)
    : mountpoint_(std::move(mountpoint)), hooks_(hooks), mount_time_(Now()) {}

absl::StatusOr<std::unique_ptr<Mqfs>> Mqfs::Mount(const std::string& mountpoint, MqfsHooks* hooks) {
  if (hooks == nullptr) return absl::InvalidArgumentError("mqfs: hooks must not be null");
  std::unique_ptr<Mqfs> fs(new Mqfs(mountpoint, hooks));
  absl::Status status = fs->Start();
  if (!status.ok()) return status;
  return fs;
}

absl::Status Mqfs::Start() {
  struct stat dir {};
  if (stat(mountpoint_.c_str(), &dir) != 0) {
    return ErrnoStatus(errno, absl::StrCat("mqfs: mountpoint ", mountpoint_));
  }
  if (!S_ISDIR(dir.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("mqfs: mountpoint ", mountpoint_, " is not a directory"));
  }
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) return ErrnoStatus(errno, "mqfs: eventfd");

  // The mount is made here rather than by libfuse so that its errors come back as errno
  // (libfuse only logs them); libfuse then adopts the device fd ("/dev/fd/N").
  const int dev_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (dev_fd < 0) return ErrnoStatus(errno, "mqfs: cannot open /dev/fuse");

  char arg0[] = "mqsentry-mqfs";
  char* argv[] = {arg0, nullptr};
  fuse_args args = FUSE_ARGS_INIT(1, argv);
  fuse_session* se = fuse_session_new(&args, &Ops::kOps, sizeof(Ops::kOps), this);
  fuse_opt_free_args(&args);  // parsing may have copied them
  if (se == nullptr) {
    close(dev_fd);
    return absl::InternalError("mqfs: fuse_session_new failed");
  }
  // rootmode only types the root before its first getattr; default_permissions makes the
  // kernel check modes (ours answer getattr), allow_other lets sandboxed users in.
  // nosuid/nodev/noexec as on a /dev/mqueue mount: queue modes keep set-id bits.
  const std::string options =
      absl::StrFormat("fd=%d,rootmode=%o,user_id=%u,group_id=%u,default_permissions,allow_other",
                      dev_fd, S_IFDIR, geteuid(), getegid());
  if (mount("mqueue", mountpoint_.c_str(), "fuse.mqsentry", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            options.c_str()) != 0) {
    const int err = errno;
    close(dev_fd);
    fuse_session_destroy(se);
    return ErrnoStatus(err, absl::StrCat("mqfs: mount on ", mountpoint_));
  }
  mounted_ = true;
  const std::string dev_path = absl::StrCat("/dev/fd/", dev_fd);
  if (fuse_session_mount(se, dev_path.c_str()) != 0) {
    close(dev_fd);
    fuse_session_destroy(se);
    return absl::InternalError("mqfs: fuse_session_mount did not take the device fd");
  }
  serving_session_ = se;
  {
    absl::MutexLock lock(&session_mu_);
    session_ = se;
  }
  // Non-blocking, so that a request thread that loses the race for a request goes back to
  // waiting (see Serve).
  const int fuse_fd = fuse_session_fd(se);
  const int fl = fcntl(fuse_fd, F_GETFL);
  if (fl < 0 || fcntl(fuse_fd, F_SETFL, fl | O_NONBLOCK) != 0) {
    return ErrnoStatus(errno, "mqfs: fcntl /dev/fuse");
  }
  for (int i = 0; i < kServeThreads; ++i) {
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return ErrnoStatus(errno, "mqfs: epoll_create1");
    epoll_fds_.push_back(ep);
    epoll_event dev{};
    dev.events = EPOLLIN | EPOLLEXCLUSIVE;
    dev.data.u32 = 0;
    epoll_event stop{};
    stop.events = EPOLLIN;
    stop.data.u32 = 1;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fuse_fd, &dev) != 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, stop_fd_, &stop) != 0) {
      return ErrnoStatus(errno, "mqfs: epoll_ctl");
    }
  }
  for (int ep : epoll_fds_) threads_.emplace_back([this, ep] { Serve(ep); });

  // The mount's device, for Identify. This is also the first request: it fails if the
  // session does not answer.
  struct stat root {};
  if (stat(mountpoint_.c_str(), &root) != 0) {
    return ErrnoStatus(errno, absl::StrCat("mqfs: stat of new mount ", mountpoint_));
  }
  if (root.st_ino != kRootIno) {
    return absl::InternalError(absl::StrCat("mqfs: ", mountpoint_, " is not the new mount"));
  }
  device_ = root.st_dev;
  struct statx stx {};
  if (statx(AT_FDCWD, mountpoint_.c_str(), AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) != 0 ||
      !(stx.stx_mask & STATX_MNT_ID)) {
    return ErrnoStatus(errno, absl::StrCat("mqfs: mount id of ", mountpoint_));
  }
  mount_id_ = stx.stx_mnt_id;
  return absl::OkStatus();
}

// Every request thread waits in its own epoll instance, holding the device as an
// EPOLLEXCLUSIVE entry: a request wakes one thread, not all of them (poll(2) on the device
// would wake every waiter), and no thread has to wake another to hand a role on. A thread
// that loses a race for a request reads EAGAIN (the device is non-blocking) and waits
// again. The stop eventfd is a plain entry in every instance, so it wakes them all.
void Mqfs::Serve(int ep) {
  tls_mqfs_thread = true;
  fuse_session* const se = serving_session_;
  fuse_buf buf{};
  while (!fuse_session_exited(se)) {
    epoll_event ev[2];
    const int n = epoll_wait(ep, ev, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    bool stopping = false, request = false;
    for (int i = 0; i < n; ++i) {
      if (ev[i].data.u32 == 1) stopping = true;
      if (ev[i].data.u32 == 0) request = true;
    }
    // The stop eventfd is never drained, so it is seen on every later wait too.
    if (stopping) break;
    if (!request) continue;
    // Counted busy before the request leaves the kernel's queue (WaitForQueuedRequests).
    busy_threads_.fetch_add(1);
    const int res = fuse_session_receive_buf(se, &buf);
    if (res > 0) fuse_session_process_buf(se, &buf);
    busy_threads_.fetch_sub(1);
    if (res == -EINTR || res == -EAGAIN) continue;  // taken by another thread, or withdrawn
    if (res <= 0) break;  // 0: unmounted or aborted (the session has exited)
  }
  free(buf.mem);
}

void Mqfs::Stop() {
  // Lazily: queue fds the sandbox still holds keep the superblock, not the mountpoint.
  {
    // Detached trees go with the last file opened through them.
    absl::MutexLock lock(&views_mu_);
    for (auto& [key, tree] : trees_) close(tree.fd);
    trees_.clear();
    views_by_mount_id_.clear();
  }
  if (mounted_) umount2(mountpoint_.c_str(), MNT_DETACH);
  mounted_ = false;
  if (stop_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(stop_fd_, &one, sizeof(one));
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  for (int ep : epoll_fds_) close(ep);
  epoll_fds_.clear();
  table_.DropPollHandles();
  {
    absl::MutexLock lock(&session_mu_);
    session_ = nullptr;
  }
  // Closes the device fd: the kernel aborts the connection, so files still open fail with
  // ENOTCONN instead of waiting for us.
  if (serving_session_ != nullptr) fuse_session_destroy(serving_session_);
  serving_session_ = nullptr;
  if (stop_fd_ >= 0) close(stop_fd_);
  stop_fd_ = -1;
}

Mqfs::~Mqfs() { Stop(); }

void Mqfs::AddQueue(std::shared_ptr<ipc::QueueInode> inode, std::shared_ptr<ipc::IpcNamespace> ns) {
  std::string name = ns->name(*inode);
  // A name is never empty (spec §3.2); one restored without a name gets a placeholder.
  if (name.empty()) name = absl::StrCat("#", inode->id());
  const ipc::IpcNamespace* ns_ptr = ns.get();
  table_.AddQueue(std::move(inode), std::move(ns), std::move(name), Now(), RandomGeneration());
  if (const std::optional<uint64_t> dir = table_.DirOf(ns_ptr)) DirChanged(*dir);
}

struct stat Mqfs::DirAttributes(uint64_t ino) const {
  if (ino == kRootIno) {
    struct stat st = RootStat();
    st.st_atim = st.st_mtim = st.st_ctim = mount_time_;
    return st;
  }
  struct stat st = DirStat(ino, table_.NamespaceOfDir(ino).get());
  const std::optional<NodeTable::DirTimes> times = table_.TimesOf(ino);
  st.st_atim = times ? times->atime : mount_time_;
  st.st_mtim = times ? times->mtime : mount_time_;
  st.st_ctim = times ? times->ctime : mount_time_;
  return st;
}

void Mqfs::DirChanged(uint64_t dir) {
  table_.TouchDir(dir, Now());
  {
    absl::MutexLock lock(&views_mu_);
    if (!viewed_dirs_.contains(dir)) return;
  }
  InvalidateAttributes(dir);
}

absl::StatusOr<int> Mqfs::NewView(const std::shared_ptr<ipc::IpcNamespace>& ns) {
  const uint64_t dir = table_.DirFor(ns, Now());
  // Queues the namespace got without an mq_open (a restore) are served from the start, so
  // that a view lists and stats them before anything opens them.
  for (const std::string& name : ns->Names()) {
    std::shared_ptr<ipc::QueueInode> inode = ns->Lookup(name);
    if (inode == nullptr || table_.Find(InoForQueue(inode->id())).has_value()) continue;
    table_.AddQueue(std::move(inode), ns, name, Now(), RandomGeneration());
  }
  const std::string dir_path = absl::StrCat(mountpoint_, "/", dir - kDirInoBase);
  const int fd = static_cast<int>(
      syscall(SYS_open_tree, AT_FDCWD, dir_path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("mqfs: open_tree ", dir_path));
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) != 0 ||
      !(stx.stx_mask & STATX_MNT_ID)) {
    const int err = errno;
    close(fd);
    return ErrnoStatus(err, absl::StrCat("mqfs: mount id of a view of ", dir_path));
  }
  bool first = false;
  {
    absl::MutexLock lock(&views_mu_);
    program_view_ids_.insert(stx.stx_mnt_id);
    first = viewed_dirs_.insert(dir).second;
  }
  // Attributes cached before the directory was viewed may not follow its entries.
  if (first) InvalidateAttributes(dir);
  return fd;
}

bool Mqfs::HasView(const ipc::IpcNamespace& ns) const {
  const std::optional<uint64_t> dir = table_.DirOf(&ns);
  if (!dir.has_value()) return false;
  absl::MutexLock lock(&views_mu_);
  return viewed_dirs_.contains(*dir);
}

bool Mqfs::IsViewMount(uint64_t mount_id) const {
  absl::MutexLock lock(&views_mu_);
  return program_view_ids_.contains(mount_id);
}

void Mqfs::QueueUnlinked(const ipc::IpcNamespace& ns, const std::string& name) {
  const std::optional<uint64_t> dir = table_.DirOf(&ns);
  if (!dir.has_value()) return;
  // Whatever is cached under the name is stale now, whether its queue still lives (open
  // files) or is already gone.
  QueueNode stale;
  stale.dir = *dir;
  stale.name = name;
  NotifyDeleted(stale);
  DirChanged(*dir);
}

void Mqfs::ForgetNamespace(const ipc::IpcNamespace& ns) {
  const std::optional<uint64_t> dir = table_.ForgetNamespace(&ns);
  if (!dir.has_value()) return;
  absl::MutexLock lock(&views_mu_);
  for (auto it = trees_.begin(); it != trees_.end();) {
    if (it->first.first != *dir) {
      ++it;
      continue;
    }
    close(it->second.fd);
    views_by_mount_id_.erase(it->second.mount_id);
    if (it->first.second != 0) --extra_trees_;
    trees_.erase(it++);
  }
}

void Mqfs::NotifyDeleted(const QueueNode& node) {
  // Unhashes the cached name: files still open on it then read "/NAME (deleted)", and an
  // unused one is dropped, leaving no negative entry behind (notify_delete would leave
  // one, and the next queue of that name would not be looked up). ENOENT (nothing
  // cached) is fine.
  ForgetName(node);
}

absl::StatusOr<int> Mqfs::Open(const ipc::QueueInode& inode, int flags) {
  if (tls_mqfs_thread) {
    return absl::FailedPreconditionError("mqfs: Open called on an mqfs thread (self-deadlock)");
  }
  const uint64_t ino = InoForQueue(inode.id());
  const std::optional<QueueNode> node = table_.Find(ino);
  if (!node.has_value()) {
    return absl::NotFoundError(absl::StrCat("mqfs: queue ", inode.id(), " was never added"));
  }
  const int32_t tid = CurrentTid();
  const bool path_only = (flags & O_PATH) != 0;
  const int kept = flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);
  // The file gets what fcntl can see change; the rest is the tree's (TreeFor).
  const int oflags = (kept & kHostOpenFlags) | O_CLOEXEC;
  const std::string what = absl::StrCat("mqfs: open of queue ", inode.id());
  // An unlinked queue is opened under its name in the directory of unlinked queues, so
  // that a queue that took the name meanwhile keeps its own cached name.
  QueueNode target = *node;
  if (!node->ns->linked(inode)) target.dir = kUnlinkedDirIno;
  // A name cached for another queue (one that took the name after an unlink we were not
  // told of) leads to the wrong file: that open is dropped, the name forgotten, and the
  // open made once more.
  absl::StatusOr<Tree> tree = TreeFor(target.dir, kept & ~kHostOpenFlags);
  if (!tree.ok()) return tree.status();
  for (int attempt = 0;; ++attempt) {
    // Also for O_PATH, which sends no FUSE open: the lookup finds the queue by it.
    table_.ExpectOpen(ino, tid);
    int fd;
    // EINTR: the FUSE open was withdrawn before we read it, so the expectation still holds.
    do {
      fd = tree->fd >= 0 ? openat(tree->fd, node->name.c_str(), oflags)
                         : open(absl::StrCat(tree->path, "/", node->name).c_str(), oflags);
    } while (fd < 0 && errno == EINTR);
    const int err = errno;
    const bool expectation_left = table_.CancelExpectedOpen(ino, tid);
    const bool not_taken = !path_only && expectation_left;
    if (fd < 0 && err == ENOENT && attempt == 0) {
      // A name cached for a queue already destroyed: forget it and look it up again.
      ForgetName(target);
      continue;
    }
    // A failure after our FUSE open succeeded (only a security module could cause one: we
    // pass neither O_TRUNC nor O_DIRECT) would be followed by a release, which gives the
    // counted description back through OnRelease while the caller also keeps it.
    if (fd < 0) return ErrnoStatus(err, what);
    // The attributes cached by the lookup served this open's permission check; drop them
    // before anyone else can stat the file (see Ops::Lookup).
    InvalidateAttributes(ino);
    bool wrong_file = false;
    if (path_only) {
      struct stat st {};
      wrong_file = fstat(fd, &st) != 0 || st.st_ino != ino;
    }
    if (not_taken || wrong_file) {
      // The FUSE open was not this queue's as this thread (a stale name, or a PID
      // namespace mismatch): it was counted as a new description, which this close
      // releases.
      close(fd);
      ForgetName(target);
      if (attempt == 0) continue;
      return absl::InternalError(absl::StrCat(what, " was not recognised"));
    }
    // An unlinked queue (opened by a racing mq_open) is "/NAME (deleted)" at once. (One
    // unlinked only during this open leaves the name in its namespace's directory; that
    // forgets whatever is cached under it, which a queue created in that same window
    // would lose too: its files would then read "(deleted)".)
    if (!node->ns->linked(inode)) NotifyDeleted(target);
    return fd;
  }
}

void Mqfs::ForgetName(const QueueNode& node) {
  absl::ReaderMutexLock lock(&session_mu_);
  if (session_ == nullptr) return;
  fuse_lowlevel_notify_inval_entry(session_, node.dir, node.name.data(), node.name.size());
}

absl::StatusOr<Mqfs::Tree> Mqfs::TreeFor(uint64_t dir, int extra_flags) {
  const std::string dir_path = absl::StrCat(mountpoint_, "/", dir - kDirInoBase);
  absl::MutexLock lock(&views_mu_);
  auto key = std::make_pair(dir, extra_flags);
  if (auto it = trees_.find(key); it != trees_.end()) return Tree{it->second.fd, ""};
  if (extra_flags != 0 && extra_trees_ >= kMaxViews) {
    // A program cycling through flag combinations gets no more mounts: its descriptions
    // then show the flags of an open(2) in F_GETFL (the rest still works).
    key.second = 0;
    if (auto it = trees_.find(key); it != trees_.end()) return Tree{it->second.fd, ""};
  }
  if (trees_.size() >= kMaxTrees) {
    // Opened through the mount itself: F_GETFL loses the extra flags and the
    // /proc/<pid>/fd link shows the supervisor's path.
    return Tree{-1, dir_path};
  }
  // A detached copy of the directory's mount: its files' d_path() is "/NAME", as for a
  // file of mqueue's internal mount, and ".." cannot leave it.
  const int fd = static_cast<int>(
      syscall(SYS_open_tree, AT_FDCWD, dir_path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("mqfs: open_tree ", dir_path));
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) != 0 ||
      !(stx.stx_mask & STATX_MNT_ID)) {
    const int err = errno;
    close(fd);
    return ErrnoStatus(err, absl::StrCat("mqfs: mount id of a tree of ", dir_path));
  }
  trees_.emplace(key, TreeMount{fd, stx.stx_mnt_id});
  views_by_mount_id_[stx.stx_mnt_id] = key.second;
  if (key.second != 0) ++extra_trees_;
  return Tree{fd, ""};
}

std::optional<int> Mqfs::ExtraFlagsOfMount(uint64_t mount_id) const {
  if (mount_id == 0) return std::nullopt;
  if (mount_id == mount_id_) return 0;
  absl::MutexLock lock(&views_mu_);
  auto it = views_by_mount_id_.find(mount_id);
  if (it == views_by_mount_id_.end()) return std::nullopt;
  return it->second;
}

void Mqfs::Touch(const ipc::QueueInode& inode, bool modified) {
  const timespec now = Now();
  table_.UpdateMeta(InoForQueue(inode.id()), [&](NodeMeta& m) {
    m.atime = m.ctime = now;
    if (modified) m.mtime = now;
  });
}

std::optional<FileTimes> Mqfs::QueueTimes(uint64_t queue_id) const {
  return table_.QueueTimes(InoForQueue(queue_id));
}

void Mqfs::PresetQueueTimes(uint64_t queue_id, const FileTimes& times) {
  table_.PresetTimes(InoForQueue(queue_id), times);
}

bool Mqfs::WaitForQueuedRequests(int timeout_ms) {
  if (serving_session_ == nullptr || tls_mqfs_thread) return false;
  // A request queued before this call is, at any moment, either still in the kernel's
  // queue (the device polls readable) or taken by a thread that counted itself busy
  // before taking it, until it has answered. So: the device first, then the counter.
  pollfd device{fuse_session_fd(serving_session_), POLLIN, 0};
  bool pending = false;
  for (int waited_us = 0; waited_us < timeout_ms * 1000; waited_us += 100) {
    device.revents = 0;
    const bool queued = poll(&device, 1, 0) > 0 && (device.revents & POLLIN);
    if (!queued && busy_threads_.load() == 0) return pending;
    pending = true;
    usleep(100);
  }
  return pending;
}

void Mqfs::InvalidateAttributes(uint64_t ino) {
  absl::ReaderMutexLock lock(&session_mu_);
  if (session_ == nullptr) return;
  // -1: attributes only, no page cache (there is none: direct_io).
  fuse_lowlevel_notify_inval_inode(session_, ino, -1, 0);
}

std::optional<std::shared_ptr<ipc::IpcNamespace>> Mqfs::IdentifyDirectory(int fd) const {
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE | STATX_INO, &stx) != 0) {
    return std::nullopt;
  }
  if (makedev(stx.stx_dev_major, stx.stx_dev_minor) != device_ || !S_ISDIR(stx.stx_mode)) {
    return std::nullopt;
  }
  if (stx.stx_ino == kRootIno) return std::shared_ptr<ipc::IpcNamespace>();
  if (!table_.IsDir(stx.stx_ino)) return std::nullopt;
  return table_.NamespaceOfDir(stx.stx_ino);
}

bool Mqfs::IsDirectoryIno(uint64_t ino) { return ino == kRootIno || IsDirIno(ino); }

std::optional<std::pair<std::shared_ptr<ipc::QueueInode>, std::shared_ptr<ipc::IpcNamespace>>>
Mqfs::Identify(int fd) const {
  // AT_STATX_DONT_SYNC: FUSE answers from the inode without a getattr request, so this
  // costs one syscall and may be called under any lock.
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE | STATX_INO, &stx) != 0) {
    return std::nullopt;
  }
  if (makedev(stx.stx_dev_major, stx.stx_dev_minor) != device_ || !S_ISREG(stx.stx_mode)) {
    return std::nullopt;
  }
  std::optional<QueueNode> node = table_.Find(stx.stx_ino);
  if (!node.has_value()) return std::nullopt;
  return std::make_pair(std::move(node->inode), std::move(node->ns));
}

std::optional<std::pair<std::shared_ptr<ipc::QueueInode>, std::shared_ptr<ipc::IpcNamespace>>>
Mqfs::IdentifyMountInode(uint64_t mount_id, uint64_t ino) const {
  if (!ExtraFlagsOfMount(mount_id).has_value()) return std::nullopt;
  std::optional<QueueNode> node = table_.Find(ino);
  if (!node.has_value()) return std::nullopt;
  return std::make_pair(std::move(node->inode), std::move(node->ns));
}

void Mqfs::PollWake(const ipc::Queue& queue) {
  const std::vector<PollHandle> handles = table_.PollHandlesOf(queue);
  if (handles.empty()) return;
  absl::ReaderMutexLock lock(&session_mu_);
  if (session_ == nullptr) return;
  for (const PollHandle& handle : handles) fuse_lowlevel_notify_poll(handle.get());
}

}  // namespace mqsentry::vfs
