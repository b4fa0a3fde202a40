// A seeded mutation fuzzer of the checkpoint reader (clang's libFuzzer does not fit this
// gcc Bazel setup). Each iteration damages a valid file: bit flips, byte overwrites,
// insertions, deletions, truncations, splices of two files, duplicated or dropped records,
// random garbage; half the time the records are resealed with fresh CRCs afterwards (a
// hostile writer) so that parsing, ordering and validation see the damage, not only the
// checksums. The reader must answer a valid state that round-trips, or a one-line
// InvalidArgumentError; a crash, hang or sanitizer report fails the test.
//
// CI runs 4000 iterations; longer runs: MQ_FUZZ_ITERATIONS=1000000 MQ_FUZZ_SEED=N
// bazel-bin/ipc/checkpoint/stream_fuzz_test.
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ipc/checkpoint/codec.h"
#include "ipc/checkpoint/random_state.h"
#include "ipc/checkpoint/state_testing.h"
#include "ipc/checkpoint/stream.h"
#include "ipc/checkpoint/stream_testing.h"

namespace mqsentry::ipc::checkpoint {
namespace {

using checkpoint_testing::RandomStateOptions;
using checkpoint_testing::RandomValidState;
using checkpoint_testing::Records;
using checkpoint_testing::Reseal;
using checkpoint_testing::SplitRecords;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::strtoull(v, nullptr, 10) : fallback;
}

TEST(StreamFuzz, MutatedFilesAreRefusedOrValid) {
  const uint64_t iterations = EnvOr("MQ_FUZZ_ITERATIONS", 4000);
  const uint64_t seed = EnvOr("MQ_FUZZ_SEED", 1);
  std::vector<std::string> pool;
  for (uint64_t s = 1; s <= 24; ++s) {
    RandomStateOptions o;
    o.max_messages_per_queue = 12;
    absl::StatusOr<std::string> bytes = EncodeCheckpointFile(
        RandomValidState(s, o), SandboxInfo{s, absl::StrCat("/prog", s), 0, s % 2 == 0});
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    pool.push_back(*bytes);
  }
  uint64_t accepted = 0, refused = 0;
  for (uint64_t i = 0; i < iterations; ++i) {
    std::mt19937_64 rng(seed * 1000003 + i);
    auto below = [&](uint64_t n) { return n == 0 ? 0 : rng() % n; };
    SCOPED_TRACE(absl::StrCat("seed ", seed, " iteration ", i));
    std::string bytes = pool[below(pool.size())];
    const bool reseal = below(2) == 0;
    const int mutations = 1 + static_cast<int>(below(4));
    for (int k = 0; k < mutations && !bytes.empty(); ++k) {
      switch (below(9)) {
        case 0: bytes[below(bytes.size())] ^= static_cast<char>(1 << below(8)); break;
        case 1: bytes[below(bytes.size())] = static_cast<char>(rng()); break;
        case 2: bytes.insert(below(bytes.size() + 1), std::string(1 + below(16), static_cast<char>(rng()))); break;
        case 3: bytes.erase(below(bytes.size()), 1 + below(16)); break;
        case 4: bytes.resize(below(bytes.size())); break;
        case 5: {
          const std::string& other = pool[below(pool.size())];
          const size_t at = below(bytes.size());
          bytes = bytes.substr(0, at) + other.substr(below(other.size()));
          break;
        }
        case 6:
        case 7: {  // record surgery: duplicate, drop or swap
          Records r = SplitRecords(bytes);
          if (r.size() < 2) break;
          const size_t a = below(r.size()), b = below(r.size());
          if (below(3) == 0) r.insert(r.begin() + static_cast<long>(a), r[b]);
          else if (below(2) == 0) r.erase(r.begin() + static_cast<long>(a));
          else std::swap(r[a], r[b]);
          bytes = Reseal(r);
          break;
        }
        default: {  // a payload byte inside one record
          Records r = SplitRecords(bytes);
          if (r.empty()) break;
          std::string& p = r[below(r.size())].payload;
          if (!p.empty()) p[below(p.size())] = static_cast<char>(rng());
          bytes = Reseal(r);
          break;
        }
      }
    }
    if (reseal) {
      Records r = SplitRecords(bytes);
      if (!r.empty()) bytes = Reseal(r);
    }
    absl::StatusOr<CheckpointFile> f = DecodeCheckpointFile(bytes);
    if (f.ok()) {
      ++accepted;
      ASSERT_TRUE(ValidateSandboxState(f->state).ok());
      absl::StatusOr<std::string> again = EncodeCheckpointFile(f->state, f->info);
      ASSERT_TRUE(again.ok()) << again.status();
      absl::StatusOr<CheckpointFile> g = DecodeCheckpointFile(*again);
      ASSERT_TRUE(g.ok()) << g.status();
      ASSERT_TRUE(checkpoint_testing::StatesEqual(f->state, g->state));
    } else {
      ++refused;
      ASSERT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << f.status();
      ASSERT_FALSE(absl::StrContains(f.status().message(), "\n")) << f.status();
      ASSERT_FALSE(f.status().message().empty());
    }
  }
  std::printf("%llu iterations: %llu refused, %llu accepted\n",
              static_cast<unsigned long long>(iterations),
              static_cast<unsigned long long>(refused), static_cast<unsigned long long>(accepted));
  EXPECT_GT(refused, accepted);
}

}  // namespace
}  // namespace mqsentry::ipc::checkpoint
