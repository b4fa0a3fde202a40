// Handlers for file calls on mq descriptors that mqfs's FUSE files would answer unlike an
// mqueue file (spec §8.3): private mmap, sendfile and splice from the descriptor, linkat
// and name_to_handle_at of it with AT_EMPTY_PATH, and open_by_handle_at anchored on it.
// Each answers only when the descriptor argument is an mq descriptor, with Linux's errno
// in the kernel's order of checks (the ones before the step that differs are re-made
// here); every other call continues to the host kernel unchanged.
//
// A descriptor is resolved when the supervisor takes the call: a thread that replaces it
// in between gets the host kernel's answer for the new one (a FUSE private mapping of the
// status line, say), which shows it nothing it could not read(); open_by_handle_at is the
// one call where that matters, see HandleOpenByHandleAt.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "kernel/abi.h"
#include "kernel/capabilities.h"
#include "kernel/user_namespace.h"
#include "sentry/sentry.h"

namespace mqsentry::sentry {
namespace {

namespace abi = kernel::abi;
using kernel::SyscallResult;

uint64_t Arg(const TrappedCall& c, const SyscallEntry& e, int i) {
  return e.compat_sizes ? static_cast<uint32_t>(c.args[i]) : c.args[i];
}
int IntArg(const TrappedCall& c, int i) { return static_cast<int>(c.args[i]); }

bool Readable(uint64_t flags) { return (flags & O_ACCMODE) == O_RDONLY || (flags & O_ACCMODE) == O_RDWR; }
bool Writable(uint64_t flags) { return (flags & O_ACCMODE) == O_WRONLY || (flags & O_ACCMODE) == O_RDWR; }

// Whether descriptor `fd` of thread `tid` is a pipe (get_pipe_info()): its
// /proc/<tid>/fd link reads "pipe:[ino]".
bool IsPipe(int32_t tid, int fd) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/fd/%d", tid, fd);
  char link[32];
  const ssize_t n = readlink(path, link, sizeof(link));
  return n > 5 && std::string(link, 5) == "pipe:";
}

constexpr uint64_t kPageMask = 4095;
constexpr int kSpliceFlagsAll = 0x0f;  // SPLICE_F_MOVE|NONBLOCK|MORE|GIFT
constexpr int kAtHandleFid = 0x200;
constexpr int kAtSymlinkFollow = 0x400;
constexpr int kAtEmptyPath = 0x1000;
constexpr int kMaxHandleSize = 128;  // MAX_HANDLE_SZ
constexpr uint32_t kFileidValidUserFlags = 0x30000;  // FILEID_IS_CONNECTABLE | FILEID_IS_DIR

}  // namespace

// HandleMmap answers a private file mapping of an mq descriptor as do_mmap() does for a
// file without ->mmap (spec §8.3 "mmap -> ENODEV"), after the checks that come first:
// a zero length or unaligned offset (EINVAL), MAP_HUGETLB on a non-hugetlbfs file
// (EINVAL), a descriptor without read access (EACCES), PROT_EXEC on a noexec superblock
// (EPERM). Not re-made: address-space errors of the mapping itself (ENOMEM, EEXIST for
// MAP_FIXED_NOREPLACE), which Linux checks before EACCES.
HandlerResult Sentry::HandleMmap(const TrappedCall& call, const SyscallEntry& e) {
  uint64_t len = Arg(call, e, 1), prot = Arg(call, e, 2), flags = Arg(call, e, 3);
  uint64_t offset = Arg(call, e, 5);
  int fd = IntArg(call, 4);
  bool offset_in_pages = e.compat_sizes;  // mmap2 takes pages
  if (e.old_mmap) {
    uint32_t a[6];  // struct mmap_arg_struct: addr, len, prot, flags, fd, offset
    if (!platform_->memory().Read(call, call.args[0], a, sizeof(a))) {
      return ContinueToHost{};  // the kernel's EFAULT
    }
    len = a[1], prot = a[2], flags = a[3], fd = static_cast<int>(a[4]), offset = a[5];
    offset_in_pages = false;
    if ((flags & (MAP_TYPE | MAP_ANONYMOUS)) != MAP_PRIVATE) return ContinueToHost{};
  }
  std::optional<FdInfo> info = MqFdInfo(call, fd);
  if (!info || (info->flags & abi::kOPath)) return ContinueToHost{};
  std::string trace;
  if (strace_.enabled()) {
    trace = absl::StrCat(e.name, "(..., ", len, ", ", prot, ", MAP_PRIVATE, ", fd, ", ", offset, ")");
  }
  int err = ENODEV;
  if (!offset_in_pages && (offset & kPageMask)) {
    err = EINVAL;
  } else if (flags & MAP_HUGETLB) {
    err = EINVAL;
  } else if (len == 0) {
    err = EINVAL;
  } else if (!Readable(info->flags)) {
    err = EACCES;
  } else if (prot & PROT_EXEC) {
    err = EPERM;  // the mqueue superblock is SB_I_NOEXEC
  }
  return AnswerError(err, trace);
}

