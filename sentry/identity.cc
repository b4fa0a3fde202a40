// IdentityReader: /proc/<tid>/{status,stat,limits,ns/*,uid_map,gid_map} and the nsfs
// ioctls (NS_GET_PARENT, NS_GET_OWNER_UID), turned into kernel:: model values.
//
// What is exact and what is approximated:
//  - Credentials: exact (the kernel's own struct cred as /proc/<tid>/status prints it),
//    up to the supervisor's view: an id the supervisor's user namespace does not map is
//    printed as the overflow id 65534 and cannot be told from a real 65534. In the default
//    mode every id is mapped; in unprivileged mode an unmapped id becomes an invalid KUid
//    (matches no owner, is not root).
//  - User namespace parent chain, uid/gid maps and owner: exact (NS_GET_PARENT,
//    NS_GET_OWNER_UID, /proc/<pid>/uid_map read from the supervisor's namespace, whose
//    lower ids are the supervisor's ids, translated to kernel ids in unprivileged mode).
//    A map that is still unwritten is re-read on every lookup until both maps are written
//    (each can be written once), so the model never keeps an empty map by mistake.
//  - User namespace group (creator's egid): no kernel interface exposes it. We record the
//    egid of the task through which the namespace is first seen (for a task that just
//    unshared, that is the creator's egid) if the parent maps it, else the parent's first
//    mapped gid. The kernel itself uses ns->group for nothing the model checks.
//  - User namespace rlimit_msgqueue (the creator's soft RLIMIT_MSGQUEUE at creation, the
//    ceiling of the namespace's owner in the parent's accounting, spec §3.5): not exposed
//    either. Recorded, like the group, from the task through which the namespace is first
//    seen (its soft limit now: for a task that just unshared, the creator's at creation
//    unless it changed it since, which only a raise to its hard limit could exploit); an
//    ancestor first reached through NS_GET_PARENT records its parent's value (rlimits are
//    inherited). Never unlimited by default: a nested namespace is bounded as on Linux. The
//    supervisor's own namespace (unprivileged mode) records the supervisor's current
//    soft limit, which is what it had when it created it unless it changed it since.
//  - ProcessRef: keyed by (tgid, start time in clock ticks). Two processes would share a
//    key only if a pid were recycled within one tick (10 ms), which needs pid_max pids to
//    be used up in that time.
//  - rlimit_msgqueue of the caller: exact (/proc/<tid>/limits rather than prlimit(2),
//    which needs CAP_SYS_RESOURCE; see ReadMsgqueueRlimitAt()).
//  - sched_prio: exact (task->prio, field 18 + 100).
//  - PidAsSeenBy: exact (NSpid plus an NS_GET_PARENT walk proving the nesting).
#include "sentry/identity.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "ipc/notification.h"
#include "kernel/capabilities.h"
#include "kernel/credentials.h"
#include "kernel/ids.h"
#include "kernel/status_macros.h"
#include "kernel/user_namespace.h"
#include "sentry/proc/proc_text.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {

namespace {

using kernel::Credentials;
using kernel::IdMap;
using kernel::IdMapExtent;
using kernel::KGid;
using kernel::KUid;
using kernel::UserNamespace;

// create_user_ns() allows 33 levels; anything deeper than this is a loop in our walk.
constexpr int kMaxUserNsDepth = 40;
// The kernel's PID namespaces nest at most 32 deep (MAX_PID_NS_LEVEL).
constexpr int kMaxPidNsDepth = 40;


absl::Status Errno(int err, absl::string_view what) { return absl::ErrnoToStatus(err, what); }

absl::StatusOr<UniqueFd> OpenProcDir(int32_t pid) {
  if (pid <= 0) return absl::InvalidArgumentError(absl::StrCat("bad pid ", pid));
  const std::string path = absl::StrCat("/proc/", pid);
  int fd = open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, path);
  return UniqueFd(fd);
}

absl::StatusOr<std::string> ReadAll(int fd, const char* name) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno(errno, absl::StrCat("read ", name));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

absl::StatusOr<UniqueFd> OpenAt(int dir, const char* name) {
  int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, absl::StrCat("open ", name));
  return UniqueFd(fd);
}

absl::StatusOr<std::string> ReadFileAt(int dir, const char* name) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenAt(dir, name));
  return ReadAll(fd.get(), name);
}

NsId ToNsId(const struct stat& st) {
  return NsId{.dev = static_cast<uint64_t>(st.st_dev), .ino = static_cast<uint64_t>(st.st_ino)};
}

