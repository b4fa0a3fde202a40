// The streamed file format: round trips (fixed, random and multi-chunk states), the chunk
// encoder against protobuf's own serializer, and one test per refusal the reader makes,
// each checking the one-line message names the offset or field and the limit.
#include "ipc/checkpoint/stream.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "ipc/checkpoint/checkpoint.pb.h"
#include "ipc/checkpoint/crc32c.h"
#include "ipc/checkpoint/random_state.h"
#include "ipc/checkpoint/state_testing.h"
#include "ipc/checkpoint/stream_testing.h"

namespace mqsentry::ipc::checkpoint {
namespace {

namespace pb = ::mqsentry::checkpoint;
using checkpoint_testing::MakeQueue;
using checkpoint_testing::MinimalState;
using checkpoint_testing::RandomValidState;
using checkpoint_testing::RecomputeAccounting;
using checkpoint_testing::RichState;
using checkpoint_testing::StatesEqual;
using checkpoint_testing::Records;
using checkpoint_testing::Reseal;
using checkpoint_testing::SplitRecords;
using state::SandboxState;

SandboxInfo Info() { return SandboxInfo{1, "/bin/producer", 1700000000, true}; }

std::string MustEncode(const SandboxState& s, const SandboxInfo& info = Info()) {
  absl::StatusOr<std::string> bytes = EncodeCheckpointFile(s, info);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::string();
}

void ExpectRefused(std::string_view bytes, absl::string_view want) {
  absl::StatusOr<CheckpointFile> f = DecodeCheckpointFile(bytes);
  ASSERT_FALSE(f.ok()) << "accepted; wanted: " << want;
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << f.status();
  EXPECT_TRUE(absl::StrContains(f.status().message(), want))
      << "got: " << f.status().message() << "\nwant: " << want;
  EXPECT_FALSE(absl::StrContains(f.status().message(), "\n")) << "not one line";
}

// A state with `queues` queues of `messages` messages of `size` bytes in namespace 1.
SandboxState Big(int queues, int messages, int size) {
  SandboxState s = MinimalState();
  for (int q = 0; q < queues; ++q) {
    state::QueueState queue = MakeQueue(absl::StrCat("q", q), 100 + q, messages, size);
    for (int m = 0; m < messages; ++m) {
      queue.messages.push_back(state::MessageState{
          static_cast<uint32_t>(messages - m), std::string(static_cast<size_t>(size),
                                                           static_cast<char>('a' + m % 26))});
    }
    s.ipc_namespaces[0].queues.push_back(std::move(queue));
  }
  RecomputeAccounting(s);
  return s;
}

TEST(StreamRoundTrip, MinimalRichAndInfo) {
  for (const SandboxState& s : {MinimalState(), RichState()}) {
    absl::StatusOr<CheckpointFile> f = DecodeCheckpointFile(MustEncode(s));
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_TRUE(StatesEqual(f->state, s));
    EXPECT_EQ(f->info.own_ipc_namespace, 1u);
    EXPECT_EQ(f->info.program, "/bin/producer");
    EXPECT_EQ(f->info.taken_at_unix, 1700000000);
    EXPECT_TRUE(f->info.live);
  }
}

TEST(StreamRoundTrip, RandomStates) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    const SandboxState s = RandomValidState(seed);
    const std::string bytes = MustEncode(s);
    absl::StatusOr<CheckpointFile> f = DecodeCheckpointFile(bytes);
    ASSERT_TRUE(f.ok()) << f.status();
    ASSERT_TRUE(StatesEqual(f->state, s));
    EXPECT_EQ(MustEncode(f->state), bytes) << "not deterministic";
  }
}

TEST(StreamRoundTrip, ManyChunksKeepOrder) {
  // 3 queues x 40 messages x 100 KiB: 4 MiB per queue, so several chunks each.
  const SandboxState s = Big(3, 40, 100 * 1024);
  const std::string bytes = MustEncode(s);
  int chunks = 0;
  for (const auto& r : SplitRecords(bytes)) chunks += r.type == RecordType::kMessages;
  EXPECT_GE(chunks, 3 * 4);
  absl::StatusOr<CheckpointFile> f = DecodeCheckpointFile(bytes);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(StatesEqual(f->state, s));
}

TEST(StreamRoundTrip, LargestMessageFitsOneRecord) {
  SandboxState s = MinimalState();
  state::QueueState q = MakeQueue("big", 7, 2, 16 * 1024 * 1024);
  q.messages.push_back({5, std::string(16 * 1024 * 1024, 'x')});
  q.messages.push_back({0, ""});
  s.ipc_namespaces[0].queues.push_back(std::move(q));
  RecomputeAccounting(s);
  absl::StatusOr<CheckpointFile> f = DecodeCheckpointFile(MustEncode(s));
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(StatesEqual(f->state, s));
}

