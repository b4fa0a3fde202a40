// Writes a sample checkpoint file (the codec tests' rich state: nested user and IPC
// namespaces, an unlinked queue, registrations, binary names and payloads) for the CLI
// tests of `mqsentry inspect` and `run --restore`:
//   make_sample FILE [--no-times | --hostile-time]
// Every queue has times (atime 2023-11-14 22:15:00, mtime 22:14:10, ctime 22:15:00 UTC)
// unless --no-times; --hostile-time writes, without validation, a first queue whose atime
// is past year 9999.
#include <cstdio>
#include <string>

#include "ipc/checkpoint/state_testing.h"
#include "ipc/checkpoint/stream.h"

int main(int argc, char** argv) {
  const std::string mode = argc == 3 ? argv[2] : "";
  if ((argc != 2 && argc != 3) || (argc == 3 && mode != "--no-times" && mode != "--hostile-time")) {
    std::fprintf(stderr, "usage: make_sample FILE [--no-times | --hostile-time]\n");
    return 2;
  }
  namespace cp = mqsentry::ipc::checkpoint;
  namespace st = mqsentry::ipc::state;
  st::SandboxState s = mqsentry::ipc::checkpoint_testing::RichState();
  if (mode != "--no-times") {
    for (st::IpcNamespaceState& ns : s.ipc_namespaces) {
      for (st::QueueState& q : ns.queues) q.times = st::QueueTimesState{1700000100, 1700000050, 1700000100};
    }
  }
  cp::SandboxInfo info;
  info.own_ipc_namespace = s.ipc_namespaces.empty() ? 0 : s.ipc_namespaces[0].id;
  info.program = "/usr/bin/sample";
  info.taken_at_unix = 1700000000;
  if (mode == "--hostile-time") {
    s.ipc_namespaces[0].queues[0].times->atime = st::kMaxQueueTime + 1;
    std::string bytes;
    cp::StringSink sink(&bytes);
    FILE* f = std::fopen(argv[1], "wb");
    if (!cp::WriteCheckpointUnvalidated(s, info, sink).ok() || f == nullptr ||
        std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
      std::fprintf(stderr, "make_sample: cannot write %s\n", argv[1]);
      return 1;
    }
    return 0;
  }
  absl::StatusOr<cp::WriteStats> w = cp::WriteCheckpointFileAtomically(argv[1], s, info);
  if (!w.ok()) {
    std::fprintf(stderr, "make_sample: %s\n", std::string(w.status().message()).c_str());
    return 1;
  }
  return 0;
}
