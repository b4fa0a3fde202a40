#include "sentry/dev_mqueue.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {
namespace {

absl::Status Errno(absl::string_view what) { return absl::ErrnoToStatus(errno, what); }

// Puts a bind of entry `name` of the old /dev (`old`: a detached copy of it) at
// /dev/NAME: a symlink is copied, anything else gets a placeholder of its kind (a
// directory, or an empty file for devices, sockets and files) with the bind on top.
absl::Status Rebind(int old, const char* name) {
  const std::string path = absl::StrCat("/dev/", name);
  struct stat st;
  if (fstatat(old, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return Errno(absl::StrCat("stat ", path));
  if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX];
    const ssize_t n = readlinkat(old, name, target, sizeof(target) - 1);
    if (n < 0) return Errno(absl::StrCat("readlink ", path));
    target[n] = 0;
    if (symlink(target, path.c_str()) != 0) return Errno(absl::StrCat("symlink ", path));
    return absl::OkStatus();
  }
  if (S_ISDIR(st.st_mode)) {
    if (mkdir(path.c_str(), st.st_mode & 07777) != 0) return Errno(absl::StrCat("mkdir ", path));
  } else {
    const int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0);
    if (fd < 0) return Errno(absl::StrCat("create ", path));
    close(fd);
  }
  UniqueFd tree(static_cast<int>(syscall(SYS_open_tree, old, name,
                                         OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
                                             AT_SYMLINK_NOFOLLOW)));
  if (!tree) return Errno(absl::StrCat("open_tree ", path));
  if (syscall(SYS_move_mount, tree.get(), "", AT_FDCWD, path.c_str(), MOVE_MOUNT_F_EMPTY_PATH) !=
      0) {
    return Errno(absl::StrCat("move_mount onto ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ProvideDevMqueue() {
  struct stat dev;
  if (stat("/dev", &dev) != 0 || !S_ISDIR(dev.st_mode)) return absl::OkStatus();
  struct stat st;
  if (lstat("/dev/mqueue", &st) == 0) return absl::OkStatus();
  UniqueFd old(static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, "/dev",
                                        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)));
  if (!old) return Errno("open_tree /dev");
  const std::string options = absl::StrFormat("mode=%o,size=64k,nr_inodes=4096", dev.st_mode & 07777);
  if (mount("dev", "/dev", "tmpfs", MS_NOSUID, options.c_str()) != 0) {
    return Errno("mount a tmpfs on /dev");
  }
  const int list_fd = openat(old.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (list_fd < 0) return Errno("open the old /dev");
  DIR* dir = fdopendir(list_fd);
  if (dir == nullptr) {
    close(list_fd);
    return Errno("list the old /dev");
  }
  absl::Status status;
  while (status.ok()) {
    errno = 0;
    const dirent* e = readdir(dir);
    if (e == nullptr) {
      if (errno != 0) status = Errno("list the old /dev");
      break;
    }
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    status = Rebind(old.get(), e->d_name);
  }
  closedir(dir);
  if (!status.ok()) return status;
  if (mkdir("/dev/mqueue", 0755) != 0) return Errno("mkdir /dev/mqueue");
  return absl::OkStatus();
}

}  // namespace mqsentry::sentry