TEST(StreamRoundTrip, ThroughAFile) {
  const std::string dir = ::testing::TempDir();
  const std::string path = absl::StrCat(dir, "/stream_test.mqck");
  const SandboxState s = RichState();
  absl::StatusOr<WriteStats> stats = WriteCheckpointFileAtomically(path, s, Info());
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GT(stats->bytes, kFileHeaderBytes);
  absl::StatusOr<CheckpointFile> f = ReadCheckpointFile(path);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(StatesEqual(f->state, s));
  EXPECT_EQ(f->file_bytes, stats->bytes);
}

TEST(StreamEncode, ChunksAreWhatProtobufWrites) {
  const SandboxState s = RichState();
  const std::string bytes = MustEncode(s);
  std::vector<const state::QueueState*> queues;
  for (const auto& ipc : s.ipc_namespaces) {
    for (const auto& q : ipc.queues) queues.push_back(&q);
  }
  size_t qi = 0, seen = 0;
  for (const auto& r : SplitRecords(bytes)) {
    if (r.type == RecordType::kQueue) {
      seen = 0;
      qi++;
    }
    if (r.type != RecordType::kMessages) continue;
    pb::MessageChunk chunk;
    ASSERT_TRUE(chunk.ParseFromString(r.payload));
    for (const pb::Message& m : chunk.messages()) {
      const state::MessageState& want = queues[qi - 1]->messages[seen++];
      EXPECT_EQ(m.priority(), want.priority);
      EXPECT_EQ(m.payload(), want.payload);
    }
    EXPECT_EQ(chunk.SerializeAsString(), r.payload);
  }
}

TEST(StreamEncode, RefusesAnInvalidState) {
  absl::StatusOr<std::string> bytes = EncodeCheckpointFile(SandboxState{}, Info());
  EXPECT_FALSE(bytes.ok());
}

// ---- Refusals ----

TEST(StreamDecode, Empty) { ExpectRefused("", "empty file: not a checkpoint"); }

TEST(StreamDecode, WrongMagic) {
  ExpectRefused("\x89PNG\r\n\x1a\n0000000000000000", "offset 0: magic \"\\x89PNG\\r\\n\\x1a\\n\" is not");
  std::string bytes = MustEncode(RichState());
  bytes[0] = 'X';
  ExpectRefused(bytes, "not an mqsentry checkpoint");
}

TEST(StreamDecode, FutureVersion) {
  std::string bytes = MustEncode(RichState());
  bytes[8] = 3;
  ExpectRefused(bytes, "file header CRC-32C");
  const uint32_t crc = Crc32c(std::string_view(bytes.data(), 12));
  for (int i = 0; i < 4; ++i) bytes[12 + i] = static_cast<char>(crc >> (8 * i));
  ExpectRefused(bytes, "offset 8: format version 3 is not supported (this build reads versions 1 "
                       "to 2; written by a newer mqsentry)");
}

TEST(StreamDecode, EveryTruncationIsRefused) {
  const std::string bytes = MustEncode(RichState());
  for (size_t n = 0; n < bytes.size(); ++n) {
    SCOPED_TRACE(absl::StrCat("length ", n));
    absl::StatusOr<CheckpointFile> f = DecodeCheckpointFile(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  }
  // At a record boundary, the missing end record is what is named.
  const auto records = SplitRecords(bytes);
  ExpectRefused(std::string_view(bytes).substr(0, records.back().offset),
                "(truncated)");
  ExpectRefused(std::string_view(bytes).substr(0, records.back().offset + 5),
                "truncated record header (5 of 8 bytes)");
  ExpectRefused(std::string_view(bytes).substr(0, bytes.size() - 1),
                "truncated: the record's CRC-32C is missing");
  ExpectRefused(std::string_view(bytes).substr(0, bytes.size() - 5), "truncated: the record holds");
}

TEST(StreamDecode, EverySingleBitFlipIsRefused) {
  const std::string bytes = MustEncode(RichState());
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = bytes;
      damaged[i] ^= static_cast<char>(1 << bit);
      absl::StatusOr<CheckpointFile> f = DecodeCheckpointFile(damaged);
      ASSERT_FALSE(f.ok()) << "byte " << i << " bit " << bit;
    }
  }
  std::string damaged = bytes;
  damaged[bytes.size() / 2] ^= 4;
  ExpectRefused(damaged, "the record's bytes give");
}

