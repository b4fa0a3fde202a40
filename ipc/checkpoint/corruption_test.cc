// Corruption tests of the checkpoint decoder: bit flips, byte overwrites, truncation at every
// length, insertions, deletions, splices and concatenations of valid encodings, random
// garbage, and proto-level mutations (through reflection) that set every field to extreme
// values and cut, duplicate or reorder repeated fields. Whatever the input, DecodeCheckpoint
// must answer either a state that ValidateSandboxState() accepts and that round-trips, or
// an InvalidArgumentError; a crash, hang or sanitizer report fails the test.
//
// Byte-level corruption runs twice: raw (accidental damage: the crc32c trailer must catch
// every change) and resealed (the corrupted body gets a fresh trailer, as a hostile writer
// would do, so that parsing, conversion and validation see the damage). Every loop is
// seeded; SCOPED_TRACE names the iteration so that a failure can be replayed.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"
#include "ipc/checkpoint/checkpoint.pb.h"
#include "ipc/checkpoint/codec.h"
#include "ipc/checkpoint/random_state.h"
#include "ipc/checkpoint/state_testing.h"
#include "ipc/state.h"

namespace mqsentry::ipc::checkpoint {
namespace {

namespace pb = ::mqsentry::checkpoint;
using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;
using ::mqsentry::ipc::checkpoint_testing::RandomStateOptions;
using ::mqsentry::ipc::checkpoint_testing::RandomValidState;
using ::mqsentry::ipc::checkpoint_testing::RichState;
using ::mqsentry::ipc::checkpoint_testing::StatesEqual;
using state::SandboxState;

struct Outcome {
  int accepted = 0;
  int rejected = 0;
  // What the rejections named: the path with indices dropped and the first word after it
  // ("ipc_namespaces[].queues[].charge: bytes"): shows how deep the corruption reached.
  std::set<std::string> rejected_fields;
};

std::string FieldOf(absl::string_view message) {
  std::string field;
  bool in_index = false;
  const size_t colon = message.find(':');
  for (char c : message.substr(0, colon)) {
    if (c == '[') in_index = true;
    if (!in_index) field.push_back(c);
    if (c == ']') {
      field += "[]";
      in_index = false;
    }
  }
  if (colon == absl::string_view::npos) return field;
  absl::string_view rest = message.substr(colon + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.empty() || !absl::ascii_isalpha(static_cast<unsigned char>(rest.front()))) {
    return field;  // a value ("magic: 0x00000001"), not a field name
  }
  return absl::StrCat(field, ": ", rest.substr(0, rest.find(' ')));
}

// The contract: a valid state that survives another round trip, or an InvalidArgumentError.
void CheckDecodeIsSafe(const std::string& bytes, Outcome& outcome) {
  absl::StatusOr<SandboxState> decoded = DecodeCheckpoint(bytes);
  if (!decoded.ok()) {
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << decoded.status();
    EXPECT_FALSE(decoded.status().message().empty());
    ++outcome.rejected;
    outcome.rejected_fields.insert(FieldOf(decoded.status().message()));
    return;
  }
  ++outcome.accepted;
  EXPECT_TRUE(ValidateSandboxState(*decoded).ok()) << ValidateSandboxState(*decoded);
  absl::StatusOr<std::string> again = EncodeCheckpoint(*decoded);
  ASSERT_TRUE(again.ok()) << again.status();
  absl::StatusOr<SandboxState> back = DecodeCheckpoint(*again);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(StatesEqual(*decoded, *back));
}

// Small states keep thousands of iterations fast, under sanitizers too.
RandomStateOptions Small() {
  RandomStateOptions o;
  o.max_user_namespaces = 4;
  o.max_ipc_namespaces = 2;
  o.max_queues_per_namespace = 3;
  o.max_messages_per_queue = 3;
  o.max_payload = 16;
  return o;
}

std::string MustEncode(const SandboxState& s) {
  absl::StatusOr<std::string> bytes = EncodeCheckpoint(s);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::string();
}

// RichState plus small random states, encoded.
const std::vector<std::string>& Pool() {
  static const std::vector<std::string>* const kPool = [] {
    auto* pool = new std::vector<std::string>{MustEncode(RichState())};
    for (uint64_t seed = 1; seed <= 31; ++seed) {
      pool->push_back(MustEncode(RandomValidState(seed * 7919, Small())));
    }
    return pool;
  }();
  return *kPool;
}

constexpr size_t kTrailerSize = 5;

std::string Body(const std::string& encoding) {
  return encoding.substr(0, encoding.size() - kTrailerSize);
}

// `body` followed by its crc32c trailer: what a writer that skips validation produces.
std::string Sealed(const std::string& body) {
  const uint32_t crc = Crc32c(body);
  std::string out = body;
  out.push_back('\x7d');
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  return out;
}

enum class Mode { kRaw, kResealed };

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  uint64_t Next() { return gen_(); }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  const std::string& PickEncoding() { return Pool()[Below(Pool().size())]; }

