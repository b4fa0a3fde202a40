// Whole-sandbox export/import: numbering of user namespaces (parents first, the initial
// one at index 0) and the cross-check of restored accounting.
#include "ipc/sandbox_snapshot.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "ipc/sysctls.h"
#include "kernel/ids.h"
#include "kernel/status_macros.h"

namespace mqsentry::ipc {
namespace {

using kernel::KGid;
using kernel::KUid;
using kernel::UserNamespace;

// Assigns indices to user namespaces on first sight, ancestors before descendants.
class UserNsTable {
 public:
  UserNsTable() { Add(UserNamespace::Initial().get()); }
  int32_t Add(const UserNamespace* ns) {
    if (auto it = index_.find(ns); it != index_.end()) return it->second;
    if (ns->parent() != nullptr) Add(ns->parent().get());
    const int32_t i = static_cast<int32_t>(order_.size());
    index_[ns] = i;
    order_.push_back(ns);
    return i;
  }
  std::vector<state::UserNamespaceState> Export() const {
    std::vector<state::UserNamespaceState> out;
    for (const UserNamespace* ns : order_) {
      state::UserNamespaceState s;
      s.parent = ns->parent() ? index_.at(ns->parent().get()) : -1;
      s.owner_uid = ns->owner().value();
      s.owner_gid = ns->group().value();
      s.rlimit_msgqueue = ns->rlimit_msgqueue();
      s.uid_map = ns->uid_map().extents();
      s.gid_map = ns->gid_map().extents();
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  absl::flat_hash_map<const UserNamespace*, int32_t> index_;
  std::vector<const UserNamespace*> order_;
};

}  // namespace

state::SandboxState ExportSandbox(const UserAccounting& accounting,
                                  const std::vector<std::shared_ptr<IpcNamespace>>& namespaces) {
  UserNsTable table;
  state::SandboxState out;
  auto index = [&table](const UserNamespace* ns) { return table.Add(ns); };
  for (const auto& ns : namespaces) out.ipc_namespaces.push_back(ns->Export(index));
  std::vector<UserAccounting::Entry> entries = accounting.Snapshot();
  for (const auto& e : entries) {
    out.accounting.push_back(state::AccountingEntry{table.Add(e.user_ns.get()), e.uid.value(),
                                                    e.bytes});
  }
  std::sort(out.accounting.begin(), out.accounting.end(),
            [](const state::AccountingEntry& a, const state::AccountingEntry& b) {
              return std::pair(a.user_ns, a.uid) < std::pair(b.user_ns, b.uid);
            });
  out.user_namespaces = table.Export();
  return out;
}

absl::StatusOr<ImportedSandbox> ImportSandbox(const state::SandboxState& st,
                                              QueueEvents* events) {
  ImportedSandbox out;
  for (size_t i = 0; i < st.user_namespaces.size(); ++i) {
    const state::UserNamespaceState& u = st.user_namespaces[i];
    if (i == 0) {
      if (u.parent != -1) return absl::InvalidArgumentError("user_namespaces[0] is not initial");
      out.user_namespaces.push_back(UserNamespace::Initial());
      continue;
    }
    if (u.parent < 0 || static_cast<size_t>(u.parent) >= i) {
      return absl::InvalidArgumentError(absl::StrCat("user_namespaces[", i, "]: bad parent"));
    }
    ASSIGN_OR_RETURN(kernel::IdMap uid_map, kernel::IdMap::Create(u.uid_map));
    ASSIGN_OR_RETURN(kernel::IdMap gid_map, kernel::IdMap::Create(u.gid_map));
    ASSIGN_OR_RETURN(auto ns, UserNamespace::Create(out.user_namespaces[u.parent],
                                                    KUid(u.owner_uid), KGid(u.owner_gid),
                                                    std::move(uid_map), std::move(gid_map),
                                                    u.rlimit_msgqueue));
    out.user_namespaces.push_back(std::move(ns));
  }
  if (out.user_namespaces.empty()) {
    return absl::InvalidArgumentError("no user namespaces in the state");
  }
  auto resolve = [&out](int32_t i) -> std::shared_ptr<const UserNamespace> {
    if (i < 0 || static_cast<size_t>(i) >= out.user_namespaces.size()) return nullptr;
    return out.user_namespaces[i];
  };
  out.accounting = std::make_shared<UserAccounting>();
  for (const state::IpcNamespaceState& n : st.ipc_namespaces) {
    MqSysctls sysctls{n.sysctls.queues_max, n.sysctls.msg_max, n.sysctls.msgsize_max,
                      n.sysctls.msg_default, n.sysctls.msgsize_default};
    RETURN_IF_ERROR(ValidateSysctls(sysctls));
    IpcNamespace::Options o;
    o.id = n.id;
    o.owner_user_ns = resolve(n.owner_user_ns);
    if (o.owner_user_ns == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("ipc namespace ", n.id,
                                                     ": unknown owner user namespace"));
    }
    o.root_uid = KUid(n.root_uid);
    o.root_gid = KGid(n.root_gid);
    o.limits = std::make_shared<StaticLimits>(sysctls);
    o.accounting = out.accounting;
    o.events = events;
    auto ns = std::make_shared<IpcNamespace>(std::move(o));
    ASSIGN_OR_RETURN(auto held, ns->Import(n, resolve));
    for (auto& inode : held) out.held.emplace_back(ns, std::move(inode));
    out.namespaces.push_back(std::move(ns));
  }
  // The counters rebuilt from the queues' charges must be what was checkpointed.
  for (const state::AccountingEntry& e : st.accounting) {
    auto ns = resolve(e.user_ns);
    if (ns == nullptr || out.accounting->Usage(*ns, KUid(e.uid)) != e.bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "accounting entry (user_ns ", e.user_ns, ", uid ", e.uid, ", ", e.bytes,
          " bytes) does not match the queues' charges"));
    }
  }
  if (out.accounting->Snapshot().size() != st.accounting.size()) {
    return absl::InvalidArgumentError("accounting entries missing from the state");
  }
  return out;
}

}  // namespace mqsentry::ipc