absl::StatusOr<NsId> StatNsAt(int dir, const char* name) {
  struct stat st;
  if (fstatat(dir, name, &st, 0) != 0) return Errno(errno, absl::StrCat("stat ", name));
  return ToNsId(st);
}

absl::StatusOr<NsId> StatNsFd(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Errno(errno, "fstat namespace");
  return ToNsId(st);
}


absl::StatusOr<proc::Status> ReadStatusAt(int dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFileAt(dir, "status"));
  return proc::ParseStatus(text);
}

absl::StatusOr<proc::Stat> ReadStatAt(int dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFileAt(dir, "stat"));
  return proc::ParseStat(text);
}

// The soft RLIMIT_MSGQUEUE from /proc/<pid>/limits ("Max msgqueue size  <soft>  <hard>
// bytes"). prlimit(pid, RLIMIT_MSGQUEUE, NULL, &old) gives the same value but needs
// CAP_SYS_RESOURCE over a task with other uids (check_prlimit_permission()), which a
// supervisor in a container or under a capability bounding set may lack; the limits file
// is world-readable, and read through the thread's /proc directory it cannot belong to a
// recycled pid.
// The soft limit of line `name` of a /proc/<pid>/limits text ("unlimited" ->
// Credentials::kRlimInfinity, which is RLIM_INFINITY).
absl::StatusOr<uint64_t> ParseSoftLimit(absl::string_view text, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, name)) continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.empty()) break;
    if (fields[0] == "unlimited") return Credentials::kRlimInfinity;
    uint64_t soft;
    if (!absl::SimpleAtoi(fields[0], &soft)) break;
    return soft;
  }
  return absl::InternalError(absl::StrCat("no \"", name, "\" in /proc/<pid>/limits"));
}

absl::StatusOr<uint64_t> ParseMsgqueueRlimit(absl::string_view text) {
  return ParseSoftLimit(text, "Max msgqueue size");
}

absl::StatusOr<uint64_t> ReadMsgqueueRlimitAt(int dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFileAt(dir, "limits"));
  return ParseMsgqueueRlimit(text);
}

// /proc/<tid>/ns/<kind> by path: one stat, no descriptor.
absl::StatusOr<NsId> StatNsOf(int32_t tid, const char* kind) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/ns/%s", tid, kind);
  struct stat st;
  if (stat(path, &st) != 0) return Errno(errno, absl::StrCat("stat ", path));
  return ToNsId(st);
}

// Text of uid_map and gid_map of the task at `proc_dir`, if it is still in the user
// namespace `expected` once both files are open (an open map file stays bound to the
// namespace the task was in at open time). A task can only ever move from a user
// namespace into one of its descendants (setns needs CAP_SYS_ADMIN in the target, which
// no task holds in an ancestor of its own namespace), so finding it in `expected` after
// the opens means it was there during them. nullopt if it has moved.
absl::StatusOr<std::optional<std::pair<std::string, std::string>>> ReadMapsOfTask(
    int proc_dir, const NsId& expected) {
  ASSIGN_OR_RETURN(UniqueFd uid_fd, OpenAt(proc_dir, "uid_map"));
  ASSIGN_OR_RETURN(UniqueFd gid_fd, OpenAt(proc_dir, "gid_map"));
  ASSIGN_OR_RETURN(NsId now, StatNsAt(proc_dir, "ns/user"));
  if (now != expected) return std::nullopt;
  ASSIGN_OR_RETURN(std::string uid_map, ReadAll(uid_fd.get(), "uid_map"));
  ASSIGN_OR_RETURN(std::string gid_map, ReadAll(gid_fd.get(), "gid_map"));
  return std::make_pair(std::move(uid_map), std::move(gid_map));
}

// Re-expresses a map whose lower ids are in the supervisor's namespace `reader` with
// kernel lower ids. One extent may straddle several of `reader`'s extents, so it is split.
absl::StatusOr<IdMap> ToKernelMap(const IdMap& map, const IdMap& reader) {
  std::vector<IdMapExtent> out;
  for (const IdMapExtent& e : map.extents()) {
    uint64_t done = 0;
    while (done < e.count) {
      const uint64_t lower = uint64_t{e.lower_first} + done;
      const IdMapExtent* covering = nullptr;
      for (const IdMapExtent& r : reader.extents()) {
        if (lower >= r.first && lower < uint64_t{r.first} + r.count) {
          covering = &r;
          break;
        }
      }
      if (covering == nullptr) {
        return absl::FailedPreconditionError(
            absl::StrCat("id ", lower, " of a user namespace map is unmapped in the supervisor's"));
      }
      const uint64_t run =
          std::min<uint64_t>(e.count - done, uint64_t{covering->first} + covering->count - lower);
      out.push_back(IdMapExtent{
          .first = static_cast<uint32_t>(e.first + done),
          .lower_first = static_cast<uint32_t>(covering->lower_first + (lower - covering->first)),
          .count = static_cast<uint32_t>(run)});
      done += run;
    }
  }
  return IdMap::Create(std::move(out));
}

