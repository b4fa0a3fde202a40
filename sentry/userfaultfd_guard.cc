// The userfaultfd guard. The supervisor reads and writes a program's memory from its own
// syscall thread; a page registered with a full userfaultfd that nobody serves blocks such
// an access until the program's handler resolves it, which would stall every other call
// of the sandbox. A user-mode-only userfaultfd (UFFD_USER_MODE_ONLY) resolves only faults
// taken in user mode: the supervisor's access (a kernel-mode fault in another process)
// fails at once with EFAULT, as the program's own system calls on that page do natively.
// So full userfaultfds are refused, with the errno Linux gives a caller who may not have
// one (fs/userfaultfd.c userfaultfd_syscall_allowed(): EPERM without CAP_SYS_PTRACE when
// vm.unprivileged_userfaultfd is 0). The filter traps only calls without the flag (table).
#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"
#include "sentry/sentry.h"

namespace mqsentry::sentry {

HandlerResult Sentry::HandleUserfaultfd(const TrappedCall& call, const SyscallEntry& e) {
  std::string trace;
  if (strace_.enabled()) {
    trace = std::string(e.name) == "ioctl"
                ? absl::StrCat("ioctl(", static_cast<int>(call.args[0]),
                               ", USERFAULTFD_IOC_NEW, ", call.args[2], ")")
                : absl::StrCat("userfaultfd(", call.args[0], ")");
  }
  return AnswerError(EPERM, trace);
}

}  // namespace mqsentry::sentry
