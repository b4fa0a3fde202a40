// attack_probe: what a hostile program tries with what it inherits, one probe per
// subcommand, each printing one line that the test scripts compare (no pids, no
// addresses). Also the launcher side of the attacks: `hold` opens a descriptor of a given
// kind at a given number and execs the rest of the command line with it.
//
//   attack_probe hold KIND PATH FD -- CMD...   KIND: dir, opath, mq (PATH = queue name),
//                                              pidfd (PATH ignored: the probe's own pid)
//   attack_probe fd FD [SUB]     "fd FD: EBADF", or what readdir and openat(O_CREAT) gave
//                                in FD (or in its subdirectory SUB)
//   attack_probe cwd             readdir(".") and openat(".", O_CREAT) of the working dir
//   attack_probe pidfd-getfd LAST  pidfd_open(1) (init), then pidfd_getfd of its 0..LAST
//   attack_probe tiocsti         ioctl(0, TIOCSTI): "ok" or the errno name
//   attack_probe caps            Cap{Inh,Prm,Eff,Bnd,Amb} of /proc/self/status, and capget
//   attack_probe unshare-ipc     unshare(CLONE_NEWIPC): "ok" or the errno name
//   attack_probe userns-ipc      unshare(CLONE_NEWUSER|CLONE_NEWIPC), then mq_open and
//                                mq_unlink of a queue there, and a new mount namespace
//   attack_probe open-by-handle PATH   name_to_handle_at + open_by_handle_at
//   attack_probe mq-create NAME / mq-exists NAME / mq-unlink NAME   (raw syscalls)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace {

// "EBADF": what the scripts compare.
std::string ErrName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : std::to_string(err);
}

std::string Result(long rc) { return rc >= 0 ? "ok" : ErrName(errno); }

// Names in a directory descriptor (dup'd, so `fd` stays open), sorted, without . and ..
std::string List(int fd) {
  const int copy = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0) return ErrName(errno);
  DIR* dir = fdopendir(copy);
  if (dir == nullptr) return ErrName(errno);
  std::vector<std::string> names;
  while (dirent* e = readdir(dir)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      names.push_back(e->d_name);
    }
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? " " : "") + names[i];
  return out + "]";
}

// The probe of a directory-like descriptor: list it, create in it (left in place for the
// test script to look for on the host).
std::string ProbeDir(int fd, const char* created) {
  const std::string list = List(fd);
  const int made = openat(fd, created, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  const std::string create = made >= 0 ? "ok" : ErrName(errno);
  if (made >= 0) close(made);
  return "list " + list + " create " + create;
}

int Hold(int argc, char** argv) {
  if (argc < 7 || std::strcmp(argv[5], "--") != 0) return 2;
  const std::string kind = argv[2];
  const char* path = argv[3];
  const int target = std::atoi(argv[4]);
  int fd = -1;
  if (kind == "dir") {
    fd = open(path, O_RDONLY | O_DIRECTORY);
  } else if (kind == "opath") {
    fd = open(path, O_PATH);
  } else if (kind == "mq") {
    fd = static_cast<int>(syscall(SYS_mq_open, path, O_RDWR, 0, nullptr));
  } else if (kind == "pidfd") {
    fd = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
  } else {
    return 2;
  }
  if (fd < 0) {
    std::fprintf(stderr, "attack_probe hold %s %s: %s\n", kind.c_str(), path, std::strerror(errno));
    return 2;
  }
  if (fd != target) {
    if (dup2(fd, target) < 0) return 2;
    close(fd);
  }
  fcntl(target, F_SETFD, 0);  // mq_open and pidfd_open set FD_CLOEXEC
  execvp(argv[6], argv + 6);
  std::fprintf(stderr, "attack_probe: exec %s: %s\n", argv[6], std::strerror(errno));
  return 127;
}

int ProbeFd(int fd, const char* sub) {
  if (fcntl(fd, F_GETFD) < 0) {
    std::printf("fd %d: %s\n", fd, ErrName(errno).c_str());
    return 0;
  }
  // An mq descriptor's read() is its queue's status line.
  struct statfs sf;
  struct stat st;
  if (fstatfs(fd, &sf) == 0 && sf.f_type == 0x19800202 && fstat(fd, &st) == 0 &&
      S_ISREG(st.st_mode) && sub == nullptr) {
    char status[128];
    const ssize_t n = pread(fd, status, sizeof(status), 0);
    std::printf("fd %d: mqueue file, read %s\n", fd, n >= 0 ? "ok" : ErrName(errno).c_str());
    return 0;
  }
  int dir = fd;
  if (sub != nullptr) {
    dir = openat(fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
      std::printf("fd %d: open, %s: %s\n", fd, sub, ErrName(errno).c_str());
      return 0;
    }
  }
  std::printf("fd %d: open, %s\n", fd, ProbeDir(dir, "attack-created").c_str());
  return 0;
}

int ProbeCwd() {
  std::printf("cwd: %s\n", ProbeDir(AT_FDCWD, "attack-cwd-created").c_str());
  return 0;
}

std::string StatusLine(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      size_t i = key.size() + 1;
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      return line.substr(i);
    }
  }
  return "?";
}