// HandleSendfile answers sendfile(2) from an mq descriptor as do_sendfile() does: the
// offset is read (EFAULT), the input must be readable (EBADF) at a non-negative position
// (EINVAL), the output open for writing (EBADF) and, unless a pipe, not O_APPEND
// (EINVAL); a zero count sends nothing; otherwise the missing ->splice_read gives EINVAL
// (spec §8.3). A pipe that is full is not waited for (Linux waits for room first).
HandlerResult Sentry::HandleSendfile(const TrappedCall& call, const SyscallEntry& e) {
  const int out_fd = IntArg(call, 0), in_fd = IntArg(call, 1);
  const uint64_t offset_ptr = Arg(call, e, 2), count = Arg(call, e, 3);
  std::optional<FdInfo> in = MqFdInfo(call, in_fd);
  if (!in) return ContinueToHost{};
  std::string trace;
  if (strace_.enabled()) trace = absl::StrCat(e.name, "(", out_fd, ", ", in_fd, ", ..., ", count, ")");
  auto reply = [&](int err) -> HandlerResult { return AnswerError(err, trace); };
  int64_t pos = 0;
  if (offset_ptr != 0) {
    if (e.off32) {
      int32_t off32 = 0;
      if (!platform_->memory().Read(call, offset_ptr, &off32, sizeof(off32))) return reply(EFAULT);
      pos = off32;
    } else if (!platform_->memory().Read(call, offset_ptr, &pos, sizeof(pos))) {
      return reply(EFAULT);
    }
  }
  if ((in->flags & abi::kOPath) || !Readable(in->flags)) return reply(EBADF);
  if (pos < 0) return reply(EINVAL);
  std::optional<FdInfo> out = fd_info_.Read(call.tid, out_fd);
  if (!out || (out->flags & abi::kOPath) || !Writable(out->flags)) return reply(EBADF);
  if (!IsPipe(call.tid, out_fd) && (out->flags & O_APPEND)) return reply(EINVAL);
  if (count == 0) return Answer{SyscallResult::Value(0), trace};
  return reply(EINVAL);
}

