// Writes a sample checkpoint file (the codec tests' rich state: nested user and IPC
// namespaces, an unlinked queue, registrations, binary names and payloads) for the CLI
// tests of `mqsentry inspect` and `run --restore`: make_sample FILE.
#include <cstdio>

#include "ipc/checkpoint/state_testing.h"
#include "ipc/checkpoint/stream.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_sample FILE\n");
    return 2;
  }
  namespace cp = mqsentry::ipc::checkpoint;
  const mqsentry::ipc::state::SandboxState s = mqsentry::ipc::checkpoint_testing::RichState();
  cp::SandboxInfo info;
  info.own_ipc_namespace = s.ipc_namespaces.empty() ? 0 : s.ipc_namespaces[0].id;
  info.program = "/usr/bin/sample";
  info.taken_at_unix = 1700000000;
  absl::StatusOr<cp::WriteStats> w = cp::WriteCheckpointFileAtomically(argv[1], s, info);
  if (!w.ok()) {
    std::fprintf(stderr, "make_sample: %s\n", std::string(w.status().message()).c_str());
    return 1;
  }
  return 0;
}