TEST(StreamDecode, OversizeRecordLength) {
  std::string bytes = MustEncode(RichState());
  const auto records = SplitRecords(bytes);
  const size_t at = records[2].offset;
  const uint32_t huge = 0x7fffffff;
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>(huge >> (8 * i));
  ExpectRefused(bytes, absl::StrCat("offset ", at, " (record 3, user namespace): record length 2147483647 > limit 33554432"));
}

TEST(StreamDecode, UnknownRecordType) {
  auto records = SplitRecords(MustEncode(RichState()));
  records[1].raw_type = 99;
  ExpectRefused(Reseal(records), "record type 99 is unknown");
}

TEST(StreamDecode, DataAfterTheEnd) {
  const std::string bytes = MustEncode(MinimalState());
  ExpectRefused(bytes + bytes.substr(kFileHeaderBytes), "data after the end record");
}

TEST(StreamDecode, RecordsOutOfOrder) {
  auto records = SplitRecords(MustEncode(RichState()));
  std::swap(records[0], records[1]);
  ExpectRefused(Reseal(records), "out of order: user namespaces come right after the sandbox info");
}

TEST(StreamDecode, DroppedChunkIsNamed) {
  auto records = SplitRecords(MustEncode(Big(1, 40, 100 * 1024)));
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].type == RecordType::kMessages) {
      records.erase(records.begin() + static_cast<long>(i));
      break;
    }
  }
  ExpectRefused(Reseal(records), "ipc_namespaces[0].queues[0]: ");
}

TEST(StreamDecode, MessageCountBeyondMaxmsg) {
  auto records = SplitRecords(MustEncode(Big(1, 4, 16)));
  for (auto& r : records) {
    if (r.type != RecordType::kQueue) continue;
    pb::QueueRecord q;
    ASSERT_TRUE(q.ParseFromString(r.payload));
    q.set_message_count(1000000);
    r.payload = q.SerializeAsString();
  }
  ExpectRefused(Reseal(records), "ipc_namespaces[0].queues[0]: message_count 1000000 > maxmsg 4");
}

TEST(StreamDecode, OversizePayload) {
  auto records = SplitRecords(MustEncode(Big(1, 4, 16)));
  for (auto& r : records) {
    if (r.type != RecordType::kMessages) continue;
    pb::MessageChunk c;
    ASSERT_TRUE(c.ParseFromString(r.payload));
    c.mutable_messages(2)->set_payload(std::string(17, 'z'));
    r.payload = c.SerializeAsString();
  }
  ExpectRefused(Reseal(records),
                "ipc_namespaces[0].queues[0].messages[2]: payload is 17 bytes > msgsize 16");
}

TEST(StreamDecode, HugeMaxmsg) {
  auto records = SplitRecords(MustEncode(Big(1, 4, 16)));
  for (auto& r : records) {
    if (r.type != RecordType::kQueue) continue;
    pb::QueueRecord q;
    ASSERT_TRUE(q.ParseFromString(r.payload));
    q.mutable_queue()->set_maxmsg(int64_t{1} << 40);
    r.payload = q.SerializeAsString();
  }
  ExpectRefused(Reseal(records), "maxmsg 1099511627776 is outside 1..65536 (HARD_MSGMAX)");
}

TEST(StreamDecode, EndTotalsMustMatch) {
  auto records = SplitRecords(MustEncode(RichState()));
  pb::EndRecord end;
  ASSERT_TRUE(end.ParseFromString(records.back().payload));
  end.set_messages(end.messages() + 1);
  records.back().payload = end.SerializeAsString();
  ExpectRefused(Reseal(records), "end: messages ");
}

TEST(StreamDecode, ValidationStillApplies) {
  // Priority order broken inside a chunk, resealed: the final validation names it.
  auto records = SplitRecords(MustEncode(Big(1, 4, 16)));
  for (auto& r : records) {
    if (r.type != RecordType::kMessages) continue;
    pb::MessageChunk c;
    ASSERT_TRUE(c.ParseFromString(r.payload));
    c.mutable_messages(3)->set_priority(40);
    r.payload = c.SerializeAsString();
  }
  ExpectRefused(Reseal(records), "messages must be in receive order");
}

TEST(StreamDecode, UnknownFieldInARecord) {
  auto records = SplitRecords(MustEncode(RichState()));
  records[0].payload += std::string("\xa0\x06\x01", 3);  // field 100, varint 1
  ExpectRefused(Reseal(records), "sandbox_info: unknown field number 100");
}

// RichState with times on every queue: the extremes of the range, the epoch, a pre-1970 time
// (utimensat can set one) and ordinary ones.
SandboxState WithTimes() {
  SandboxState s = RichState();
  const state::QueueTimesState kTimes[] = {
      {1700000100, 1700000050, 1700000101},
      {state::kMinQueueTime, state::kMaxQueueTime, 0},
      {-1, 86400, 1700000000},
  };
  size_t i = 0;
  for (auto& ns : s.ipc_namespaces) {
    for (auto& q : ns.queues) q.times = kTimes[i++ % 3];
  }
  return s;
}

