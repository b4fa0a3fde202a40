// Tests of the checkpoint codec: an exact round trip per message kind, the exact rejection of
// every validation rule (through ValidateSandboxState, EncodeCheckpoint and
// DecodeCheckpoint alike), states at the edge of the limits that must be accepted, and the
// decoder's answers to files that are not checkpoints of this version.
#include "ipc/checkpoint/codec.h"

#include <climits>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "ipc/checkpoint/checkpoint.pb.h"
#include "ipc/checkpoint/state_testing.h"
#include "ipc/state.h"
#include "kernel/user_namespace.h"

namespace mqsentry::ipc::checkpoint {
namespace {

namespace pb = ::mqsentry::checkpoint;
using kernel::IdMapExtent;
using ::mqsentry::ipc::checkpoint_testing::ChildUserNamespace;
using ::mqsentry::ipc::checkpoint_testing::ExpectedCharge;
using ::mqsentry::ipc::checkpoint_testing::MakeIpcNamespace;
using ::mqsentry::ipc::checkpoint_testing::MakeQueue;
using ::mqsentry::ipc::checkpoint_testing::MinimalState;
using ::mqsentry::ipc::checkpoint_testing::RecomputeAccounting;
using ::mqsentry::ipc::checkpoint_testing::RichState;
using ::mqsentry::ipc::checkpoint_testing::StatesEqual;
using state::SandboxState;

constexpr uint32_t kNoId = 4294967295u;

absl::StatusOr<SandboxState> EncodeDecode(const SandboxState& s) {
  absl::StatusOr<std::string> bytes = EncodeCheckpoint(s);
  if (!bytes.ok()) return bytes.status();
  return DecodeCheckpoint(*bytes);
}

// Plain protobuf bytes, without the crc32c trailer.
std::string Serialize(const pb::Checkpoint& proto) {
  std::string out;
  EXPECT_TRUE(proto.SerializeToString(&out));
  return out;
}

// A well-formed file with a correct checksum but no validation, as a hostile or buggy
// writer could produce.
std::string Seal(const pb::Checkpoint& proto) {
  absl::StatusOr<std::string> bytes = SerializeCheckpoint(proto);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::string();
}

std::string SealUnchecked(const SandboxState& s) { return Seal(ToProto(s)); }

// Encodes, decodes and compares; returns the decoded state for further checks.
SandboxState ExpectRoundTrip(const SandboxState& s) {
  EXPECT_TRUE(ValidateSandboxState(s).ok()) << ValidateSandboxState(s);
  absl::StatusOr<SandboxState> decoded = EncodeDecode(s);
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  if (!decoded.ok()) return SandboxState{};
  EXPECT_TRUE(StatesEqual(s, *decoded));
  absl::StatusOr<SandboxState> via_proto = FromProto(ToProto(s));
  EXPECT_TRUE(via_proto.ok()) << via_proto.status();
  if (via_proto.ok()) {
    EXPECT_TRUE(StatesEqual(s, *via_proto));
  }
  return *std::move(decoded);
}

void ExpectInvalid(const absl::Status& status, const std::string& message) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(status.message(), message);
}

// ---------------------------------------------------------------------------------------
// Round trips, one per kind of message
// ---------------------------------------------------------------------------------------

TEST(RoundTrip, MinimalState) {
  SandboxState decoded = ExpectRoundTrip(MinimalState());
  ASSERT_EQ(decoded.user_namespaces.size(), 1u);
  EXPECT_EQ(decoded.user_namespaces[0].parent, -1);
  EXPECT_EQ(decoded.version, 1u);
}

TEST(RoundTrip, UserNamespace) {
  SandboxState s = MinimalState();
  state::UserNamespaceState u;
  u.parent = 0;
  u.owner_uid = 4294967294u;  // the largest mapped kernel id
  u.owner_gid = 12345;
  u.rlimit_msgqueue = UINT64_MAX;
  u.uid_map = {{0, 4294967294u, 1}, {1, 0, 1000}, {5000, 200000, 65536}};
  u.gid_map = {{4294967295u - 7, 7, 7}, {0, 200000, 1000}};
  s.user_namespaces.push_back(u);
  s.user_namespaces.push_back(ChildUserNamespace(1, 200001, {0, 200000, 100}));
  SandboxState decoded = ExpectRoundTrip(s);
  ASSERT_EQ(decoded.user_namespaces.size(), 3u);
  EXPECT_EQ(decoded.user_namespaces[1].rlimit_msgqueue, UINT64_MAX);
  EXPECT_EQ(decoded.user_namespaces[1].uid_map[2], (IdMapExtent{5000, 200000, 65536}));
}

TEST(RoundTrip, UserNamespaceWithUnwrittenMaps) {
  SandboxState s = MinimalState();
  s.user_namespaces.push_back(ChildUserNamespace(0, 1000, {0, 1000, 1}));
  s.user_namespaces[1].uid_map.clear();
  s.user_namespaces[1].gid_map.clear();
  SandboxState decoded = ExpectRoundTrip(s);
  EXPECT_TRUE(decoded.user_namespaces[1].uid_map.empty());
  EXPECT_TRUE(decoded.user_namespaces[1].gid_map.empty());
}

TEST(RoundTrip, Sysctls) {
  SandboxState s = MinimalState();
  s.ipc_namespaces[0].sysctls = {INT_MIN, 65536, 128, 1, 16777216};
  s.ipc_namespaces.push_back(MakeIpcNamespace(2));
  s.ipc_namespaces[1].sysctls = {-1, 1, 16777216, 65536, 128};
  s.ipc_namespaces.push_back(MakeIpcNamespace(3));
  s.ipc_namespaces[2].sysctls = {0, 10, 8192, 10, 8192};
  SandboxState decoded = ExpectRoundTrip(s);
  EXPECT_EQ(decoded.ipc_namespaces[0].sysctls.queues_max, INT_MIN);
  EXPECT_EQ(decoded.ipc_namespaces[1].sysctls.queues_max, -1);
  EXPECT_EQ(decoded.ipc_namespaces[2].sysctls.queues_max, 0);  // proto3 default: omitted
}

TEST(RoundTrip, Message) {
  SandboxState s = MinimalState();
  state::QueueState q = MakeQueue("q", 1, 8, 300);
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  q.messages = {{32767, all_bytes}, {32767, ""},         {100, std::string(300, '\0')},
                {100, "\xff\xfe"},  {0, "last but one"}, {0, std::string(1, '\0')}};
  s.ipc_namespaces[0].queues.push_back(q);
  RecomputeAccounting(s);
  SandboxState decoded = ExpectRoundTrip(s);
  const auto& messages = decoded.ipc_namespaces[0].queues[0].messages;
  ASSERT_EQ(messages.size(), 6u);
  EXPECT_EQ(messages[0].payload, all_bytes);
  EXPECT_EQ(messages[2].payload, std::string(300, '\0'));
  EXPECT_EQ(messages[5].payload, std::string(1, '\0'));
}

state::NotificationState ExtremeNotification(int32_t notify, int32_t signo) {
  state::NotificationState n;
  n.owner_process = UINT64_MAX;
  n.owner_host_tgid = 4194304;
  n.owner_user_ns = 0;
  n.owner_exec_generation = UINT64_MAX - 1;
  n.notify = notify;
  n.signo = signo;
  n.value = 0x8000000000000001;
  n.socket = UINT64_MAX;
  for (size_t i = 0; i < n.cookie.size(); ++i) n.cookie[i] = static_cast<uint8_t>(255 - i);
  return n;
}

TEST(RoundTrip, NotificationSignal) {
  SandboxState s = MinimalState();
  state::QueueState q = MakeQueue("sig", 1, 10, 8192);
  q.notification = ExtremeNotification(0, 64);
  s.ipc_namespaces[0].queues.push_back(q);
  RecomputeAccounting(s);
  SandboxState decoded = ExpectRoundTrip(s);
  ASSERT_TRUE(decoded.ipc_namespaces[0].queues[0].notification.has_value());
  EXPECT_EQ(decoded.ipc_namespaces[0].queues[0].notification->signo, 64);
  EXPECT_EQ(decoded.ipc_namespaces[0].queues[0].notification->owner_process, UINT64_MAX);
}

TEST(RoundTrip, NotificationThread) {
  SandboxState s = MinimalState();
  state::QueueState q = MakeQueue("thread", 1, 10, 8192);
  q.notification = ExtremeNotification(2, -7);  // signo was the socket fd: not checked
  q.notification->cookie = {};                  // all-zero cookie still has 32 bytes
  q.notification->cookie[31] = 1;
  s.ipc_namespaces[0].queues.push_back(q);
  RecomputeAccounting(s);
  SandboxState decoded = ExpectRoundTrip(s);
  EXPECT_EQ(decoded.ipc_namespaces[0].queues[0].notification->cookie[31], 1);
  EXPECT_EQ(decoded.ipc_namespaces[0].queues[0].notification->signo, -7);
}

TEST(RoundTrip, NotificationNoneAndAbsent) {
  SandboxState s = MinimalState();
  state::QueueState with = MakeQueue("none", 1, 10, 8192);
  state::NotificationState n;  // all zero except what must be valid
  n.notify = 1;
  n.owner_host_tgid = 1;
  with.notification = n;
  s.ipc_namespaces[0].queues.push_back(with);
  s.ipc_namespaces[0].queues.push_back(MakeQueue("without", 2, 10, 8192));
  RecomputeAccounting(s);
  SandboxState decoded = ExpectRoundTrip(s);
  EXPECT_TRUE(decoded.ipc_namespaces[0].queues[0].notification.has_value());
  EXPECT_FALSE(decoded.ipc_namespaces[0].queues[1].notification.has_value());
}

TEST(RoundTrip, Charge) {
  SandboxState s = RichState();
  SandboxState decoded = ExpectRoundTrip(s);
  const state::ChargeState& charge = decoded.ipc_namespaces[0].queues[1].charge;
  EXPECT_EQ(charge.user_ns, 2);
  EXPECT_EQ(charge.ruid, 100500u);
  EXPECT_EQ(charge.bytes, 588u);  // spec §3.5: 3x100 costs 588
}

TEST(RoundTrip, QueueLinked) {
  SandboxState s = MinimalState();
  std::string name;
  for (int i = 0; i < 255; ++i) {
    char c = static_cast<char>(1 + (i * 7) % 255);
    name.push_back(c == '/' ? '.' : c);
  }
  state::QueueState q = MakeQueue(name, UINT64_MAX, 65536, 16777216, 0, 4294967294u);
  q.uid = 4294967294u;
  q.gid = 0;
  q.mode = 07777;
  s.ipc_namespaces[0].queues.push_back(q);
  RecomputeAccounting(s);
  SandboxState decoded = ExpectRoundTrip(s);
  const state::QueueState& got = decoded.ipc_namespaces[0].queues[0];
  ASSERT_TRUE(got.name.has_value());
  EXPECT_EQ(*got.name, name);
  EXPECT_EQ(got.mode, 07777u);
  EXPECT_EQ(got.maxmsg, 65536);
  EXPECT_EQ(got.msgsize, 16777216);
}

TEST(RoundTrip, QueueUnlinked) {
  SandboxState s = MinimalState();
  s.ipc_namespaces[0].queues.push_back(MakeQueue(std::nullopt, 0, 1, 1));
  s.ipc_namespaces[0].queues.push_back(MakeQueue(std::nullopt, 1, 1, 1));
  s.ipc_namespaces[0].queues.push_back(MakeQueue("x", 2, 1, 1));
  RecomputeAccounting(s);
  SandboxState decoded = ExpectRoundTrip(s);
  EXPECT_FALSE(decoded.ipc_namespaces[0].queues[0].name.has_value());
  EXPECT_FALSE(decoded.ipc_namespaces[0].queues[1].name.has_value());
  EXPECT_EQ(decoded.ipc_namespaces[0].queues[2].name, std::optional<std::string>("x"));
}

TEST(RoundTrip, IpcNamespace) {
  SandboxState s = MinimalState();
  s.user_namespaces.push_back(ChildUserNamespace(0, 1000, {0, 100000, 65536}));
  s.ipc_namespaces[0].id = 0;
  s.ipc_namespaces.push_back(MakeIpcNamespace(UINT64_MAX, 1));
  s.ipc_namespaces[1].root_uid = 4294967294u;
  s.ipc_namespaces[1].root_gid = 100000;
  s.ipc_namespaces[1].queues.push_back(MakeQueue("a", 5, 2, 2, 1, 100000));
  RecomputeAccounting(s);
  SandboxState decoded = ExpectRoundTrip(s);
  ASSERT_EQ(decoded.ipc_namespaces.size(), 2u);
  EXPECT_EQ(decoded.ipc_namespaces[1].id, UINT64_MAX);
  EXPECT_EQ(decoded.ipc_namespaces[1].owner_user_ns, 1);
  EXPECT_EQ(decoded.ipc_namespaces[1].root_uid, 4294967294u);
}

TEST(RoundTrip, Accounting) {
  SandboxState s = RichState();
  ASSERT_EQ(s.accounting.size(), 4u);
  std::swap(s.accounting[0], s.accounting[3]);  // any order is valid and is kept
  SandboxState decoded = ExpectRoundTrip(s);
  ASSERT_EQ(decoded.accounting.size(), 4u);
  EXPECT_EQ(decoded.accounting[0].user_ns, 2);
  EXPECT_EQ(decoded.accounting[3].user_ns, 0);
  EXPECT_EQ(decoded.accounting[3].bytes, 84685u);
}

TEST(RoundTrip, RichState) {
  SandboxState decoded = ExpectRoundTrip(RichState());
  EXPECT_EQ(decoded.ipc_namespaces[0].queues[0].messages[1].payload, std::string("sec\0nd", 6));
}

TEST(RoundTrip, NoIpcNamespaces) {
  SandboxState s = MinimalState();
  s.ipc_namespaces.clear();
  SandboxState decoded = ExpectRoundTrip(s);
  EXPECT_TRUE(decoded.ipc_namespaces.empty());
  EXPECT_TRUE(decoded.accounting.empty());
}

TEST(RoundTrip, MegabytePayload) {
  SandboxState s = MinimalState();
  state::QueueState q = MakeQueue("big", 1, 2, 1 << 20);
  std::string payload(1 << 20, 'x');
  for (size_t i = 0; i < payload.size(); i += 4093) payload[i] = static_cast<char>(i);
  q.messages = {{1, payload}, {0, payload.substr(7)}};
  s.ipc_namespaces[0].queues.push_back(q);
  RecomputeAccounting(s);
  SandboxState decoded = ExpectRoundTrip(s);
  EXPECT_EQ(decoded.ipc_namespaces[0].queues[0].messages[0].payload, payload);
}

// ---------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------

TEST(Encode, StartsWithMagicThenVersion) {
  absl::StatusOr<std::string> bytes = EncodeCheckpoint(MinimalState());
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(bytes->substr(0, 7), std::string("\x0dMQCK\x10\x01", 7));
}

TEST(Encode, IsDeterministic) {
  absl::StatusOr<std::string> a = EncodeCheckpoint(RichState());
  absl::StatusOr<std::string> b = EncodeCheckpoint(RichState());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  absl::StatusOr<SandboxState> decoded = DecodeCheckpoint(*a);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  absl::StatusOr<std::string> c = EncodeCheckpoint(*decoded);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*a, *c);
}

