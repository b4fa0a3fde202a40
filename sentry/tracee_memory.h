// ProcessVmTraceeMemory: TraceeMemory over process_vm_readv/process_vm_writev. Needs
// ptrace-attach rights over the tracee (the supervisor has them: same user namespace with
// CAP_SYS_PTRACE, or host root). Stateless and thread-safe.
#ifndef MQSENTRY_SENTRY_TRACEE_MEMORY_H_
#define MQSENTRY_SENTRY_TRACEE_MEMORY_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "sentry/platform.h"

namespace mqsentry::sentry {

class ProcessVmTraceeMemory final : public TraceeMemory {
 public:
  ProcessVmTraceeMemory();
  bool Read(int32_t tid, uint64_t addr, void* out, size_t size) override;
  bool Write(int32_t tid, uint64_t addr, const void* in, size_t size) override;
  int ReadName(int32_t tid, uint64_t addr, std::string* out) override;

 private:
  const uint64_t page_size_;
};

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_TRACEE_MEMORY_H_