uint64_t ToModelRlimit(rlim_t v) {
  return v == RLIM_INFINITY ? Credentials::kRlimInfinity : static_cast<uint64_t>(v);
}

// Text of uid_map and gid_map of the user namespace `ns_fd`, as the supervisor sees
// them, for a namespace no known task lives in: a helper process joins the namespace
// and the supervisor reads the helper's maps. The helper is a raw clone() without an
// exit signal and with a pidfd, so neither a SIGCHLD handler reaping with waitpid(-1)
// nor a recycled pid can interfere, and it makes only async-signal-safe calls (the
// supervisor is multithreaded).
absl::StatusOr<std::pair<std::string, std::string>> ReadMapsViaHelper(int ns_fd) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return Errno(errno, "pipe2");
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);
  int pidfd = -1;
  // x86-64 argument order: flags, stack, parent_tid (receives the pidfd), child_tid, tls.
  const long pid = syscall(SYS_clone, static_cast<unsigned long>(CLONE_PIDFD), nullptr, &pidfd,
                           nullptr, nullptr);
  if (pid < 0) return Errno(errno, "clone map helper");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int err = setns(ns_fd, CLONE_NEWUSER) == 0 ? 0 : errno;
    (void)!write(pipe_fds[1], &err, sizeof(err));
    for (;;) pause();
  }
  UniqueFd helper(pidfd);
  write_end.reset();
  absl::StatusOr<std::pair<std::string, std::string>> result;
  int err = 0;
  ssize_t n;
  do {
    n = read(read_end.get(), &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  if (n != sizeof(err)) {
    result = absl::InternalError("user namespace map helper died");
  } else if (err != 0) {
    result = Errno(err, "setns into a user namespace");
  } else {
    result = [&]() -> absl::StatusOr<std::pair<std::string, std::string>> {
      ASSIGN_OR_RETURN(UniqueFd dir, OpenProcDir(static_cast<int32_t>(pid)));
      ASSIGN_OR_RETURN(std::string uid_map, ReadFileAt(dir.get(), "uid_map"));
      ASSIGN_OR_RETURN(std::string gid_map, ReadFileAt(dir.get(), "gid_map"));
      return std::make_pair(std::move(uid_map), std::move(gid_map));
    }();
  }
  syscall(SYS_pidfd_send_signal, helper.get(), SIGKILL, nullptr, 0);
  siginfo_t info;
  while (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(helper.get()), &info,
                WEXITED | __WALL) < 0 &&
         errno == EINTR) {
  }
  return result;
}

}  // namespace

struct IdentityReader::CachedUserNs {
  UniqueFd fd;  // held so that the namespace, and so its inode number, stays alive
  std::shared_ptr<const UserNamespace> model;
  bool complete = false;  // both maps written: the model can no longer change
};

IdentityReader::IdentityReader(std::optional<std::pair<IdMap, IdMap>> supervisor_user_ns_maps,
                               KUid supervisor_uid, KGid supervisor_gid)
    : supervisor_ns_(UserNamespace::Initial()) {
  absl::StatusOr<NsId> own = []() -> absl::StatusOr<NsId> {
    struct stat st;
    if (stat("/proc/self/ns/user", &st) != 0) return Errno(errno, "stat /proc/self/ns/user");
    return ToNsId(st);
  }();
  if (!own.ok()) {
    init_status_ = own.status();
    return;
  }
  supervisor_ns_id_ = *own;
  if (supervisor_user_ns_maps.has_value()) {
    struct rlimit rl {};
    getrlimit(RLIMIT_MSGQUEUE, &rl);
    absl::StatusOr<std::shared_ptr<const UserNamespace>> ns = UserNamespace::Create(
        UserNamespace::Initial(), supervisor_uid, supervisor_gid,
        std::move(supervisor_user_ns_maps->first), std::move(supervisor_user_ns_maps->second),
        ToModelRlimit(rl.rlim_cur));
    if (!ns.ok()) {
      init_status_ = ns.status();
      return;
    }
    supervisor_ns_ = *std::move(ns);
  }
}