 private:
  std::mt19937_64 gen_;
};

// Runs `iterations` corruptions of pool encodings. kRaw: `corrupt` damages the whole file,
// and every change must be refused. kResealed: it damages the body, which is then sealed.
template <typename Corrupt>
Outcome Fuzz(Mode mode, int iterations, uint64_t seed, Corrupt corrupt) {
  Outcome outcome;
  for (int i = 0; i < iterations; ++i) {
    Rng rng(seed + static_cast<uint64_t>(i));
    SCOPED_TRACE(absl::StrCat(mode == Mode::kRaw ? "raw" : "resealed", " iteration ", i,
                              " (Rng seed ", seed + i, ")"));
    const std::string& original = rng.PickEncoding();
    std::string bytes = mode == Mode::kRaw ? original : Body(original);
    corrupt(rng, bytes);
    if (mode == Mode::kResealed) bytes = Sealed(bytes);
    CheckDecodeIsSafe(bytes, outcome);
    if (mode == Mode::kRaw) {
      // Accepted raw bytes must be a genuine checkpoint (a splice may rebuild one whole),
      // not damage that slipped past the checksum.
      if (absl::StatusOr<SandboxState> decoded = DecodeCheckpoint(bytes); decoded.ok()) {
        EXPECT_EQ(MustEncode(*decoded), bytes) << "undetected damage";
      }
    }
    if (::testing::Test::HasFatalFailure()) break;
  }
  return outcome;
}

class CorruptionTest : public ::testing::TestWithParam<Mode> {
 protected:
  Mode mode() const { return GetParam(); }
};

TEST_P(CorruptionTest, BitFlips) {
  Outcome o = Fuzz(mode(), 3000, 1000000, [](Rng& rng, std::string& bytes) {
    const int flips = 1 + static_cast<int>(rng.Below(8));
    for (int f = 0; f < flips; ++f) {
      bytes[rng.Below(bytes.size())] ^= static_cast<char>(1 << rng.Below(8));
    }
  });
  EXPECT_GT(o.rejected, o.accepted);
  if (mode() == Mode::kResealed) {
    EXPECT_GT(o.accepted, 0);  // flips in payloads and cookies keep every field valid
    EXPECT_GE(o.rejected_fields.size(), 30u) << absl::StrJoin(o.rejected_fields, "\n");
  } else {
    EXPECT_LE(o.rejected_fields.size(), 5u) << absl::StrJoin(o.rejected_fields, "\n");
  }
}

TEST_P(CorruptionTest, ByteOverwrites) {
  static constexpr char kSpecial[] = {'\x00', '\xff', '\x80', '\x7f', '\x01'};
  Outcome o = Fuzz(mode(), 3000, 2000000, [](Rng& rng, std::string& bytes) {
    const int writes = 1 + static_cast<int>(rng.Below(16));
    for (int w = 0; w < writes; ++w) {
      bytes[rng.Below(bytes.size())] =
          rng.Below(2) == 0 ? kSpecial[rng.Below(sizeof(kSpecial))] : static_cast<char>(rng.Next());
    }
  });
  EXPECT_GT(o.rejected, 0);
}

TEST(Corruption, EveryRawTruncationIsRejected) {
  Outcome o;
  size_t inputs = 0;
  for (size_t p = 0; p < 12; ++p) {
    const std::string& bytes = Pool()[p];
    for (size_t length = 0; length < bytes.size(); ++length, ++inputs) {
      SCOPED_TRACE(absl::StrCat("pool ", p, " length ", length));
      CheckDecodeIsSafe(bytes.substr(0, length), o);
    }
  }
  EXPECT_EQ(o.accepted, 0);
  EXPECT_EQ(o.rejected, static_cast<int>(inputs));
}

TEST(Corruption, EveryResealedTruncationOfTheRichState) {
  const std::string body = Body(MustEncode(RichState()));
  ASSERT_GT(body.size(), 100u);
  Outcome o;
  for (size_t length = 0; length <= body.size(); ++length) {
    SCOPED_TRACE(absl::StrCat("length ", length));
    CheckDecodeIsSafe(Sealed(body.substr(0, length)), o);
  }
  // Cuts right after user_namespaces[0], [1] and [2] are valid sandboxes without IPC
  // namespaces (the reason for the trailer); the whole body is the rich state; nothing
  // else: every later cut loses accounting the queues need.
  EXPECT_EQ(o.accepted, 4);
  EXPECT_EQ(o.rejected, static_cast<int>(body.size()) + 1 - 4);
}

TEST(Corruption, EveryResealedTruncationOfRandomStates) {
  Outcome o;
  for (size_t p = 1; p < 12; ++p) {
    const std::string body = Body(Pool()[p]);
    for (size_t length = 0; length <= body.size(); ++length) {
      SCOPED_TRACE(absl::StrCat("pool ", p, " length ", length));
      CheckDecodeIsSafe(Sealed(body.substr(0, length)), o);
    }
  }
  EXPECT_GT(o.rejected, 0);
  EXPECT_GE(o.accepted, 11);  // at least the whole bodies
}

TEST_P(CorruptionTest, RandomInsertions) {
  Outcome o = Fuzz(mode(), 2000, 3000000, [](Rng& rng, std::string& bytes) {
    std::string insert(1 + rng.Below(32), '\0');
    for (char& c : insert) c = static_cast<char>(rng.Next());
    bytes.insert(rng.Below(bytes.size() + 1), insert);
  });
  EXPECT_GT(o.rejected, 0);
}

TEST_P(CorruptionTest, RandomDeletions) {
  Outcome o = Fuzz(mode(), 2000, 4000000, [](Rng& rng, std::string& bytes) {
    const size_t at = rng.Below(bytes.size());
    bytes.erase(at, 1 + rng.Below(std::min<size_t>(64, bytes.size() - at)));
  });
  EXPECT_GT(o.rejected, 0);
}

TEST_P(CorruptionTest, SplicesOfTwoCheckpoints) {
  const Mode m = mode();
  Outcome o = Fuzz(m, 2000, 5000000, [m](Rng& rng, std::string& bytes) {
    const std::string other = m == Mode::kRaw ? rng.PickEncoding() : Body(rng.PickEncoding());
    bytes = bytes.substr(0, rng.Below(bytes.size() + 1)) + other.substr(rng.Below(other.size()));
  });
  EXPECT_GT(o.rejected, 0);
}

TEST_P(CorruptionTest, ConcatenationsOfTwoCheckpoints) {
  // Protobuf merges concatenated messages (repeated fields append): never a valid state,
  // since the second initial user namespace would sit at an index above 0.
  Outcome o;
  for (size_t a = 0; a < Pool().size(); ++a) {
    for (size_t b = 0; b < Pool().size(); ++b) {
      SCOPED_TRACE(absl::StrCat("pool ", a, " + pool ", b));
      CheckDecodeIsSafe(
          mode() == Mode::kRaw ? Pool()[a] + Pool()[b] : Sealed(Body(Pool()[a]) + Body(Pool()[b])),
          o);
    }
  }
  EXPECT_EQ(o.accepted, 0);
  EXPECT_EQ(o.rejected, static_cast<int>(Pool().size() * Pool().size()));
}

TEST_P(CorruptionTest, RandomGarbage) {
  Outcome o;
  const std::string header("\x0dMQCK\x10\x01", 7);  // gets past the magic and version checks
  for (int i = 0; i < 3000; ++i) {
    SCOPED_TRACE(absl::StrCat("iteration ", i));
    Rng rng(6000000 + static_cast<uint64_t>(i));
    std::string bytes(rng.Below(257), '\0');
    for (char& c : bytes) c = static_cast<char>(rng.Next());
    if (i % 2 == 1) bytes = header + bytes;
    CheckDecodeIsSafe(mode() == Mode::kRaw ? bytes : Sealed(bytes), o);
  }
  EXPECT_EQ(o.accepted, 0);
}

INSTANTIATE_TEST_SUITE_P(BothModes, CorruptionTest, ::testing::Values(Mode::kRaw, Mode::kResealed),
                         [](const ::testing::TestParamInfo<Mode>& info) {
                           return info.param == Mode::kRaw ? "Raw" : "Resealed";
                         });

// ---------------------------------------------------------------------------------------
// Proto-level mutations through reflection
// ---------------------------------------------------------------------------------------

// A singular field of some message in the tree (scalar, bytes or sub-message).
struct Leaf {
  Message* message;
  const FieldDescriptor* field;
};

// Collects the singular fields and the repeated fields of `m` and of every sub-message.
// The recursion follows the schema, which is four levels deep, not the input.
void Collect(Message* m, std::vector<Leaf>& leaves, std::vector<Leaf>& repeated) {
  const Descriptor* d = m->GetDescriptor();
  const Reflection* r = m->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_repeated()) {
      ASSERT_EQ(f->cpp_type(), FieldDescriptor::CPPTYPE_MESSAGE) << f->full_name();
      repeated.push_back({m, f});
      for (int j = 0; j < r->FieldSize(*m, f); ++j) {
        Collect(r->MutableRepeatedMessage(m, f, j), leaves, repeated);
      }
      continue;
    }
    leaves.push_back({m, f});
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && r->HasField(*m, f)) {
      Collect(r->MutableMessage(m, f), leaves, repeated);
    }
  }
}

