// Why every access reaches the caller's address space as it is now. While a call waits
// for its answer (SECCOMP_IOCTL_NOTIF_ID_VALID succeeds), its thread sits in the seccomp
// wait: it is alive, so its tid names it and no other task; it cannot exec; and an exec by
// another thread of its process kills it first, which ends the wait (the kernel removes
// the notification before the thread exits, so before the exec replaces the address
// space). A check that the call still waits, made after a resource was looked up by tid,
// therefore proves the lookup found the caller and its current address space.
//
// Writes: /proc/<tid>/mem and /proc/<tid>/maps hold the address space they were opened on
// (the mm, not the tid), so opened and then checked they can only ever reach the caller's;
// if the caller dies or exec's after the check, that address space is dead or no longer
// its image's, and nothing reaches another process. /proc/<tid>/mem writes with FOLL_FORCE
// (read-only and PROT_NONE pages too), so each write is limited to the bytes that lie in
// writable VMAs, the prefix copy_to_user would write before faulting (PROCMAP_QUERY, or the
// maps text before kernel 6.11).
//
// Reads: process_vm_readv(tid) looks tid up when called, and its bytes are returned only
// if the call still waits afterwards (so they came from the caller); they are never used
// otherwise. process_vm_readv has copy_from_user's view of permissions (no FOLL_FORCE).
#include "sentry/tracee_memory.h"

#include <fcntl.h>
#include <linux/types.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "kernel/abi.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {
namespace {

// PROCMAP_QUERY (include/uapi/linux/fs.h, kernel 6.11): newer than Debian 12's headers.
struct ProcmapQuery {
  __u64 size;
  __u64 query_flags;
  __u64 query_addr;
  __u64 vma_start;
  __u64 vma_end;
  __u64 vma_flags;
  __u64 vma_page_size;
  __u64 vma_offset;
  __u64 inode;
  __u32 dev_major;
  __u32 dev_minor;
  __u32 vma_name_size;
  __u32 build_id_size;
  __u64 vma_name_addr;
  __u64 build_id_addr;
};
constexpr unsigned long kProcmapQuery = _IOWR('f', 17, ProcmapQuery);
// Only a VMA covering query_addr that has VM_WRITE matches (no "or next" flag).
constexpr __u64 kProcmapQueryVmaWritable = 0x02;

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

UniqueFd OpenProc(int32_t tid, const char* file, int flags) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/%s", tid, file);
  return UniqueFd(open(path, flags | O_CLOEXEC));
}

// The end of a range that may wrap: writes never go past the top of the address space.
uint64_t RangeEnd(uint64_t addr, uint64_t size) {
  return addr + size < addr ? ~uint64_t{0} : addr + size;
}

// How many bytes from addr lie in writable VMAs of the address space `maps` was opened
// on, without a gap: what copy_to_user could write before faulting. nullopt: the kernel
// lacks PROCMAP_QUERY (before 6.11).
std::optional<uint64_t> WritablePrefixByQuery(int maps, uint64_t addr, uint64_t size) {
  const uint64_t end = RangeEnd(addr, size);
  uint64_t at = addr;
  while (at < end) {
    ProcmapQuery q{};
    q.size = sizeof(q);
    q.query_flags = kProcmapQueryVmaWritable;
    q.query_addr = at;
    // ENOENT: no writable VMA covers `at` (unmapped, read-only, PROT_NONE, kernel half).
    if (ioctl(maps, kProcmapQuery, &q) != 0) {
      if (errno == ENOTTY) return std::nullopt;
      break;
    }
    if (q.vma_end <= at) break;
    at = std::min<uint64_t>(q.vma_end, end);
  }
  return at - addr;
}

