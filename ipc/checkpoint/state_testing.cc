// Comparison, builders and the accounting oracle for checkpoint tests (state_testing.h).
#include "ipc/checkpoint/state_testing.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace mqsentry::ipc::checkpoint_testing {
namespace {

// Collects the first difference found; later comparisons are skipped once one is found.
class Differ {
 public:
  template <typename T>
  void Scalar(absl::string_view path, const T& a, const T& b) {
    if (!diff_.empty() || a == b) return;
    diff_ = absl::StrCat(path, ": ", a, " vs ", b);
  }
  void Bytes(absl::string_view path, const std::string& a, const std::string& b) {
    if (!diff_.empty() || a == b) return;
    size_t at = 0;
    while (at < a.size() && at < b.size() && a[at] == b[at]) ++at;
    diff_ = absl::StrCat(path, ": ", a.size(), " bytes vs ", b.size(),
                         " bytes, first difference at offset ", at, " (\"",
                         absl::CHexEscape(a.substr(0, 64)), "\" vs \"",
                         absl::CHexEscape(b.substr(0, 64)), "\")");
  }
  // Sub-results of the per-type FirstDifference() functions.
  void Nested(absl::string_view path, const std::string& sub) {
    if (!diff_.empty() || sub.empty()) return;
    diff_ = absl::StrCat(path, sub[0] == '[' || sub[0] == ':' ? "" : ".", sub);
  }
  template <typename T>
  void Vector(absl::string_view path, const std::vector<T>& a, const std::vector<T>& b) {
    if (!diff_.empty()) return;
    if (a.size() != b.size()) {
      diff_ = absl::StrCat(path, ": ", a.size(), " entries vs ", b.size());
      return;
    }
    for (size_t i = 0; i < a.size() && diff_.empty(); ++i) {
      Nested(absl::StrCat(path, "[", i, "]"), FirstDifference(a[i], b[i]));
    }
  }
  std::string result() && { return std::move(diff_); }

 private:
  std::string diff_;
};

}  // namespace

std::string FirstDifference(const kernel::IdMapExtent& a, const kernel::IdMapExtent& b) {
  if (a == b) return "";
  return absl::StrCat(": {", a.first, ", ", a.lower_first, ", ", a.count, "} vs {", b.first, ", ",
                      b.lower_first, ", ", b.count, "}");
}

std::string FirstDifference(const state::UserNamespaceState& a,
                            const state::UserNamespaceState& b) {
  Differ d;
  d.Scalar("parent", a.parent, b.parent);
  d.Scalar("owner_uid", a.owner_uid, b.owner_uid);
  d.Scalar("owner_gid", a.owner_gid, b.owner_gid);
  d.Scalar("rlimit_msgqueue", a.rlimit_msgqueue, b.rlimit_msgqueue);
  d.Vector("uid_map", a.uid_map, b.uid_map);
  d.Vector("gid_map", a.gid_map, b.gid_map);
  return std::move(d).result();
}

std::string FirstDifference(const state::SysctlsState& a, const state::SysctlsState& b) {
  Differ d;
  d.Scalar("queues_max", a.queues_max, b.queues_max);
  d.Scalar("msg_max", a.msg_max, b.msg_max);
  d.Scalar("msgsize_max", a.msgsize_max, b.msgsize_max);
  d.Scalar("msg_default", a.msg_default, b.msg_default);
  d.Scalar("msgsize_default", a.msgsize_default, b.msgsize_default);
  return std::move(d).result();
}

std::string FirstDifference(const state::MessageState& a, const state::MessageState& b) {
  Differ d;
  d.Scalar("priority", a.priority, b.priority);
  d.Bytes("payload", a.payload.str(), b.payload.str());
  return std::move(d).result();
}

std::string FirstDifference(const state::NotificationState& a, const state::NotificationState& b) {
  Differ d;
  d.Scalar("owner_process", a.owner_process, b.owner_process);
  d.Scalar("owner_host_tgid", a.owner_host_tgid, b.owner_host_tgid);
  d.Scalar("owner_user_ns", a.owner_user_ns, b.owner_user_ns);
  d.Scalar("owner_exec_generation", a.owner_exec_generation, b.owner_exec_generation);
  d.Scalar("notify", a.notify, b.notify);
  d.Scalar("signo", a.signo, b.signo);
  d.Scalar("value", a.value, b.value);
  d.Scalar("socket", a.socket, b.socket);
  d.Bytes("cookie", std::string(a.cookie.begin(), a.cookie.end()),
          std::string(b.cookie.begin(), b.cookie.end()));
  return std::move(d).result();
}