IdentityReader::~IdentityReader() = default;

KUid IdentityReader::ToKernel(uint32_t uid) const {
  return supervisor_ns_->ToKernel(kernel::NsUid(uid));
}

KGid IdentityReader::ToKernelGid(uint32_t gid) const {
  return supervisor_ns_->ToKernel(kernel::NsGid(gid));
}

namespace {

// alloc_fd()'s EMFILE test for thread `tid`, from the text of its status and limits files:
// true if a number below the soft RLIMIT_NOFILE is free. A table (FDSize) smaller than the
// limit can still grow; only a full-size one is counted through /proc/<tid>/fd.
absl::StatusOr<bool> FreeDescriptorFrom(int32_t tid, absl::string_view status,
                                        absl::string_view limits) {
  uint64_t table_size = 0;
  bool have_size = false;
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, "FDSize:")) {
      have_size = absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &table_size);
      break;
    }
  }
  if (!have_size) return absl::InternalError(absl::StrCat("no FDSize for ", tid));
  ASSIGN_OR_RETURN(const uint64_t soft, ParseSoftLimit(limits, "Max open files"));
  if (table_size < soft) return true;
  const std::string dir_path = absl::StrCat("/proc/", tid, "/fd");
  DIR* dir = opendir(dir_path.c_str());
  if (dir == nullptr) return Errno(errno, dir_path);
  uint64_t below = 0;
  while (dirent* e = readdir(dir)) {
    uint64_t fd;
    if (absl::SimpleAtoi(e->d_name, &fd) && fd < soft) ++below;
  }
  closedir(dir);
  return below < soft;
}

}  // namespace

absl::Status IdentityReader::FillCredentials(const proc::Status& status, Credentials& c) const {
  c.ruid = ToKernel(status.uid[0]);
  c.euid = ToKernel(status.uid[1]);
  c.suid = ToKernel(status.uid[2]);
  c.fsuid = ToKernel(status.uid[3]);
  c.rgid = ToKernelGid(status.gid[0]);
  c.egid = ToKernelGid(status.gid[1]);
  c.sgid = ToKernelGid(status.gid[2]);
  c.fsgid = ToKernelGid(status.gid[3]);
  c.groups.clear();
  for (uint32_t g : status.groups) c.groups.push_back(ToKernelGid(g));
  c.inheritable = kernel::CapabilitySet(status.cap_inh);
  c.permitted = kernel::CapabilitySet(status.cap_prm);
  c.effective = kernel::CapabilitySet(status.cap_eff);
  if (!status.umask.has_value()) {
    return absl::FailedPreconditionError("/proc/<tid>/status has no Umask line (Linux < 4.7)");
  }
  c.umask = *status.umask;
  // Not asked for (Parts::rlimit): a limit that refuses everything, if used by mistake.
  c.rlimit_msgqueue = 0;
  return absl::OkStatus();
}

absl::StatusOr<CallerIdentity> IdentityReader::Read(int32_t tid, Parts parts) {
  RETURN_IF_ERROR(init_status_);
  if (!parts.process) return ReadCredentials(tid, parts);
  ASSIGN_OR_RETURN(UniqueFd dir, OpenProcDir(tid));
  ASSIGN_OR_RETURN(proc::Status status, ReadStatusAt(dir.get()));

  CallerIdentity id;
  id.tid = tid;
  id.tgid = status.tgid;
  ASSIGN_OR_RETURN(id.ipc_ns, StatNsAt(dir.get(), "ns/ipc"));
  ASSIGN_OR_RETURN(id.pid_ns, StatNsAt(dir.get(), "ns/pid"));
  Credentials& c = id.cred;
  RETURN_IF_ERROR(FillCredentials(status, c));
  ASSIGN_OR_RETURN(c.user_ns, UserNamespaceOfDir(dir.get(), c.egid));
  if (parts.rlimit) {
    ASSIGN_OR_RETURN(c.rlimit_msgqueue, ReadMsgqueueRlimitAt(dir.get()));
  }

  // The process's start time: a thread's own stat shows the thread's.
  std::optional<uint64_t> start_time;
  if (status.tgid != tid) {
    ASSIGN_OR_RETURN(UniqueFd tgid_dir, OpenProcDir(status.tgid));
    ASSIGN_OR_RETURN(proc::Stat tgid_stat, ReadStatAt(tgid_dir.get()));
    start_time = tgid_stat.start_time;
  }

  // Read last, through the thread's directory: it succeeds only if the thread is still
  // alive, so its tgid (by whose number the start time was read) was not recycled.
  ASSIGN_OR_RETURN(proc::Stat stat, ReadStatAt(dir.get()));
  id.sched_prio = static_cast<int>(stat.priority) + 100;
  if (!start_time.has_value()) start_time = stat.start_time;

  absl::MutexLock lock(&mu_);
  id.process = ProcessRefLocked(status.tgid, *start_time);
  return id;
}