// The same from the text of the maps file ("start-end perms ..." per VMA, ascending),
// read through the same descriptor, so of the same address space.
uint64_t WritablePrefixFromText(int maps, uint64_t addr, uint64_t size) {
  std::string text;
  char chunk[16384];
  while (true) {
    const ssize_t n = pread(maps, chunk, sizeof(chunk), static_cast<off_t>(text.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(chunk, static_cast<size_t>(n));
  }
  const uint64_t end = RangeEnd(addr, size);
  uint64_t at = addr;
  size_t line = 0;
  while (at < end && line < text.size()) {
    size_t next = text.find('\n', line);
    if (next == std::string::npos) next = text.size();
    unsigned long long start = 0, stop = 0;
    char perms[5] = {};
    const std::string l = text.substr(line, next - line);
    line = next + 1;
    if (std::sscanf(l.c_str(), "%llx-%llx %4s", &start, &stop, perms) != 3) break;
    if (stop <= at) continue;
    if (start > at || perms[1] != 'w') break;
    at = std::min<uint64_t>(stop, end);
  }
  return at - addr;
}

// pwrite of all `size` bytes; the count written.
uint64_t WriteThrough(int mem, uint64_t addr, const char* data, uint64_t size) {
  uint64_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(mem, data + done, size - done, static_cast<off_t>(addr + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EIO: a page the kernel could not fault in, or the mm is gone
    done += static_cast<uint64_t>(n);
  }
  return done;
}

}  // namespace

ProcTraceeMemory::ProcTraceeMemory(std::function<bool(uint64_t call_id)> still_pending,
                                   bool procmap_query)
    : still_pending_(std::move(still_pending)),
      procmap_query_(procmap_query),
      page_size_(static_cast<uint64_t>(sysconf(_SC_PAGESIZE))) {}

bool ProcTraceeMemory::RawRead(int32_t tid, uint64_t addr, void* out, size_t size) {
  return Copy(process_vm_readv, tid, addr, static_cast<char*>(out), size);
}

bool ProcTraceeMemory::Read(const TrappedCall& call, uint64_t addr, void* out, size_t size) {
  if (size == 0) return true;
  // Checked after the read (file comment): bytes of anyone else are never returned.
  return RawRead(call.tid, addr, out, size) && still_pending_(call.id);
}

WriteOutcome ProcTraceeMemory::WriteAll(const TrappedCall& call,
                                        std::span<const MemoryWrite> writes) {
  if (std::all_of(writes.begin(), writes.end(), [](const MemoryWrite& w) { return w.size == 0; })) {
    return WriteOutcome::kDone;
  }
  // Opened first, checked after (file comment).
  int open_error = 0;
  const UniqueFd mem = OpenProc(call.tid, "mem", O_RDWR);
  if (!mem.valid()) open_error = errno;
  const UniqueFd maps = OpenProc(call.tid, "maps", O_RDONLY);
  if (!maps.valid() && open_error == 0) open_error = errno;
  if (!still_pending_(call.id)) return WriteOutcome::kGone;
  if (open_error == EMFILE || open_error == ENFILE || open_error == ENOMEM) {
    return WriteOutcome::kError;
  }
  // Still waiting, but not open: the supervisor may not reach this process (ptrace access
  // rules); the caller sees EFAULT, as from a page it cannot write.
  if (open_error != 0) return WriteOutcome::kFault;
  for (const MemoryWrite& w : writes) {
    if (w.size == 0) continue;
    std::optional<uint64_t> allowed;
    if (procmap_query_.load(std::memory_order_relaxed)) {
      allowed = WritablePrefixByQuery(maps.get(), w.addr, w.size);
      if (!allowed) procmap_query_.store(false, std::memory_order_relaxed);
    }
    if (!allowed) allowed = WritablePrefixFromText(maps.get(), w.addr, w.size);
    if (w.all_or_nothing && *allowed < w.size) return WriteOutcome::kFault;
    const uint64_t written =
        WriteThrough(mem.get(), w.addr, static_cast<const char*>(w.data), *allowed);
    if (written < w.size) {
      // A fault, or the caller died or exec'd meanwhile (then its old address space
      // refuses the write): only the call's state tells which.
      return still_pending_(call.id) ? WriteOutcome::kFault : WriteOutcome::kGone;
    }
  }
  return WriteOutcome::kDone;
}

// fs/namei.c getname_flags(): strncpy_from_user(kname, filename, PATH_MAX); a result of
// PATH_MAX (no NUL in the first 4096 bytes) is ENAMETOOLONG, a fault before the NUL is
// EFAULT. Page by page, so that a string that ends right before an unmapped page reads.
int ProcTraceeMemory::ReadName(const TrappedCall& call, uint64_t addr, std::string* out) {
  constexpr size_t kMax = kernel::abi::kPathMax;  // 4096, including the NUL
  char buffer[kMax];
  size_t have = 0;
  while (have < kMax) {
    const uint64_t at = addr + have;
    if (at < addr) return EFAULT;  // wrapped
    const size_t to_page_end = static_cast<size_t>(page_size_ - (at % page_size_));
    const size_t chunk = std::min(to_page_end, kMax - have);
    if (!RawRead(call.tid, at, buffer + have, chunk)) return EFAULT;
    if (const void* nul = std::memchr(buffer + have, '\0', chunk); nul != nullptr) {
      // Checked after the reads, before the name is used (file comment).
      if (!still_pending_(call.id)) return EFAULT;
      out->assign(buffer, static_cast<const char*>(nul) - buffer);
      return 0;
    }
    have += chunk;
  }
  return ENAMETOOLONG;
}

}  // namespace mqsentry::sentry
