// Encode and decode speed of the checkpoint file on 1 GiB of queued messages (model level,
// in memory), and writing it to a file with fsync timed apart:
//   bazel run -c opt //ipc/checkpoint:stream_benchmark
// MQ_BENCH_DIR picks the directory of the file written (default /tmp).
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "ipc/checkpoint/state_testing.h"
#include "ipc/checkpoint/stream.h"

namespace mqsentry::ipc::checkpoint {
namespace {

constexpr int kQueues = 128;
constexpr int kMessages = 1024;
constexpr int kSize = 8192;  // 128 x 1024 x 8 KiB = 1 GiB

const state::SandboxState& GiB() {
  static const state::SandboxState* s = [] {
    auto* st = new state::SandboxState(checkpoint_testing::MinimalState());
    for (int q = 0; q < kQueues; ++q) {
      state::QueueState queue =
          checkpoint_testing::MakeQueue(absl::StrCat("q", q), 100 + q, kMessages, kSize);
      for (int m = 0; m < kMessages; ++m) {
        queue.messages.push_back(state::MessageState{
            static_cast<uint32_t>((kMessages - m) / 64),
            std::string(kSize, static_cast<char>(m))});
      }
      st->ipc_namespaces[0].queues.push_back(std::move(queue));
    }
    checkpoint_testing::RecomputeAccounting(*st);
    return st;
  }();
  return *s;
}

constexpr int64_t kPayloadBytes = int64_t{kQueues} * kMessages * kSize;

void BM_Encode(benchmark::State& st) {
  const state::SandboxState& s = GiB();
  std::string out;
  for (auto _ : st) {
    out.clear();
    StringSink sink(&out);
    if (!WriteCheckpointUnvalidated(s, SandboxInfo{}, sink).ok()) st.SkipWithError("encode");
    benchmark::DoNotOptimize(out.data());
  }
  st.SetBytesProcessed(st.iterations() * kPayloadBytes);
  st.counters["file_MiB"] = static_cast<double>(out.size()) / (1 << 20);
}
BENCHMARK(BM_Encode)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

void BM_Decode(benchmark::State& st) {
  absl::StatusOr<std::string> bytes = EncodeCheckpointFile(GiB(), SandboxInfo{});
  if (!bytes.ok()) {
    st.SkipWithError("encode");
    return;
  }
  for (auto _ : st) {
    absl::StatusOr<CheckpointFile> f = DecodeCheckpointFile(*bytes);
    if (!f.ok()) st.SkipWithError(std::string(f.status().message()).c_str());
    benchmark::DoNotOptimize(f);
  }
  st.SetBytesProcessed(st.iterations() * kPayloadBytes);
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

void BM_WriteFile(benchmark::State& st) {
  const char* dir = std::getenv("MQ_BENCH_DIR");
  const std::string path = absl::StrCat(dir != nullptr ? dir : "/tmp", "/mqsentry_bench.mqck");
  double write_s = 0, fsync_s = 0;
  for (auto _ : st) {
    absl::StatusOr<WriteStats> w = WriteCheckpointFileAtomically(path, GiB(), SandboxInfo{});
    if (!w.ok()) st.SkipWithError(std::string(w.status().message()).c_str());
    else {
      write_s += w->write_seconds;
      fsync_s += w->fsync_seconds;
    }
  }
  unlink(path.c_str());
  const double n = static_cast<double>(st.iterations());
  st.counters["write_GBps"] = kPayloadBytes / 1e9 / (write_s / n);
  st.counters["fsync_s"] = fsync_s / n;
  st.SetBytesProcessed(st.iterations() * kPayloadBytes);
}
BENCHMARK(BM_WriteFile)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();

}  // namespace
}  // namespace mqsentry::ipc::checkpoint
