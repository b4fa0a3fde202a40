// RandomValidState(): random valid SandboxStates (random_state.h). The generator has its own
// uniform helper so that a seed gives the same state with any standard library.
#include "ipc/checkpoint/random_state.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ipc/checkpoint/state_testing.h"
#include "kernel/user_namespace.h"

namespace mqsentry::ipc::checkpoint_testing {
namespace {

using kernel::IdMapExtent;

constexpr uint64_t kLastId = 4294967294u;  // the largest valid kernel id
constexpr int kMaxLevel = 33;

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  uint64_t Next() { return gen_(); }
  // Uniform in [lo, hi], lo <= hi (modulo bias is irrelevant here).
  uint64_t Range(uint64_t lo, uint64_t hi) {
    const uint64_t span = hi - lo;
    if (span == UINT64_MAX) return Next();
    return lo + Next() % (span + 1);
  }
  int64_t SignedRange(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
    return static_cast<int64_t>(static_cast<uint64_t>(lo) + Range(0, span));
  }
  bool Chance(int percent) { return Range(0, 99) < static_cast<uint64_t>(percent); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Range(0, v.size() - 1)];
  }

 private:
  std::mt19937_64 gen_;
};

uint32_t RandomKernelId(Rng& rng) {
  return rng.Chance(40) ? 1000 : static_cast<uint32_t>(rng.Range(0, kLastId));
}

// A kernel id that `map` maps.
uint32_t RandomMappedId(Rng& rng, const std::vector<IdMapExtent>& map) {
  const IdMapExtent& e = rng.Pick(map);
  return static_cast<uint32_t>(e.lower_first + rng.Range(0, e.count - 1));
}

bool Overlaps(uint64_t a, uint64_t a_count, uint64_t b, uint64_t b_count) {
  return a < b + b_count && b < a + a_count;
}

// 0..4 extents, each inside one extent of the parent's map (so inside what the parent maps),
// none overlapping another on either side, none ending past 4294967295.
std::vector<IdMapExtent> RandomChildMap(Rng& rng, const std::vector<IdMapExtent>& parent,
                                        bool allow_empty) {
  const size_t want = rng.Range(allow_empty ? 0 : 1, 4);
  std::vector<IdMapExtent> out;
  for (int attempt = 0; out.size() < want && attempt < 40; ++attempt) {
    const IdMapExtent& pe = rng.Pick(parent);
    const uint64_t max_count = rng.Chance(20) ? pe.count : std::min<uint64_t>(pe.count, 70000);
    const uint64_t count = rng.Range(1, max_count);
    const uint64_t lower = pe.lower_first + rng.Range(0, pe.count - count);
    const uint64_t first = rng.Chance(30) ? lower : rng.Range(0, 4294967295u - count);
    bool clash = false;
    for (const IdMapExtent& e : out) {
      clash = clash || Overlaps(first, count, e.first, e.count) ||
              Overlaps(lower, count, e.lower_first, e.count);
    }
    if (!clash) {
      out.push_back(IdMapExtent{static_cast<uint32_t>(first), static_cast<uint32_t>(lower),
                                static_cast<uint32_t>(count)});
    }
  }
  if (out.empty() && !allow_empty) {
    // One id of the parent's first extent always fits.
    out.push_back(IdMapExtent{0, parent[0].lower_first, 1});
  }
  return out;
}

