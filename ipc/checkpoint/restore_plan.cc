#include "ipc/checkpoint/restore_plan.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "kernel/abi.h"

namespace mqsentry::ipc::checkpoint {
namespace {

namespace abi = ::mqsentry::kernel::abi;

uint64_t PayloadBytes(const state::QueueState& q) {
  uint64_t n = 0;
  for (const state::MessageState& m : q.messages) n += m.payload.size();
  return n;
}

const char* NotifyName(int32_t notify) {
  switch (notify) {
    case abi::kSigevSignal: return "SIGEV_SIGNAL";
    case abi::kSigevNone: return "SIGEV_NONE";
    case abi::kSigevThread: return "SIGEV_THREAD";
  }
  return "?";
}

}  // namespace

std::string QueueDisplayName(const state::QueueState& q) {
  if (!q.name.has_value()) return "";
  return absl::StrCat("/", absl::CHexEscape(*q.name));
}

RestorePlan PlanRestore(const CheckpointFile& file) {
  RestorePlan plan;
  for (const state::IpcNamespaceState& ipc : file.state.ipc_namespaces) {
    if (ipc.id != file.info.own_ipc_namespace) {
      uint64_t messages = 0, bytes = 0;
      for (const state::QueueState& q : ipc.queues) {
        messages += q.messages.size();
        bytes += PayloadBytes(q);
      }
      plan.not_restored.push_back(absl::StrCat(
          "IPC namespace ", ipc.id, ": a nested namespace whose processes are gone (",
          ipc.queues.size(), " queues, ", messages, " messages, ", bytes, " bytes)"));
      continue;
    }
    state::IpcNamespaceState own = ipc;
    own.queues.clear();
    plan.charge_user_ns = ipc.owner_user_ns;
    for (const state::QueueState& q : ipc.queues) {
      if (!q.name.has_value()) {
        plan.not_restored.push_back(absl::StrCat(
            "queue id ", q.id, ": unlinked, held only by descriptors of gone processes (",
            q.messages.size(), " messages, ", PayloadBytes(q), " bytes)"));
        continue;
      }
      state::QueueState restored = q;
      if (q.notification.has_value()) {
        plan.not_restored.push_back(absl::StrCat(
            "queue ", QueueDisplayName(q), ": mq_notify registration (",
            NotifyName(q.notification->notify), ") of gone process ",
            q.notification->owner_host_tgid));
        restored.notification.reset();
      }
      restored.charge.user_ns = plan.charge_user_ns;
      own.queues.push_back(std::move(restored));
    }
    plan.own = std::move(own);
  }
  return plan;
}

absl::Status CheckRestoreLimits(const state::IpcNamespaceState& own, const RestoreLimits& limits) {
  auto refuse = [](const state::QueueState& q, absl::string_view what) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot restore queue ", QueueDisplayName(q), ": ", what));
  };
  // queues_max is compared unsigned (spec §9.2): -1 is no limit.
  if (static_cast<uint32_t>(own.queues.size()) > static_cast<uint32_t>(limits.queues_max) &&
      !own.queues.empty()) {
    const state::QueueState& q = own.queues[static_cast<uint32_t>(limits.queues_max)];
    return refuse(q, absl::StrCat(own.queues.size(), " queues > fs.mqueue.queues_max ",
                                  limits.queues_max, " of the new sandbox (--sysctl "
                                  "fs.mqueue.queues_max=N raises it)"));
  }
  absl::flat_hash_map<uint32_t, uint64_t> charged;
  for (const state::QueueState& q : own.queues) {
    if (q.maxmsg > limits.msg_max) {
      return refuse(q, absl::StrCat("maxmsg ", q.maxmsg, " > fs.mqueue.msg_max ", limits.msg_max,
                                    " of the new sandbox (--sysctl fs.mqueue.msg_max=", q.maxmsg,
                                    " raises it)"));
    }
    if (q.msgsize > limits.msgsize_max) {
      return refuse(q, absl::StrCat("msgsize ", q.msgsize, " > fs.mqueue.msgsize_max ",
                                    limits.msgsize_max, " of the new sandbox (--sysctl "
                                    "fs.mqueue.msgsize_max=", q.msgsize, " raises it)"));
    }
    uint64_t& sum = charged[q.charge.ruid];
    sum += q.charge.bytes;
    if (sum > limits.rlimit_msgqueue) {
      return refuse(q, absl::StrCat("uid ", q.charge.ruid, " would be charged ", sum,
                                    " bytes > RLIMIT_MSGQUEUE ", limits.rlimit_msgqueue,
                                    " (ulimit -q)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace mqsentry::ipc::checkpoint