const std::vector<int32_t> kInt32Values = {0,   1,   -1,      2,       3,         32,
                                           33,  34,  64,      65,      65536,     65537,
                                           128, 127, 4194304, 4194305, INT32_MAX, INT32_MIN};
const std::vector<uint32_t> kUint32Values = {
    0, 1, 2, 1000, 32767, 32768, 07777, 010000, 100000, 2147483648u, 4294967294u, 4294967295u};
const std::vector<int64_t> kInt64Values = {0,         1,         -1,        65536,
                                           65537,     16777216,  16777217,  INT64_MAX,
                                           INT64_MIN, 1ll << 31, 1ll << 32, (1ll << 32) + 1};
const std::vector<uint64_t> kUint64Values = {0,  1,     UINT64_MAX, 1ull << 63, 1ull << 31,
                                             97, 82880, 84685,      588,        UINT64_MAX - 1};
const std::vector<std::string> kBytesValues = {"",
                                               ".",
                                               "..",
                                               "/",
                                               "a/b",
                                               std::string(1, '\0'),
                                               std::string(31, 'c'),
                                               std::string(32, 'c'),
                                               std::string(33, 'c'),
                                               std::string(255, 'n'),
                                               std::string(256, 'n'),
                                               "alpha",
                                               "beta"};

