// mount(2) and fsopen(2): new superblocks are made by the supervisor (mount_performer.h)
// from the bytes it copied, never by letting the call through. The type string cannot be
// checked and then left in the caller's memory: another thread can rewrite it between the
// check and the kernel's read, and "mqueue" would be the host kernel's mqueue code.
//
// mount(2) with MS_REMOUNT, MS_BIND, a propagation flag or MS_MOVE makes no new superblock
// (path_mount() dispatches on the flags, which are in a register and cannot change): such
// calls go on to the host kernel. So do fsconfig/fsmount/move_mount, which act on an fs
// context whose type fsopen fixed.
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "kernel/capabilities.h"
#include "kernel/user_namespace.h"
#include "sentry/log.h"
#include "sentry/mount_performer.h"
#include "sentry/sentry.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {
namespace {

using kernel::SyscallResult;

// Argument i as the ABI passes it: i386 registers are 32 bits wide.
uint64_t Arg(const TrappedCall& c, const SyscallEntry& e, int i) {
  return e.compat_sizes ? static_cast<uint32_t>(c.args[i]) : c.args[i];
}

constexpr uint64_t kNoNewSuperblock =
    MS_REMOUNT | MS_BIND | MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE | MS_MOVE;

// copy_mount_string(): strndup_user(s, PATH_MAX); NULL stays NULL. EFAULT for an
// unreadable byte before the NUL, EINVAL without a NUL in PATH_MAX bytes.
MountString CopyMountString(TraceeMemory& memory, const TrappedCall& call, uint64_t addr) {
  MountString s;
  if (addr == 0) return s;
  std::string value;
  const int err = memory.ReadName(call, addr, &value);
  if (err == ENAMETOOLONG) {
    s.copy_errno = EINVAL;
  } else if (err != 0) {
    s.copy_errno = err;
  } else {
    s.value = std::move(value);
  }
  return s;
}

// copy_mount_options(): up to one page, stopping at the first unreadable byte; EFAULT only
// if none is readable. (Readability changes at page boundaries.)
int CopyMountData(TraceeMemory& memory, const TrappedCall& call, uint64_t addr,
                  std::vector<char>* out) {
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  out->assign(page, 0);
  const uint64_t first = page - (addr % page);  // bytes up to the next page boundary
  if (!memory.Read(call, addr, out->data(), first)) return EFAULT;
  if (first < page && !memory.Read(call, addr + first, out->data() + first, page - first)) {
    std::fill(out->begin() + first, out->end(), 0);
  }
  return 0;
}

bool IsFuseType(absl::string_view type) {
  return type == "fuse" || type == "fuseblk" || absl::StartsWith(type, "fuse.");
}

// The N of a "fd=N" option of a FUSE mount (types "fuse", "fuseblk", "fuse.SUBTYPE"):
// fuse_parse_param() looks N up in the mounting task's descriptor table.
std::optional<int> FuseDeviceFd(const NewMountRequest& req) {
  if (req.kind != NewMountRequest::Kind::kMount || !req.type || !req.data) return std::nullopt;
  const absl::string_view type = *req.type;
  if (!IsFuseType(type)) return std::nullopt;
  const std::string text(req.data->data(), strnlen(req.data->data(), req.data->size()));
  std::optional<int> fd;
  for (absl::string_view option : absl::StrSplit(text, ',')) {
    int n;
    if (absl::ConsumePrefix(&option, "fd=") && absl::SimpleAtoi(option, &n) && n >= 0) fd = n;
  }
  return fd;
}

}  // namespace

namespace {
int MqueueOptionsError(const NewMountRequest& req);
}  // namespace