TEST(Encode, RefusesTheDefaultState) {
  ExpectInvalid(EncodeCheckpoint(SandboxState{}).status(),
                "user_namespaces: empty: index 0 must be the initial user namespace");
}

TEST(Encode, ChargeFormulaMatchesTheSpecMeasurements) {
  // Spec §3.5: minimum RLIMIT_MSGQUEUE for one queue of maxmsg x msgsize.
  EXPECT_EQ(QueueChargeBytes(1, 1), 97u);
  EXPECT_EQ(QueueChargeBytes(1, 128), 224u);
  EXPECT_EQ(QueueChargeBytes(3, 100), 588u);
  EXPECT_EQ(QueueChargeBytes(10, 8192), 82880u);
  // The min(maxmsg, 32768) cap on the tree-node term.
  EXPECT_EQ(QueueChargeBytes(65536, 16777216), 65536ull * 48 + 32768ull * 48 + 65536ull * 16777216);
  EXPECT_EQ(QueueChargeBytes(32769, 1), ExpectedCharge(32769, 1));
  EXPECT_EQ(QueueChargeBytes(32769, 1), 32769ull * 48 + 32768ull * 48 + 32769);
}

// ---------------------------------------------------------------------------------------
// Validation: every rule, with its exact message
// ---------------------------------------------------------------------------------------

