#include "sentry/kept_fds.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "kernel/abi.h"

namespace mqsentry::sentry {
namespace {

// statfs(2) f_type of the filesystems that hold kernel objects rather than data
// (include/uapi/linux/magic.h).
constexpr long kProcMagic = 0x9fa0;           // PROC_SUPER_MAGIC
constexpr long kNsfsMagic = 0x6e736673;       // NSFS_MAGIC
constexpr long kPidfsMagic = 0x50494446;      // PID_FS_MAGIC (pidfds since 6.9)
constexpr long kAnonInodeMagic = 0x09041934;  // ANON_INODE_FS_MAGIC

// Anonymous objects that carry only data of their own: no path, process, mount or
// namespace can be reached through them. Any other anonymous inode is refused: among them
// fsopen/fspick contexts (fsconfig + fsmount make a superblock in the namespaces captured
// at fsopen, mqueue included), seccomp listeners (answer a host process's calls),
// io_uring (its registered personalities and files act for its creator), userfaultfd
// (serves a host process's page faults), fanotify (its events carry open descriptors of
// host files), bpf objects and pidfds on kernels before pidfs.
constexpr absl::string_view kPlainAnonInodes[] = {
    "anon_inode:[eventfd]", "anon_inode:[signalfd]", "anon_inode:[timerfd]",
    "anon_inode:[eventpoll]", "anon_inode:inotify"};

// Character devices that are data only (Docker's default device list): /dev/null, zero,
// full, random, urandom (major 1) and terminals: virtual consoles and serial ports (4),
// /dev/tty, console, ptmx (5), pseudo-terminal slaves (136-143). Any other is a device of
// the host (/dev/mem, kmsg, fuse, kvm, loop-control, raw disks...).
bool IsPlainCharDevice(dev_t rdev) {
  const unsigned int maj = major(rdev), min = minor(rdev);
  if (maj == 1) return min == 3 || min == 5 || min == 7 || min == 8 || min == 9;
  return maj == 4 || maj == 5 || (maj >= 136 && maj <= 143);
}

std::string LinkOf(int fd) {
  char buf[4096];
  const std::string path = absl::StrCat("/proc/self/fd/", fd);
  const ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n < 0 ? "?" : std::string(buf, static_cast<size_t>(n));
}

// Why `fd` may not enter the sandbox, or "" if it may.
std::string RefusalReason(int fd, int flags, const struct stat& st, long fs_type,
                          const std::string& link) {
  if ((flags & O_PATH) != 0) {
    return "an O_PATH descriptor: it names a place in the host's mount tree (openat(2) "
           "below it, or reopening /proc/self/fd/N)";
  }
  if (fs_type == static_cast<long>(kernel::abi::kMqueueMagic)) {
    return "on an mqueue filesystem: it reaches the host kernel's mqueue code and the host's "
           "queues";
  }
  if (fs_type == kProcMagic) {
    return "a file of /proc: it names the host's processes (/proc/PID/mem, fd, root, ...)";
  }
  if (fs_type == kNsfsMagic) {
    return "a namespace descriptor: setns(2) and the NS_GET_* ioctls lead to the host's "
           "namespaces";
  }
  if (fs_type == kPidfsMagic) {
    return "a pidfd: pidfd_getfd(2) and setns(2) reach a process outside the sandbox";
  }
  if (fs_type == kAnonInodeMagic) {
    for (absl::string_view plain : kPlainAnonInodes) {
      if (link == plain) return "";
    }
    return "an anonymous kernel object that is not plain data (mount contexts, seccomp "
           "listeners, io_uring, userfaultfd, fanotify, bpf and pidfds act on or for the "
           "host)";
  }
  if (S_ISDIR(st.st_mode)) {
    return "a directory: openat(2), readdir and unlinkat below it reach the host's mount "
           "tree, whatever is mounted in the sandbox";
  }
  if (S_ISBLK(st.st_mode)) return "a block device: it holds a filesystem of the host";
  if (S_ISCHR(st.st_mode) && !IsPlainCharDevice(st.st_rdev)) {
    return "a character device other than a terminal or /dev/null, zero, full, random, "
           "urandom: a device of the host (memory, kernel log, fuse, kvm, disks...)";
  }
  if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode) &&
      !S_ISSOCK(st.st_mode)) {
    return "not a regular file, character device, pipe or socket";
  }
  // What a reopen through /proc/self/fd/N would give; the same object as above unless
  // something unexpected is behind the link.
  struct stat via_link;
  if (stat(absl::StrCat("/proc/self/fd/", fd).c_str(), &via_link) == 0 &&
      S_ISDIR(via_link.st_mode)) {
    return "its /proc/self/fd link resolves to a directory of the host's mount tree";
  }
  return "";
}

}  // namespace

absl::Status CheckKeptDescriptor(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0) {
    return absl::NotFoundError(absl::StrCat("fd ", fd, " is not open"));
  }
  struct stat st;
  struct statfs sf;
  if (fstat(fd, &st) != 0 || fstatfs(fd, &sf) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("fd ", fd, ": fstat"));
  }
  const std::string link = LinkOf(fd);
  const std::string reason = RefusalReason(fd, flags, st, static_cast<long>(sf.f_type), link);
  if (reason.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("fd ", fd, " (", link, ") may not enter the sandbox: ", reason));
}

absl::Status CheckKeptDescriptors(int preserve_fds) {
  if (preserve_fds < 0) return absl::InvalidArgumentError("--preserve-fds must be >= 0");
  for (int fd = 0; fd <= LastKeptFd(preserve_fds); ++fd) {
    absl::Status s = CheckKeptDescriptor(fd);
    if (absl::IsNotFound(s) && fd > 2) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--preserve-fds ", preserve_fds, " keeps fds 3..", LastKeptFd(preserve_fds),
          ", but fd ", fd, " is not open"));
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status FillStandardDescriptors() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
    // The lowest free descriptor, which is `fd`: every one below it is open.
    const int null_fd = open("/dev/null", O_RDWR);
    if (null_fd < 0) return absl::ErrnoToStatus(errno, "open /dev/null");
    if (null_fd != fd) {
      close(null_fd);
      return absl::InternalError(absl::StrCat("/dev/null did not open as fd ", fd));
    }
  }
  return absl::OkStatus();
}

}  // namespace mqsentry::sentry
