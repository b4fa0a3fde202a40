// Property tests of the checkpoint codec over a few hundred random valid SandboxStates
// (random_state.h, fixed seeds): decode(encode(x)) == x, the encoding is deterministic, the
// validator accepts every generated state and notices a one-field change, and the
// generator reaches every corner of the schema.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ipc/checkpoint/checkpoint.pb.h"
#include "ipc/checkpoint/codec.h"
#include "ipc/checkpoint/random_state.h"
#include "ipc/checkpoint/state_testing.h"
#include "ipc/state.h"

namespace mqsentry::ipc::checkpoint {
namespace {

using ::mqsentry::ipc::checkpoint_testing::RandomValidState;
using ::mqsentry::ipc::checkpoint_testing::StatesEqual;
using state::SandboxState;

// Fixed, so that a failure is reproduced by its seed (printed by SCOPED_TRACE).
std::vector<uint64_t> Seeds() {
  std::vector<uint64_t> seeds;
  for (uint64_t i = 1; i <= 300; ++i) seeds.push_back(i * 0x9e3779b97f4a7c15ull);
  return seeds;
}

std::string SeedTrace(uint64_t seed) {
  return absl::StrCat("seed ", seed, " (RandomValidState(", seed, "ull))");
}

TEST(RoundTripProperty, GeneratedStatesAreValid) {
  for (uint64_t seed : Seeds()) {
    SCOPED_TRACE(SeedTrace(seed));
    const SandboxState s = RandomValidState(seed);
    EXPECT_TRUE(ValidateSandboxState(s).ok()) << ValidateSandboxState(s);
  }
}

TEST(RoundTripProperty, GeneratorIsDeterministic) {
  for (uint64_t seed : Seeds()) {
    SCOPED_TRACE(SeedTrace(seed));
    EXPECT_TRUE(StatesEqual(RandomValidState(seed), RandomValidState(seed)));
  }
}

TEST(RoundTripProperty, DecodeOfEncodeIsIdentity) {
  for (uint64_t seed : Seeds()) {
    SCOPED_TRACE(SeedTrace(seed));
    const SandboxState s = RandomValidState(seed);
    absl::StatusOr<std::string> bytes = EncodeCheckpoint(s);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    absl::StatusOr<SandboxState> decoded = DecodeCheckpoint(*bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_TRUE(StatesEqual(s, *decoded));
  }
}

TEST(RoundTripProperty, ProtoConversionIsIdentity) {
  for (uint64_t seed : Seeds()) {
    SCOPED_TRACE(SeedTrace(seed));
    const SandboxState s = RandomValidState(seed);
    absl::StatusOr<SandboxState> back = FromProto(ToProto(s));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(StatesEqual(s, *back));
  }
}

TEST(RoundTripProperty, EncodingIsDeterministic) {
  for (uint64_t seed : Seeds()) {
    SCOPED_TRACE(SeedTrace(seed));
    const SandboxState s = RandomValidState(seed);
    absl::StatusOr<std::string> first = EncodeCheckpoint(s);
    ASSERT_TRUE(first.ok()) << first.status();
    // The same state built again (fresh allocations) gives the same bytes...
    absl::StatusOr<std::string> again = EncodeCheckpoint(RandomValidState(seed));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*first, *again);
    // ...and so does the state read back from them: encode(decode(encode(x))) == encode(x).
    absl::StatusOr<SandboxState> decoded = DecodeCheckpoint(*first);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    absl::StatusOr<std::string> second = EncodeCheckpoint(*decoded);
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(*first, *second);
  }
}

TEST(RoundTripProperty, DistinctStatesHaveDistinctEncodings) {
  std::vector<std::string> encodings;
  for (uint64_t seed : Seeds()) {
    absl::StatusOr<std::string> bytes = EncodeCheckpoint(RandomValidState(seed));
    ASSERT_TRUE(bytes.ok());
    encodings.push_back(*bytes);
  }
  const std::vector<uint64_t> seeds = Seeds();
  for (size_t i = 0; i < encodings.size(); ++i) {
    for (size_t j = i + 1; j < encodings.size(); ++j) {
      if (encodings[i] != encodings[j]) continue;
      // Equal bytes must mean equal states (an injective encoding).
      EXPECT_TRUE(StatesEqual(RandomValidState(seeds[i]), RandomValidState(seeds[j])))
          << SeedTrace(seeds[i]) << " and " << SeedTrace(seeds[j]);
    }
  }
}

// The validator is not vacuous on generated states: breaking one invariant is noticed.
TEST(RoundTripProperty, OneFieldChangeIsRejected) {
  int queues_seen = 0;
  for (uint64_t seed : Seeds()) {
    SCOPED_TRACE(SeedTrace(seed));
    SandboxState s = RandomValidState(seed);
    {
      SandboxState broken = s;
      broken.user_namespaces[0].parent = 0;
      EXPECT_FALSE(ValidateSandboxState(broken).ok());
    }
    for (size_t n = 0; n < s.ipc_namespaces.size(); ++n) {
      for (size_t i = 0; i < s.ipc_namespaces[n].queues.size(); ++i) {
        ++queues_seen;
        SandboxState charge = s;
        charge.ipc_namespaces[n].queues[i].charge.bytes += 1;
        EXPECT_FALSE(ValidateSandboxState(charge).ok()) << n << "/" << i;
        SandboxState mode = s;
        mode.ipc_namespaces[n].queues[i].mode |= 010000;
        EXPECT_FALSE(ValidateSandboxState(mode).ok()) << n << "/" << i;
      }
    }
    if (!s.accounting.empty()) {  // every queue charges at least 97 bytes somewhere
      SandboxState accounting = s;
      accounting.accounting.pop_back();
      EXPECT_FALSE(ValidateSandboxState(accounting).ok());
    }
  }
  EXPECT_GT(queues_seen, 500);
}

// Coverage of the generator: every feature the schema has shows up in some seed.
TEST(RoundTripProperty, GeneratorReachesEveryFeature) {
  struct Counts {
    int nested_3_deep = 0, level_33 = 0, unwritten_maps = 0, multi_extent_maps = 0;
    int no_ipc_namespaces = 0, several_ipc_namespaces = 0, unlimited_queues_max = 0;
    int linked = 0, unlinked = 0, name_255 = 0, empty_queue = 0, full_queue = 0;
    int maxmsg_hard = 0, msgsize_hard = 0, equal_priorities = 0, prio_max = 0;
    int signal = 0, none = 0, thread = 0, charge_in_child_ns = 0, attrs_above_sysctls = 0;
  } c;
  for (uint64_t seed : Seeds()) {
    const SandboxState s = RandomValidState(seed);
    std::vector<int> level(s.user_namespaces.size(), 0);
    for (size_t i = 1; i < s.user_namespaces.size(); ++i) {
      const auto& u = s.user_namespaces[i];
      level[i] = level[static_cast<size_t>(u.parent)] + 1;
      c.nested_3_deep += level[i] == 3;
      c.level_33 += level[i] == 33;
      c.unwritten_maps += u.uid_map.empty();
      c.multi_extent_maps += u.uid_map.size() > 1;
    }
    c.no_ipc_namespaces += s.ipc_namespaces.empty();
    c.several_ipc_namespaces += s.ipc_namespaces.size() > 1;
    for (const auto& ipc : s.ipc_namespaces) {
      c.unlimited_queues_max += ipc.sysctls.queues_max == -1;
      for (const auto& q : ipc.queues) {
        c.linked += q.name.has_value();
        c.unlinked += !q.name.has_value();
        c.name_255 += q.name.has_value() && q.name->size() == 255;
        c.empty_queue += q.messages.empty();
        c.full_queue += q.messages.size() == static_cast<size_t>(q.maxmsg);
        c.maxmsg_hard += q.maxmsg == 65536;
        c.msgsize_hard += q.msgsize == 16777216;
        c.attrs_above_sysctls += q.maxmsg > ipc.sysctls.msg_max;
        for (size_t m = 1; m < q.messages.size(); ++m) {
          c.equal_priorities += q.messages[m].priority == q.messages[m - 1].priority;
        }
        for (const auto& m : q.messages) c.prio_max += m.priority == 32767;
        if (q.notification) {
          c.signal += q.notification->notify == 0;
          c.none += q.notification->notify == 1;
          c.thread += q.notification->notify == 2;
        }
        c.charge_in_child_ns += q.charge.user_ns != 0;
      }
    }
  }
  EXPECT_GT(c.nested_3_deep, 0);
  EXPECT_GT(c.level_33, 0);
  EXPECT_GT(c.unwritten_maps, 0);
  EXPECT_GT(c.multi_extent_maps, 0);
  EXPECT_GT(c.no_ipc_namespaces, 0);
  EXPECT_GT(c.several_ipc_namespaces, 0);
  EXPECT_GT(c.unlimited_queues_max, 0);
  EXPECT_GT(c.linked, 0);
  EXPECT_GT(c.unlinked, 0);
  EXPECT_GT(c.name_255, 0);
  EXPECT_GT(c.empty_queue, 0);
  EXPECT_GT(c.full_queue, 0);
  EXPECT_GT(c.maxmsg_hard, 0);
  EXPECT_GT(c.msgsize_hard, 0);
  EXPECT_GT(c.equal_priorities, 0);
  EXPECT_GT(c.prio_max, 0);
  EXPECT_GT(c.signal, 0);
  EXPECT_GT(c.none, 0);
  EXPECT_GT(c.thread, 0);
  EXPECT_GT(c.charge_in_child_ns, 0);
  EXPECT_GT(c.attrs_above_sysctls, 0);
}

}  // namespace
}  // namespace mqsentry::ipc::checkpoint