struct RejectCase {
  std::string name;
  std::function<void(SandboxState&)> mutate;
  std::string message;
  // Set when only the path prefix is ours (the rest comes from kernel::IdMap/UserNamespace).
  bool prefix_only = false;
  // Set when DecodeCheckpoint reports it differently (the version lives in the header).
  std::optional<std::string> decode_message;
};

void PrintTo(const RejectCase& c, std::ostream* os) { *os << c.name; }

std::vector<RejectCase> RejectCases() {
  using S = SandboxState;
  auto queue = [](S& s, size_t n, size_t i) -> state::QueueState& {
    return s.ipc_namespaces[n].queues[i];
  };
  const std::string q00 = "ipc_namespaces[0].queues[0]";
  const std::string hard_msgmax = " is outside 1..65536 (HARD_MSGMAX)";
  const std::string hard_msgsize = " is outside 1..16777216 (HARD_MSGSIZEMAX)";
  const std::string bad_parent = " is not the index of an earlier namespace ";
  const std::string not_index = " is not a user namespace index (0..2)";
  const std::string bad_notify = " is not SIGEV_SIGNAL (0), SIGEV_NONE (1) or SIGEV_THREAD (2)";
  const std::string order = ": messages must be in receive order (priority non-increasing)";
  std::vector<RejectCase> c = {
      // Version.
      {"VersionTwo", [](S& s) { s.version = 2; },
       "version: 2 is not supported (this build reads 1)", false,
       "format_version: 2 is not supported (this build reads 1)"},
      {"VersionZero", [](S& s) { s.version = 0; },
       "version: 0 is not supported (this build reads 1)", false,
       "format_version: 0 is not supported (this build reads 1)"},
      // User namespaces.
      {"NoUserNamespaces", [](S& s) { s.user_namespaces.clear(); },
       "user_namespaces: empty: index 0 must be the initial user namespace"},
      {"TooManyUserNamespaces",
       [](S& s) {
         s.user_namespaces.resize(65537, ChildUserNamespace(0, 1000, {0, 100000, 65536}));
       },
       "user_namespaces: 65537 namespaces > limit 65536"},
      {"InitialHasParent", [](S& s) { s.user_namespaces[0].parent = 0; },
       "user_namespaces[0]: parent 0, want -1: index 0 is the initial user namespace"},
      {"InitialUidMapNotIdentity",
       [](S& s) {
         s.user_namespaces[0].uid_map = {{0, 0, 1000}};
       },
       "user_namespaces[0]: uid_map of the initial user namespace must be exactly "
       "{0, 0, 4294967295}"},
      {"InitialUidMapSplit",
       [](S& s) {
         s.user_namespaces[0].uid_map = {{0, 0, 1000}, {1000, 1000, 4294966295u}};
       },
       "user_namespaces[0]: uid_map of the initial user namespace must be exactly "
       "{0, 0, 4294967295}"},
      {"InitialGidMapEmpty", [](S& s) { s.user_namespaces[0].gid_map.clear(); },
       "user_namespaces[0]: gid_map of the initial user namespace must be exactly "
       "{0, 0, 4294967295}"},
      {"InitialOwnerNotRoot", [](S& s) { s.user_namespaces[0].owner_uid = 5; },
       "user_namespaces[0]: owner 5:0, want 0:0 (the initial user namespace)"},
      {"InitialGroupNotRoot", [](S& s) { s.user_namespaces[0].owner_gid = 7; },
       "user_namespaces[0]: owner 0:7, want 0:0 (the initial user namespace)"},
      {"InitialRlimit", [](S& s) { s.user_namespaces[0].rlimit_msgqueue = 0; },
       "user_namespaces[0]: rlimit_msgqueue 0, want 819200 (the initial user namespace)"},
      {"ChildWithoutParent", [](S& s) { s.user_namespaces[1].parent = -1; },
       "user_namespaces[1]: parent -1" + bad_parent + "(0..0)"},
      {"ChildIsItsOwnParent", [](S& s) { s.user_namespaces[2].parent = 2; },
       "user_namespaces[2]: parent 2" + bad_parent + "(0..1)"},
      {"ParentAfterChild", [](S& s) { s.user_namespaces[1].parent = 2; },
       "user_namespaces[1]: parent 2" + bad_parent + "(0..0)"},
      {"ParentIntMax", [](S& s) { s.user_namespaces[2].parent = INT_MAX; },
       "user_namespaces[2]: parent 2147483647" + bad_parent + "(0..1)"},
      {"ParentIntMin", [](S& s) { s.user_namespaces[2].parent = INT_MIN; },
       "user_namespaces[2]: parent -2147483648" + bad_parent + "(0..1)"},
      {"NestingTooDeep",
       [](S& s) {
         // RichState's [2] has level 2; [3..33] extend the chain to level 33, [34] is one more.
         for (int32_t i = 3; i <= 34; ++i) {
           s.user_namespaces.push_back(ChildUserNamespace(i - 1, 100000, {0, 100000, 1000}));
         }
       },
       "user_namespaces[34]: nesting level 34 > 33"},
      {"UidMapExtentOfCountZero",
       [](S& s) {
         s.user_namespaces[1].uid_map = {{0, 100000, 0}};
       },
       "user_namespaces[1].uid_map: ", true},
      {"UidMapOverlapInside",
       [](S& s) {
         s.user_namespaces[1].uid_map = {{0, 100000, 10}, {5, 100020, 10}};
       },
       "user_namespaces[1].uid_map: ", true},
      {"GidMapOverlapOutside",
       [](S& s) {
         s.user_namespaces[1].gid_map = {{0, 100000, 10}, {20, 100005, 10}};
       },
       "user_namespaces[1].gid_map: ", true},
      {"UidMapTooManyExtents",
       [](S& s) {
         s.user_namespaces[1].uid_map.clear();
         for (uint32_t i = 0; i < 341; ++i) {
           s.user_namespaces[1].uid_map.push_back({i, 100000 + i, 1});
         }
       },
       "user_namespaces[1].uid_map: 341 extents > 340"},
      {"GidMapFarTooManyExtents",
       [](S& s) {
         s.user_namespaces[2].gid_map.resize(1000000, IdMapExtent{0, 100000, 1});
       },
       "user_namespaces[2].gid_map: 1000000 extents > 340"},
      {"UidMapOverflows32Bits",
       [](S& s) {
         s.user_namespaces[1].uid_map = {{4294967290u, 100000, 10}};
       },
       "user_namespaces[1].uid_map: ", true},
      {"GidMapLowerOverflows32Bits",
       [](S& s) {
         s.user_namespaces[1].gid_map = {{0, 4294967290u, 10}};
       },
       "user_namespaces[1].gid_map: ", true},
      {"ChildUidMapOutsideParent",
       [](S& s) {
         s.user_namespaces[2].uid_map = {{0, 200000, 10}};
       },
       "user_namespaces[2]: ", true},
      {"ChildGidMapStraddlesParentEnd",
       [](S& s) {
         s.user_namespaces[2].gid_map = {{0, 165530, 10}};
       },
       "user_namespaces[2]: ", true},
      {"OwnerUidUnmappedInParent", [](S& s) { s.user_namespaces[2].owner_uid = 5; },
       "user_namespaces[2]: owner_uid 5 is not mapped in the parent user_namespaces[1]"},
      {"OwnerGidUnmappedInParent", [](S& s) { s.user_namespaces[2].owner_gid = 200000; },
       "user_namespaces[2]: owner_gid 200000 is not mapped in the parent user_namespaces[1]"},
      {"OwnerUidIsNoId", [](S& s) { s.user_namespaces[1].owner_uid = kNoId; },
       "user_namespaces[1]: owner_uid 4294967295 is not mapped in the parent "
       "user_namespaces[0]"},
      {"ChildOfNamespaceWithoutMaps",
       [](S& s) {
         s.user_namespaces.push_back(ChildUserNamespace(0, 1000, {0, 1000, 1}));
         s.user_namespaces[3].uid_map.clear();
         s.user_namespaces.push_back(ChildUserNamespace(3, 1000, {0, 1000, 1}));
       },
       "user_namespaces[4]: owner_uid 1000 is not mapped in the parent user_namespaces[3]"},
      // IPC namespaces.
      {"TooManyIpcNamespaces", [](S& s) { s.ipc_namespaces.resize(65537, MakeIpcNamespace(3)); },
       "ipc_namespaces: 65537 namespaces > limit 65536"},
      {"DuplicateIpcNamespaceId", [](S& s) { s.ipc_namespaces[1].id = 1; },
       "ipc_namespaces[1]: id 1 duplicates ipc_namespaces[0]"},
      {"IpcOwnerNegative", [](S& s) { s.ipc_namespaces[0].owner_user_ns = -1; },
       "ipc_namespaces[0]: owner_user_ns -1" + not_index},
      {"IpcOwnerPastTheEnd", [](S& s) { s.ipc_namespaces[1].owner_user_ns = 3; },
       "ipc_namespaces[1]: owner_user_ns 3" + not_index},
      {"RootUidIsNoId", [](S& s) { s.ipc_namespaces[1].root_uid = kNoId; },
       "ipc_namespaces[1]: root_uid 4294967295 is not a valid kernel id"},
      {"RootGidIsNoId", [](S& s) { s.ipc_namespaces[1].root_gid = kNoId; },
       "ipc_namespaces[1]: root_gid 4294967295 is not a valid kernel id"},
      // Sysctls (spec §9.2).
      {"MsgMaxZero", [](S& s) { s.ipc_namespaces[0].sysctls.msg_max = 0; },
       "ipc_namespaces[0].sysctls: msg_max 0 is outside 1..65536"},
      {"MsgMaxNegative", [](S& s) { s.ipc_namespaces[0].sysctls.msg_max = -1; },
       "ipc_namespaces[0].sysctls: msg_max -1 is outside 1..65536"},
      {"MsgMaxAboveHard", [](S& s) { s.ipc_namespaces[0].sysctls.msg_max = 65537; },
       "ipc_namespaces[0].sysctls: msg_max 65537 is outside 1..65536"},
      {"MsgsizeMaxBelow128", [](S& s) { s.ipc_namespaces[0].sysctls.msgsize_max = 127; },
       "ipc_namespaces[0].sysctls: msgsize_max 127 is outside 128..16777216"},
      {"MsgsizeMaxAboveHard", [](S& s) { s.ipc_namespaces[1].sysctls.msgsize_max = 16777217; },
       "ipc_namespaces[1].sysctls: msgsize_max 16777217 is outside 128..16777216"},
      {"MsgDefaultZero", [](S& s) { s.ipc_namespaces[0].sysctls.msg_default = 0; },
       "ipc_namespaces[0].sysctls: msg_default 0 is outside 1..65536"},
      {"MsgDefaultAboveHard", [](S& s) { s.ipc_namespaces[0].sysctls.msg_default = INT_MAX; },
       "ipc_namespaces[0].sysctls: msg_default 2147483647 is outside 1..65536"},
      {"MsgsizeDefaultBelow128",
       [](S& s) { s.ipc_namespaces[0].sysctls.msgsize_default = INT_MIN; },
       "ipc_namespaces[0].sysctls: msgsize_default -2147483648 is outside 128..16777216"},
      {"MsgsizeDefaultAboveHard",
       [](S& s) { s.ipc_namespaces[0].sysctls.msgsize_default = 16777217; },
       "ipc_namespaces[0].sysctls: msgsize_default 16777217 is outside 128..16777216"},
      // Queue identity and names (spec §3.2).
      {"DuplicateQueueIdInNamespace", [queue](S& s) { queue(s, 0, 2).id = 10; },
       "ipc_namespaces[0].queues[2]: id 10 duplicates ipc_namespaces[0].queues[0]"},
      {"DuplicateQueueIdAcrossNamespaces", [queue](S& s) { queue(s, 1, 0).id = 11; },
       "ipc_namespaces[1].queues[0]: id 11 duplicates ipc_namespaces[0].queues[1]"},
      {"EmptyName", [queue](S& s) { queue(s, 0, 0).name = ""; }, q00 + ": name is empty"},
      {"NameOf256Bytes", [queue](S& s) { queue(s, 0, 0).name = std::string(256, 'n'); },
       q00 + ": name is 256 bytes > NAME_MAX 255"},
      {"NameWithSlash", [queue](S& s) { queue(s, 0, 0).name = "a/b"; },
       q00 + ": name contains '/'"},
      {"NameIsSlash", [queue](S& s) { queue(s, 0, 0).name = "/"; }, q00 + ": name contains '/'"},
      {"NameWithNul", [queue](S& s) { queue(s, 0, 0).name = std::string("a\0b", 3); },
       q00 + ": name contains a NUL byte"},
      {"NameDot", [queue](S& s) { queue(s, 0, 0).name = "."; },
       q00 + ": name \".\" is reserved (a directory entry)"},
      {"NameDotDot", [queue](S& s) { queue(s, 0, 0).name = ".."; },
       q00 + ": name \"..\" is reserved (a directory entry)"},
      {"DuplicateName", [queue](S& s) { queue(s, 0, 2).name = "alpha"; },
       "ipc_namespaces[0].queues[2]: name \"alpha\" duplicates ipc_namespaces[0].queues[0]"},
      {"DuplicateBinaryName",
       [queue](S& s) {
         queue(s, 0, 0).name = "\xff\x01";
         queue(s, 0, 2).name = "\xff\x01";
       },
       "ipc_namespaces[0].queues[2]: name \"\\xff\\x01\" duplicates ipc_namespaces[0].queues[0]"},
      // Owner and mode.
      {"QueueUidIsNoId", [queue](S& s) { queue(s, 0, 0).uid = kNoId; },
       q00 + ": uid 4294967295 is not a valid kernel id"},
      {"QueueGidIsNoId", [queue](S& s) { queue(s, 0, 0).gid = kNoId; },
       q00 + ": gid 4294967295 is not a valid kernel id"},
      {"ModeWithFileType", [queue](S& s) { queue(s, 0, 0).mode = 0100600; },
       q00 + ": mode 0100600 has bits outside 07777"},
      {"ModeBit12", [queue](S& s) { queue(s, 0, 0).mode = 010000; },
       q00 + ": mode 010000 has bits outside 07777"},
      {"ModeAllBits", [queue](S& s) { queue(s, 0, 0).mode = 0xffffffff; },
       q00 + ": mode 037777777777 has bits outside 07777"},
      // Attributes (spec §3.4): the hard limits, not the sysctls.
      {"MaxmsgZero", [queue](S& s) { queue(s, 0, 0).maxmsg = 0; },
       q00 + ": maxmsg 0" + hard_msgmax},
      {"MaxmsgNegative", [queue](S& s) { queue(s, 0, 0).maxmsg = -1; },
       q00 + ": maxmsg -1" + hard_msgmax},
      {"MaxmsgAboveHard", [queue](S& s) { queue(s, 0, 0).maxmsg = 65537; },
       q00 + ": maxmsg 65537" + hard_msgmax},
      {"Maxmsg2Pow32Plus1", [queue](S& s) { queue(s, 0, 0).maxmsg = 4294967297; },
       q00 + ": maxmsg 4294967297" + hard_msgmax},
      {"MaxmsgInt64Max", [queue](S& s) { queue(s, 0, 0).maxmsg = INT64_MAX; },
       q00 + ": maxmsg 9223372036854775807" + hard_msgmax},
      {"MaxmsgInt64Min", [queue](S& s) { queue(s, 0, 0).maxmsg = INT64_MIN; },
       q00 + ": maxmsg -9223372036854775808" + hard_msgmax},
      {"MsgsizeZero", [queue](S& s) { queue(s, 0, 0).msgsize = 0; },
       q00 + ": msgsize 0" + hard_msgsize},
      {"MsgsizeAboveHard", [queue](S& s) { queue(s, 0, 0).msgsize = 16777217; },
       q00 + ": msgsize 16777217" + hard_msgsize},
      {"MsgsizeInt64Max", [queue](S& s) { queue(s, 0, 0).msgsize = INT64_MAX; },
       q00 + ": msgsize 9223372036854775807" + hard_msgsize},
      // Messages.
      {"MoreMessagesThanMaxmsg", [queue](S& s) { queue(s, 0, 0).maxmsg = 2; },
       q00 + ".messages: 3 messages > maxmsg 2"},
      {"PayloadLongerThanMsgsize",
       [queue](S& s) { queue(s, 0, 1).messages[0].payload = std::string(101, 'x'); },
       "ipc_namespaces[0].queues[1].messages[0]: payload is 101 bytes > msgsize 100"},
      {"PriorityIsMqPrioMax", [queue](S& s) { queue(s, 0, 0).messages[2].priority = 32768; },
       q00 + ".messages[2]: priority 32768 >= MQ_PRIO_MAX 32768"},
      {"Priority40000", [queue](S& s) { queue(s, 0, 0).messages[0].priority = 40000; },
       q00 + ".messages[0]: priority 40000 >= MQ_PRIO_MAX 32768"},
      {"PriorityUint32Max", [queue](S& s) { queue(s, 0, 0).messages[1].priority = UINT32_MAX; },
       q00 + ".messages[1]: priority 4294967295 >= MQ_PRIO_MAX 32768"},
      {"MessagesOutOfOrder", [queue](S& s) { queue(s, 0, 0).messages[2].priority = 6; },
       q00 + ".messages[2]: priority 6 after priority 5" + order},
      {"MessagesAscending",
       [queue](S& s) {
         queue(s, 0, 0).messages[0].priority = 0;
         queue(s, 0, 0).messages[1].priority = 1;
       },
       q00 + ".messages[1]: priority 1 after priority 0" + order},
      // Notification (spec §6.1).
      {"NotifyThreadId", [queue](S& s) { queue(s, 0, 0).notification->notify = 4; },
       q00 + ".notification: notify 4" + bad_notify},
      {"NotifyThree", [queue](S& s) { queue(s, 0, 2).notification->notify = 3; },
       "ipc_namespaces[0].queues[2].notification: notify 3" + bad_notify},
      {"NotifyNegative", [queue](S& s) { queue(s, 0, 0).notification->notify = -1; },
       q00 + ".notification: notify -1" + bad_notify},
      {"SignalSigno65", [queue](S& s) { queue(s, 0, 0).notification->signo = 65; },
       q00 + ".notification: signo 65 is outside 0..64 for SIGEV_SIGNAL"},
      {"SignalSignoNegative", [queue](S& s) { queue(s, 0, 0).notification->signo = -1; },
       q00 + ".notification: signo -1 is outside 0..64 for SIGEV_SIGNAL"},
      {"NotificationOwnerUserNsPastEnd",
       [queue](S& s) { queue(s, 0, 0).notification->owner_user_ns = 3; },
       q00 + ".notification: owner_user_ns 3" + not_index},
      {"NotificationOwnerUserNsNegative",
       [queue](S& s) { queue(s, 1, 0).notification->owner_user_ns = INT_MIN; },
       "ipc_namespaces[1].queues[0].notification: owner_user_ns -2147483648" + not_index},
      {"OwnerTgidZero", [queue](S& s) { queue(s, 0, 0).notification->owner_host_tgid = 0; },
       q00 + ".notification: owner_host_tgid 0 is outside 1..4194304"},
      {"OwnerTgidNegative", [queue](S& s) { queue(s, 0, 0).notification->owner_host_tgid = -5; },
       q00 + ".notification: owner_host_tgid -5 is outside 1..4194304"},
      {"OwnerTgidAbovePidMaxLimit",
       [queue](S& s) { queue(s, 0, 0).notification->owner_host_tgid = 4194305; },
       q00 + ".notification: owner_host_tgid 4194305 is outside 1..4194304"},
      // Charge (spec §3.5).
      {"ChargeUserNsNegative", [queue](S& s) { queue(s, 0, 0).charge.user_ns = -1; },
       q00 + ".charge: user_ns -1" + not_index},
      {"ChargeUserNsPastEnd", [queue](S& s) { queue(s, 0, 0).charge.user_ns = 3; },
       q00 + ".charge: user_ns 3" + not_index},
      {"ChargeRuidIsNoId", [queue](S& s) { queue(s, 0, 0).charge.ruid = kNoId; },
       q00 + ".charge: ruid 4294967295 is not a valid kernel id"},
      {"ChargeBytesOffByOne", [queue](S& s) { queue(s, 0, 0).charge.bytes = 82881; },
       q00 + ".charge: bytes 82881, want 82880 (maxmsg*48 + min(maxmsg, 32768)*48 + "
             "maxmsg*msgsize for maxmsg 10, msgsize 8192)"},
      {"ChargeBytesZero", [queue](S& s) { queue(s, 0, 1).charge.bytes = 0; },
       "ipc_namespaces[0].queues[1].charge: bytes 0, want 588 (maxmsg*48 + min(maxmsg, "
       "32768)*48 + maxmsg*msgsize for maxmsg 3, msgsize 100)"},
      {"ChargeNotUpdatedForNewMaxmsg", [queue](S& s) { queue(s, 0, 0).maxmsg = 20; },
       q00 + ".charge: bytes 82880, want 165760 (maxmsg*48 + min(maxmsg, 32768)*48 + "
             "maxmsg*msgsize for maxmsg 20, msgsize 8192)"},
      {"ChargeIgnoresThe32768Cap",
       [queue](S& s) {
         queue(s, 0, 2).maxmsg = 65536;
         queue(s, 0, 2).charge.bytes = 65536 * 48 * 2 + 65536;
       },
       "ipc_namespaces[0].queues[2].charge: bytes 6356992, want 4784128 (maxmsg*48 + "
       "min(maxmsg, 32768)*48 + maxmsg*msgsize for maxmsg 65536, msgsize 1)"},
      // Accounting.
      {"AccountingMissingAncestorEntry", [](S& s) { s.accounting.erase(s.accounting.begin() + 1); },
       "accounting: no entry for (user_ns 1, uid 100000), which the queue charges bring to "
       "588 bytes"},
      {"AccountingMissingRootEntry", [](S& s) { s.accounting.erase(s.accounting.begin()); },
       "accounting: no entry for (user_ns 0, uid 1000), which the queue charges bring to "
       "84685 bytes"},
      {"AccountingEmpty", [](S& s) { s.accounting.clear(); },
       "accounting: no entry for (user_ns 0, uid 1000), which the queue charges bring to "
       "84685 bytes"},
      {"AccountingExtraEntry",
       [](S& s) {
         s.accounting.push_back({0, 5, 100});
       },
       "accounting[4]: (user_ns 0, uid 5) has 100 bytes but no queue's charge reaches it"},
      {"AccountingWrongBytes", [](S& s) { s.accounting[0].bytes = 84684; },
       "accounting[0]: (user_ns 0, uid 1000) has 84684 bytes, want 84685 (the sum of the "
       "queue charges that reach it)"},
      {"AccountingWithoutAncestors",
       [](S& s) {
         s.accounting = {{0, 1000, 82880 + 97}, {1, 100001, 1120}, {2, 100500, 588}};
       },
       "accounting[0]: (user_ns 0, uid 1000) has 82977 bytes, want 84685 (the sum of the "
       "queue charges that reach it)"},
      {"AccountingDuplicate", [](S& s) { s.accounting.push_back(s.accounting[2]); },
       "accounting[4]: (user_ns 1, uid 100001) duplicates accounting[2]"},
      {"AccountingZeroEntry",
       [](S& s) {
         s.accounting.push_back({0, 5, 0});
       },
       "accounting[4]: (user_ns 0, uid 5) has 0 bytes: counters at zero are not recorded"},
      {"AccountingUserNsPastEnd", [](S& s) { s.accounting[1].user_ns = 3; },
       "accounting[1]: user_ns 3" + not_index},
      {"AccountingUserNsNegative", [](S& s) { s.accounting[1].user_ns = -1; },
       "accounting[1]: user_ns -1" + not_index},
      {"AccountingLeftAfterQueuesAreGone",
       [](S& s) {
         for (auto& ipc : s.ipc_namespaces) ipc.queues.clear();
       },
       "accounting[0]: (user_ns 0, uid 1000) has 84685 bytes but no queue's charge reaches it"},
  };
  return c;
}