// HandleSplice answers splice(2) from an mq descriptor as the kernel does (spec §8.3): a
// zero length returns 0 and unknown flags are EINVAL before the descriptors are looked
// at; an offset with a pipe is ESPIPE, an unreadable offset EFAULT; the input must be
// readable and the output writable (EBADF); only a pipe can take the file's data
// (EINVAL otherwise); and then the missing ->splice_read gives EINVAL. A full pipe is not
// waited for. Splicing into an mq descriptor is FUSE's (its write answers EINVAL, as
// mqueue's missing ->splice_write does).
HandlerResult Sentry::HandleSplice(const TrappedCall& call, const SyscallEntry& e) {
  const int fd_in = IntArg(call, 0), fd_out = IntArg(call, 2);
  const uint64_t off_in = Arg(call, e, 1), off_out = Arg(call, e, 3), len = Arg(call, e, 4);
  const uint32_t flags = static_cast<uint32_t>(call.args[5]);
  std::optional<FdInfo> in = MqFdInfo(call, fd_in);
  if (!in) return ContinueToHost{};
  std::string trace;
  if (strace_.enabled()) trace = absl::StrCat(e.name, "(", fd_in, ", ..., ", fd_out, ", ..., ", len, ", ", flags, ")");
  auto reply = [&](int err) -> HandlerResult { return AnswerError(err, trace); };
  if (len == 0) return Answer{SyscallResult::Value(0), trace};
  if (flags & ~kSpliceFlagsAll) return reply(EINVAL);
  std::optional<FdInfo> out = fd_info_.Read(call.tid, fd_out);
  if (!out || (out->flags & abi::kOPath) || (in->flags & abi::kOPath)) return reply(EBADF);
  const bool out_pipe = IsPipe(call.tid, fd_out);
  if (out_pipe && off_out != 0) return reply(ESPIPE);
  int64_t pos = 0;
  if (off_in != 0 && !platform_->memory().Read(call, off_in, &pos, sizeof(pos))) {
    return reply(EFAULT);
  }
  if (!Readable(in->flags) || !Writable(out->flags)) return reply(EBADF);
  if (!out_pipe) return reply(EINVAL);
  return reply(EINVAL);  // rw_verify_area's EINVAL for a negative offset, or no ->splice_read
}

// HandleLinkat answers linkat(fd, "", newdirfd, newpath, AT_EMPTY_PATH) of an mq
// descriptor: the file lives on mqueue's internal mount, never the new path's, so Linux
// gives EXDEV (spec §8.3; under mqfs the supervisor opened the file, so the kernel's
// "opened by the caller" test would give ENOENT first). Not re-made: the new path's own
// errors (ENOENT, EEXIST, EACCES ...), which Linux reports before EXDEV. A non-empty old
// path, or another descriptor, continues.
HandlerResult Sentry::HandleLinkat(const TrappedCall& call, const SyscallEntry& e) {
  const int olddirfd = IntArg(call, 0);
  const uint64_t oldpath = Arg(call, e, 1);
  const int flags = IntArg(call, 4);
  if (!MqFdInfo(call, olddirfd)) return ContinueToHost{};
  char first = 0;
  if (!platform_->memory().Read(call, oldpath, &first, 1)) return ContinueToHost{};
  if (first != '\0') return ContinueToHost{};  // a path relative to a file: the kernel's
  std::string trace;
  if (strace_.enabled()) trace = absl::StrCat(e.name, "(", olddirfd, ", \"\", ..., AT_EMPTY_PATH)");
  if (flags & ~(kAtSymlinkFollow | kAtEmptyPath)) {
    return Answer{SyscallResult::Error(EINVAL), trace};
  }
  return AnswerError(EXDEV, trace);
}

// HandleNameToHandleAt answers name_to_handle_at(fd, "", ..., AT_EMPTY_PATH) of an mq
// descriptor: mqueue has no export operations, so no handle (EOPNOTSUPP, spec §8.3); with
// AT_HANDLE_FID Linux encodes one, and so does FUSE (the call continues). A handle of an
// mqfs file reached by a path (/proc/self/fd/N) is still FUSE's: it cannot be decoded on
// mqfs (HandleOpenByHandleAt).
HandlerResult Sentry::HandleNameToHandleAt(const TrappedCall& call, const SyscallEntry& e) {
  const int dirfd = IntArg(call, 0);
  const uint64_t path = Arg(call, e, 1);
  const int flags = IntArg(call, 4);
  if ((flags & kAtHandleFid) || !MqFdInfo(call, dirfd)) return ContinueToHost{};
  char first = 0;
  if (!platform_->memory().Read(call, path, &first, 1) || first != '\0') {
    return ContinueToHost{};
  }
  std::string trace;
  if (strace_.enabled()) trace = absl::StrCat(e.name, "(", dirfd, ", \"\", ..., AT_EMPTY_PATH)");
  return AnswerError(EOPNOTSUPP, trace);
}