void AddUserNamespaces(Rng& rng, const RandomStateOptions& o, state::SandboxState& s) {
  s.user_namespaces.push_back(InitialUserNamespace());
  std::vector<int> levels = {0};
  const bool deep = rng.Chance(10);  // a chain down to (nearly) the deepest level
  const size_t count = deep ? rng.Range(20, kMaxLevel + 1)
                            : rng.Range(1, static_cast<uint64_t>(o.max_user_namespaces));
  for (size_t i = 1; i < count; ++i) {
    // A parent must map its child's owner, so it needs non-empty maps.
    std::vector<int32_t> candidates;
    for (size_t p = 0; p < i; ++p) {
      const state::UserNamespaceState& u = s.user_namespaces[p];
      if (levels[p] < kMaxLevel && !u.uid_map.empty() && !u.gid_map.empty()) {
        candidates.push_back(static_cast<int32_t>(p));
      }
    }
    int32_t parent = rng.Pick(candidates);
    if ((deep || rng.Chance(30)) && candidates.back() == static_cast<int32_t>(i - 1)) {
      parent = static_cast<int32_t>(i - 1);
    }
    const state::UserNamespaceState& p = s.user_namespaces[static_cast<size_t>(parent)];
    state::UserNamespaceState u;
    u.parent = parent;
    u.owner_uid = RandomMappedId(rng, p.uid_map);
    u.owner_gid = RandomMappedId(rng, p.gid_map);
    switch (rng.Range(0, 3)) {
      case 0:
        u.rlimit_msgqueue = 0;
        break;
      case 1:
        u.rlimit_msgqueue = 819200;
        break;
      case 2:
        u.rlimit_msgqueue = UINT64_MAX;
        break;
      default:
        u.rlimit_msgqueue = rng.Next();
        break;
    }
    const bool allow_empty = !deep && rng.Chance(15);
    u.uid_map = RandomChildMap(rng, p.uid_map, allow_empty);
    u.gid_map = RandomChildMap(rng, p.gid_map, allow_empty);
    levels.push_back(levels[static_cast<size_t>(parent)] + 1);
    s.user_namespaces.push_back(std::move(u));
  }
}

std::string RandomName(Rng& rng) {
  for (;;) {
    const size_t length = rng.Chance(10) ? 255 : rng.Range(1, 12);
    const bool readable = rng.Chance(50);
    std::string name;
    for (size_t i = 0; i < length; ++i) {
      if (readable) {
        static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789._-";
        name.push_back(kChars[rng.Range(0, sizeof(kChars) - 2)]);
      } else {
        char c = static_cast<char>(rng.Range(1, 255));
        name.push_back(c == '/' ? '\\' : c);
      }
    }
    if (name != "." && name != "..") return name;
  }
}

state::SysctlsState RandomSysctls(Rng& rng) {
  state::SysctlsState s;
  if (rng.Chance(30)) return s;  // the defaults
  static const std::vector<int32_t> kQueuesMax = {256, -1, 0, INT_MIN, INT_MAX, 1};
  s.queues_max = rng.Chance(70) ? rng.Pick(kQueuesMax)
                                : static_cast<int32_t>(rng.SignedRange(INT_MIN, INT_MAX));
  s.msg_max = static_cast<int32_t>(rng.Range(1, 65536));
  s.msgsize_max = static_cast<int32_t>(rng.Range(128, 16777216));
  s.msg_default = static_cast<int32_t>(rng.Range(1, 65536));
  s.msgsize_default = static_cast<int32_t>(rng.Range(128, 16777216));
  return s;
}

