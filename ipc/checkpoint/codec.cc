// The checkpoint codec: conversion between state::SandboxState and checkpoint.proto,
// deterministic serialization, parsing of untrusted bytes, and ValidateSandboxState().
//
// Hostile input: every index is range-checked before it is used, every count is compared
// with a bound before any loop or allocation depends on it, and the arithmetic on
// untrusted 64-bit values (the charge formula, the accounting sums) is done only after
// range checks or with overflow-checked builtins. Nothing recurses on input data.
#include "ipc/checkpoint/codec.h"

#include <array>
#include <climits>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "ipc/accounting.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message.h"
#include "google/protobuf/unknown_field_set.h"
#include "ipc/checkpoint/checkpoint.pb.h"
#include "kernel/abi.h"
#include "kernel/ids.h"
#include "kernel/status_macros.h"
#include "kernel/user_namespace.h"

namespace mqsentry::ipc::checkpoint {
namespace {

namespace pb = ::mqsentry::checkpoint;
namespace abi = ::mqsentry::kernel::abi;
using ::mqsentry::kernel::IdMap;
using ::mqsentry::kernel::IdMapExtent;
using ::mqsentry::kernel::KGid;
using ::mqsentry::kernel::KUid;
using ::mqsentry::kernel::UserNamespace;

// The identity map of the initial user namespace, as /proc/1/uid_map shows it.
constexpr IdMapExtent kIdentityExtent{0, 0, 4294967295u};

template <typename... Args>
absl::Status Invalid(absl::string_view path, const Args&... message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message...));
}

// Re-labels an error from the kernel model (IdMap, UserNamespace) with the field's path.
absl::Status Prefixed(absl::string_view path, const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", status.message()));
}