// The number of values SetExtreme() can set for `f` (plus one: clearing it).
size_t ExtremeCount(const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return kInt32Values.size() + 1;
    case FieldDescriptor::CPPTYPE_UINT32:
      return kUint32Values.size() + 1;
    case FieldDescriptor::CPPTYPE_INT64:
      return kInt64Values.size() + 1;
    case FieldDescriptor::CPPTYPE_UINT64:
      return kUint64Values.size() + 1;
    case FieldDescriptor::CPPTYPE_STRING:
      return kBytesValues.size() + 1;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return 2;  // clear, or create empty
    default:
      return 1;
  }
}

// Sets `leaf` to its `k`-th extreme value; the last k clears the field.
void SetExtreme(const Leaf& leaf, size_t k) {
  Message* m = leaf.message;
  const FieldDescriptor* f = leaf.field;
  const Reflection* r = m->GetReflection();
  if (k + 1 == ExtremeCount(f)) {
    r->ClearField(m, f);
    return;
  }
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      r->SetInt32(m, f, kInt32Values[k]);
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      r->SetUInt32(m, f, kUint32Values[k]);
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      r->SetInt64(m, f, kInt64Values[k]);
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      r->SetUInt64(m, f, kUint64Values[k]);
      break;
    case FieldDescriptor::CPPTYPE_STRING:
      r->SetString(m, f, kBytesValues[k]);
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      r->MutableMessage(m, f);
      break;  // present, empty
    default:
      FAIL() << "unexpected field type " << f->full_name();
  }
}

