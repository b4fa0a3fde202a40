// ProcTraceeMemory: TraceeMemory anchored to the trapped call. Reads use process_vm_readv
// and are checked afterwards; writes go through /proc/<tid>/mem opened and then checked,
// limited to what copy_to_user could write (the VMA permissions, from /proc/<tid>/maps). Needs ptrace-attach rights over the tracee (the
// supervisor has them: same user namespace with CAP_SYS_PTRACE, or host root).
// Thread-safe if still_pending is.
#ifndef MQSENTRY_SENTRY_TRACEE_MEMORY_H_
#define MQSENTRY_SENTRY_TRACEE_MEMORY_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "sentry/platform.h"

namespace mqsentry::sentry {

class ProcTraceeMemory final : public TraceeMemory {
 public:
  // still_pending(call id): whether the call still waits for its answer
  // (Platform::StillValid). procmap_query false: read the maps text even where the kernel
  // has PROCMAP_QUERY (for tests; it is also what kernels before 6.11 get).
  explicit ProcTraceeMemory(std::function<bool(uint64_t call_id)> still_pending,
                            bool procmap_query = true);

  bool Read(const TrappedCall& call, uint64_t addr, void* out, size_t size) override;
  WriteOutcome WriteAll(const TrappedCall& call, std::span<const MemoryWrite> writes) override;
  int ReadName(const TrappedCall& call, uint64_t addr, std::string* out) override;

 private:
  // Reads without the final check (ReadName checks once for all its pieces).
  bool RawRead(int32_t tid, uint64_t addr, void* out, size_t size);

  const std::function<bool(uint64_t)> still_pending_;
  std::atomic<bool> procmap_query_;
  const uint64_t page_size_;
};

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_TRACEE_MEMORY_H_