std::string UserNsPath(size_t i) { return absl::StrCat("user_namespaces[", i, "]"); }
std::string IpcPath(size_t n) { return absl::StrCat("ipc_namespaces[", n, "]"); }
std::string QueuePath(size_t n, size_t q) {
  return absl::StrCat("ipc_namespaces[", n, "].queues[", q, "]");
}
std::string MessagePath(size_t n, size_t q, size_t m) {
  return absl::StrCat(QueuePath(n, q), ".messages[", m, "]");
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

// A user namespace index that must name an existing entry.
absl::Status CheckUserNsIndex(absl::string_view path, absl::string_view field, int32_t index,
                              size_t count) {
  if (index < 0 || static_cast<size_t>(index) >= count) {
    return Invalid(path, field, " ", index, " is not a user namespace index (0..", count - 1, ")");
  }
  return absl::OkStatus();
}

// A kernel uid/gid taken from a task's credentials: never (uid_t)-1, which no namespace
// maps (the initial one maps 0..4294967294) and which the kernel uses as "invalid".
absl::Status CheckKernelId(absl::string_view path, absl::string_view field, uint32_t id) {
  if (id == kernel::kNoId) {
    return Invalid(path, field, " ", id, " is not a valid kernel id");
  }
  return absl::OkStatus();
}

absl::Status CheckRange(absl::string_view path, absl::string_view field, int64_t value, int64_t min,
                        int64_t max, absl::string_view why = "") {
  if (value < min || value > max) {
    return Invalid(path, field, " ", value, " is outside ", min, "..", max, why);
  }
  return absl::OkStatus();
}

bool IsIdentityMap(const std::vector<IdMapExtent>& map) {
  return map.size() == 1 && map[0] == kIdentityExtent;
}

// Validates user_namespaces by building the actual kernel::UserNamespace chain, so that the
// checkpoint is held to exactly the rules the model enforces when namespaces are created.
absl::Status ValidateUserNamespaces(const std::vector<state::UserNamespaceState>& namespaces) {
  std::vector<std::shared_ptr<const UserNamespace>> built;
  std::vector<int> levels;
  built.reserve(namespaces.size());
  levels.reserve(namespaces.size());
  for (size_t i = 0; i < namespaces.size(); ++i) {
    const state::UserNamespaceState& u = namespaces[i];
    const std::string path = UserNsPath(i);
    if (i == 0) {
      if (u.parent != -1) {
        return Invalid(path, "parent ", u.parent,
                       ", want -1: index 0 is the initial user namespace");
      }
      if (!IsIdentityMap(u.uid_map)) {
        return Invalid(path,
                       "uid_map of the initial user namespace must be exactly "
                       "{0, 0, 4294967295}");
      }
      if (!IsIdentityMap(u.gid_map)) {
        return Invalid(path,
                       "gid_map of the initial user namespace must be exactly "
                       "{0, 0, 4294967295}");
      }
      // A restore uses the model's one initial namespace, so the checkpoint must agree
      // with it on everything else too (init_user_ns: owner 0:0, MQ_BYTES_MAX recorded).
      std::shared_ptr<const UserNamespace> initial = UserNamespace::Initial();
      if (u.owner_uid != initial->owner().value() || u.owner_gid != initial->group().value()) {
        return Invalid(path, "owner ", u.owner_uid, ":", u.owner_gid, ", want ",
                       initial->owner().value(), ":", initial->group().value(),
                       " (the initial user namespace)");
      }
      if (u.rlimit_msgqueue != initial->rlimit_msgqueue()) {
        return Invalid(path, "rlimit_msgqueue ", u.rlimit_msgqueue, ", want ",
                       initial->rlimit_msgqueue(), " (the initial user namespace)");
      }
      built.push_back(std::move(initial));
      levels.push_back(0);
      continue;
    }
    if (u.parent < 0 || static_cast<size_t>(u.parent) >= i) {
      return Invalid(path, "parent ", u.parent, " is not the index of an earlier namespace (0..",
                     i - 1, ")");
    }
    const size_t parent = static_cast<size_t>(u.parent);
    const int level = levels[parent] + 1;
    if (level > kMaxUserNamespaceLevel) {
      return Invalid(path, "nesting level ", level, " > ", kMaxUserNamespaceLevel);
    }
    // IdMap::Create() checks this too, but only after copying the extents.
    for (const auto& [name, map] : {std::pair{"uid_map", &u.uid_map}, {"gid_map", &u.gid_map}}) {
      if (map->size() > IdMap::kMaxExtents) {
        return Invalid(absl::StrCat(path, ".", name), map->size(), " extents > ",
                       IdMap::kMaxExtents);
      }
    }
    absl::StatusOr<IdMap> uid_map = IdMap::Create(u.uid_map);
    if (!uid_map.ok()) return Prefixed(absl::StrCat(path, ".uid_map"), uid_map.status());
    absl::StatusOr<IdMap> gid_map = IdMap::Create(u.gid_map);
    if (!gid_map.ok()) return Prefixed(absl::StrCat(path, ".gid_map"), gid_map.status());
    // create_user_ns(): the creator's euid and egid must be mapped in the parent (EPERM).
    if (!built[parent]->HasMapping(KUid(u.owner_uid))) {
      return Invalid(path, "owner_uid ", u.owner_uid, " is not mapped in the parent ",
                     UserNsPath(parent));
    }
    if (!built[parent]->HasMapping(KGid(u.owner_gid))) {
      return Invalid(path, "owner_gid ", u.owner_gid, " is not mapped in the parent ",
                     UserNsPath(parent));
    }
    absl::StatusOr<std::shared_ptr<const UserNamespace>> ns =
        UserNamespace::Create(built[parent], KUid(u.owner_uid), KGid(u.owner_gid),
                              *std::move(uid_map), *std::move(gid_map), u.rlimit_msgqueue);
    if (!ns.ok()) return Prefixed(path, ns.status());
    built.push_back(*std::move(ns));
    levels.push_back(level);
  }
  return absl::OkStatus();
}

absl::Status ValidateSysctls(absl::string_view ipc_path, const state::SysctlsState& s) {
  const std::string path = absl::StrCat(ipc_path, ".sysctls");
  // queues_max accepts any int (spec §9.2), so there is nothing to check.
  RETURN_IF_ERROR(CheckRange(path, "msg_max", s.msg_max, abi::kMinMsgMax, abi::kHardMsgMax));
  RETURN_IF_ERROR(
      CheckRange(path, "msgsize_max", s.msgsize_max, abi::kMinMsgSizeMax, abi::kHardMsgSizeMax));
  RETURN_IF_ERROR(
      CheckRange(path, "msg_default", s.msg_default, abi::kMinMsgMax, abi::kHardMsgMax));
  RETURN_IF_ERROR(CheckRange(path, "msgsize_default", s.msgsize_default, abi::kMinMsgSizeMax,
                             abi::kHardMsgSizeMax));
  return absl::OkStatus();
}

// Linux's rules for a queue name after the leading '/' is stripped (spec §3.2): NAME_MAX,
// no further '/', and "." and ".." refused (EACCES) since they name directories.
absl::Status ValidateName(absl::string_view path, const std::string& name) {
  if (name.empty()) return Invalid(path, "name is empty");
  if (name.size() > abi::kNameMax) {
    return Invalid(path, "name is ", name.size(), " bytes > NAME_MAX ", abi::kNameMax);
  }
  if (name.find('/') != std::string::npos) return Invalid(path, "name contains '/'");
  if (name.find('\0') != std::string::npos) return Invalid(path, "name contains a NUL byte");
  if (name == "." || name == "..") {
    return Invalid(path, "name \"", name, "\" is reserved (a directory entry)");
  }
  return absl::OkStatus();
}

absl::Status ValidateNotification(absl::string_view queue_path, const state::NotificationState& n,
                                  size_t user_ns_count) {
  const std::string path = absl::StrCat(queue_path, ".notification");
  if (n.notify != abi::kSigevSignal && n.notify != abi::kSigevNone &&
      n.notify != abi::kSigevThread) {
    return Invalid(path, "notify ", n.notify,
                   " is not SIGEV_SIGNAL (0), SIGEV_NONE (1) or SIGEV_THREAD (2)");
  }
  // mq_notify(): valid_signal() for SIGEV_SIGNAL only; signo is ignored for the others.
  if (n.notify == abi::kSigevSignal) {
    RETURN_IF_ERROR(CheckRange(path, "signo", n.signo, 0, abi::kNsig, " for SIGEV_SIGNAL"));
  }
  RETURN_IF_ERROR(CheckUserNsIndex(path, "owner_user_ns", n.owner_user_ns, user_ns_count));
  RETURN_IF_ERROR(CheckRange(path, "owner_host_tgid", n.owner_host_tgid, 1, kPidMaxLimit));
  return absl::OkStatus();
}

// One queue, without the sandbox-wide checks (id and name uniqueness, accounting).
absl::Status ValidateQueue(size_t n, size_t qi, const state::QueueState& q, size_t user_ns_count) {
  const std::string path = QueuePath(n, qi);
  if (q.name.has_value()) RETURN_IF_ERROR(ValidateName(path, *q.name));
  RETURN_IF_ERROR(CheckKernelId(path, "uid", q.uid));
  RETURN_IF_ERROR(CheckKernelId(path, "gid", q.gid));
  if ((q.mode & ~abi::kSIallugo) != 0) {
    return Invalid(path, absl::StrFormat("mode %#o has bits outside 07777", q.mode));
  }
  // HARD_MSGMAX / HARD_MSGSIZEMAX, not the sysctls: a creator with CAP_SYS_RESOURCE goes
  // past msg_max/msgsize_max, and the sysctls may have been lowered after creation.
  RETURN_IF_ERROR(CheckRange(path, "maxmsg", q.maxmsg, 1, abi::kHardMsgMax, " (HARD_MSGMAX)"));
  RETURN_IF_ERROR(
      CheckRange(path, "msgsize", q.msgsize, 1, abi::kHardMsgSizeMax, " (HARD_MSGSIZEMAX)"));
  // maxmsg <= 65536 from here on, so every later loop over messages is bounded.
  if (q.messages.size() > static_cast<uint64_t>(q.maxmsg)) {
    return Invalid(absl::StrCat(path, ".messages"), q.messages.size(), " messages > maxmsg ",
                   q.maxmsg);
  }
  for (size_t m = 0; m < q.messages.size(); ++m) {
    const state::MessageState& message = q.messages[m];
    if (message.priority >= abi::kMqPrioMax) {
      return Invalid(MessagePath(n, qi, m), "priority ", message.priority, " >= MQ_PRIO_MAX ",
                     abi::kMqPrioMax);
    }
    if (message.payload.size() > static_cast<uint64_t>(q.msgsize)) {
      return Invalid(MessagePath(n, qi, m), "payload is ", message.payload.size(),
                     " bytes > msgsize ", q.msgsize);
    }
    if (m > 0 && message.priority > q.messages[m - 1].priority) {
      return Invalid(MessagePath(n, qi, m), "priority ", message.priority, " after priority ",
                     q.messages[m - 1].priority,
                     ": messages must be in receive order (priority non-increasing)");
    }
  }
  if (q.notification.has_value()) {
    RETURN_IF_ERROR(ValidateNotification(path, *q.notification, user_ns_count));
  }
  if (q.times.has_value()) {
    const std::string times_path = absl::StrCat(path, ".times");
    constexpr absl::string_view kWhy = " (0001-01-01T00:00:00Z..9999-12-31T23:59:59Z)";
    RETURN_IF_ERROR(
        CheckRange(times_path, "atime", q.times->atime, state::kMinQueueTime, state::kMaxQueueTime, kWhy));
    RETURN_IF_ERROR(
        CheckRange(times_path, "mtime", q.times->mtime, state::kMinQueueTime, state::kMaxQueueTime, kWhy));
    RETURN_IF_ERROR(
        CheckRange(times_path, "ctime", q.times->ctime, state::kMinQueueTime, state::kMaxQueueTime, kWhy));
  }
  const std::string charge_path = absl::StrCat(path, ".charge");
  RETURN_IF_ERROR(CheckUserNsIndex(charge_path, "user_ns", q.charge.user_ns, user_ns_count));
  RETURN_IF_ERROR(CheckKernelId(charge_path, "ruid", q.charge.ruid));
  const uint64_t want = QueueChargeBytes(q.maxmsg, q.msgsize);
  if (q.charge.bytes != want) {
    return Invalid(charge_path, "bytes ", q.charge.bytes, ", want ", want,
                   " (maxmsg*48 + min(maxmsg, 32768)*48 + maxmsg*msgsize for maxmsg ", q.maxmsg,
                   ", msgsize ", q.msgsize, ")");
  }
  return absl::OkStatus();
}

struct AccountingKey {
  int32_t user_ns;
  uint32_t uid;
  friend bool operator==(const AccountingKey&, const AccountingKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const AccountingKey& k) {
    return H::combine(std::move(h), k.user_ns, k.uid);
  }
};

std::string KeyString(const AccountingKey& k) {
  return absl::StrCat("(user_ns ", k.user_ns, ", uid ", k.uid, ")");
}

// Calls `visit(key)` for every counter a queue's charge lands on: the creator's
// (user_ns, ruid), then (parent, owner of the namespace) up to the initial namespace, as
// inc_rlimit_ucounts() walks ucounts. Indices must already be validated; parents precede
// children, so the walk ends after at most 33 steps.
template <typename Visit>
void ForEachChargedCounter(const state::SandboxState& s, const state::ChargeState& charge,
                           Visit visit) {
  visit(AccountingKey{charge.user_ns, charge.ruid});
  int32_t ns = charge.user_ns;
  while (ns != 0) {
    const state::UserNamespaceState& u = s.user_namespaces[static_cast<size_t>(ns)];
    visit(AccountingKey{u.parent, u.owner_uid});
    ns = u.parent;
  }
}

absl::Status ValidateAccounting(const state::SandboxState& s) {
  absl::flat_hash_map<AccountingKey, uint64_t> recomputed;
  for (const state::IpcNamespaceState& ipc : s.ipc_namespaces) {
    for (const state::QueueState& q : ipc.queues) {
      bool overflow = false;
      AccountingKey overflowed{};
      ForEachChargedCounter(s, q.charge, [&](const AccountingKey& key) {
        uint64_t& sum = recomputed[key];
        if (__builtin_add_overflow(sum, q.charge.bytes, &sum) && !overflow) {
          overflow = true;
          overflowed = key;
        }
      });
      if (overflow) {
        return Invalid("accounting", "the charges to ", KeyString(overflowed), " overflow 64 bits");
      }
    }
  }
  absl::flat_hash_map<AccountingKey, size_t> seen;
  const size_t user_ns_count = s.user_namespaces.size();
  for (size_t k = 0; k < s.accounting.size(); ++k) {
    const state::AccountingEntry& e = s.accounting[k];
    const std::string path = absl::StrCat("accounting[", k, "]");
    RETURN_IF_ERROR(CheckUserNsIndex(path, "user_ns", e.user_ns, user_ns_count));
    const AccountingKey key{e.user_ns, e.uid};
    if (e.bytes == 0) {
      return Invalid(path, KeyString(key), " has 0 bytes: counters at zero are not recorded");
    }
    auto [it, inserted] = seen.emplace(key, k);
    if (!inserted) {
      return Invalid(path, KeyString(key), " duplicates accounting[", it->second, "]");
    }
    auto want = recomputed.find(key);
    if (want == recomputed.end()) {
      return Invalid(path, KeyString(key), " has ", e.bytes,
                     " bytes but no queue's charge reaches it");
    }
    if (e.bytes != want->second) {
      return Invalid(path, KeyString(key), " has ", e.bytes, " bytes, want ", want->second,
                     " (the sum of the queue charges that reach it)");
    }
  }
  if (seen.size() != recomputed.size()) {
    // Name the first missing counter in a deterministic order: the queues' order.
    for (const state::IpcNamespaceState& ipc : s.ipc_namespaces) {
      for (const state::QueueState& q : ipc.queues) {
        std::optional<AccountingKey> missing;
        ForEachChargedCounter(s, q.charge, [&](const AccountingKey& key) {
          if (!missing.has_value() && !seen.contains(key)) missing = key;
        });
        if (missing.has_value()) {
          return Invalid("accounting", "no entry for ", KeyString(*missing),
                         ", which the queue charges bring to ", recomputed[*missing], " bytes");
        }
      }
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// Conversion
// ---------------------------------------------------------------------------------------

void ExtentsToProto(const std::vector<IdMapExtent>& extents,
                    google::protobuf::RepeatedPtrField<pb::IdMapExtent>* out) {
  out->Reserve(static_cast<int>(extents.size()));
  for (const IdMapExtent& e : extents) {
    pb::IdMapExtent* p = out->Add();
    p->set_first(e.first);
    p->set_lower_first(e.lower_first);
    p->set_count(e.count);
  }
}

}  // namespace

// Fails on fields this version does not know: dropping them would lose state silently.
absl::Status CheckNoUnknownFields(absl::string_view path, const google::protobuf::Message& m) {
  const google::protobuf::UnknownFieldSet& unknown = m.GetReflection()->GetUnknownFields(m);
  if (!unknown.empty()) {
    return Invalid(path, "unknown field number ", unknown.field(0).number(),
                   " (written by a newer schema?)");
  }
  return absl::OkStatus();
}

static absl::StatusOr<std::vector<IdMapExtent>> ExtentsFromProto(
    absl::string_view path, const google::protobuf::RepeatedPtrField<pb::IdMapExtent>& in) {
  std::vector<IdMapExtent> out;
  out.reserve(static_cast<size_t>(in.size()));
  for (int i = 0; i < in.size(); ++i) {
    RETURN_IF_ERROR(CheckNoUnknownFields(absl::StrCat(path, "[", i, "]"), in[i]));
    out.push_back(IdMapExtent{in[i].first(), in[i].lower_first(), in[i].count()});
  }
  return out;
}

absl::StatusOr<state::QueueState> QueueFromProto(const std::string& path, const pb::Queue& p) {
  RETURN_IF_ERROR(CheckNoUnknownFields(path, p));
  state::QueueState q;
  if (p.has_name()) q.name = p.name();
  q.id = p.id();
  q.uid = p.uid();
  q.gid = p.gid();
  q.mode = p.mode();
  q.maxmsg = p.maxmsg();
  q.msgsize = p.msgsize();
  q.messages.reserve(static_cast<size_t>(p.messages_size()));
  for (int m = 0; m < p.messages_size(); ++m) {
    const pb::Message& pm = p.messages(m);
    RETURN_IF_ERROR(CheckNoUnknownFields(absl::StrCat(path, ".messages[", m, "]"), pm));
    q.messages.push_back(state::MessageState{pm.priority(), pm.payload()});
  }
  if (p.has_notification()) {
    const pb::Notification& pn = p.notification();
    const std::string npath = absl::StrCat(path, ".notification");
    RETURN_IF_ERROR(CheckNoUnknownFields(npath, pn));
    state::NotificationState n;
    n.owner_process = pn.owner_process();
    n.owner_host_tgid = pn.owner_host_tgid();
    n.owner_user_ns = pn.owner_user_ns();
    n.owner_exec_generation = pn.owner_exec_generation();
    n.notify = pn.notify();
    n.signo = pn.signo();
    n.value = pn.value();
    n.socket = pn.socket();
    if (pn.cookie().size() != n.cookie.size()) {
      return Invalid(npath, "cookie is ", pn.cookie().size(), " bytes, want ", n.cookie.size());
    }
    for (size_t i = 0; i < n.cookie.size(); ++i) {
      n.cookie[i] = static_cast<uint8_t>(pn.cookie()[i]);
    }
    q.notification = n;
  }
  if (!p.has_charge()) return Invalid(path, "charge is missing");
  RETURN_IF_ERROR(CheckNoUnknownFields(absl::StrCat(path, ".charge"), p.charge()));
  q.charge.user_ns = p.charge().user_ns();
  q.charge.ruid = p.charge().ruid();
  q.charge.bytes = p.charge().bytes();
  if (p.has_times()) {
    RETURN_IF_ERROR(CheckNoUnknownFields(absl::StrCat(path, ".times"), p.times()));
    q.times = state::QueueTimesState{p.times().atime(), p.times().mtime(), p.times().ctime()};
  }
  return q;
}

namespace {

// The crc32c field: tag (15 << 3 | WIRETYPE_FIXED32), then 4 bytes.
constexpr uint8_t kTrailerTag = 0x7d;
constexpr size_t kTrailerSize = 5;

absl::Status CheckHeader(const pb::Checkpoint& p) {
  if (p.magic() != kMagic) {
    return Invalid("magic", absl::StrFormat("0x%08x is not the checkpoint magic 0x%08x: "
                                            "not an mqsentry checkpoint",
                                            p.magic(), kMagic));
  }
  if (p.format_version() != kFormatVersion) {
    return Invalid("format_version", p.format_version(), " is not supported (this build reads ",
                   kFormatVersion, ")");
  }
  return absl::OkStatus();
}

absl::Status CheckTrailer(std::string_view bytes) {
  if (bytes.size() < kTrailerSize ||
      static_cast<uint8_t>(bytes[bytes.size() - kTrailerSize]) != kTrailerTag) {
    return Invalid("crc32c", "the file does not end with its checksum (truncated or damaged)");
  }
  uint32_t stored = 0;
  for (size_t i = 0; i < 4; ++i) {
    stored |= uint32_t{static_cast<uint8_t>(bytes[bytes.size() - 4 + i])} << (8 * i);
  }
  const uint32_t computed = Crc32c(bytes.substr(0, bytes.size() - kTrailerSize));
  if (stored != computed) {
    return Invalid("crc32c", absl::StrFormat("the file's checksum is 0x%08x but its contents "
                                             "give 0x%08x (damaged)",
                                             stored, computed));
  }
  return absl::OkStatus();
}

}  // namespace

uint64_t QueueChargeBytes(int64_t maxmsg, int64_t msgsize) {
  // The one formula, ipc/accounting's; 0 only for attributes validation rejects first.
  return ipc::QueueCost(maxmsg, msgsize).value_or(0);
}

absl::Status ValidateSandboxState(const state::SandboxState& s) {
  if (s.version != kFormatVersion) {
    return Invalid("version", s.version, " is not supported (this build reads ", kFormatVersion,
                   ")");
  }
  // Bounds first, so that the work below is bounded too.
  if (s.user_namespaces.empty()) {
    return Invalid("user_namespaces", "empty: index 0 must be the initial user namespace");
  }
  if (s.user_namespaces.size() > kMaxUserNamespaces) {
    return Invalid("user_namespaces", s.user_namespaces.size(), " namespaces > limit ",
                   kMaxUserNamespaces);
  }
  if (s.ipc_namespaces.size() > kMaxIpcNamespaces) {
    return Invalid("ipc_namespaces", s.ipc_namespaces.size(), " namespaces > limit ",
                   kMaxIpcNamespaces);
  }
  size_t total_queues = 0;
  for (const state::IpcNamespaceState& ipc : s.ipc_namespaces) {
    total_queues += ipc.queues.size();  // each term is < 2^60: no overflow before the check
    if (total_queues > kMaxQueues) {
      return Invalid("ipc_namespaces", "more than ", kMaxQueues, " queues in total");
    }
  }

  RETURN_IF_ERROR(ValidateUserNamespaces(s.user_namespaces));
  const size_t user_ns_count = s.user_namespaces.size();

  absl::flat_hash_map<uint64_t, size_t> ipc_ids;
  absl::flat_hash_map<uint64_t, std::pair<size_t, size_t>> queue_ids;
  ipc_ids.reserve(s.ipc_namespaces.size());
  queue_ids.reserve(total_queues);
  for (size_t n = 0; n < s.ipc_namespaces.size(); ++n) {
    const state::IpcNamespaceState& ipc = s.ipc_namespaces[n];
    const std::string path = IpcPath(n);
    auto [ipc_it, ipc_inserted] = ipc_ids.emplace(ipc.id, n);
    if (!ipc_inserted) {
      return Invalid(path, "id ", ipc.id, " duplicates ", IpcPath(ipc_it->second));
    }
    RETURN_IF_ERROR(CheckUserNsIndex(path, "owner_user_ns", ipc.owner_user_ns, user_ns_count));
    RETURN_IF_ERROR(CheckKernelId(path, "root_uid", ipc.root_uid));
    RETURN_IF_ERROR(CheckKernelId(path, "root_gid", ipc.root_gid));
    RETURN_IF_ERROR(ValidateSysctls(path, ipc.sysctls));
    // queues_max does not bound the count: CAP_SYS_RESOURCE bypasses it, and it may have
    // been lowered after the queues were created.
    absl::flat_hash_map<absl::string_view, size_t> names;
    for (size_t qi = 0; qi < ipc.queues.size(); ++qi) {
      const state::QueueState& q = ipc.queues[qi];
      auto [q_it, q_inserted] = queue_ids.emplace(q.id, std::make_pair(n, qi));
      if (!q_inserted) {
        return Invalid(QueuePath(n, qi), "id ", q.id, " duplicates ",
                       QueuePath(q_it->second.first, q_it->second.second));
      }
      RETURN_IF_ERROR(ValidateQueue(n, qi, q, user_ns_count));
      if (q.name.has_value()) {
        auto [name_it, name_inserted] = names.emplace(*q.name, qi);
        if (!name_inserted) {
          return Invalid(QueuePath(n, qi), "name \"", absl::CHexEscape(*q.name), "\" duplicates ",
                         QueuePath(n, name_it->second));
        }
      }
    }
  }
  return ValidateAccounting(s);
}

pb::UserNamespace UserNamespaceToProto(const state::UserNamespaceState& u) {
  pb::UserNamespace p;
  p.set_parent(u.parent);
  p.set_owner_uid(u.owner_uid);
  p.set_owner_gid(u.owner_gid);
  p.set_rlimit_msgqueue(u.rlimit_msgqueue);
  ExtentsToProto(u.uid_map, p.mutable_uid_map());
  ExtentsToProto(u.gid_map, p.mutable_gid_map());
  return p;
}

pb::IpcNamespace IpcNamespaceToProto(const state::IpcNamespaceState& ipc) {
  pb::IpcNamespace p;
  p.set_id(ipc.id);
  p.set_owner_user_ns(ipc.owner_user_ns);
  p.set_root_uid(ipc.root_uid);
  p.set_root_gid(ipc.root_gid);
  pb::Sysctls* sysctls = p.mutable_sysctls();  // present even when all zero
  sysctls->set_queues_max(ipc.sysctls.queues_max);
  sysctls->set_msg_max(ipc.sysctls.msg_max);
  sysctls->set_msgsize_max(ipc.sysctls.msgsize_max);
  sysctls->set_msg_default(ipc.sysctls.msg_default);
  sysctls->set_msgsize_default(ipc.sysctls.msgsize_default);
  return p;
}

pb::Queue QueueToProto(const state::QueueState& q) {
  pb::Queue pq;
  if (q.name.has_value()) pq.set_name(*q.name);
  pq.set_id(q.id);
  pq.set_uid(q.uid);
  pq.set_gid(q.gid);
  pq.set_mode(q.mode);
  pq.set_maxmsg(q.maxmsg);
  pq.set_msgsize(q.msgsize);
  if (q.notification.has_value()) {
    const state::NotificationState& n = *q.notification;
    pb::Notification* pn = pq.mutable_notification();
    pn->set_owner_process(n.owner_process);
    pn->set_owner_host_tgid(n.owner_host_tgid);
    pn->set_owner_user_ns(n.owner_user_ns);
    pn->set_owner_exec_generation(n.owner_exec_generation);
    pn->set_notify(n.notify);
    pn->set_signo(n.signo);
    pn->set_value(n.value);
    pn->set_socket(n.socket);
    pn->set_cookie(std::string(n.cookie.begin(), n.cookie.end()));
  }
  if (q.times.has_value()) {
    pb::QueueTimes* times = pq.mutable_times();
    times->set_atime(q.times->atime);
    times->set_mtime(q.times->mtime);
    times->set_ctime(q.times->ctime);
  }
  pb::Charge* charge = pq.mutable_charge();  // present even when all zero
  charge->set_user_ns(q.charge.user_ns);
  charge->set_ruid(q.charge.ruid);
  charge->set_bytes(q.charge.bytes);
  return pq;
}

pb::Checkpoint ToProto(const state::SandboxState& s) {
  pb::Checkpoint out;
  out.set_magic(kMagic);
  out.set_format_version(s.version);
  out.mutable_user_namespaces()->Reserve(static_cast<int>(s.user_namespaces.size()));
  for (const state::UserNamespaceState& u : s.user_namespaces) {
    *out.add_user_namespaces() = UserNamespaceToProto(u);
  }
  out.mutable_ipc_namespaces()->Reserve(static_cast<int>(s.ipc_namespaces.size()));
  for (const state::IpcNamespaceState& ipc : s.ipc_namespaces) {
    pb::IpcNamespace* p = out.add_ipc_namespaces();
    *p = IpcNamespaceToProto(ipc);
    p->mutable_queues()->Reserve(static_cast<int>(ipc.queues.size()));
    for (const state::QueueState& q : ipc.queues) {
      pb::Queue* pq = p->add_queues();
      *pq = QueueToProto(q);
      pq->mutable_messages()->Reserve(static_cast<int>(q.messages.size()));
      for (const state::MessageState& m : q.messages) {
        pb::Message* pm = pq->add_messages();
        pm->set_priority(m.priority);
        pm->set_payload(m.payload.data(), m.payload.size());
      }
    }
  }
  out.mutable_accounting()->Reserve(static_cast<int>(s.accounting.size()));
  for (const state::AccountingEntry& e : s.accounting) {
    pb::AccountingEntry* p = out.add_accounting();
    p->set_user_ns(e.user_ns);
    p->set_uid(e.uid);
    p->set_bytes(e.bytes);
  }
  return out;
}

absl::StatusOr<state::UserNamespaceState> UserNamespaceFromProto(const std::string& path,
                                                                 const pb::UserNamespace& pu) {
  RETURN_IF_ERROR(CheckNoUnknownFields(path, pu));
  state::UserNamespaceState u;
  u.parent = pu.parent();
  u.owner_uid = pu.owner_uid();
  u.owner_gid = pu.owner_gid();
  u.rlimit_msgqueue = pu.rlimit_msgqueue();
  ASSIGN_OR_RETURN(u.uid_map, ExtentsFromProto(absl::StrCat(path, ".uid_map"), pu.uid_map()));
  ASSIGN_OR_RETURN(u.gid_map, ExtentsFromProto(absl::StrCat(path, ".gid_map"), pu.gid_map()));
  return u;
}

// The namespace without looking at its queues.
static absl::StatusOr<state::IpcNamespaceState> IpcNamespaceHeadFromProto(
    const std::string& path, const pb::IpcNamespace& pi) {
  RETURN_IF_ERROR(CheckNoUnknownFields(path, pi));
  state::IpcNamespaceState ipc;
  ipc.id = pi.id();
  ipc.owner_user_ns = pi.owner_user_ns();
  ipc.root_uid = pi.root_uid();
  ipc.root_gid = pi.root_gid();
  if (!pi.has_sysctls()) return Invalid(path, "sysctls are missing");
  const pb::Sysctls& ps = pi.sysctls();
  RETURN_IF_ERROR(CheckNoUnknownFields(absl::StrCat(path, ".sysctls"), ps));
  ipc.sysctls.queues_max = ps.queues_max();
  ipc.sysctls.msg_max = ps.msg_max();
  ipc.sysctls.msgsize_max = ps.msgsize_max();
  ipc.sysctls.msg_default = ps.msg_default();
  ipc.sysctls.msgsize_default = ps.msgsize_default();
  return ipc;
}

absl::StatusOr<state::IpcNamespaceState> IpcNamespaceFromProto(const std::string& path,
                                                               const pb::IpcNamespace& pi) {
  if (pi.queues_size() != 0) {
    return Invalid(path, pi.queues_size(),
                   " queues inside the namespace record (queues have records of their own)");
  }
  return IpcNamespaceHeadFromProto(path, pi);
}

absl::StatusOr<state::SandboxState> FromProto(const pb::Checkpoint& p) {
  RETURN_IF_ERROR(CheckHeader(p));
  RETURN_IF_ERROR(CheckNoUnknownFields("checkpoint", p));
  state::SandboxState s;
  s.version = p.format_version();
  s.user_namespaces.reserve(static_cast<size_t>(p.user_namespaces_size()));
  for (int i = 0; i < p.user_namespaces_size(); ++i) {
    ASSIGN_OR_RETURN(state::UserNamespaceState u,
                     UserNamespaceFromProto(UserNsPath(static_cast<size_t>(i)),
                                            p.user_namespaces(i)));
    s.user_namespaces.push_back(std::move(u));
  }
  s.ipc_namespaces.reserve(static_cast<size_t>(p.ipc_namespaces_size()));
  for (int n = 0; n < p.ipc_namespaces_size(); ++n) {
    const pb::IpcNamespace& pi = p.ipc_namespaces(n);
    const std::string path = IpcPath(static_cast<size_t>(n));
    ASSIGN_OR_RETURN(state::IpcNamespaceState ipc, IpcNamespaceHeadFromProto(path, pi));
    ipc.queues.reserve(static_cast<size_t>(pi.queues_size()));
    for (int q = 0; q < pi.queues_size(); ++q) {
      ASSIGN_OR_RETURN(
          state::QueueState queue,
          QueueFromProto(QueuePath(static_cast<size_t>(n), static_cast<size_t>(q)), pi.queues(q)));
      ipc.queues.push_back(std::move(queue));
    }
    s.ipc_namespaces.push_back(std::move(ipc));
  }
  s.accounting.reserve(static_cast<size_t>(p.accounting_size()));
  for (int k = 0; k < p.accounting_size(); ++k) {
    const pb::AccountingEntry& pe = p.accounting(k);
    RETURN_IF_ERROR(CheckNoUnknownFields(absl::StrCat("accounting[", k, "]"), pe));
    s.accounting.push_back(state::AccountingEntry{pe.user_ns(), pe.uid(), pe.bytes()});
  }
  return s;
}

absl::StatusOr<std::string> SerializeCheckpoint(pb::Checkpoint proto) {
  proto.clear_crc32c();
  const size_t size = proto.ByteSizeLong();
  if (size > static_cast<size_t>(INT_MAX) - kTrailerSize) {
    return Invalid("checkpoint", "encoding is ", size,
                   " bytes, more than protobuf's 2 GiB message limit");
  }
  std::string out;
  out.reserve(size + kTrailerSize);
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    // No map fields today, but the promise of byte-identical output should not depend on it.
    coded.SetSerializationDeterministic(true);
    proto.SerializeWithCachedSizes(&coded);
    if (coded.HadError()) return absl::InternalError("checkpoint: serialization failed");
  }
  // Exactly what protobuf writes for crc32c: the highest field number comes last.
  const uint32_t crc = Crc32c(out);
  out.push_back(static_cast<char>(kTrailerTag));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  return out;
}

absl::StatusOr<std::string> EncodeCheckpoint(const state::SandboxState& state) {
  RETURN_IF_ERROR(ValidateSandboxState(state));
  return SerializeCheckpoint(ToProto(state));
}

absl::StatusOr<state::SandboxState> DecodeCheckpoint(std::string_view bytes) {
  if (bytes.empty()) return Invalid("checkpoint", "empty input");
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return Invalid("checkpoint", bytes.size(), " bytes, more than protobuf's 2 GiB limit");
  }
  pb::Checkpoint proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Invalid("checkpoint", bytes.size(),
                   " bytes that do not parse as a checkpoint (damaged, or not a checkpoint)");
  }
  // Magic and version first: a file of another kind or version deserves that answer, and
  // a later version may protect its contents differently.
  RETURN_IF_ERROR(CheckHeader(proto));
  RETURN_IF_ERROR(CheckTrailer(bytes));
  ASSIGN_OR_RETURN(state::SandboxState state, FromProto(proto));
  RETURN_IF_ERROR(ValidateSandboxState(state));
  return state;
}

}  // namespace mqsentry::ipc::checkpoint
