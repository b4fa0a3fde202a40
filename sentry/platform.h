// Platform: how the supervisor receives and answers the system calls a sandboxed program
// makes, independent of the mechanism (seccomp user notification here; ptrace later).
// Handlers only see this interface (architecture: "Platforms").
#ifndef MQSENTRY_SENTRY_PLATFORM_H_
#define MQSENTRY_SENTRY_PLATFORM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "kernel/syscall_result.h"
#include "sentry/arch.h"

namespace mqsentry::sentry {

// One trapped system call.
struct TrappedCall {
  uint64_t id;   // the notification cookie; stale once the call was interrupted
  int32_t tid;   // host tid (in the supervisor's PID namespace) of the calling thread
  Arch arch;
  int nr;        // as the ABI numbers it (x32 numbers include kX32SyscallBit)
  // The six argument registers. For kI386 they are truncated to 32 bits, as the kernel's
  // compat entry does; for kX32 they are the full 64-bit registers.
  uint64_t args[6];
  uint64_t instruction_pointer = 0;
};

// A write into a call's memory: `size` bytes from `data` to `addr`.
struct MemoryWrite {
  uint64_t addr;
  const void* data;
  size_t size;
  // put_user() semantics: one store instruction, so a value that straddles into an
  // unwritable page is not written at all (copy_to_user writes the accessible prefix).
  bool all_or_nothing = false;
};

// What a write into a call's memory did.
enum class WriteOutcome {
  kDone,   // every byte was written
  kFault,  // a byte is not writable as the kernel's copy_to_user sees it (the caller
           // answers EFAULT); the bytes before it may have been written, as by copy_to_user
  kGone,   // the call no longer waits for its answer (interrupted, its thread died, its
           // process exec'd): nothing reached another process or a new image
  kError,  // the supervisor could not open the caller's memory for lack of its own
           // resources (EMFILE, ENFILE, ENOMEM): an internal failure, nothing was written
};

// The memory of sandboxed processes, always reached through a trapped call: every access
// goes to the address space of the calling thread as it is while the call waits for its
// answer, never to whatever a reused tid or an exec'd image names later (architecture,
// "Threat model").
class TraceeMemory {
 public:
  virtual ~TraceeMemory() = default;
  // Copies size bytes from addr in the caller's address space. false: some byte is not
  // readable (the caller answers EFAULT), or the call no longer waits (then no byte read
  // is returned).
  virtual bool Read(const TrappedCall& call, uint64_t addr, void* out, size_t size) = 0;
  // The writes in order, stopping at the first fault.
  virtual WriteOutcome WriteAll(const TrappedCall& call, std::span<const MemoryWrite> writes) = 0;
  // Linux getname() semantics for a user string of at most 4096 bytes including the NUL:
  // 0 and *out set; EFAULT if a byte before the NUL is unreadable (or the call no longer
  // waits); ENAMETOOLONG if there is no NUL within 4096 bytes. An empty string is returned
  // as 0 with *out empty (getname()'s ENOENT for "" is the handler's to answer).
  virtual int ReadName(const TrappedCall& call, uint64_t addr, std::string* out) = 0;

  // One write; false on kFault, kGone or kError.
  bool Write(const TrappedCall& call, uint64_t addr, const void* in, size_t size) {
    const MemoryWrite w{addr, in, size};
    return WriteAll(call, std::span<const MemoryWrite>(&w, 1)) == WriteOutcome::kDone;
  }
};

class Platform {
 public:
  virtual ~Platform() = default;
  // Readable (POLLIN) when a call is pending; POLLHUP once no process is left under the
  // filter.
  virtual int poll_fd() const = 0;
  // Receives one trapped call. nullopt when the kernel reports the caller vanished
  // (ENOENT: it was interrupted or killed after poll said readable) or on EINTR.
  virtual absl::StatusOr<std::optional<TrappedCall>> Receive() = 0;
  // Whether the call is still waiting for its answer (SECCOMP_IOCTL_NOTIF_ID_VALID). A
  // true answer also proves that call.tid still names the caller.
  virtual bool StillValid(uint64_t id) = 0;
  // Answers with a value or errno. false: the call was interrupted or the caller is gone
  // (ENOENT), nothing was delivered.
  virtual absl::StatusOr<bool> Answer(const TrappedCall& call, kernel::SyscallResult result) = 0;
  // Lets the call proceed in the host kernel (SECCOMP_USER_NOTIF_FLAG_CONTINUE). Only for
  // calls whose arguments need no check: the memory they point to can change after it.
  virtual absl::StatusOr<bool> Continue(const TrappedCall& call) = 0;
  // Installs a duplicate of the supervisor's fd `fd` into the caller and answers the call
  // with its number, atomically (SECCOMP_IOCTL_NOTIF_ADDFD + SECCOMP_ADDFD_FLAG_SEND,
  // O_CLOEXEC if cloexec). nullopt: interrupted, nothing was installed or delivered.
  // Otherwise what the caller got: Value(new fd), or an errno of the installation in the
  // caller such as EMFILE, which has then been answered. `fd` stays the supervisor's.
  virtual absl::StatusOr<std::optional<kernel::SyscallResult>> AnswerWithNewFd(
      const TrappedCall& call, int fd, bool cloexec) = 0;
  // Installs a duplicate of the supervisor's fd `fd` into the caller at descriptor number
  // `target_fd`, replacing what is there as dup2(2) would (SECCOMP_ADDFD_FLAG_SETFD),
  // without answering the call. nullopt: the call was interrupted or the caller is gone;
  // 0: installed; an errno: the caller's fd table refused it (EBUSY while another thread
  // is installing at that number, EMFILE, ENOMEM), nothing was installed.
  virtual absl::StatusOr<std::optional<int>> InstallFdAt(const TrappedCall& call, int fd,
                                                         int target_fd, bool cloexec) {
    (void)call, (void)fd, (void)target_fd, (void)cloexec;
    return absl::UnimplementedError("InstallFdAt");
  }
  // A duplicate, in the supervisor, of the file description behind fd `target_fd` of
  // thread `tid` (pidfd_getfd), owned by the caller (close-on-exec). -1 with errno set
  // otherwise: EBADF if target_fd is not open in the caller, ESRCH if the thread is gone,
  // anything else is an internal failure. It does not prove tid is still the caller:
  // check StillValid(call.id) after it.
  virtual int GetFd(int32_t tid, int target_fd) = 0;
  virtual TraceeMemory& memory() = 0;
};

// The seccomp user-notification platform (defined in seccomp_platform.cc: depend on
// //sentry:seccomp_platform). Takes ownership of the listener fd, also on failure.
absl::StatusOr<std::unique_ptr<Platform>> CreateSeccompPlatform(int listener_fd);

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_PLATFORM_H_
