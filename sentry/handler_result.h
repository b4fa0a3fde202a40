// What a handler of a trapped call returns. Handlers decode, check and make their model
// call; they never answer the platform themselves. Only the dispatcher (Sentry::Finish)
// turns a result into an answer, a trace line or the end of the sandbox.
#ifndef MQSENTRY_SENTRY_HANDLER_RESULT_H_
#define MQSENTRY_SENTRY_HANDLER_RESULT_H_

#include <string>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "kernel/syscall_result.h"

namespace mqsentry::sentry {

// Answer the call with a value or an errno; `trace` is its strace call text (empty when
// tracing is off).
struct Answer {
  kernel::SyscallResult result;
  std::string trace;
};

// Let the call run in the host kernel unchanged (Platform::Continue).
struct ContinueToHost {};

// The call no longer waits for an answer (interrupted, or its thread is gone): nothing to
// deliver.
struct CallGone {};

// The supervisor failed (never shown to the program as an errno): the sandbox ends.
struct InternalFailure {
  absl::Status status;
};

using HandlerResult = std::variant<Answer, ContinueToHost, CallGone, InternalFailure>;

inline HandlerResult AnswerError(int err, std::string trace) {
  return Answer{kernel::SyscallResult::Error(err), std::move(trace)};
}

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_HANDLER_RESULT_H_
