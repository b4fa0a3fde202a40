// What a handler of a trapped call returns. Handlers decode, check and make their model
// call; they never answer the platform themselves. Only the dispatcher (Sentry::Finish)
// turns a result into an answer, a trace line, a parked call, or the end of the sandbox,
// and runs the undo when an answer cannot be delivered.
#ifndef MQSENTRY_SENTRY_HANDLER_RESULT_H_
#define MQSENTRY_SENTRY_HANDLER_RESULT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "ipc/ipc_namespace.h"
#include "ipc/waiter_list.h"
#include "kernel/deadline.h"
#include "kernel/syscall_result.h"
#include "sentry/platform.h"
#include "sentry/syscall_table.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {

// Answer the call with a value or an errno. `trace` is its strace call text (empty when
// tracing is off). `undo` runs if the answer was not delivered (the caller was interrupted
// or is gone: what the call did must not stay, or a restart would repeat it); `delivered`
// runs once it was (e.g. a hand-off's receiver may have the message only then).
struct Answer {
  kernel::SyscallResult result;
  std::string trace;
  std::function<void()> undo = nullptr;
  std::function<void()> delivered = nullptr;
};

// Install `fd` (a description of the supervisor's) in the caller and answer with its
// number. The dispatcher closes `fd` after: if the caller was interrupted, that close is
// the description's last.
struct NewDescriptor {
  UniqueFd fd;
  bool cloexec = true;
  std::string trace;
};

// Wait on a queue's waiter list until a send/receive, the deadline or an interruption
// resolves the call (sentry.cc "Parked calls").
struct Park {
  TrappedCall call;
  const SyscallEntry* entry = nullptr;
  std::shared_ptr<ipc::QueueInode> inode;
  ipc::WaiterId waiter;
  bool is_send = false;
  uint64_t buffer = 0;  // receive: msg_ptr
  uint64_t prio_ptr = 0;
  kernel::Deadline deadline = kernel::Deadline::Infinite();
  std::string trace;  // the strace call text, for the "resumed" line
};

// Let the call run in the host kernel unchanged (Platform::Continue); `continued` runs
// once it did.
struct ContinueToHost {
  std::function<void()> continued = nullptr;
};

// The call no longer waits for an answer (interrupted, or its thread is gone): nothing to
// deliver.
struct CallGone {};

// The supervisor failed (never shown to the program as an errno): the sandbox ends.
struct InternalFailure {
  absl::Status status;
};

using HandlerResult =
    std::variant<Answer, NewDescriptor, Park, ContinueToHost, CallGone, InternalFailure>;

inline HandlerResult AnswerError(int err, std::string trace) {
  return Answer{kernel::SyscallResult::Error(err), std::move(trace)};
}

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_HANDLER_RESULT_H_