// HandleOpenByHandleAt: no handle is ever decoded on mqfs. Decoding one there would open
// any queue the kernel still caches, of any IPC namespace, or an mqfs directory. A
// mount_fd on mqfs gets what Linux gives for one on mqueue (handle_to_path()): without
// CAP_DAC_READ_SEARCH, or O_DIRECTORY and CAP_SYS_ADMIN over the user namespace of the
// queue's IPC namespace (the superblock's), EPERM; then EFAULT / EINVAL for the handle's header; then
// ESTALE, as mqueue cannot decode.
// The directory of a program's `mount -t mqueue` (and its root) counts as mqfs too.
// What remains: mount_fd is resolved when the supervisor takes the call, so a caller that
// replaces it with an mqfs descriptor in between reaches the host kernel's decoding. That
// needs CAP_DAC_READ_SEARCH in the host's user namespace (FUSE's superblock belongs to the
// supervisor's), which sandboxed programs hold only when the user grants it, and gives
// little: mqfs answers lookups and listings only to the supervisor and in the namespace
// directories programs mounted, a queue's handle needs its random 32-bit generation, and
// files are opened through detached trees whose ".." leads nowhere (vfs/mqfs.h). The
// other directories (root and per namespace, fixed ids) can be decoded in that race, as
// empty, unlistable directories.
HandlerResult Sentry::HandleOpenByHandleAt(const TrappedCall& call, const SyscallEntry& e) {
  const int mount_fd = IntArg(call, 0);
  const uint64_t handle = Arg(call, e, 1);
  std::optional<FdInfo> info = fd_info_.Read(call.tid, mount_fd);
  if (!info) return ContinueToHost{};
  // The IPC namespace of the superblock Linux would decode on (nullptr: none left).
  std::optional<std::shared_ptr<ipc::IpcNamespace>> sb_ns;
  if (auto queue = IdentifyFd(call, mount_fd, *info)) {
    sb_ns = queue->second;
  } else if (vfs::Mqfs::IsDirectoryIno(info->ino)) {
    const int copy = platform_->GetFd(call.tid, mount_fd);
    if (copy >= 0) {
      sb_ns = mqfs_->IdentifyDirectory(copy);
      close(copy);
    }
  }
  if (!sb_ns) return ContinueToHost{};
  std::string trace;
  if (strace_.enabled()) trace = absl::StrCat(e.name, "(", mount_fd, ", ...)");
  auto reply = [&](int err) -> HandlerResult { return AnswerError(err, trace); };
  absl::StatusOr<CallerIdentity> id = ReadIdentity(call.tid, {.rlimit = false, .process = false});
  if (!platform_->StillValid(call.id)) return CallGone{};
  if (!id.ok()) return InternalFailure{id.status()};
  const std::shared_ptr<const kernel::UserNamespace> sb_user_ns =
      *sb_ns != nullptr ? (*sb_ns)->owner_user_ns() : nullptr;
  // may_decode_fh(): CAP_DAC_READ_SEARCH, or the relaxed rule for whoever could mount the
  // filesystem: O_DIRECTORY, CAP_SYS_ADMIN over the superblock's user namespace and
  // CAP_DAC_READ_SEARCH in its own. (Its other relaxed case, CAP_SYS_ADMIN over the
  // mount's mount namespace, is not modelled: such a caller gets EPERM here.)
  const int open_flags = static_cast<int>(Arg(call, e, 2));
  const bool may_decode =
      id->cred.HasCapabilityIn(kernel::Capability::kDacReadSearch,
                               *kernel::UserNamespace::Initial()) ||
      ((open_flags & O_DIRECTORY) && sb_user_ns != nullptr &&
       id->cred.HasCapabilityIn(kernel::Capability::kSysAdmin, *sb_user_ns) &&
       id->cred.HasCapabilityIn(kernel::Capability::kDacReadSearch, *id->cred.user_ns));
  if (!may_decode) return reply(EPERM);
  struct {
    uint32_t handle_bytes;
    int32_t handle_type;
  } header{};
  if (!platform_->memory().Read(call, handle, &header, sizeof(header))) return reply(EFAULT);
  if (header.handle_bytes > kMaxHandleSize || header.handle_bytes == 0) return reply(EINVAL);
  if (header.handle_type < 0 ||
      ((static_cast<uint32_t>(header.handle_type) & 0xffff0000u) & ~kFileidValidUserFlags)) {
    return reply(EINVAL);
  }
  char bytes[kMaxHandleSize];
  if (!platform_->memory().Read(call, handle + sizeof(header), bytes, header.handle_bytes)) {
    return reply(EFAULT);
  }
  return reply(ESTALE);
}