class RejectTest : public ::testing::TestWithParam<RejectCase> {};

void ExpectRejected(const absl::Status& status, const std::string& message, bool prefix_only) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  if (prefix_only) {
    EXPECT_TRUE(absl::StartsWith(status.message(), message)) << status;
    EXPECT_GT(status.message().size(), message.size()) << status;
  } else {
    EXPECT_EQ(status.message(), message);
  }
}

TEST_P(RejectTest, ValidateEncodeAndDecodeAllRefuse) {
  const RejectCase& c = GetParam();
  SandboxState s = RichState();
  ASSERT_TRUE(ValidateSandboxState(s).ok());
  c.mutate(s);
  ExpectRejected(ValidateSandboxState(s), c.message, c.prefix_only);
  ExpectRejected(EncodeCheckpoint(s).status(), c.message, c.prefix_only);
  // A writer that skipped validation: the decoder must catch it the same way.
  ExpectRejected(DecodeCheckpoint(SealUnchecked(s)).status(), c.decode_message.value_or(c.message),
                 c.prefix_only);
}

INSTANTIATE_TEST_SUITE_P(AllRules, RejectTest, ::testing::ValuesIn(RejectCases()),
                         [](const ::testing::TestParamInfo<RejectCase>& info) {
                           return info.param.name;
                         });

