// What a program does through its mount of the mqueue filesystem (spec §8.5), on mqfs
// threads: open(O_CREAT) of a new name is mq_open's creation and unlink(2) is mq_unlink,
// as the calling thread, in the namespace the mount shows.
#include <fcntl.h>

#include <cerrno>
#include <string>

#include "sentry/sentry.h"

namespace mqsentry::sentry {

vfs::MqfsHooks::Created Sentry::OnCreate(const std::shared_ptr<ipc::IpcNamespace>& ns,
                                         int32_t tid, const std::string& name, mode_t mode,
                                         int flags) {
  // The thread is blocked in its open(2) while this runs: its identity cannot change.
  absl::StatusOr<CallerIdentity> id = ReadIdentity(tid, {.rlimit = true, .process = false});
  if (!id.ok()) return Created{ENOENT, nullptr};
  // The kernel has masked `mode` with the umask already; mq_open masks it again, which
  // changes nothing. O_EXCL stays the caller's: without it a queue made meanwhile under the
  // name is opened, as open(2) would.
  const int oflag = (flags & (O_ACCMODE | O_NONBLOCK | O_EXCL)) | O_CREAT;
  ipc::OpenOutcome o = ns->Open(id->cred, name, oflag, mode, nullptr);
  if (!o.result.ok()) return Created{o.result.error(), nullptr};
  mqfs_->AddQueue(o.inode, ns);
  return Created{0, o.inode};
}

int Sentry::OnUnlink(const std::shared_ptr<ipc::IpcNamespace>& ns, int32_t tid,
                     const std::string& name) {
  absl::StatusOr<CallerIdentity> id = ReadIdentity(tid, {.rlimit = false, .process = false});
  if (!id.ok()) return ENOENT;
  // The kernel removes the name it has cached itself once this succeeds (mqfs must not
  // ask it to while it holds the directory for this very unlink).
  const kernel::SyscallResult r = ns->Unlink(id->cred, name);
  return r.ok() ? 0 : r.error();
}

}  // namespace mqsentry::sentry
