// Messages with at most one file descriptor attached (SCM_RIGHTS), over a connected
// AF_UNIX SOCK_SEQPACKET socket: how the sandbox's init hands its seccomp listener to the
// supervisor.
#ifndef MQSENTRY_SENTRY_FD_PASSING_H_
#define MQSENTRY_SENTRY_FD_PASSING_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {

// Sends `data` (at least one byte) as one datagram, with a copy of `fd` attached unless
// fd is -1. Never raises SIGPIPE.
absl::Status SendMessage(int sock, absl::string_view data, int fd = -1);

struct ReceivedMessage {
  bool eof = false;  // the peer closed its end; data and fd are empty
  std::string data;
  UniqueFd fd;  // close-on-exec; invalid if none was attached
};

// Receives one datagram of at most max_size bytes (longer ones are an error), retrying
// on EINTR.
absl::StatusOr<ReceivedMessage> ReceiveMessage(int sock, size_t max_size);

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_FD_PASSING_H_