// The sandbox-wide queue bound: checked before any per-queue work (a default QueueState
// is invalid, so any other check would report queues[0] instead).
TEST(ValidateLimits, TotalQueueCountIsBounded) {
  SandboxState s = MinimalState();
  s.ipc_namespaces.push_back(MakeIpcNamespace(2));
  s.ipc_namespaces[0].queues.resize(kMaxQueues / 2);
  s.ipc_namespaces[1].queues.resize(kMaxQueues / 2);
  ExpectInvalid(ValidateSandboxState(s),
                "ipc_namespaces[0].queues[0]: maxmsg 0 is outside 1..65536 (HARD_MSGMAX)");
  s.ipc_namespaces[1].queues.emplace_back();
  ExpectInvalid(ValidateSandboxState(s), "ipc_namespaces: more than 1048576 queues in total");
}

// ---------------------------------------------------------------------------------------
// Validation: edges that Linux allows and that must therefore be accepted
// ---------------------------------------------------------------------------------------

struct AcceptCase {
  std::string name;
  std::function<void(SandboxState&)> mutate;  // accounting is recomputed afterwards
};

void PrintTo(const AcceptCase& c, std::ostream* os) { *os << c.name; }

std::vector<AcceptCase> AcceptCases() {
  using S = SandboxState;
  auto queue = [](S& s, size_t n, size_t i) -> state::QueueState& {
    return s.ipc_namespaces[n].queues[i];
  };
  auto recharge = [](state::QueueState& q) {
    q.charge.bytes = ExpectedCharge(q.maxmsg, q.msgsize);
  };
  return {
      {"QueuesMaxUnlimited", [](S& s) { s.ipc_namespaces[0].sysctls.queues_max = -1; }},
      {"QueuesMaxIntMin", [](S& s) { s.ipc_namespaces[0].sysctls.queues_max = INT_MIN; }},
      {"MoreQueuesThanQueuesMax", [](S& s) { s.ipc_namespaces[0].sysctls.queues_max = 1; }},
      {"QueuesMaxZeroWithQueues", [](S& s) { s.ipc_namespaces[0].sysctls.queues_max = 0; }},
      {"SysctlLowerBounds",
       [](S& s) {
         s.ipc_namespaces[0].sysctls = {0, 1, 128, 1, 128};
       }},
      {"SysctlUpperBounds",
       [](S& s) {
         s.ipc_namespaces[0].sysctls = {INT_MAX, 65536, 16777216, 65536, 16777216};
       }},
      {"AttributesAboveTheSysctls",  // a CAP_SYS_RESOURCE creator, or sysctls lowered later
       [queue, recharge](S& s) {
         s.ipc_namespaces[0].sysctls = {256, 1, 128, 1, 128};
         queue(s, 0, 0).maxmsg = 65536;
         queue(s, 0, 0).msgsize = 16777216;
         recharge(queue(s, 0, 0));
       }},
      {"Maxmsg32769UsesTheCap",
       [queue, recharge](S& s) {
         queue(s, 0, 2).maxmsg = 32769;
         recharge(queue(s, 0, 2));
       }},
      {"FullQueue",
       [queue](S& s) {
         queue(s, 0, 1).messages = {{3, "a"}, {2, "b"}, {2, "c"}};
       }},
      {"PayloadOfExactlyMsgsize",
       [queue](S& s) { queue(s, 0, 1).messages[0].payload = std::string(100, 'x'); }},
      {"HighestPriority", [queue](S& s) { queue(s, 0, 0).messages[0].priority = 32767; }},
      {"EqualPriorities",
       [queue](S& s) {
         for (auto& m : queue(s, 0, 0).messages) m.priority = 9;
       }},
      {"NameOf255Bytes", [queue](S& s) { queue(s, 0, 0).name = std::string(255, 'n'); }},
      {"NameOfHighBytes", [queue](S& s) { queue(s, 0, 0).name = "\x80\xff\x01\x7f"; }},
      {"NameOfThreeDots", [queue](S& s) { queue(s, 0, 0).name = "..."; }},
      {"NameStartingWithDot", [queue](S& s) { queue(s, 0, 0).name = ".hidden"; }},
      {"TwoUnlinkedQueues", [queue](S& s) { queue(s, 0, 0).name.reset(); }},
      {"ManyUnlinkedQueues",
       [](S& s) {
         for (uint64_t id = 13; id < 16; ++id) {
           s.ipc_namespaces[0].queues.push_back(MakeQueue(std::nullopt, id, 1, 1));
         }
       }},
      {"QueueIdsZeroAndMax",
       [queue](S& s) {
         queue(s, 0, 0).id = 0;
         queue(s, 1, 0).id = UINT64_MAX;
       }},
      {"Mode07777", [queue](S& s) { queue(s, 0, 0).mode = 07777; }},
      {"ModeZero", [queue](S& s) { queue(s, 0, 0).mode = 0; }},
      {"SignoZero", [queue](S& s) { queue(s, 0, 0).notification->signo = 0; }},
      {"Signo64", [queue](S& s) { queue(s, 0, 0).notification->signo = 64; }},
      {"ThreadSignoIsIgnored", [queue](S& s) { queue(s, 0, 2).notification->signo = -1; }},
      {"NoneSignoIsIgnored", [queue](S& s) { queue(s, 1, 0).notification->signo = 99; }},
      {"TgidAtPidMaxLimit",
       [queue](S& s) { queue(s, 0, 0).notification->owner_host_tgid = 4194304; }},
      {"ChargeToUnmappedRuid", [queue](S& s) { queue(s, 0, 1).charge.ruid = 5; }},
      {"NestingAtLevel33",
       [](S& s) {
         for (int32_t i = 3; i <= 33; ++i) {
           s.user_namespaces.push_back(ChildUserNamespace(i - 1, 100000, {0, 100000, 1000}));
         }
         s.ipc_namespaces[0].queues[1].charge.user_ns = 33;  // charges 33 ancestors
       }},
      {"MapOf340Extents",
       [](S& s) {
         s.user_namespaces[1].uid_map.clear();
         for (uint32_t i = 0; i < 340; ++i) {
           s.user_namespaces[1].uid_map.push_back({i * 3, 100000 + i * 3, 3});
         }
       }},
      {"RlimitExtremes",
       [](S& s) {
         s.user_namespaces[1].rlimit_msgqueue = UINT64_MAX;
         s.user_namespaces[2].rlimit_msgqueue = 0;
       }},
      {"NoIpcNamespaces", [](S& s) { s.ipc_namespaces.clear(); }},
      {"NoQueues",
       [](S& s) {
         for (auto& ipc : s.ipc_namespaces) ipc.queues.clear();
       }},
      {"IpcNamespaceIdsZeroAndMax",
       [](S& s) {
         s.ipc_namespaces[0].id = 0;
         s.ipc_namespaces[1].id = UINT64_MAX;
       }},
  };
}