int Caps() {
  for (const char* key : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    std::printf("%s %s\n", key, StatusLine(key).c_str());
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) {
    std::printf("capget %s\n", ErrName(errno).c_str());
    return 0;
  }
  const unsigned long long eff =
      (static_cast<unsigned long long>(data[1].effective) << 32) | data[0].effective;
  std::printf("capget effective %016llx\n", eff);
  return 0;
}

int UnshareIpc() {
  std::printf("unshare(CLONE_NEWIPC): %s\n", Result(unshare(CLONE_NEWIPC)).c_str());
  return 0;
}

// What a program that needs its own IPC (or mount) namespace does without CAP_SYS_ADMIN.
// unshare(CLONE_NEWUSER | `more`) with uid and gid 0 in it mapped to ours outside (what
// `unshare --map-root-user` writes; without a map a new queue's owner would be unmapped,
// EOVERFLOW). Prints each step that fails; false then.
bool EnterOwnUserNamespace(int more, const char* label) {
  const uid_t uid = geteuid();
  const gid_t gid = getegid();
  const long rc = unshare(CLONE_NEWUSER | more);
  std::printf("%s: %s\n", label, Result(rc).c_str());
  if (rc != 0) return false;
  const std::pair<const char*, std::string> maps[] = {
      {"/proc/self/setgroups", "deny"},
      {"/proc/self/uid_map", "0 " + std::to_string(uid) + " 1"},
      {"/proc/self/gid_map", "0 " + std::to_string(gid) + " 1"}};
  for (const auto& [path, text] : maps) {
    std::ofstream out(path);
    out << text;
    out.flush();
    if (!out) {
      std::printf("write %s: failed\n", path);
      return false;
    }
  }
  return true;
}

int UsernsIpc() {
  if (!EnterOwnUserNamespace(CLONE_NEWIPC, "unshare(CLONE_NEWUSER|CLONE_NEWIPC)")) return 0;
  const long q = syscall(SYS_mq_open, "attack-userns-queue", O_CREAT | O_RDWR | O_EXCL, 0600, nullptr);
  std::printf("mq_open in it: %s\n", Result(q).c_str());
  if (q >= 0) {
    std::printf("mq_unlink in it: %s\n", Result(syscall(SYS_mq_unlink, "attack-userns-queue")).c_str());
  }
  std::printf("unshare(CLONE_NEWNS) in it: %s\n", Result(unshare(CLONE_NEWNS)).c_str());
  return 0;
}

// A FUSE mount in a user and mount namespace of its own (Linux allows it: FS_USERNS_MOUNT):
// the daemon would be this program, which could leave a page of its file unserved.
int UsernsFuse() {
  if (!EnterOwnUserNamespace(CLONE_NEWNS, "unshare(CLONE_NEWUSER|CLONE_NEWNS)")) return 0;
  const int fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fuse < 0) {
    std::printf("open /dev/fuse: %s\n", Result(fuse).c_str());
    return 0;
  }
  char dir[] = "/tmp/attack-fuse.XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    std::printf("mkdtemp: failed\n");
    return 0;
  }
  const std::string options =
      "fd=" + std::to_string(fuse) + ",rootmode=40000,user_id=0,group_id=0";
  std::printf("mount fuse: %s\n",
              Result(mount("attack", dir, "fuse", 0, options.c_str())).c_str());
  umount2(dir, MNT_DETACH);
  rmdir(dir);
  return 0;
}

