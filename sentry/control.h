// Named sandboxes (`run --name NAME [--root DIR]`, `list`, `checkpoint`): each has, under
// DIR (default /run/mqsentry for root, $XDG_RUNTIME_DIR/mqsentry otherwise, as runsc's
// --root), NAME.lock (flock'ed for the sandbox's life: a second run with the name fails),
// NAME.json (SandboxEntry) and NAME.sock (the control socket: one request line per
// connection, only the owner's uid is served, checked with SO_PEERCRED). A sandbox that
// dies without cleaning up leaves an unlocked lock file: `list` and the next `run --name`
// remove its entries.
#ifndef MQSENTRY_SENTRY_CONTROL_H_
#define MQSENTRY_SENTRY_CONTROL_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sentry/control.pb.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {

// --root's default for this user; an error if $XDG_RUNTIME_DIR is needed and unset.
absl::StatusOr<std::string> DefaultControlRoot();
// Names: 1..64 of [A-Za-z0-9_.-], not starting with '.'.
absl::Status CheckSandboxName(const std::string& name);

class ControlServer {
 public:
  // Claims NAME under ROOT (created 0700 if missing). AlreadyExistsError if a running
  // sandbox has it. Call before the supervisor changes its mount or user namespace.
  static absl::StatusOr<std::unique_ptr<ControlServer>> Claim(const std::string& root,
                                                              const std::string& name,
                                                              control::SandboxEntry entry);
  ~ControlServer();
  // Rewrites the state file (once init's pid is known).
  absl::Status Update(const control::SandboxEntry& entry);
  // Serves connections on a thread: `handle(fd, request)` for each request from the
  // owner; others get "error ..." and are closed.
  void Serve(std::function<void(int fd, const std::string& request)> handle);
  // Stops serving and removes the entries.
  void Stop();

 private:
  ControlServer() = default;
  std::string name_;
  UniqueFd dir_, lock_, listen_, stop_;
  uint32_t owner_ = 0;
  bool claimed_ = false;  // the lock is ours: the entries are ours to remove
  std::thread thread_;
};

// The entries under `root`, stale ones removed.
absl::StatusOr<std::vector<control::SandboxEntry>> ListSandboxes(const std::string& root);
// Sends `request` to sandbox NAME; returns the connected socket for the answer.
absl::StatusOr<UniqueFd> SendControlRequest(const std::string& root, const std::string& name,
                                            const std::string& request);
// One line (without '\n') from `fd`, at most 4096 bytes.
absl::StatusOr<std::string> ReadControlLine(int fd);

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_CONTROL_H_