absl::StatusOr<CallerIdentity> IdentityReader::ReadCredentials(int32_t tid, Parts parts) {
  // Through cached files and paths rather than one directory: the caller checks afterwards
  // that its trapped call is still valid, so the thread lived, and kept its tid, throughout.
  std::string text;
  if (int err = files_.Read(tid, "status", &text); err != 0) {
    return Errno(-err, absl::StrCat("read /proc/", tid, "/status"));
  }
  ASSIGN_OR_RETURN(proc::Status status, proc::ParseStatus(text));
  CallerIdentity id;
  id.tid = tid;
  id.tgid = status.tgid;
  ASSIGN_OR_RETURN(id.ipc_ns, StatNsOf(tid, "ipc"));
  Credentials& c = id.cred;
  RETURN_IF_ERROR(FillCredentials(status, c));
  // A user namespace seen before costs a stat; a new one is resolved through the directory.
  ASSIGN_OR_RETURN(NsId user_ns, StatNsOf(tid, "user"));
  if (std::shared_ptr<const UserNamespace> known = KnownUserNamespace(user_ns)) {
    c.user_ns = std::move(known);
  } else {
    ASSIGN_OR_RETURN(UniqueFd dir, OpenProcDir(tid));
    ASSIGN_OR_RETURN(c.user_ns, UserNamespaceOfDir(dir.get(), c.egid));
  }
  if (parts.rlimit || parts.free_descriptor) {
    std::string limits;
    if (int err = files_.Read(tid, "limits", &limits); err != 0) {
      return Errno(-err, absl::StrCat("read /proc/", tid, "/limits"));
    }
    if (parts.rlimit) {
      ASSIGN_OR_RETURN(c.rlimit_msgqueue, ParseMsgqueueRlimit(limits));
    }
    if (parts.free_descriptor) {
      ASSIGN_OR_RETURN(id.has_free_descriptor, FreeDescriptorFrom(tid, text, limits));
    }
  }
  return id;
}

absl::StatusOr<IdentityReader::ProcessOfThread> IdentityReader::ProcessOf(int32_t tid) {
  // /proc/<pid>/stat waits for a task that is in the middle of an exec, and this runs for
  // a close that the exec itself is doing: only status is read, and the ProcessRef is the
  // one last seen for that tgid (a process unknown here gets an empty ref).
  ASSIGN_OR_RETURN(UniqueFd dir, OpenProcDir(tid));
  ASSIGN_OR_RETURN(proc::Status status, ReadStatusAt(dir.get()));
  absl::MutexLock lock(&mu_);
  auto it = processes_.find(status.tgid);
  return ProcessOfThread{status.tgid, it == processes_.end() ? ipc::ProcessRef{} : it->second.ref};
}

absl::StatusOr<int32_t> IdentityReader::TgidOf(int32_t tid) {
  ASSIGN_OR_RETURN(UniqueFd dir, OpenProcDir(tid));
  ASSIGN_OR_RETURN(proc::Status status, ReadStatusAt(dir.get()));
  return status.tgid;
}

absl::StatusOr<std::shared_ptr<const UserNamespace>> IdentityReader::UserNamespaceOf(int32_t tid) {
  RETURN_IF_ERROR(init_status_);
  ASSIGN_OR_RETURN(UniqueFd dir, OpenProcDir(tid));
  ASSIGN_OR_RETURN(proc::Status status, ReadStatusAt(dir.get()));
  return UserNamespaceOfDir(dir.get(), ToKernelGid(status.gid[1]));
}

std::shared_ptr<const UserNamespace> IdentityReader::KnownUserNamespace(const NsId& ns_id) {
  absl::MutexLock lock(&mu_);
  if (ns_id == supervisor_ns_id_) return supervisor_ns_;
  auto it = user_ns_.find(ns_id);
  if (it != user_ns_.end() && it->second->complete) return it->second->model;
  return nullptr;
}