// Well-formed and correctly checksummed, so that the decoder's later stages see the change.
std::string Serialize(const pb::Checkpoint& proto) {
  absl::StatusOr<std::string> out = SerializeCheckpoint(proto);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : std::string();
}

// Every singular field of the rich state set to every extreme value, one at a time.
TEST(ProtoMutation, EveryFieldToEveryExtremeValue) {
  const pb::Checkpoint base = ToProto(RichState());
  std::vector<Leaf> leaves, repeated;
  {
    pb::Checkpoint copy = base;
    Collect(&copy, leaves, repeated);
  }
  ASSERT_GT(leaves.size(), 80u);
  Outcome o;
  for (size_t l = 0; l < leaves.size(); ++l) {
    const size_t values = ExtremeCount(leaves[l].field);
    for (size_t k = 0; k < values; ++k) {
      // Re-collect in a fresh copy so that the leaf points into it (same traversal order).
      pb::Checkpoint proto = base;
      std::vector<Leaf> fresh, fresh_repeated;
      Collect(&proto, fresh, fresh_repeated);
      ASSERT_EQ(fresh.size(), leaves.size());
      SCOPED_TRACE(
          absl::StrCat("field ", fresh[l].field->full_name(), " (leaf ", l, ") value #", k));
      SetExtreme(fresh[l], k);
      CheckDecodeIsSafe(Serialize(proto), o);
    }
  }
  EXPECT_GT(o.rejected, 500);
  EXPECT_GT(o.accepted, 50);  // e.g. a message priority of 0, a uid of 1000, a socket
  EXPECT_GE(o.rejected_fields.size(), 35u) << absl::StrJoin(o.rejected_fields, "\n");
}

