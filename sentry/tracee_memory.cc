// process_vm_readv/writev copies, looping over partial transfers: the kernel stops at the
// first page it cannot access and reports the bytes copied before it.
#include "sentry/tracee_memory.h"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "kernel/abi.h"

namespace mqsentry::sentry {
namespace {

using Transfer = ssize_t (*)(pid_t, const iovec*, unsigned long, const iovec*, unsigned long,
                             unsigned long);

bool Copy(Transfer transfer, int32_t tid, uint64_t addr, char* local, size_t size) {
  if (size == 0) return true;
  // A range that wraps around the address space is never accessible.
  if (addr + size < addr) return false;
  size_t done = 0;
  while (done < size) {
    iovec l{local + done, size - done};
    iovec r{reinterpret_cast<void*>(addr + done), size - done};
    const ssize_t n = transfer(tid, &l, 1, &r, 1, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;  // EFAULT, ESRCH (gone), EPERM
    }
    if (n == 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

ProcessVmTraceeMemory::ProcessVmTraceeMemory()
    : page_size_(static_cast<uint64_t>(sysconf(_SC_PAGESIZE))) {}

bool ProcessVmTraceeMemory::Read(int32_t tid, uint64_t addr, void* out, size_t size) {
  return Copy(process_vm_readv, tid, addr, static_cast<char*>(out), size);
}

bool ProcessVmTraceeMemory::Write(int32_t tid, uint64_t addr, const void* in, size_t size) {
  // process_vm_writev's local iovec is only read from.
  return Copy(process_vm_writev, tid, addr, const_cast<char*>(static_cast<const char*>(in)),
              size);
}

// fs/namei.c getname_flags(): strncpy_from_user(kname, filename, PATH_MAX); a result of
// PATH_MAX (no NUL in the first 4096 bytes) is ENAMETOOLONG, a fault before the NUL is
// EFAULT. Page by page, so that a string that ends right before an unmapped page reads.
int ProcessVmTraceeMemory::ReadName(int32_t tid, uint64_t addr, std::string* out) {
  constexpr size_t kMax = kernel::abi::kPathMax;  // 4096, including the NUL
  char buffer[kMax];
  size_t have = 0;
  while (have < kMax) {
    const uint64_t at = addr + have;
    if (at < addr) return EFAULT;  // wrapped
    const size_t to_page_end = static_cast<size_t>(page_size_ - (at % page_size_));
    const size_t chunk = std::min(to_page_end, kMax - have);
    if (!Read(tid, at, buffer + have, chunk)) return EFAULT;
    if (const void* nul = std::memchr(buffer + have, '\0', chunk); nul != nullptr) {
      out->assign(buffer, static_cast<const char*>(nul) - buffer);
      return 0;
    }
    have += chunk;
  }
  return ENAMETOOLONG;
}

}  // namespace mqsentry::sentry