std::string FirstDifference(const state::ChargeState& a, const state::ChargeState& b) {
  Differ d;
  d.Scalar("user_ns", a.user_ns, b.user_ns);
  d.Scalar("ruid", a.ruid, b.ruid);
  d.Scalar("bytes", a.bytes, b.bytes);
  return std::move(d).result();
}

std::string FirstDifference(const state::QueueState& a, const state::QueueState& b) {
  Differ d;
  if (a.name.has_value() != b.name.has_value()) {
    return absl::StrCat("name: ", a.name.has_value() ? "linked" : "unlinked", " vs ",
                        b.name.has_value() ? "linked" : "unlinked");
  }
  if (a.name.has_value()) d.Bytes("name", *a.name, *b.name);
  d.Scalar("id", a.id, b.id);
  d.Scalar("uid", a.uid, b.uid);
  d.Scalar("gid", a.gid, b.gid);
  if (a.mode != b.mode) d.Nested("mode", absl::StrFormat(": %#o vs %#o", a.mode, b.mode));
  d.Scalar("maxmsg", a.maxmsg, b.maxmsg);
  d.Scalar("msgsize", a.msgsize, b.msgsize);
  d.Vector("messages", a.messages, b.messages);
  if (a.notification.has_value() != b.notification.has_value()) {
    d.Nested("notification", absl::StrCat(": ", a.notification ? "present" : "absent", " vs ",
                                          b.notification ? "present" : "absent"));
  } else if (a.notification.has_value()) {
    d.Nested("notification", FirstDifference(*a.notification, *b.notification));
  }
  d.Nested("charge", FirstDifference(a.charge, b.charge));
  if (a.times != b.times) {
    auto show = [](const std::optional<state::QueueTimesState>& t) {
      return t ? absl::StrCat(t->atime, "/", t->mtime, "/", t->ctime) : std::string("absent");
    };
    d.Nested("times", absl::StrCat(": ", show(a.times), " vs ", show(b.times)));
  }
  return std::move(d).result();
}

std::string FirstDifference(const state::IpcNamespaceState& a, const state::IpcNamespaceState& b) {
  Differ d;
  d.Scalar("id", a.id, b.id);
  d.Scalar("owner_user_ns", a.owner_user_ns, b.owner_user_ns);
  d.Scalar("root_uid", a.root_uid, b.root_uid);
  d.Scalar("root_gid", a.root_gid, b.root_gid);
  d.Nested("sysctls", FirstDifference(a.sysctls, b.sysctls));
  d.Vector("queues", a.queues, b.queues);
  return std::move(d).result();
}

std::string FirstDifference(const state::AccountingEntry& a, const state::AccountingEntry& b) {
  Differ d;
  d.Scalar("user_ns", a.user_ns, b.user_ns);
  d.Scalar("uid", a.uid, b.uid);
  d.Scalar("bytes", a.bytes, b.bytes);
  return std::move(d).result();
}

std::string FirstDifference(const state::SandboxState& a, const state::SandboxState& b) {
  Differ d;
  d.Scalar("version", a.version, b.version);
  d.Vector("user_namespaces", a.user_namespaces, b.user_namespaces);
  d.Vector("ipc_namespaces", a.ipc_namespaces, b.ipc_namespaces);
  d.Vector("accounting", a.accounting, b.accounting);
  return std::move(d).result();
}

uint64_t ExpectedCharge(int64_t maxmsg, int64_t msgsize) {
  const uint64_t m = static_cast<uint64_t>(maxmsg);
  return m * 48 + std::min<uint64_t>(m, 32768) * 48 + m * static_cast<uint64_t>(msgsize);
}

void RecomputeAccounting(state::SandboxState& s) {
  std::map<std::pair<int32_t, uint32_t>, uint64_t> sums;
  for (const state::IpcNamespaceState& ipc : s.ipc_namespaces) {
    for (const state::QueueState& q : ipc.queues) {
      sums[{q.charge.user_ns, q.charge.ruid}] += q.charge.bytes;
      for (int32_t ns = q.charge.user_ns; ns > 0;) {
        const state::UserNamespaceState& u = s.user_namespaces.at(static_cast<size_t>(ns));
        sums[{u.parent, u.owner_uid}] += q.charge.bytes;
        ns = u.parent;
      }
    }
  }
  s.accounting.clear();
  for (const auto& [key, bytes] : sums) {
    if (bytes != 0) s.accounting.push_back({key.first, key.second, bytes});
  }
}

