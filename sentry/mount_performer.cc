#include "sentry/mount_performer.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "sentry/fd_passing.h"

namespace mqsentry::sentry {
namespace {

absl::Status Errno(int err, absl::string_view what) { return absl::ErrnoToStatus(err, what); }

// How long a helper may take. Every filesystem a program can mount from a user namespace
// of its own is local; a mount that takes longer is killed and fails.
constexpr int kHelperTimeoutMs = 10'000;

// The step a helper failed at (Wire::stage); kDone carries the call's own result.
enum Stage : int32_t {
  kDone = 0,
  kSetnsMnt,
  kSetnsIpc,
  kSetnsNet,
  kSetnsCgroup,
  kSetnsPid,
  kClone,
  kSetnsUser,
  kRoot,
  kCwd,
  kStatus,
  kGroups,
  kIds,
  kCaps,
  kPassFd,
};

const char* StageName(int32_t s) {
  static constexpr const char* kNames[] = {
      "done",          "setns(mnt)", "setns(ipc)", "setns(net)",     "setns(cgroup)",
      "setns(pid)",    "clone",      "setns(user)", "chroot to root", "chdir to cwd",
      "read status",   "setgroups",  "set ids",     "capset",         "pass fd"};
  return s >= 0 && s < static_cast<int32_t>(std::size(kNames)) ? kNames[s] : "unknown step";
}

struct Wire {
  int32_t stage;
  int32_t err;
};

// ---- Helper side: async-signal-safe only (raw clones of a multithreaded process) ----

void Send(int sock, int32_t stage, int32_t err, int fd) {
  Wire w{stage, err};
  iovec iov{&w, sizeof(w)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  (void)!sendmsg(sock, &msg, MSG_NOSIGNAL);
}

[[noreturn]] void Fail(int sock, int32_t stage) {
  Send(sock, stage, errno, -1);
  _exit(1);
}

// Closes every descriptor but the `n` sorted ones in `keep`.
void CloseAllBut(const int* keep, int n) {
  unsigned int from = 0;
  for (int i = 0; i < n; ++i) {
    if (keep[i] < 0) continue;
    if (static_cast<unsigned int>(keep[i]) > from) {
      syscall(SYS_close_range, from, static_cast<unsigned int>(keep[i]) - 1, 0);
    }
    from = static_cast<unsigned int>(keep[i]) + 1;
  }
  syscall(SYS_close_range, from, ~0u, 0);
}

// The value after "\nKEY:" in a /proc status text, or nullptr.
const char* Field(const char* text, const char* key) {
  const size_t len = std::strlen(key);
  for (const char* p = text; *p; ++p) {
    if ((p == text || p[-1] == '\n') && std::strncmp(p, key, len) == 0) return p + len;
  }
  return nullptr;
}

bool ParseNumber(const char** p, int base, uint64_t* out) {
  while (**p == ' ' || **p == '\t') ++*p;
  uint64_t v = 0;
  int digits = 0;
  for (;; ++*p, ++digits) {
    const char c = **p;
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      break;
    }
    v = v * base + d;
  }
  *out = v;
  return digits > 0;
}

// The caller's ids, groups and capabilities as its own user namespace sees them (read
// after joining it: /proc shows ids in the opener's namespace).
struct Ids {
  uint64_t uid[4], gid[4];  // real, effective, saved, filesystem
  static constexpr int kMaxGroups = 1024;
  gid_t groups[kMaxGroups];
  int ngroups;
  uint64_t cap_inh, cap_prm, cap_eff;
};

bool ParseStatus(const char* text, Ids* ids) {
  const char* p = Field(text, "Uid:");
  for (int i = 0; i < 4; ++i) {
    if (p == nullptr || !ParseNumber(&p, 10, &ids->uid[i])) return false;
  }
  p = Field(text, "Gid:");
  for (int i = 0; i < 4; ++i) {
    if (p == nullptr || !ParseNumber(&p, 10, &ids->gid[i])) return false;
  }
  p = Field(text, "Groups:");
  if (p == nullptr) return false;
  ids->ngroups = 0;
  uint64_t g;
  while (ParseNumber(&p, 10, &g)) {
    if (ids->ngroups == Ids::kMaxGroups) return false;
    ids->groups[ids->ngroups++] = static_cast<gid_t>(g);
  }
  return (p = Field(text, "CapInh:")) && ParseNumber(&p, 16, &ids->cap_inh) &&
         (p = Field(text, "CapPrm:")) && ParseNumber(&p, 16, &ids->cap_prm) &&
         (p = Field(text, "CapEff:")) && ParseNumber(&p, 16, &ids->cap_eff);
}

bool Capset(uint64_t eff, uint64_t prm, uint64_t inh) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {
      {static_cast<uint32_t>(eff), static_cast<uint32_t>(prm), static_cast<uint32_t>(inh)},
      {static_cast<uint32_t>(eff >> 32), static_cast<uint32_t>(prm >> 32),
       static_cast<uint32_t>(inh >> 32)}};
  return syscall(SYS_capset, &hdr, data) == 0;
}

bool CapgetPermitted(uint64_t* prm) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  *prm = data[0].permitted | (uint64_t{data[1].permitted} << 32);
  return true;
}

