// Descriptors entering the sandbox: which of the launcher's open descriptors the program
// keeps (0-2 and, runc's --preserve-fds convention, 3 .. 3+N-1), and whether each is safe
// to hand over.
//
// A descriptor carries the mount tree and the namespaces it was opened in: a directory
// opened on the host (or on a host mqueue mount) lets openat/readdir/unlinkat below it
// reach the host's files and queues whatever the sandbox's own mounts say. So a kept
// descriptor must be plain data: a regular file (not of /proc, nsfs or pidfs), a
// terminal or /dev/null-like device, a pipe, a socket, or one of a few anonymous objects
// that name nothing (eventfd, signalfd, timerfd, epoll, inotify). Everything else is
// refused, with the reason in the message.
#ifndef MQSENTRY_SENTRY_KEPT_FDS_H_
#define MQSENTRY_SENTRY_KEPT_FDS_H_

#include "absl/status/status.h"

namespace mqsentry::sentry {

// The highest descriptor the program keeps with `preserve_fds` extra descriptors.
inline int LastKeptFd(int preserve_fds) { return 2 + preserve_fds; }

// OK if `fd` may enter the sandbox; else FailedPrecondition naming the fd, what it is
// (its /proc/self/fd link) and why it is refused; NotFound if it is not open.
absl::Status CheckKeptDescriptor(int fd);

// CheckKeptDescriptor for 0 .. LastKeptFd(preserve_fds); the first refusal.
absl::Status CheckKeptDescriptors(int preserve_fds);

// Opens /dev/null on each of 0, 1, 2 that is closed, so that no descriptor the launcher
// opens later lands there (and so into the program). Call first thing in main().
absl::Status FillStandardDescriptors();

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_KEPT_FDS_H_