std::string WithVersion(std::string bytes, uint32_t version) {
  for (int i = 0; i < 4; ++i) bytes[8 + i] = static_cast<char>(version >> (8 * i));
  const uint32_t crc = Crc32c(std::string_view(bytes.data(), 12));
  for (int i = 0; i < 4; ++i) bytes[12 + i] = static_cast<char>(crc >> (8 * i));
  return bytes;
}

TEST(StreamRoundTrip, QueueTimes) {
  const SandboxState s = WithTimes();
  absl::StatusOr<CheckpointFile> f = DecodeCheckpointFile(MustEncode(s));
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(StatesEqual(f->state, s));
  EXPECT_EQ(f->version, 2u);
  ASSERT_TRUE(f->state.ipc_namespaces[0].queues[1].times.has_value());
  EXPECT_EQ(f->state.ipc_namespaces[0].queues[1].times->atime, state::kMinQueueTime);
  EXPECT_EQ(f->state.ipc_namespaces[0].queues[1].times->mtime, state::kMaxQueueTime);
  // The differ sees a lost time, so that the round trip above can fail.
  SandboxState lost = s;
  lost.ipc_namespaces[0].queues[0].times.reset();
  EXPECT_FALSE(StatesEqual(f->state, lost));
}

TEST(StreamDecode, Version1WithoutTimesIsRead) {
  absl::StatusOr<CheckpointFile> f = DecodeCheckpointFile(WithVersion(MustEncode(RichState()), 1));
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->version, 1u);
  EXPECT_TRUE(StatesEqual(f->state, RichState()));
  for (const auto& q : f->state.ipc_namespaces[0].queues) EXPECT_FALSE(q.times.has_value());
}

TEST(StreamDecode, TimesInAVersion1FileAreRefused) {
  ExpectRefused(WithVersion(MustEncode(WithTimes()), 1),
                "ipc_namespaces[0].queues[0]: times in a format version 1 file (they were added "
                "in version 2)");
}

TEST(StreamDecode, QueueTimeOutOfRange) {
  const std::string bytes = MustEncode(WithTimes());
  struct Case {
    int field;  // 1 atime, 2 mtime, 3 ctime
    int64_t value;
    std::string want;
  };
  const Case kCases[] = {
      {1, state::kMaxQueueTime + 1, "atime 253402300800 is outside"},
      {2, state::kMinQueueTime - 1, "mtime -62135596801 is outside"},
      {3, INT64_MAX, "ctime 9223372036854775807 is outside"},
      {1, INT64_MIN, "atime -9223372036854775808 is outside"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.want);
    auto records = SplitRecords(bytes);
    bool changed = false;
    for (auto& r : records) {
      if (r.type != RecordType::kQueue || changed) continue;
      pb::QueueRecord q;
      ASSERT_TRUE(q.ParseFromString(r.payload));
      pb::QueueTimes* t = q.mutable_queue()->mutable_times();
      if (c.field == 1) t->set_atime(c.value);
      if (c.field == 2) t->set_mtime(c.value);
      if (c.field == 3) t->set_ctime(c.value);
      r.payload = q.SerializeAsString();
      changed = true;
    }
    ASSERT_TRUE(changed);
    ExpectRefused(Reseal(records),
                  "ipc_namespaces[0].queues[0].times: " + c.want +
                      " -62135596800..253402300799 (0001-01-01T00:00:00Z..9999-12-31T23:59:59Z)");
  }
  // The writer validates too: an out-of-range state is not written.
  SandboxState s = WithTimes();
  s.ipc_namespaces[0].queues[0].times->ctime = state::kMaxQueueTime + 1;
  EXPECT_FALSE(EncodeCheckpointFile(s, Info()).ok());
}

TEST(StreamDecode, UnknownFieldInTimes) {
  auto records = SplitRecords(MustEncode(WithTimes()));
  for (auto& r : records) {
    if (r.type != RecordType::kQueue) continue;
    pb::QueueRecord q;
    ASSERT_TRUE(q.ParseFromString(r.payload));
    pb::QueueTimes* t = q.mutable_queue()->mutable_times();
    t->GetReflection()->MutableUnknownFields(t)->AddVarint(100, 1);
    r.payload = q.SerializeAsString();
    break;
  }
  ExpectRefused(Reseal(records), "ipc_namespaces[0].queues[0].times: unknown field number 100");
}

}  // namespace
}  // namespace mqsentry::ipc::checkpoint