class AcceptTest : public ::testing::TestWithParam<AcceptCase> {};

TEST_P(AcceptTest, ValidAndRoundTrips) {
  SandboxState s = RichState();
  GetParam().mutate(s);
  RecomputeAccounting(s);
  EXPECT_TRUE(ValidateSandboxState(s).ok()) << ValidateSandboxState(s);
  ExpectRoundTrip(s);
}

INSTANTIATE_TEST_SUITE_P(LinuxEdges, AcceptTest, ::testing::ValuesIn(AcceptCases()),
                         [](const ::testing::TestParamInfo<AcceptCase>& info) {
                           return info.param.name;
                         });

// ---------------------------------------------------------------------------------------
// Decoding files that are not checkpoints of this version
// ---------------------------------------------------------------------------------------

TEST(Decode, EmptyInput) {
  ExpectInvalid(DecodeCheckpoint("").status(), "checkpoint: empty input");
}

TEST(Decode, GarbageBytes) {
  ExpectInvalid(DecodeCheckpoint("\xff\xff\xff\xff").status(),
                "checkpoint: 4 bytes that do not parse as a checkpoint (damaged, or not a "
                "checkpoint)");
}

TEST(Decode, PngHeader) {
  ExpectInvalid(DecodeCheckpoint("\x89PNG\r\n\x1a\n").status(),
                "checkpoint: 8 bytes that do not parse as a checkpoint (damaged, or not a "
                "checkpoint)");
}