state::UserNamespaceState InitialUserNamespace() {
  state::UserNamespaceState u;
  u.parent = -1;
  u.owner_uid = 0;
  u.owner_gid = 0;
  u.rlimit_msgqueue = 819200;
  u.uid_map = {kernel::IdMapExtent{0, 0, 4294967295u}};
  u.gid_map = {kernel::IdMapExtent{0, 0, 4294967295u}};
  return u;
}

state::UserNamespaceState ChildUserNamespace(int32_t parent, uint32_t owner,
                                             kernel::IdMapExtent map) {
  state::UserNamespaceState u;
  u.parent = parent;
  u.owner_uid = owner;
  u.owner_gid = owner;
  u.rlimit_msgqueue = 819200;
  u.uid_map = {map};
  u.gid_map = {map};
  return u;
}

state::QueueState MakeQueue(std::optional<std::string> name, uint64_t id, int64_t maxmsg,
                            int64_t msgsize, int32_t charge_user_ns, uint32_t ruid) {
  state::QueueState q;
  q.name = std::move(name);
  q.id = id;
  q.uid = 1000;
  q.gid = 1000;
  q.mode = 0600;
  q.maxmsg = maxmsg;
  q.msgsize = msgsize;
  q.charge = {charge_user_ns, ruid, ExpectedCharge(maxmsg, msgsize)};
  return q;
}

state::IpcNamespaceState MakeIpcNamespace(uint64_t id, int32_t owner_user_ns) {
  state::IpcNamespaceState ipc;
  ipc.id = id;
  ipc.owner_user_ns = owner_user_ns;
  return ipc;
}

state::SandboxState MinimalState() {
  state::SandboxState s;
  s.user_namespaces.push_back(InitialUserNamespace());
  s.ipc_namespaces.push_back(MakeIpcNamespace(1));
  return s;
}

state::SandboxState RichState() {
  state::SandboxState s;
  s.user_namespaces.push_back(InitialUserNamespace());
  s.user_namespaces.push_back(ChildUserNamespace(0, 1000, {0, 100000, 65536}));
  s.user_namespaces.push_back(ChildUserNamespace(1, 100000, {0, 100000, 1000}));

  state::IpcNamespaceState ipc0 = MakeIpcNamespace(1, 0);
  state::QueueState alpha = MakeQueue("alpha", 10, 10, 8192, 0, 1000);
  alpha.messages = {{5, "first"}, {5, std::string("sec\0nd", 6)}, {1, "third"}};
  state::NotificationState signal;
  signal.owner_process = 7;
  signal.owner_host_tgid = 4242;
  signal.owner_user_ns = 0;
  signal.owner_exec_generation = 3;
  signal.notify = 0;  // SIGEV_SIGNAL
  signal.signo = 10;
  signal.value = 0x1122334455667788;
  alpha.notification = signal;
  ipc0.queues.push_back(alpha);

  state::QueueState unlinked = MakeQueue(std::nullopt, 11, 3, 100, 2, 100500);
  unlinked.uid = 100500;
  unlinked.gid = 100500;
  unlinked.mode = 0640;
  unlinked.messages = {{0, ""}};
  ipc0.queues.push_back(unlinked);

  state::QueueState beta = MakeQueue("beta", 12, 1, 1, 0, 1000);
  state::NotificationState thread;
  thread.owner_process = 8;
  thread.owner_host_tgid = 4243;
  thread.owner_user_ns = 0;
  thread.notify = 2;  // SIGEV_THREAD
  thread.signo = 5;   // the netlink fd at registration; ignored
  thread.socket = 99;
  for (size_t i = 0; i < thread.cookie.size(); ++i) thread.cookie[i] = 0xa0 + i;
  beta.notification = thread;
  ipc0.queues.push_back(beta);
  s.ipc_namespaces.push_back(ipc0);

  state::IpcNamespaceState ipc1 = MakeIpcNamespace(2, 1);
  ipc1.root_uid = 100000;
  ipc1.root_gid = 100000;
  state::QueueState alpha1 = MakeQueue("alpha", 20, 5, 128, 1, 100001);
  alpha1.uid = 100001;
  alpha1.gid = 100001;
  state::NotificationState none;
  none.owner_process = 9;
  none.owner_host_tgid = 5000;
  none.owner_user_ns = 1;
  none.notify = 1;  // SIGEV_NONE
  alpha1.notification = none;
  ipc1.queues.push_back(alpha1);
  s.ipc_namespaces.push_back(ipc1);

  RecomputeAccounting(s);
  return s;
}

}  // namespace mqsentry::ipc::checkpoint_testing
