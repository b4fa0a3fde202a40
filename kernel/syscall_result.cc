// SyscallResult formatting and errno names (for --strace and test messages).
#include "kernel/syscall_result.h"

#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"

namespace mqsentry::kernel {

const char* ErrnoName(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOSYS: return "ENOSYS";
    case EMSGSIZE: return "EMSGSIZE";
    case ENOTSOCK: return "ENOTSOCK";
    case EOVERFLOW: return "EOVERFLOW";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return "";
  }
}

std::string SyscallResult::ToString() const {
  if (ok()) return absl::StrCat(value_);
  const char* name = ErrnoName(errno_);
  return *name ? absl::StrCat("-1 ", name) : absl::StrCat("-1 E", errno_);
}

}  // namespace mqsentry::kernel