HandlerResult Sentry::HandleMountGuard(const TrappedCall& call, const SyscallEntry& e) {
  const bool is_mount = e.call == MqCall::kMount;
  NewMountRequest req;
  std::string trace;
  auto answer = [&](int err) -> HandlerResult { return AnswerError(err, trace); };
  if (is_mount) {
    req.kind = NewMountRequest::Kind::kMount;
    req.flags = Arg(call, e, 3);
    if (req.flags & kNoNewSuperblock) return ContinueToHost{};
    // SYSCALL_DEFINE5(mount): type, source and data are copied first, then do_mount()
    // resolves the target (getname: EFAULT, ENAMETOOLONG).
    MountString type = CopyMountString(platform_->memory(), call, Arg(call, e, 2));
    if (strace_.enabled()) {
      trace = absl::StrCat(e.name, "(..., ", type.value ? QuotedString(*type.value) : "NULL",
                           ", ", req.flags, ", ...)");
    }
    if (type.copy_errno != 0) return answer(type.copy_errno);
    MountString source = CopyMountString(platform_->memory(), call, Arg(call, e, 0));
    if (source.copy_errno != 0) return answer(source.copy_errno);
    if (const uint64_t data = Arg(call, e, 4); data != 0) {
      req.data.emplace();
      if (const int err = CopyMountData(platform_->memory(), call, data, &*req.data); err != 0) {
        return answer(err);
      }
    }
    if (const int err = platform_->memory().ReadName(call, Arg(call, e, 1), &req.target);
        err != 0) {
      return answer(err);
    }
    req.type = std::move(type.value);
    req.source = std::move(source.value);
  } else {
    req.kind = NewMountRequest::Kind::kFsopen;
    req.fsopen_flags = static_cast<unsigned int>(Arg(call, e, 1));
    const uint64_t name = Arg(call, e, 0);
    // fsopen copies its name (strndup_user(name, PAGE_SIZE)) after the permission and
    // flag checks: a failed copy is handed to the performer to fail at the same point.
    req.fs_name = CopyMountString(platform_->memory(), call, name);
    if (name == 0) req.fs_name.copy_errno = EFAULT;
    if (strace_.enabled()) {
      trace = absl::StrCat(e.name, "(",
                           req.fs_name.value ? QuotedString(*req.fs_name.value) : "...", ", ",
                           req.fsopen_flags, ")");
    }
  }
  if (!platform_->StillValid(call.id)) return CallGone{};
  const std::optional<std::string>& type = is_mount ? req.type : req.fs_name.value;
  // The host's mqueue filesystem never reaches the sandbox: mount(2) gets mqfs's view of
  // the caller's namespace instead. fsopen("mqueue") is refused: its fs context would be
  // the host's, on which every later fsconfig/fsmount call goes to the host kernel.
  if (type.has_value() && *type == "mqueue") {
    if (!is_mount) return answer(EPERM);
    return MountMqueueView(call, std::move(req), trace);
  }

  // A FUSE filesystem the program serves itself could hold a page of one of its files
  // unresolved forever; a message buffer there would block the supervisor's memory
  // accesses, and with them every call of the sandbox (architecture, "Threat model").
  // Linux would allow the mount in a user namespace of the program's own.
  if (type.has_value() && IsFuseType(*type) && !options_.allow_fuse_mounts) {
    return answer(EPERM);
  }
  // FUSE's "fd=N" names a descriptor of the mounting task: the caller's, handed over.
  UniqueFd passed;
  if (const std::optional<int> number = FuseDeviceFd(req)) {
    passed.reset(platform_->GetFd(call.tid, *number));
    if (passed) {
      req.passed_fd = passed.get();
      req.passed_fd_number = *number;
    }
  }
  absl::StatusOr<MountCaller> caller = OpenMountCaller(call.tid);
  if (!platform_->StillValid(call.id)) return CallGone{};
  if (!caller.ok()) return InternalFailure{caller.status()};
  absl::StatusOr<MountOutcome> outcome = PerformNewMount(*caller, req);
  if (!outcome.ok()) {
    // Nothing was mounted. Linux's mount and fsopen fail with ENOMEM when they cannot
    // get what they need; the caller never gets the call through unchecked.
    MQ_LOG("mqsentry: ", e.name, " for thread ", call.tid, ": ", outcome.status().ToString());
    return answer(ENOMEM);
  }
  if (outcome->err != 0) return answer(outcome->err);
  if (is_mount) return Answer{SyscallResult::Ok(), trace};
  return NewDescriptor{std::move(outcome->fs_fd), (req.fsopen_flags & FSOPEN_CLOEXEC) != 0,
                       trace};
}

namespace {
// mqueue's answer to the options of a new mount (spec §8.5): it takes no parameter, and
// "source" only once (the source argument sets it first). EINVAL otherwise.
int MqueueOptionsError(const NewMountRequest& req) {
  int sources = req.source.has_value() ? 1 : 0;
  if (!req.data.has_value()) return 0;
  const std::string text(req.data->data(), strnlen(req.data->data(), req.data->size()));
  for (absl::string_view option : absl::StrSplit(text, ',')) {
    if (option.empty()) continue;
    const absl::string_view key = option.substr(0, option.find('='));
    if (key != "source" || ++sources > 1) return EINVAL;
  }
  return 0;
}
}  // namespace

