// errno -> absl::Status, for a host call of the supervisor's own that failed.
#ifndef MQSENTRY_BASE_ERRNO_STATUS_H_
#define MQSENTRY_BASE_ERRNO_STATUS_H_

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mqsentry::base {

// The current errno as a Status whose message starts with `what`.
inline absl::Status Errno(absl::string_view what) { return absl::ErrnoToStatus(errno, what); }

}  // namespace mqsentry::base

#endif  // MQSENTRY_BASE_ERRNO_STATUS_H_
