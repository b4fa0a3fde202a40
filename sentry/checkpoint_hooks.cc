// The sentry's side of checkpoint and restore: the registries' namespaces handed to the
// model's export, and the model's import into the sandbox's own namespace.
#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ipc/sandbox_snapshot.h"
#include "kernel/status_macros.h"
#include "kernel/user_namespace.h"
#include "sentry/sentry.h"

namespace mqsentry::sentry {

Sentry::StateSnapshot Sentry::ExportState() {
  std::vector<std::shared_ptr<ipc::IpcNamespace>> namespaces;
  uint64_t own = 0;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, registry] : registries_) {
      if (registry.first) own = registry.ns->id();
      namespaces.push_back(registry.ns);
    }
  }
  StateSnapshot out;
  // The sandbox's own first, then in creation order: the file does not depend on hashing.
  std::sort(namespaces.begin(), namespaces.end(), [own](const auto& a, const auto& b) {
    return std::pair(a->id() != own, a->id()) < std::pair(b->id() != own, b->id());
  });
  out.state = ipc::ExportSandbox(*accounting_, namespaces);
  out.own_namespace = own;
  AddQueueTimes(out.state);
  return out;
}

// The queue files' times live in mqfs, not in the model: added to each queue mqfs knows.
// A time outside what a checkpoint holds (ipc/state.h) is clamped rather than failing the
// save.
void Sentry::AddQueueTimes(ipc::state::SandboxState& state) const {
  if (mqfs_ == nullptr) return;
  auto clamp = [](const timespec& t) {
    return std::clamp<int64_t>(t.tv_sec, ipc::state::kMinQueueTime, ipc::state::kMaxQueueTime);
  };
  for (ipc::state::IpcNamespaceState& ns : state.ipc_namespaces) {
    for (ipc::state::QueueState& q : ns.queues) {
      const std::optional<vfs::FileTimes> t = mqfs_->QueueTimes(q.id);
      if (t) q.times = ipc::state::QueueTimesState{clamp(t->atime), clamp(t->mtime), clamp(t->ctime)};
    }
  }
}

Sentry::StateSnapshot Sentry::CaptureLive(int64_t* pause_ns) {
  absl::MutexLock paused(&calls_mu_);
  const auto start = std::chrono::steady_clock::now();
  StateSnapshot out = ExportState();
  *pause_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  return out;
}

Sentry::Counts Sentry::CountState() {
  std::vector<std::shared_ptr<ipc::IpcNamespace>> namespaces;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, registry] : registries_) namespaces.push_back(registry.ns);
  }
  Counts c;
  c.namespaces = namespaces.size();
  for (const auto& ns : namespaces) {
    for (const std::string& name : ns->Names()) {
      std::shared_ptr<ipc::QueueInode> inode = ns->Lookup(name);
      if (inode == nullptr) continue;
      const ipc::QueueStatus status = inode->queue().Status();
      ++c.queues;
      c.messages += static_cast<uint64_t>(status.curmsgs);
      c.bytes += status.qsize;
    }
  }
  return c;
}

void Sentry::RestoreOwnNamespace(ipc::state::IpcNamespaceState st) {
  absl::MutexLock lock(&mu_);
  pending_restore_ = std::move(st);
}

absl::Status Sentry::ApplyRestoreLocked(ipc::IpcNamespace& ns) {
  if (!pending_restore_.has_value()) return absl::OkStatus();
  // Before the import: the queues' files start with the saved times once mqfs serves them.
  for (const ipc::state::QueueState& q : pending_restore_->queues) {
    if (!q.times.has_value() || mqfs_ == nullptr) continue;
    mqfs_->PresetQueueTimes(q.id, vfs::FileTimes{{q.times->atime, 0},
                                                 {q.times->mtime, 0},
                                                 {q.times->ctime, 0}});
  }
  const std::shared_ptr<const kernel::UserNamespace> owner = ns.owner_user_ns();
  absl::StatusOr<std::vector<std::shared_ptr<ipc::QueueInode>>> held =
      ns.Import(*pending_restore_, [&owner](int32_t) { return owner; });
  pending_restore_.reset();
  if (!held.ok()) {
    return absl::InternalError(absl::StrCat("restore: ", held.status().message()));
  }
  // Unlinked queues are not restored (ipc/checkpoint/restore_plan.h): nothing holds them.
  for (const auto& inode : *held) ns.ReleaseDescription(inode);
  return absl::OkStatus();
}

}  // namespace mqsentry::sentry
