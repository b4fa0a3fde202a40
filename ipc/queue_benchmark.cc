// queue_benchmark: steady-state cost of one receive + send pair on a Queue that holds N
// messages, to check that priority lookup and message storage do not grow with N or with
// the number of priorities in use (architecture "Performance shape"). Run with
//   bazel run -c opt //ipc:queue_benchmark
//
// Arguments: /N/priorities/payload_bytes.
//   N             messages queued in steady state: 1 and 65,536 (HARD_MSGMAX).
//   priorities    1 (pure FIFO) or 32,768 (MQ_PRIO_MAX; the pre-fill is spread over all of
//                 them, two messages per priority at N = 65,536).
//   payload_bytes 64 B and 512 KiB. For 512 KiB, N is 1 and 4,096 instead of 65,536:
//                 65,536 x 512 KiB would be 32 GiB of queued payload and the benchmark machine
//                 has 24 GiB; 4,096 x 512 KiB = 2 GiB is already far past every cache, which
//                 is what the large-N point is there to show.
//
// Workload. Each iteration receives the head (the oldest message of the highest priority)
// and sends a new message: at priority 0 with 1 priority in use, at a uniformly random
// priority with 32,768. Pop-highest with uniformly random inserts drifts: a message sent
// above everything queued is read back by the next iteration, and the queue settles towards
// the low priorities. So the 32,768 case mostly measures the bitmap and the level lookups of
// random priorities, while the FIFO case (1 priority) is the cache-hostile one: every
// message waits N pairs before it is read. Both must cost about the same at N and at 1.
//
// The payload is copied in from a source buffer and freed after the receive, as the sentry
// does with the bytes of process_vm_readv/writev. At 512 KiB that copy dominates, and at
// large N its destination is cold (malloc hands back the 512 KiB block of the message just
// received, last written N pairs ago), so BM_PayloadOnly runs the same allocation and copy
// pattern with a plain ring of N payloads and no queue: the queue's own cost is the difference.
#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "ipc/notification.h"
#include "ipc/queue.h"
#include "kernel/abi.h"
#include "kernel/deadline.h"

namespace mqsentry::ipc {
namespace {

constexpr uint32_t kAllPriorities = kernel::abi::kMqPrioMax;

// xorshift64*: cheap enough not to show in the figures.
struct Rng {
  uint64_t state = 0x9e3779b97f4a7c15ull;
  uint64_t Next() {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545f4914f6cdd1dull;
  }
};

SendRequest MakeSend(uint32_t priority, const std::string& source) {
  SendRequest r;
  r.priority = priority;
  r.payload = Payload(source);  // the copy-in
  r.nonblocking = true;
  r.now_ns = 0;
  return r;
}

void BM_ReceiveSendPair(benchmark::State& state) {
  const int64_t n = state.range(0);
  const uint32_t priorities = static_cast<uint32_t>(state.range(1));
  const size_t payload_bytes = static_cast<size_t>(state.range(2));
  const std::string source(payload_bytes, 'm');

  Queue queue(kernel::KUid(0), kernel::KGid(0), 0600,
              QueueAttributes{n, static_cast<int64_t>(payload_bytes)}, &NullQueueEvents());
  // Pre-fill spread evenly over all priorities in use (two per priority at N = 65,536, one
  // every eighth priority at N = 4,096).
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = n >= priorities ? i % priorities : i * priorities / n;
    SendOutcome out = queue.Send(MakeSend(static_cast<uint32_t>(p), source));
    if (!out.result.ok()) {
      state.SkipWithError("pre-fill failed");
      return;
    }
  }

  ReceiveRequest receive;
  receive.buffer_len = payload_bytes;
  receive.nonblocking = true;
  Rng rng;
  for (auto _ : state) {
    ReceiveOutcome got = queue.Receive(receive);
    benchmark::DoNotOptimize(got.message->payload.data());
    got.message.reset();  // copied out and freed before the next call copies in
    const uint32_t next = priorities > 1 ? static_cast<uint32_t>(rng.Next() % priorities) : 0;
    SendOutcome sent = queue.Send(MakeSend(next, source));
    benchmark::DoNotOptimize(sent.result);
  }
  if (queue.Status().curmsgs != n) state.SkipWithError("queue did not stay at N messages");
  state.SetItemsProcessed(state.iterations() * 2);  // two queue operations per pair
  state.SetBytesProcessed(state.iterations() * 2 * static_cast<int64_t>(payload_bytes));
}

// The payload traffic of BM_ReceiveSendPair without the queue: free the oldest of N
// buffers, copy a new one in.
void BM_PayloadOnly(benchmark::State& state) {
  const int64_t n = state.range(0);
  const size_t payload_bytes = static_cast<size_t>(state.range(2));
  const std::string source(payload_bytes, 'm');
  std::deque<Payload> ring;
  for (int64_t i = 0; i < n; ++i) ring.emplace_back(source);
  for (auto _ : state) {
    Payload oldest = std::move(ring.front());
    ring.pop_front();
    benchmark::DoNotOptimize(oldest.data());
    oldest = Payload();  // freed before the copy-in, as after a receive
    ring.emplace_back(source);
    benchmark::DoNotOptimize(ring.back().data());
  }
  state.SetItemsProcessed(state.iterations() * 2);
  state.SetBytesProcessed(state.iterations() * 2 * static_cast<int64_t>(payload_bytes));
}

BENCHMARK(BM_PayloadOnly)
    ->ArgNames({"N", "prios", "bytes"})
    ->Args({1, 1, 64})
    ->Args({65536, 1, 64})
    ->Args({1, 1, 512 * 1024})
    ->Args({4096, 1, 512 * 1024});

BENCHMARK(BM_ReceiveSendPair)
    ->ArgNames({"N", "prios", "bytes"})
    ->Args({1, 1, 64})
    ->Args({65536, 1, 64})
    ->Args({1, kAllPriorities, 64})
    ->Args({65536, kAllPriorities, 64})
    ->Args({1, 1, 512 * 1024})
    ->Args({4096, 1, 512 * 1024})
    ->Args({1, kAllPriorities, 512 * 1024})
    ->Args({4096, kAllPriorities, 512 * 1024});

}  // namespace
}  // namespace mqsentry::ipc
