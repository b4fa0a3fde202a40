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
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "sentry/log.h"
#include "sentry/mount_performer.h"
#include "sentry/sentry.h"

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

}  // namespace

void Sentry::HandleMountGuard(const TrappedCall& call, const SyscallEntry& e) {
  const bool is_mount = e.call == MqCall::kMount;
  NewMountRequest req;
  std::string trace;
  auto answer = [&](int err) { Reply(call, trace, SyscallResult::Error(err)); };
  if (is_mount) {
    req.kind = NewMountRequest::Kind::kMount;
    req.flags = Arg(call, e, 3);
    if (req.flags & kNoNewSuperblock) return ContinueCall(call);
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
  if (!platform_->StillValid(call.id)) return;
  const std::optional<std::string>& type = is_mount ? req.type : req.fs_name.value;
  // The host's mqueue filesystem never reaches the sandbox.
  if (type.has_value() && *type == "mqueue") return answer(EPERM);

  absl::StatusOr<MountCaller> caller = OpenMountCaller(call.tid);
  if (!platform_->StillValid(call.id)) return;
  if (!caller.ok()) return Fail(caller.status());
  absl::StatusOr<MountOutcome> outcome = PerformNewMount(*caller, req);
  if (!outcome.ok()) {
    // Nothing was mounted. Linux's mount and fsopen fail with ENOMEM when they cannot
    // get what they need; the caller never gets the call through unchecked.
    MQ_LOG("mqsentry: ", e.name, " for thread ", call.tid, ": ", outcome.status().ToString());
    return answer(ENOMEM);
  }
  if (outcome->err != 0) return answer(outcome->err);
  if (is_mount) return Reply(call, trace, SyscallResult::Ok()), void();
  const int32_t pid = strace_.enabled() ? SandboxPid(call.tid) : 0;
  absl::StatusOr<std::optional<SyscallResult>> installed = platform_->AnswerWithNewFd(
      call, outcome->fs_fd.get(), (req.fsopen_flags & FSOPEN_CLOEXEC) != 0);
  if (!installed.ok()) return Fail(installed.status());
  if (strace_.enabled()) {
    strace_.Complete(pid, trace,
                     installed->has_value() ? **installed : SyscallResult::Error(EINTR));
  }
}

}  // namespace mqsentry::sentry