TEST(Decode, TruncatedFile) {
  absl::StatusOr<std::string> bytes = EncodeCheckpoint(RichState());
  ASSERT_TRUE(bytes.ok());
  const std::string cut = bytes->substr(0, bytes->size() - 1);
  ExpectInvalid(DecodeCheckpoint(cut).status(),
                absl::StrCat("checkpoint: ", cut.size(),
                             " bytes that do not parse as a checkpoint (damaged, or not a "
                             "checkpoint)"));
}

TEST(Decode, LengthBeyondTheInput) {
  // Field 3 (user_namespaces), length 2^31-1, then nothing.
  ExpectInvalid(DecodeCheckpoint(std::string("\x1a\xff\xff\xff\xff\x07", 6)).status(),
                "checkpoint: 6 bytes that do not parse as a checkpoint (damaged, or not a "
                "checkpoint)");
}

TEST(Decode, DeeplyNestedGroupsDoNotOverflowTheStack) {
  // 100000 nested start-group tags of unknown field 15: protobuf's recursion limit stops it.
  const std::string nested(100000, '\x7b');
  ExpectInvalid(DecodeCheckpoint(nested).status(),
                "checkpoint: 100000 bytes that do not parse as a checkpoint (damaged, or not "
                "a checkpoint)");
}

TEST(Decode, MissingMagic) {
  pb::Checkpoint proto = ToProto(MinimalState());
  proto.clear_magic();
  ExpectInvalid(DecodeCheckpoint(Serialize(proto)).status(),
                "magic: 0x00000000 is not the checkpoint magic 0x4b43514d: not an mqsentry "
                "checkpoint");
}

TEST(Decode, WrongMagic) {
  pb::Checkpoint proto = ToProto(MinimalState());
  proto.set_magic(0xdeadbeef);
  ExpectInvalid(DecodeCheckpoint(Serialize(proto)).status(),
                "magic: 0xdeadbeef is not the checkpoint magic 0x4b43514d: not an mqsentry "
                "checkpoint");
}

TEST(Decode, OtherProtobufMessage) {
  // Field 1 as a varint: parses, but the magic (a fixed32) is then absent.
  ExpectInvalid(DecodeCheckpoint(std::string("\x08\x01\x12\x03"
                                             "abc",
                                             7))
                    .status(),
                "magic: 0x00000000 is not the checkpoint magic 0x4b43514d: not an mqsentry "
                "checkpoint");
}

TEST(Decode, UnknownVersion) {
  pb::Checkpoint proto = ToProto(RichState());
  proto.set_format_version(2);
  ExpectInvalid(DecodeCheckpoint(Serialize(proto)).status(),
                "format_version: 2 is not supported (this build reads 1)");
}

TEST(Decode, VersionCheckedBeforeTheContents) {
  pb::Checkpoint proto;
  proto.set_magic(kMagic);
  proto.set_format_version(4000000000u);
  proto.add_user_namespaces()->set_parent(77);  // would be invalid in version 1
  ExpectInvalid(DecodeCheckpoint(Serialize(proto)).status(),
                "format_version: 4000000000 is not supported (this build reads 1)");
}

TEST(Decode, MissingVersion) {
  pb::Checkpoint proto = ToProto(RichState());
  proto.clear_format_version();
  ExpectInvalid(DecodeCheckpoint(Serialize(proto)).status(),
                "format_version: 0 is not supported (this build reads 1)");
}

TEST(Decode, UnknownTopLevelField) {
  pb::Checkpoint proto = ToProto(MinimalState());
  proto.GetReflection()->MutableUnknownFields(&proto)->AddVarint(100, 1);
  ExpectInvalid(DecodeCheckpoint(Seal(proto)).status(),
                "checkpoint: unknown field number 100 (written by a newer schema?)");
}

TEST(Decode, UnknownFieldInAQueue) {
  pb::Checkpoint proto = ToProto(RichState());
  pb::Queue* q = proto.mutable_ipc_namespaces(0)->mutable_queues(1);
  q->GetReflection()->MutableUnknownFields(q)->AddVarint(50, 1);
  ExpectInvalid(DecodeCheckpoint(Seal(proto)).status(),
                "ipc_namespaces[0].queues[1]: unknown field number 50 (written by a newer "
                "schema?)");
}

TEST(Decode, UnknownFieldInAnExtent) {
  pb::Checkpoint proto = ToProto(RichState());
  pb::IdMapExtent* e = proto.mutable_user_namespaces(2)->mutable_gid_map(0);
  e->GetReflection()->MutableUnknownFields(e)->AddFixed32(4, 1);
  ExpectInvalid(DecodeCheckpoint(Seal(proto)).status(),
                "user_namespaces[2].gid_map[0]: unknown field number 4 (written by a newer "
                "schema?)");
}