// Pushes a character into the terminal on fd 0 (its controlling terminal), through glibc
// and with bits above the 32-bit command set (the kernel ignores them).
int Tiocsti() {
  const char c = '\n';
  std::printf("TIOCSTI: %s\n", Result(ioctl(0, TIOCSTI, &c)).c_str());
  const long wide = syscall(SYS_ioctl, 0, (uint64_t{1} << 32) | TIOCSTI, &c);
  std::printf("TIOCSTI (high bits): %s\n", Result(wide).c_str());
  return 0;
}

// pidfd_getfd(2) of init's descriptors 0 .. LAST (init holds the supervisor's control
// socket among them): "EPERM" if every one was refused so, else each fd's result.
int PidfdGetfd(int last) {
  const long pidfd = syscall(SYS_pidfd_open, 1, 0);
  if (pidfd < 0) {
    std::printf("pidfd_open(1): %s\n", ErrName(errno).c_str());
    return 0;
  }
  std::string all;
  bool all_eperm = true;
  for (int fd = 0; fd <= last; ++fd) {
    const std::string r = Result(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
    all_eperm &= r == "EPERM";
    all += " " + std::to_string(fd) + ":" + r;
  }
  std::printf("pidfd_getfd(init, 0..%d):%s\n", last, all_eperm ? " EPERM" : all.c_str());
  return 0;
}

int OpenByHandle(const char* path) {
  struct {
    file_handle h;
    unsigned char bytes[MAX_HANDLE_SZ];
  } handle;
  handle.h.handle_bytes = MAX_HANDLE_SZ;
  int mount_id;
  if (name_to_handle_at(AT_FDCWD, path, &handle.h, &mount_id, 0) != 0) {
    std::printf("name_to_handle_at: %s\n", ErrName(errno).c_str());
    return 0;
  }
  const int mount_fd = open(path, O_RDONLY | O_CLOEXEC);
  const int fd = open_by_handle_at(mount_fd, &handle.h, O_RDONLY | O_CLOEXEC);
  std::printf("open_by_handle_at: %s\n", Result(fd).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string cmd = argv[1];
  if (cmd == "hold") return Hold(argc, argv);
  if (cmd == "fd" && (argc == 3 || argc == 4)) {
    return ProbeFd(std::atoi(argv[2]), argc == 4 ? argv[3] : nullptr);
  }
  if (cmd == "cwd") return ProbeCwd();
  if (cmd == "caps") return Caps();
  if (cmd == "tiocsti") return Tiocsti();
  if (cmd == "pidfd-getfd" && argc == 3) return PidfdGetfd(std::atoi(argv[2]));
  if (cmd == "unshare-ipc") return UnshareIpc();
  if (cmd == "userns-ipc") return UsernsIpc();
  if (cmd == "userns-fuse") return UsernsFuse();
  if (cmd == "open-by-handle" && argc == 3) return OpenByHandle(argv[2]);
  if (argc == 3 && cmd.rfind("mq-", 0) == 0) {
    long rc;
    if (cmd == "mq-create") {
      rc = syscall(SYS_mq_open, argv[2], O_CREAT | O_RDWR | O_CLOEXEC, 0644, nullptr);
    } else if (cmd == "mq-exists") {
      rc = syscall(SYS_mq_open, argv[2], O_RDONLY | O_CLOEXEC, 0, nullptr);
    } else if (cmd == "mq-unlink") {
      rc = syscall(SYS_mq_unlink, argv[2]);
    } else {
      return 2;
    }
    std::printf("%s %s: %s\n", cmd.c_str(), argv[2], Result(rc).c_str());
    return 0;
  }
  return 2;
}