// mount(2) of type "mqueue": the supervisor's view of the IPC namespace the caller is in
// (mqueue_init_fs_context() takes current's), moved onto the target by a helper that is
// the caller. Linux's order: the target, may_mount() (the helper), the options, then
// mount_capable(): CAP_SYS_ADMIN over the user namespace that owns the IPC namespace.
HandlerResult Sentry::MountMqueueView(const TrappedCall& call, NewMountRequest req,
                                      const std::string& trace) {
  auto answer = [&](int err) -> HandlerResult { return AnswerError(err, trace); };
  absl::StatusOr<CallerIdentity> id = ReadIdentity(call.tid, {.rlimit = false, .process = false});
  if (!platform_->StillValid(call.id)) return CallGone{};
  if (!id.ok()) return InternalFailure{id.status()};
  absl::StatusOr<std::shared_ptr<ipc::IpcNamespace>> ns = NamespaceOf(*id);
  if (!ns.ok()) return InternalFailure{ns.status()};
  if (*ns == nullptr) return answer(ENOMEM);  // past the bound of live namespaces
  int deferred = MqueueOptionsError(req);
  if (deferred == 0 &&
      !id->cred.HasCapabilityIn(kernel::Capability::kSysAdmin, *(*ns)->owner_user_ns())) {
    deferred = EPERM;
  }
  absl::StatusOr<int> tree = mqfs_->NewView(*ns);
  if (!tree.ok()) {
    MQ_LOG("mqsentry: mqueue mount for thread ", call.tid, ": ", tree.status().ToString());
    return answer(ENOMEM);
  }
  UniqueFd tree_fd(*tree);
  // The mount flags that apply to a mount (mqfs's own nosuid, nodev and noexec stay).
  mount_attr attr{};
  if (req.flags & MS_RDONLY) attr.attr_set |= MOUNT_ATTR_RDONLY;
  if (req.flags & MS_NOATIME) {
    attr.attr_set |= MOUNT_ATTR_NOATIME;
  } else if (req.flags & MS_STRICTATIME) {
    attr.attr_set |= MOUNT_ATTR_STRICTATIME;
  }
  if (req.flags & MS_NODIRATIME) attr.attr_set |= MOUNT_ATTR_NODIRATIME;
  if (attr.attr_set & (MOUNT_ATTR_NOATIME | MOUNT_ATTR_STRICTATIME)) {
    attr.attr_clr |= MOUNT_ATTR__ATIME;
  }
  if (attr.attr_set != 0 &&
      syscall(SYS_mount_setattr, tree_fd.get(), "", AT_EMPTY_PATH, &attr, sizeof(attr)) != 0) {
    MQ_LOG("mqsentry: mount_setattr of an mqueue view: ", std::strerror(errno));
    return answer(ENOMEM);
  }
  req.kind = NewMountRequest::Kind::kAttachTree;
  req.tree_fd = tree_fd.get();
  req.deferred_errno = deferred;
  absl::StatusOr<MountCaller> caller = OpenMountCaller(call.tid);
  if (!platform_->StillValid(call.id)) return CallGone{};
  if (!caller.ok()) return InternalFailure{caller.status()};
  absl::StatusOr<MountOutcome> outcome = PerformNewMount(*caller, req);
  if (!outcome.ok()) {
    MQ_LOG("mqsentry: mqueue mount for thread ", call.tid, ": ", outcome.status().ToString());
    return answer(ENOMEM);
  }
  return Answer{outcome->err == 0 ? SyscallResult::Ok() : SyscallResult::Error(outcome->err),
                trace};
}

absl::Status Sentry::MountDevMqueue(int32_t init_pid) {
  // Where distributions and container runtimes mount mqueue. The sandbox's /dev is the
  // program's: without a /dev/mqueue directory there is nothing to cover (the host's
  // mqueue mounts were removed by init, sentry/launcher.cc).
  struct stat st;
  const std::string path = absl::StrCat("/proc/", init_pid, "/root/dev/mqueue");
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  }
  if (!S_ISDIR(st.st_mode)) return absl::OkStatus();
  absl::StatusOr<CallerIdentity> id = ReadIdentity(init_pid, {.rlimit = false, .process = false});
  if (!id.ok()) return id.status();
  absl::StatusOr<std::shared_ptr<ipc::IpcNamespace>> ns = NamespaceOf(*id);
  if (!ns.ok()) return ns.status();
  if (*ns == nullptr) return absl::ResourceExhaustedError("no IPC namespace for /dev/mqueue");
  absl::StatusOr<int> tree = mqfs_->NewView(*ns);
  if (!tree.ok()) return tree.status();
  UniqueFd tree_fd(*tree);
  absl::StatusOr<MountCaller> caller = OpenMountCaller(init_pid);
  if (!caller.ok()) return caller.status();
  NewMountRequest req;
  req.kind = NewMountRequest::Kind::kAttachTree;
  req.target = "/dev/mqueue";
  req.tree_fd = tree_fd.get();
  req.as_supervisor = true;
  absl::StatusOr<MountOutcome> outcome = PerformNewMount(*caller, req);
  if (!outcome.ok()) return outcome.status();
  if (outcome->err != 0) return absl::ErrnoToStatus(outcome->err, "mount /dev/mqueue");
  return absl::OkStatus();
}

}  // namespace mqsentry::sentry