TEST(Decode, UnknownFieldInAMessage) {
  pb::Checkpoint proto = ToProto(RichState());
  pb::Message* m = proto.mutable_ipc_namespaces(0)->mutable_queues(0)->mutable_messages(2);
  m->GetReflection()->MutableUnknownFields(m)->AddLengthDelimited(3, "x");
  ExpectInvalid(DecodeCheckpoint(Seal(proto)).status(),
                "ipc_namespaces[0].queues[0].messages[2]: unknown field number 3 (written by "
                "a newer schema?)");
}

class CookieLengthTest : public ::testing::TestWithParam<int> {};

TEST_P(CookieLengthTest, OnlyThirtyTwoBytes) {
  pb::Checkpoint proto = ToProto(RichState());
  proto.mutable_ipc_namespaces(0)->mutable_queues(0)->mutable_notification()->set_cookie(
      std::string(static_cast<size_t>(GetParam()), 'c'));
  ExpectInvalid(DecodeCheckpoint(Seal(proto)).status(),
                absl::StrCat("ipc_namespaces[0].queues[0].notification: cookie is ", GetParam(),
                             " bytes, want 32"));
}

INSTANTIATE_TEST_SUITE_P(WrongLengths, CookieLengthTest, ::testing::Values(0, 1, 31, 33, 4096));

TEST(Decode, MissingSysctls) {
  pb::Checkpoint proto = ToProto(RichState());
  proto.mutable_ipc_namespaces(1)->clear_sysctls();
  ExpectInvalid(DecodeCheckpoint(Seal(proto)).status(), "ipc_namespaces[1]: sysctls are missing");
}

TEST(Decode, MissingCharge) {
  pb::Checkpoint proto = ToProto(RichState());
  proto.mutable_ipc_namespaces(0)->mutable_queues(2)->clear_charge();
  ExpectInvalid(DecodeCheckpoint(Seal(proto)).status(),
                "ipc_namespaces[0].queues[2]: charge is missing");
}

TEST(Decode, EmptyNameIsNotUnlinked) {
  pb::Checkpoint proto = ToProto(RichState());
  ASSERT_FALSE(proto.ipc_namespaces(0).queues(1).has_name());
  proto.mutable_ipc_namespaces(0)->mutable_queues(1)->set_name("");
  ExpectInvalid(DecodeCheckpoint(Seal(proto)).status(),
                "ipc_namespaces[0].queues[1]: name is empty");
}

TEST(Decode, ConcatenatedCheckpointsFailTheChecksum) {
  absl::StatusOr<std::string> bytes = EncodeCheckpoint(RichState());
  ASSERT_TRUE(bytes.ok());
  const std::string both = *bytes + *bytes;
  ExpectInvalid(DecodeCheckpoint(both).status(),
                absl::StrFormat("crc32c: the file's checksum is 0x%08x but its contents give "
                                "0x%08x (damaged)",
                                Crc32c(bytes->substr(0, bytes->size() - 5)),
                                Crc32c(both.substr(0, both.size() - 5))));
}

TEST(Decode, ConcatenatedCheckpointsResealedMergeAndAreRefused) {
  absl::StatusOr<std::string> bytes = EncodeCheckpoint(RichState());
  ASSERT_TRUE(bytes.ok());
  // Protobuf merges concatenated messages: repeated fields are appended, so the second
  // copy's initial namespace lands at index 3.
  pb::Checkpoint merged;
  ASSERT_TRUE(merged.ParseFromString(*bytes + *bytes));
  ExpectInvalid(DecodeCheckpoint(Seal(merged)).status(),
                "user_namespaces[3]: parent -1 is not the index of an earlier namespace (0..2)");
}

// ---------------------------------------------------------------------------------------
// The crc32c trailer
// ---------------------------------------------------------------------------------------

TEST(Checksum, Crc32cKnownValues) {
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c("123456789"), 0xe3069283u);              // the CRC-32C check value
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8a9136aau);    // RFC 3720 B.4: 32 zero bytes
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62a8ab43u);  // RFC 3720 B.4: 32 0xff bytes
}

TEST(Checksum, EncodingEndsWithTheTrailer) {
  absl::StatusOr<std::string> bytes = EncodeCheckpoint(RichState());
  ASSERT_TRUE(bytes.ok());
  ASSERT_GT(bytes->size(), 5u);
  const std::string body = bytes->substr(0, bytes->size() - 5);
  EXPECT_EQ((*bytes)[body.size()], '\x7d');
  const uint32_t crc = Crc32c(body);
  std::string le;
  for (int i = 0; i < 4; ++i) le.push_back(static_cast<char>(crc >> (8 * i)));
  EXPECT_EQ(bytes->substr(body.size() + 1), le);
  // It is the proto's own crc32c field.
  pb::Checkpoint proto;
  ASSERT_TRUE(proto.ParseFromString(*bytes));
  EXPECT_EQ(proto.crc32c(), crc);
  EXPECT_EQ(Serialize(proto), *bytes);
}

TEST(Checksum, PlainProtobufWithoutTrailerIsRefused) {
  ExpectInvalid(DecodeCheckpoint(Serialize(ToProto(RichState()))).status(),
                "crc32c: the file does not end with its checksum (truncated or damaged)");
}

TEST(Checksum, TruncationAtAFieldBoundaryIsRefused) {
  // Without the trailer, the file cut after its user namespaces would be a valid, empty
  // sandbox: exactly the damage the checksum exists for.
  absl::StatusOr<std::string> full = EncodeCheckpoint(RichState());
  ASSERT_TRUE(full.ok());
  pb::Checkpoint head = ToProto(RichState());
  head.clear_ipc_namespaces();
  head.clear_accounting();
  const std::string prefix = Serialize(head);
  ASSERT_EQ(full->substr(0, prefix.size()), prefix);
  absl::StatusOr<SandboxState> as_state = FromProto(head);
  ASSERT_TRUE(as_state.ok());
  EXPECT_TRUE(ValidateSandboxState(*as_state).ok());
  ExpectInvalid(DecodeCheckpoint(prefix).status(),
                "crc32c: the file does not end with its checksum (truncated or damaged)");
}

TEST(Checksum, DamageInAPayloadIsRefused) {
  absl::StatusOr<std::string> bytes = EncodeCheckpoint(RichState());
  ASSERT_TRUE(bytes.ok());
  std::string damaged = *bytes;
  const size_t at = damaged.find("third");  // a message payload: every field stays valid
  ASSERT_NE(at, std::string::npos);
  damaged[at] = 'T';
  ExpectInvalid(DecodeCheckpoint(damaged).status(),
                absl::StrFormat("crc32c: the file's checksum is 0x%08x but its contents give "
                                "0x%08x (damaged)",
                                Crc32c(bytes->substr(0, bytes->size() - 5)),
                                Crc32c(damaged.substr(0, damaged.size() - 5))));
  // The same change under a recomputed checksum is a valid (different) checkpoint.
  pb::Checkpoint proto;
  ASSERT_TRUE(proto.ParseFromString(damaged));
  absl::StatusOr<SandboxState> resealed = DecodeCheckpoint(Seal(proto));
  ASSERT_TRUE(resealed.ok()) << resealed.status();
  EXPECT_EQ(resealed->ipc_namespaces[0].queues[0].messages[2].payload, "Third");
}

TEST(Checksum, TrailerTagReplaced) {
  absl::StatusOr<std::string> bytes = EncodeCheckpoint(MinimalState());
  ASSERT_TRUE(bytes.ok());
  std::string damaged = *bytes;
  damaged[damaged.size() - 5] = '\x75';  // field 14, fixed32: parses, but is not the trailer
  ExpectInvalid(DecodeCheckpoint(damaged).status(),
                "crc32c: the file does not end with its checksum (truncated or damaged)");
}

}  // namespace
}  // namespace mqsentry::ipc::checkpoint