// Cutting, duplicating, reordering and padding every repeated field of the rich state.
TEST(ProtoMutation, RepeatedFieldSurgery) {
  const pb::Checkpoint base = ToProto(RichState());
  size_t repeated_count;
  {
    pb::Checkpoint copy = base;
    std::vector<Leaf> leaves, repeated;
    Collect(&copy, leaves, repeated);
    repeated_count = repeated.size();
  }
  ASSERT_GT(repeated_count, 10u);
  Outcome o;
  for (size_t rf = 0; rf < repeated_count; ++rf) {
    for (int op = 0; op < 5; ++op) {
      pb::Checkpoint proto = base;
      std::vector<Leaf> leaves, repeated;
      Collect(&proto, leaves, repeated);
      Message* m = repeated[rf].message;
      const FieldDescriptor* f = repeated[rf].field;
      const Reflection* r = m->GetReflection();
      const int size = r->FieldSize(*m, f);
      SCOPED_TRACE(absl::StrCat("field ", f->full_name(), " (#", rf, ") op ", op));
      switch (op) {
        case 0:
          r->ClearField(m, f);
          break;
        case 1:
          if (size > 0) r->RemoveLast(m, f);
          break;
        case 2:  // duplicate the first element at the end
          if (size > 0) r->AddMessage(m, f)->CopyFrom(r->GetRepeatedMessage(*m, f, 0));
          break;
        case 3:
          if (size > 1) r->SwapElements(m, f, 0, size - 1);
          break;
        case 4:
          r->AddMessage(m, f);
          break;  // an all-default element
      }
      CheckDecodeIsSafe(Serialize(proto), o);
    }
  }
  EXPECT_GT(o.rejected, 20);
  EXPECT_GT(o.accepted, 0);  // e.g. swapping two messages of equal priority
}

// Random combinations of the above on random states.
TEST(ProtoMutation, RandomMutations) {
  Outcome o;
  for (int i = 0; i < 5000; ++i) {
    SCOPED_TRACE(absl::StrCat("iteration ", i));
    Rng rng(7000000 + static_cast<uint64_t>(i));
    pb::Checkpoint proto;
    ASSERT_TRUE(proto.ParseFromString(rng.PickEncoding()));
    const int mutations = 1 + static_cast<int>(rng.Below(3));
    for (int k = 0; k < mutations; ++k) {
      std::vector<Leaf> leaves, repeated;
      Collect(&proto, leaves, repeated);
      if (rng.Below(4) == 0) {
        const Leaf& rf = repeated[rng.Below(repeated.size())];
        const Reflection* r = rf.message->GetReflection();
        const int size = r->FieldSize(*rf.message, rf.field);
        if (size > 1 && rng.Below(2) == 0) {
          r->SwapElements(rf.message, rf.field, static_cast<int>(rng.Below(size)),
                          static_cast<int>(rng.Below(size)));
        } else if (size > 0) {
          r->RemoveLast(rf.message, rf.field);
        } else {
          r->AddMessage(rf.message, rf.field);
        }
        continue;
      }
      const Leaf& leaf = leaves[rng.Below(leaves.size())];
      const Reflection* r = leaf.message->GetReflection();
      // Half the time a fully random value instead of a chosen extreme.
      if (rng.Below(2) == 0) {
        switch (leaf.field->cpp_type()) {
          case FieldDescriptor::CPPTYPE_INT32:
            r->SetInt32(leaf.message, leaf.field, static_cast<int32_t>(rng.Next()));
            continue;
          case FieldDescriptor::CPPTYPE_UINT32:
            r->SetUInt32(leaf.message, leaf.field, static_cast<uint32_t>(rng.Next()));
            continue;
          case FieldDescriptor::CPPTYPE_INT64:
            r->SetInt64(leaf.message, leaf.field, static_cast<int64_t>(rng.Next()));
            continue;
          case FieldDescriptor::CPPTYPE_UINT64:
            r->SetUInt64(leaf.message, leaf.field, rng.Next());
            continue;
          default:
            break;
        }
      }
      SetExtreme(leaf, rng.Below(ExtremeCount(leaf.field)));
    }
    CheckDecodeIsSafe(Serialize(proto), o);
    if (HasFatalFailure()) break;
  }
  EXPECT_GT(o.rejected, 3000);
  EXPECT_GT(o.accepted, 0);
  EXPECT_GE(o.rejected_fields.size(), 30u) << absl::StrJoin(o.rejected_fields, "\n");
}

}  // namespace
}  // namespace mqsentry::ipc::checkpoint