// Becomes the caller (ids, groups, capabilities) in its user namespace. Raw system calls:
// glibc's set*id wrappers would signal the supervisor's other threads, which this copy
// does not have.
void BecomeCaller(int sock, int proc_dir) {
  static char text[64 * 1024];
  static Ids ids;
  const int fd = openat(proc_dir, "status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) Fail(sock, kStatus);
  size_t len = 0;
  for (;;) {
    const ssize_t n = read(fd, text + len, sizeof(text) - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Fail(sock, kStatus);
    if (n == 0) break;
    len += static_cast<size_t>(n);
    if (len == sizeof(text) - 1) break;
  }
  close(fd);
  text[len] = 0;
  if (!ParseStatus(text, &ids)) {
    errno = EINVAL;
    Fail(sock, kStatus);
  }
  prctl(PR_SET_KEEPCAPS, 1);
  // Supplementary groups: only if they differ (a user namespace whose setgroups is
  // "deny" keeps the ones inherited, which the caller then has too).
  static gid_t current[Ids::kMaxGroups];
  const int ncurrent = getgroups(Ids::kMaxGroups, current);
  if (ncurrent != ids.ngroups ||
      std::memcmp(current, ids.groups, sizeof(gid_t) * ids.ngroups) != 0) {
    if (syscall(SYS_setgroups, ids.ngroups, ids.groups) != 0) Fail(sock, kGroups);
  }
  if (syscall(SYS_setresgid, ids.gid[0], ids.gid[1], ids.gid[2]) != 0 ||
      syscall(SYS_setresuid, ids.uid[0], ids.uid[1], ids.uid[2]) != 0) {
    Fail(sock, kIds);
  }
  // Leaving uid 0 cleared the effective set; the permitted one was kept (KEEPCAPS).
  // setfsuid/setfsgid to an id other than the caller's others need CAP_SETUID/SETGID.
  uint64_t prm = 0;
  if (!CapgetPermitted(&prm) || !Capset(prm, prm, 0)) Fail(sock, kCaps);
  syscall(SYS_setfsgid, ids.gid[3]);
  syscall(SYS_setfsuid, ids.uid[3]);
  if (static_cast<uint64_t>(syscall(SYS_setfsgid, -1)) != ids.gid[3] ||
      static_cast<uint64_t>(syscall(SYS_setfsuid, -1)) != ids.uid[3]) {
    errno = EPERM;
    Fail(sock, kIds);
  }
  if (!Capset(ids.cap_eff, ids.cap_prm, ids.cap_inh)) Fail(sock, kCaps);
  prctl(PR_SET_KEEPCAPS, 0);
}

struct HelperArgs {
  const MountCaller* caller;
  const NewMountRequest* req;
  int sock;
  const int* keep;
  int nkeep;
  // Prepared before the clone (no allocation in the helpers).
  const char* source;
  const char* target;
  const char* type;
  const void* data;
  const char* fs_name;  // fsopen: the copied name, nullptr (EFAULT) or an over-long one
};

// mount(2)'s order for the tree: user_path_at() of the target (following a final
// symlink), may_mount() (CAP_SYS_ADMIN over the mount namespace's owner: EPERM), then the
// filesystem's checks, then the mount itself.
void AttachTree(const HelperArgs& a) {
  const int target = open(a.target, O_PATH | O_CLOEXEC);
  if (target < 0) return Send(a.sock, kDone, errno, -1);
  // A clone of the target's mount is refused exactly when may_mount() fails.
  const long probe = syscall(SYS_open_tree, target, "",
                             OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
  if (probe < 0 && errno == EPERM) return Send(a.sock, kDone, EPERM, -1);
  if (probe >= 0) close(static_cast<int>(probe));
  if (a.req->deferred_errno != 0) return Send(a.sock, kDone, a.req->deferred_errno, -1);
  const long r = syscall(SYS_move_mount, a.req->tree_fd, "", target, "",
                         MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
  Send(a.sock, kDone, r == 0 ? 0 : errno, -1);
}

[[noreturn]] void RunCaller(const HelperArgs& a) {
  const MountCaller& c = *a.caller;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_DUMPABLE, 0);
  const bool as_caller = !a.req->as_supervisor;
  if (as_caller && c.user_ns && setns(c.user_ns.get(), CLONE_NEWUSER) != 0) {
    Fail(a.sock, kSetnsUser);
  }
  if (fchdir(c.root.get()) != 0 || chroot(".") != 0) Fail(a.sock, kRoot);
  if (fchdir(c.cwd.get()) != 0) Fail(a.sock, kCwd);
  if (as_caller) BecomeCaller(a.sock, c.proc_dir.get());
  if (a.req->kind == NewMountRequest::Kind::kMount) {
    int sock = a.sock;
    if (const int number = a.req->passed_fd_number; number >= 0 && a.req->passed_fd != number) {
      // The other descriptors kept are done with; the answer's socket moves out of the way.
      if (sock == number) sock = fcntl(sock, F_DUPFD_CLOEXEC, number + 1);
      if (sock < 0 || dup2(a.req->passed_fd, number) < 0) Fail(a.sock, kPassFd);
    }
    const long r = syscall(SYS_mount, a.source, a.target, a.type, a.req->flags, a.data);
    Send(sock, kDone, r == 0 ? 0 : errno, -1);
  } else if (a.req->kind == NewMountRequest::Kind::kAttachTree) {
    AttachTree(a);
  } else {
    const long fd = syscall(SYS_fsopen, a.fs_name, a.req->fsopen_flags);
    Send(a.sock, kDone, fd >= 0 ? 0 : errno, fd >= 0 ? static_cast<int>(fd) : -1);
  }
  _exit(0);
}

// The first helper: joins the namespaces (from the supervisor's user namespace, which
// owns or is an ancestor of every namespace of the sandbox), then starts the second in
// the caller's PID namespace and waits for it.
[[noreturn]] void RunJoiner(const HelperArgs& a) {
  const MountCaller& c = *a.caller;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_DUMPABLE, 0);
  CloseAllBut(a.keep, a.nkeep);
  const std::pair<const UniqueFd*, int32_t> joins[] = {{&c.mnt_ns, kSetnsMnt},
                                                       {&c.ipc_ns, kSetnsIpc},
                                                       {&c.net_ns, kSetnsNet},
                                                       {&c.cgroup_ns, kSetnsCgroup},
                                                       {&c.pid_ns, kSetnsPid}};
  for (const auto& [fd, stage] : joins) {
    if (*fd && setns(fd->get(), 0) != 0) Fail(a.sock, stage);
  }
  // No exit signal: the supervisor's handlers (inherited) must not run here.
  const long pid = syscall(SYS_clone, 0ul, nullptr, nullptr, nullptr, nullptr);
  if (pid < 0) Fail(a.sock, kClone);
  if (pid == 0) RunCaller(a);
  siginfo_t info;
  while (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | __WALL) != 0 && errno == EINTR) {
  }
  _exit(0);
}

}  // namespace