absl::StatusOr<std::shared_ptr<const UserNamespace>> IdentityReader::UserNamespaceOfDir(
    int proc_dir, KGid group_hint) {
  // Fast path: a stat, no descriptor.
  ASSIGN_OR_RETURN(NsId ns_id, StatNsAt(proc_dir, "ns/user"));
  if (std::shared_ptr<const UserNamespace> known = KnownUserNamespace(ns_id)) return known;
  const int fd = openat(proc_dir, "ns/user", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, "open ns/user");
  UniqueFd ns_fd(fd);
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<const UserNamespace> ns,
                   ResolveLocked(ns_fd.get(), proc_dir, group_hint, 0));
  MaybeSweepLocked();
  return ns;
}

absl::StatusOr<std::shared_ptr<const UserNamespace>> IdentityReader::OwnerOfNamespace(
    int ns_fd, KGid group_hint) {
  // NS_GET_USERNS: the user namespace that owns `ns_fd`'s namespace.
  const int owner = ioctl(ns_fd, NS_GET_USERNS);
  if (owner < 0) return Errno(errno, "ioctl(NS_GET_USERNS)");
  UniqueFd owner_fd(owner);
  struct stat st {};
  if (fstat(owner_fd.get(), &st) != 0) return Errno(errno, "fstat user namespace");
  const NsId id{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  absl::MutexLock lock(&mu_);
  if (id == supervisor_ns_id_) return supervisor_ns_;
  ASSIGN_OR_RETURN(std::shared_ptr<const UserNamespace> ns,
                   ResolveLocked(owner_fd.get(), -1, group_hint, 0));
  MaybeSweepLocked();
  return ns;
}

absl::StatusOr<std::shared_ptr<const UserNamespace>> IdentityReader::ResolveLocked(int ns_fd,
                                                                                   int proc_dir,
                                                                                   KGid group_hint,
                                                                                   int depth) {
  ASSIGN_OR_RETURN(NsId ns_id, StatNsFd(ns_fd));
  if (ns_id == supervisor_ns_id_) return supervisor_ns_;
  if (depth > kMaxUserNsDepth) {
    return absl::InternalError("user namespace chain deeper than the kernel allows");
  }
  CachedUserNs* cached = nullptr;
  if (auto it = user_ns_.find(ns_id); it != user_ns_.end()) {
    cached = it->second.get();
    if (cached->complete) return cached->model;
  }

  // The parent chain, up to the supervisor's own namespace.
  std::shared_ptr<const UserNamespace> parent;
  if (cached != nullptr) {
    parent = cached->model->parent();
  } else {
    const int parent_fd = ioctl(ns_fd, NS_GET_PARENT);
    if (parent_fd < 0) {
      if (errno == EPERM) {
        // "The requested namespace is outside of the caller's namespace scope."
        return absl::FailedPreconditionError(
            "a user namespace that does not descend from the supervisor's");
      }
      return Errno(errno, "ioctl(NS_GET_PARENT) on a user namespace");
    }
    UniqueFd parent_closer(parent_fd);
    ASSIGN_OR_RETURN(parent, ResolveLocked(parent_fd, -1, group_hint, depth + 1));
  }

  // The maps. Lower ids are printed in the reader's namespace (the supervisor's): kernel
  // ids in the default mode.
  std::optional<std::pair<std::string, std::string>> texts;
  if (proc_dir >= 0) {
    ASSIGN_OR_RETURN(texts, ReadMapsOfTask(proc_dir, ns_id));
  }
  if (!texts.has_value()) {
    ASSIGN_OR_RETURN(texts, ReadMapsViaHelper(ns_fd));
  }
  ASSIGN_OR_RETURN(IdMap uid_map, IdMap::Parse(texts->first));
  ASSIGN_OR_RETURN(IdMap gid_map, IdMap::Parse(texts->second));
  if (!supervisor_ns_->is_initial()) {
    ASSIGN_OR_RETURN(uid_map, ToKernelMap(uid_map, supervisor_ns_->uid_map()));
    ASSIGN_OR_RETURN(gid_map, ToKernelMap(gid_map, supervisor_ns_->gid_map()));
  }
  const bool complete = !uid_map.extents().empty() && !gid_map.extents().empty();
  if (cached != nullptr && uid_map.extents() == cached->model->uid_map().extents() &&
      gid_map.extents() == cached->model->gid_map().extents()) {
    return cached->model;  // still (partly) unwritten, unchanged
  }

  KUid owner;
  KGid group;
  uint64_t rlimit_msgqueue = parent->rlimit_msgqueue();  // see the top of the file
  if (cached != nullptr) {
    owner = cached->model->owner();
    group = cached->model->group();
    rlimit_msgqueue = cached->model->rlimit_msgqueue();
  } else {
    if (proc_dir >= 0) {
      if (absl::StatusOr<uint64_t> soft = ReadMsgqueueRlimitAt(proc_dir); soft.ok()) {
        rlimit_msgqueue = *soft;
      }
    }
    uid_t owner_uid = 0;
    if (ioctl(ns_fd, NS_GET_OWNER_UID, &owner_uid) != 0) {
      return Errno(errno, "ioctl(NS_GET_OWNER_UID)");
    }
    owner = ToKernel(owner_uid);
    // See the top of the file: the creator's egid is not observable.
    if (parent->HasMapping(group_hint)) {
      group = group_hint;
    } else if (!parent->gid_map().extents().empty()) {
      group = KGid(parent->gid_map().extents().front().lower_first);
    }
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const UserNamespace> model,
                   UserNamespace::Create(parent, owner, group, std::move(uid_map),
                                         std::move(gid_map), rlimit_msgqueue));
  if (cached != nullptr) {
    // A namespace whose maps were unwritten has no children (create_user_ns() needs the
    // creator's ids mapped), so no cached model points at the object being replaced.
    cached->model = model;
    cached->complete = complete;
    return model;
  }
  const int held = fcntl(ns_fd, F_DUPFD_CLOEXEC, 0);
  if (held < 0) return Errno(errno, "dup user namespace fd");
  auto entry = std::make_unique<CachedUserNs>();
  entry->fd = UniqueFd(held);
  entry->model = model;
  entry->complete = complete;
  user_ns_[ns_id] = std::move(entry);
  return model;
}

void IdentityReader::MaybeSweepLocked() {
  if (user_ns_.size() < sweep_at_) return;
  // Deepest first, so that evicting a child releases its reference to its parent before
  // the parent is looked at.
  std::vector<std::pair<int, NsId>> order;
  order.reserve(user_ns_.size());
  for (const auto& [id, entry] : user_ns_) order.emplace_back(entry->model->level(), id);
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [level, id] : order) {
    auto it = user_ns_.find(id);
    if (it->second->model.use_count() == 1) user_ns_.erase(it);
  }
  sweep_at_ = std::max<size_t>(64, 2 * user_ns_.size());
}