// HandleFstatfsCompat answers i386 fstatfs(2) and fstatfs64(2) of an mq descriptor with
// the statfs of HandleFstatfs in the compat layouts (put_compat_statfs(),
// put_compat_statfs64(); every value fits in 32 bits, so no EOVERFLOW). fstatfs64 wants
// its size argument to be sizeof(struct compat_statfs64), 84 (EINVAL). Other descriptors
// continue.
HandlerResult Sentry::HandleFstatfsCompat(const TrappedCall& call, const SyscallEntry& e) {
  const int fd = IntArg(call, 0);
  const uint64_t size = e.statfs64 ? Arg(call, e, 1) : 0;
  const uint64_t buf = Arg(call, e, e.statfs64 ? 2 : 1);
  if (!MqFdInfo(call, fd)) return ContinueToHost{};
  std::string trace;
  if (strace_.enabled()) trace = absl::StrCat(e.name, "(", fd, ", ...)");
  // huge_encode_dev(s_dev), split into two 32-bit words (as HandleFstatfs).
  const dev_t dev = mqfs_->device();
  const uint64_t id = abi::HugeEncodeDev(major(dev), minor(dev));
  const uint32_t fsid[2] = {static_cast<uint32_t>(id), static_cast<uint32_t>(id >> 32)};
  constexpr uint32_t kBlockSize = 4096, kNameMax = 255, kStValid = 0x0020;
  bool written;
  if (e.statfs64) {
    struct __attribute__((packed)) CompatStatfs64 {
      uint32_t f_type, f_bsize;
      uint64_t f_blocks, f_bfree, f_bavail, f_files, f_ffree;
      uint32_t f_fsid[2];
      uint32_t f_namelen, f_frsize, f_flags, f_spare[4];
    };
    static_assert(sizeof(CompatStatfs64) == 84);
    if (size != sizeof(CompatStatfs64)) {
      return Answer{SyscallResult::Error(EINVAL), trace};
    }
    CompatStatfs64 st{};
    st.f_type = static_cast<uint32_t>(abi::kMqueueMagic);
    st.f_bsize = st.f_frsize = kBlockSize;
    st.f_namelen = kNameMax;
    st.f_flags = kStValid;
    st.f_fsid[0] = fsid[0];
    st.f_fsid[1] = fsid[1];
    written = platform_->memory().Write(call, buf, &st, sizeof(st));
  } else {
    struct CompatStatfs {
      uint32_t f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree;
      uint32_t f_fsid[2];
      uint32_t f_namelen, f_frsize, f_flags, f_spare[4];
    };
    static_assert(sizeof(CompatStatfs) == 64);
    CompatStatfs st{};
    st.f_type = static_cast<uint32_t>(abi::kMqueueMagic);
    st.f_bsize = st.f_frsize = kBlockSize;
    st.f_namelen = kNameMax;
    st.f_flags = kStValid;
    st.f_fsid[0] = fsid[0];
    st.f_fsid[1] = fsid[1];
    written = platform_->memory().Write(call, buf, &st, sizeof(st));
  }
  return Answer{written ? SyscallResult::Ok() : SyscallResult::Error(EFAULT), trace};
}

}  // namespace mqsentry::sentry