state::QueueState RandomQueue(Rng& rng, const RandomStateOptions& o, size_t user_ns_count,
                              uint64_t id, std::set<std::string>& names) {
  state::QueueState q;
  if (rng.Chance(75)) {
    std::string name;
    do {
      name = RandomName(rng);
    } while (names.count(name) != 0);
    names.insert(name);
    q.name = std::move(name);
  }
  q.id = id;
  q.uid = RandomKernelId(rng);
  q.gid = RandomKernelId(rng);
  q.mode = static_cast<uint32_t>(rng.Range(0, 07777));
  switch (rng.Range(0, 3)) {
    case 0:
      q.maxmsg = 1;
      break;
    case 1:
      q.maxmsg = static_cast<int64_t>(rng.Range(1, 16));
      break;
    case 2:
      q.maxmsg = static_cast<int64_t>(rng.Range(1, 65536));
      break;
    default:
      q.maxmsg = 65536;
      break;
  }
  switch (rng.Range(0, 3)) {
    case 0:
      q.msgsize = 1;
      break;
    case 1:
      q.msgsize = static_cast<int64_t>(rng.Range(1, 256));
      break;
    case 2:
      q.msgsize = static_cast<int64_t>(rng.Range(1, 16777216));
      break;
    default:
      q.msgsize = 16777216;
      break;
  }
  const uint64_t max_messages = std::min<uint64_t>(static_cast<uint64_t>(q.maxmsg),
                                                   static_cast<uint64_t>(o.max_messages_per_queue));
  const uint64_t count = rng.Chance(15) ? max_messages : rng.Range(0, max_messages);
  const uint64_t max_payload =
      std::min<uint64_t>(static_cast<uint64_t>(q.msgsize), static_cast<uint64_t>(o.max_payload));
  for (uint64_t i = 0; i < count; ++i) {
    state::MessageState m;
    switch (rng.Range(0, 3)) {
      case 0:
        m.priority = 0;
        break;
      case 1:
        m.priority = 32767;
        break;
      case 2:
        m.priority = static_cast<uint32_t>(rng.Range(0, 32767));
        break;
      default:
        m.priority = static_cast<uint32_t>(rng.Range(0, 3));
        break;
    }
    const uint64_t length = rng.Chance(10) ? max_payload : rng.Range(0, max_payload);
    std::string bytes;
    for (uint64_t b = 0; b < length; ++b) bytes.push_back(static_cast<char>(rng.Next()));
    m.payload = ipc::Payload(bytes);
    q.messages.push_back(std::move(m));
  }
  // Receive order: highest priority first, FIFO (insertion order) within a priority.
  std::stable_sort(q.messages.begin(), q.messages.end(),
                   [](const state::MessageState& a, const state::MessageState& b) {
                     return a.priority > b.priority;
                   });
  if (rng.Chance(50)) {
    state::NotificationState n;
    n.owner_process = rng.Next();
    n.owner_host_tgid = static_cast<int32_t>(rng.Range(1, 4194304));
    n.owner_user_ns = static_cast<int32_t>(rng.Range(0, user_ns_count - 1));
    n.owner_exec_generation = rng.Chance(50) ? 0 : rng.Next();
    n.notify = static_cast<int32_t>(rng.Range(0, 2));
    n.signo = n.notify == 0 ? static_cast<int32_t>(rng.Range(0, 64))
                            : static_cast<int32_t>(rng.SignedRange(INT_MIN, INT_MAX));
    n.value = rng.Next();
    n.socket = rng.Next();
    for (uint8_t& b : n.cookie) b = static_cast<uint8_t>(rng.Next());
    q.notification = n;
  }
  q.charge.user_ns = static_cast<int32_t>(rng.Range(0, user_ns_count - 1));
  q.charge.ruid = RandomKernelId(rng);
  q.charge.bytes = ExpectedCharge(q.maxmsg, q.msgsize);
  if (rng.Chance(80)) {  // absent: a queue of a version-1 file
    auto time = [&rng] {
      return rng.Chance(10) ? (rng.Chance(50) ? state::kMinQueueTime : state::kMaxQueueTime)
                            : rng.SignedRange(state::kMinQueueTime, state::kMaxQueueTime);
    };
    q.times = state::QueueTimesState{time(), time(), time()};
  }
  return q;
}

}  // namespace

state::SandboxState RandomValidState(uint64_t seed, const RandomStateOptions& o) {
  Rng rng(seed);
  state::SandboxState s;
  AddUserNamespaces(rng, o, s);
  const size_t user_ns_count = s.user_namespaces.size();

  std::set<uint64_t> ipc_ids;
  std::set<uint64_t> queue_ids;
  auto unique_id = [&rng](std::set<uint64_t>& used) {
    for (;;) {
      const uint64_t id = rng.Chance(50) ? rng.Range(0, 100) : rng.Next();
      if (used.insert(id).second) return id;
    }
  };
  const size_t ipc_count =
      rng.Chance(5) ? 0 : rng.Range(1, static_cast<uint64_t>(o.max_ipc_namespaces));
  for (size_t n = 0; n < ipc_count; ++n) {
    state::IpcNamespaceState ipc;
    ipc.id = unique_id(ipc_ids);
    ipc.owner_user_ns = static_cast<int32_t>(rng.Range(0, user_ns_count - 1));
    ipc.root_uid = rng.Chance(50) ? 0 : RandomKernelId(rng);
    ipc.root_gid = rng.Chance(50) ? 0 : RandomKernelId(rng);
    ipc.sysctls = RandomSysctls(rng);
    std::set<std::string> names;
    const size_t queues = rng.Range(0, static_cast<uint64_t>(o.max_queues_per_namespace));
    for (size_t i = 0; i < queues; ++i) {
      ipc.queues.push_back(RandomQueue(rng, o, user_ns_count, unique_id(queue_ids), names));
    }
    s.ipc_namespaces.push_back(std::move(ipc));
  }

  RecomputeAccounting(s);
  if (rng.Chance(50)) {  // any order of the entries is valid and must survive
    for (size_t i = s.accounting.size(); i > 1; --i) {
      std::swap(s.accounting[i - 1], s.accounting[rng.Range(0, i - 1)]);
    }
  }
  return s;
}

}  // namespace mqsentry::ipc::checkpoint_testing