ipc::ProcessRef IdentityReader::ProcessRefLocked(int32_t tgid, uint64_t start_time) {
  auto [it, inserted] = processes_.try_emplace(tgid);
  if (inserted || it->second.start_time != start_time) {
    // A new process, or the pid was recycled (the old process is gone).
    it->second.start_time = start_time;
    it->second.ref = ipc::ProcessRef{next_process_ref_++};
  }
  return it->second.ref;
}

void IdentityReader::ForgetProcess(int32_t tgid) {
  absl::MutexLock lock(&mu_);
  processes_.erase(tgid);
}

absl::StatusOr<IdentityReader::PidChain> IdentityReader::PidChainOf(int32_t host_tgid) {
  ASSIGN_OR_RETURN(UniqueFd dir, OpenProcDir(host_tgid));
  ASSIGN_OR_RETURN(proc::Status status, ReadStatusAt(dir.get()));
  if (status.nspid.empty()) {
    return absl::FailedPreconditionError("/proc/<pid>/status has no NSpid line (Linux < 4.1)");
  }
  if (status.nspid.size() > static_cast<size_t>(kMaxPidNsDepth)) {
    return absl::InternalError("NSpid deeper than the kernel allows");
  }
  const int fd = openat(dir.get(), "ns/pid", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, "open ns/pid");
  UniqueFd ns(fd);
  // Innermost first while walking up; NSpid is outermost first.
  PidChain chain;
  chain.levels.resize(status.nspid.size());
  for (size_t level = status.nspid.size(); level-- > 0;) {
    ASSIGN_OR_RETURN(NsId id, StatNsFd(ns.get()));
    chain.levels[level] = {id, status.nspid[level]};
    if (level == 0) break;
    const int parent = ioctl(ns.get(), NS_GET_PARENT);
    if (parent < 0) return Errno(errno, "ioctl(NS_GET_PARENT) on a PID namespace");
    ns = UniqueFd(parent);
  }
  return chain;
}

