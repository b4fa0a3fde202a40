// The cost of anchoring memory accesses to the call: the supervisor's reads and writes of
// a waiting call's memory through ProcTraceeMemory (a check after each read; writes open
// /proc/<tid>/mem and /proc/<tid>/maps, check, and ask PROCMAP_QUERY) against bare
// process_vm_readv/writev by tid, the unanchored way. The call is a real trapped
// mq_getsetattr of a child that waits for its answer throughout.
//   bazel run -c opt //sentry:tracee_memory_benchmark
#include <signal.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "benchmark/benchmark.h"
#include "sentry/seccomp_platform.h"
#include "sentry/test_support.h"

namespace mqsentry::sentry {
namespace {

// One child blocked in a trapped call, shared by all benchmarks.
struct Waiting {
  pid_t pid = -1;
  std::unique_ptr<SeccompPlatform> platform;
  TrappedCall call{};
  char* buffer = nullptr;
};

Waiting& Child() {
  static Waiting* w = [] {
    auto* w = new Waiting;
    w->buffer = static_cast<char*>(std::calloc(1, 4096));  // same address in the child
    absl::StatusOr<testing::FilteredChild> c = testing::ForkFilteredChild(
        testing::AllMqRules(), [] { return static_cast<int>(syscall(SYS_mq_getsetattr, 3, 0, 0)); });
    if (!c.ok()) std::abort();
    w->pid = c->pid;
    absl::StatusOr<std::unique_ptr<SeccompPlatform>> p =
        SeccompPlatform::Create(c->listener.release());
    if (!p.ok()) std::abort();
    w->platform = std::move(*p);
    absl::StatusOr<TrappedCall> call = testing::ReceiveWithin(*w->platform);
    if (!call.ok()) std::abort();
    w->call = *call;
    std::atexit([] { kill(Child().pid, SIGKILL); });
    return w;
  }();
  return *w;
}

void BM_ProcessVmRead(benchmark::State& state) {
  Waiting& w = Child();
  char out[64];
  for (auto _ : state) {
    iovec l{out, sizeof(out)}, r{w.buffer, sizeof(out)};
    if (process_vm_readv(w.pid, &l, 1, &r, 1, 0) != sizeof(out)) state.SkipWithError("read");
  }
}
BENCHMARK(BM_ProcessVmRead);

void BM_AnchoredRead(benchmark::State& state) {
  Waiting& w = Child();
  char out[64];
  for (auto _ : state) {
    if (!w.platform->memory().Read(w.call, reinterpret_cast<uint64_t>(w.buffer), out,
                                   sizeof(out))) {
      state.SkipWithError("read");
    }
  }
}
BENCHMARK(BM_AnchoredRead);

// A received message: the priority, then 64 bytes.
void BM_ProcessVmWrite(benchmark::State& state) {
  Waiting& w = Child();
  char in[64] = {};
  uint32_t prio = 1;
  for (auto _ : state) {
    iovec l{&prio, sizeof(prio)}, r{w.buffer + 128, sizeof(prio)};
    iovec l2{in, sizeof(in)}, r2{w.buffer, sizeof(in)};
    if (process_vm_writev(w.pid, &l, 1, &r, 1, 0) != sizeof(prio) ||
        process_vm_writev(w.pid, &l2, 1, &r2, 1, 0) != sizeof(in)) {
      state.SkipWithError("write");
    }
  }
}
BENCHMARK(BM_ProcessVmWrite);

void BM_AnchoredWrite(benchmark::State& state) {
  Waiting& w = Child();
  char in[64] = {};
  uint32_t prio = 1;
  const uint64_t at = reinterpret_cast<uint64_t>(w.buffer);
  const MemoryWrite writes[] = {{at + 128, &prio, sizeof(prio)}, {at, in, sizeof(in)}};
  for (auto _ : state) {
    if (w.platform->memory().WriteAll(w.call, writes) != WriteOutcome::kDone) {
      state.SkipWithError("write");
    }
  }
}
BENCHMARK(BM_AnchoredWrite);

}  // namespace
}  // namespace mqsentry::sentry