absl::StatusOr<MountCaller> OpenMountCaller(int32_t tid) {
  MountCaller c;
  const std::string dir = absl::StrCat("/proc/", tid);
  c.proc_dir.reset(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!c.proc_dir) return Errno(errno, absl::StrCat("open ", dir));
  const std::pair<UniqueFd*, const char*> opens[] = {
      {&c.user_ns, "user"}, {&c.mnt_ns, "mnt"},       {&c.ipc_ns, "ipc"},
      {&c.net_ns, "net"},   {&c.cgroup_ns, "cgroup"}, {&c.pid_ns, "pid"}};
  for (const auto& [fd, kind] : opens) {
    // setns() needs a descriptor opened for reading (O_PATH is EBADF).
    const std::string path = absl::StrCat("ns/", kind);
    fd->reset(openat(c.proc_dir.get(), path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!*fd) return Errno(errno, absl::StrCat("open ", dir, "/", path));
    // A namespace the supervisor is in already is not joined: it may be one the
    // supervisor has no capability over (an unprivileged supervisor in the host's).
    struct stat mine, theirs;
    const std::string self = absl::StrCat("/proc/self/ns/", kind);
    if (stat(self.c_str(), &mine) != 0) return Errno(errno, absl::StrCat("stat ", self));
    if (fstat(fd->get(), &theirs) != 0) return Errno(errno, absl::StrCat("fstat ", path));
    if (mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino) fd->reset();
  }
  const std::pair<UniqueFd*, const char*> dirs[] = {{&c.root, "root"}, {&c.cwd, "cwd"}};
  for (const auto& [fd, name] : dirs) {
    fd->reset(openat(c.proc_dir.get(), name, O_PATH | O_CLOEXEC));
    if (!*fd) return Errno(errno, absl::StrCat("open ", dir, "/", name));
  }
  return c;
}

absl::StatusOr<MountOutcome> PerformNewMount(const MountCaller& caller,
                                             const NewMountRequest& req) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return Errno(errno, "socketpair");
  }
  UniqueFd mine(sv[0]);
  UniqueFd theirs(sv[1]);

  std::array<int, 12> keep = {theirs.get(),          caller.proc_dir.get(), caller.user_ns.get(),
                              caller.mnt_ns.get(),    caller.ipc_ns.get(),   caller.net_ns.get(),
                              caller.cgroup_ns.get(), caller.pid_ns.get(),   caller.root.get(),
                              caller.cwd.get(),       req.tree_fd,           req.passed_fd};
  std::sort(keep.begin(), keep.end());
  // The page copy_mount_options() would have made: the kernel reads PAGE_SIZE bytes.
  std::vector<char> page;
  if (req.data.has_value()) {
    page.assign(static_cast<size_t>(sysconf(_SC_PAGESIZE)), 0);
    std::copy_n(req.data->begin(), std::min(req.data->size(), page.size()), page.begin());
  }
  // A name the kernel's copy fails on: NULL faults; PAGE_SIZE bytes without a NUL are
  // EINVAL (strndup_user()).
  const std::string too_long(static_cast<size_t>(sysconf(_SC_PAGESIZE)) + 1, 'x');
  const char* fs_name = nullptr;
  if (req.fs_name.copy_errno == EINVAL) {
    fs_name = too_long.c_str();
  } else if (req.fs_name.copy_errno == 0 && req.fs_name.value.has_value()) {
    fs_name = req.fs_name.value->c_str();
  }
  const HelperArgs args{
      .caller = &caller,
      .req = &req,
      .sock = theirs.get(),
      .keep = keep.data(),
      .nkeep = static_cast<int>(keep.size()),
      .source = req.source ? req.source->c_str() : nullptr,
      .target = req.target.c_str(),
      .type = req.type ? req.type->c_str() : nullptr,
      .data = req.data ? page.data() : nullptr,
      .fs_name = fs_name,
  };

  int pidfd = -1;
  // x86-64 argument order: flags, stack, parent_tid (receives the pidfd), child_tid, tls.
  const long pid = syscall(SYS_clone, static_cast<unsigned long>(CLONE_PIDFD), nullptr, &pidfd,
                           nullptr, nullptr);
  if (pid < 0) return Errno(errno, "clone mount helper");
  if (pid == 0) RunJoiner(args);
  UniqueFd helper(pidfd);
  theirs.reset();

  absl::StatusOr<MountOutcome> result = [&]() -> absl::StatusOr<MountOutcome> {
    pollfd p{mine.get(), POLLIN, 0};
    int n;
    do {
      n = poll(&p, 1, kHelperTimeoutMs);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return Errno(errno, "poll mount helper");
    if (n == 0) return absl::DeadlineExceededError("mount helper timed out");
    absl::StatusOr<ReceivedMessage> m = ReceiveMessage(mine.get(), sizeof(Wire));
    if (!m.ok()) return m.status();
    if (m->eof || m->data.size() != sizeof(Wire)) {
      return absl::InternalError("mount helper died without an answer");
    }
    Wire w;
    std::memcpy(&w, m->data.data(), sizeof(w));
    if (w.stage != kDone) {
      return Errno(w.err, absl::StrCat("mount helper: ", StageName(w.stage)));
    }
    MountOutcome out;
    out.err = w.err;
    out.fs_fd = std::move(m->fd);
    if (req.kind == NewMountRequest::Kind::kFsopen && out.err == 0 && !out.fs_fd) {
      return absl::InternalError("mount helper sent no fs-context descriptor");
    }
    return out;
  }();
  // The first helper exits once it has reaped the second, which lives in the caller's
  // PID namespace: killed early, it would leave a zombie there for the namespace's init.
  // It is killed only if it does not finish (the second then dies with it).
  int n = 0;
  if (result.ok() || !absl::IsDeadlineExceeded(result.status())) {
    pollfd p{helper.get(), POLLIN, 0};
    do {
      n = poll(&p, 1, kHelperTimeoutMs);
    } while (n < 0 && errno == EINTR);
  }
  if (n <= 0) syscall(SYS_pidfd_send_signal, helper.get(), SIGKILL, nullptr, 0);
  siginfo_t info;
  while (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(helper.get()), &info,
                WEXITED | __WALL) < 0 &&
         errno == EINTR) {
  }
  return result;
}

}  // namespace mqsentry::sentry