absl::StatusOr<uint64_t> IdentityReader::ExecToken(int32_t host_tgid) {
  ASSIGN_OR_RETURN(UniqueFd dir, OpenProcDir(host_tgid));
  ASSIGN_OR_RETURN(UniqueFd auxv_fd, OpenAt(dir.get(), "auxv"));
  ASSIGN_OR_RETURN(std::string auxv, ReadAll(auxv_fd.get(), "auxv"));
  constexpr uint64_t kAtRandom = 25;  // AT_RANDOM, the same on every ABI
  // 64-bit processes have (type, value) pairs of 8 bytes, 32-bit ones (i386, x32) of 4.
  for (size_t width : {size_t{8}, size_t{4}}) {
    for (size_t at = 0; at + 2 * width <= auxv.size(); at += 2 * width) {
      uint64_t type = 0, value = 0;
      std::memcpy(&type, auxv.data() + at, width);
      std::memcpy(&value, auxv.data() + at + width, width);
      if (type == 0) break;  // AT_NULL
      if (type != kAtRandom || value == 0) continue;
      uint64_t bytes[2];
      iovec local{bytes, sizeof(bytes)};
      iovec remote{reinterpret_cast<void*>(value), sizeof(bytes)};
      if (process_vm_readv(host_tgid, &local, 1, &remote, 1, 0) == sizeof(bytes)) {
        return (bytes[0] ^ (bytes[1] * 0x9e3779b97f4a7c15ULL)) | 1;  // never 0 ("unknown")
      }
    }
  }
  return absl::NotFoundError(absl::StrCat("no readable AT_RANDOM for ", host_tgid));
}

absl::StatusOr<int32_t> IdentityReader::PidInChainAsSeenBy(const PidChain& chain,
                                                           int32_t observer_tid) {
  ASSIGN_OR_RETURN(UniqueFd dir, OpenProcDir(observer_tid));
  ASSIGN_OR_RETURN(proc::Status observer, ReadStatusAt(dir.get()));
  if (observer.nspid.empty()) {
    return absl::FailedPreconditionError("/proc/<pid>/status has no NSpid line (Linux < 4.1)");
  }
  // The observer's depth picks the level; the namespace there must be the observer's.
  const size_t level = observer.nspid.size() - 1;
  if (level >= chain.levels.size()) return 0;
  ASSIGN_OR_RETURN(NsId observer_ns, StatNsAt(dir.get(), "ns/pid"));
  return chain.levels[level].first == observer_ns ? chain.levels[level].second : 0;
}

absl::StatusOr<int32_t> IdentityReader::PidAsSeenBy(int32_t host_tgid, int32_t observer_tid) {
  ASSIGN_OR_RETURN(UniqueFd target_dir, OpenProcDir(host_tgid));
  ASSIGN_OR_RETURN(UniqueFd observer_dir, OpenProcDir(observer_tid));
  ASSIGN_OR_RETURN(proc::Status target, ReadStatusAt(target_dir.get()));
  ASSIGN_OR_RETURN(proc::Status observer, ReadStatusAt(observer_dir.get()));
  if (target.nspid.empty() || observer.nspid.empty()) {
    return absl::FailedPreconditionError("/proc/<pid>/status has no NSpid line (Linux < 4.1)");
  }
  // NSpid lists the ids from the procfs mount's PID namespace inwards, so its length is
  // the depth below that namespace. A target shallower than the observer cannot be in it.
  if (target.nspid.size() < observer.nspid.size()) return 0;
  const size_t up = target.nspid.size() - observer.nspid.size();
  if (up > kMaxPidNsDepth) return absl::InternalError("NSpid deeper than the kernel allows");

  // Equal depth does not mean the same namespace (siblings): walk the target's namespace
  // up `up` levels and compare it with the observer's.
  ASSIGN_OR_RETURN(NsId observer_ns, StatNsAt(observer_dir.get(), "ns/pid"));
  const int fd = openat(target_dir.get(), "ns/pid", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, "open ns/pid");
  UniqueFd ns(fd);
  for (size_t i = 0; i < up; ++i) {
    const int parent = ioctl(ns.get(), NS_GET_PARENT);
    if (parent < 0) {
      if (errno == EPERM) return 0;  // left the supervisor's scope: not below the observer
      return Errno(errno, "ioctl(NS_GET_PARENT) on a PID namespace");
    }
    ns = UniqueFd(parent);
  }
  ASSIGN_OR_RETURN(NsId reached, StatNsFd(ns.get()));
  if (reached != observer_ns) return 0;
  return target.nspid[observer.nspid.size() - 1];
}

}  // namespace mqsentry::sentry
