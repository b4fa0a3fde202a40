// SyscallResult: what a sandboxed program sees from an emulated system call, a
// non-negative value or an errno. This is one of two error channels (see
// ../shared/design/style.md habit 2): supervisor failures are absl::Status, never errno.
#ifndef MQSENTRY_KERNEL_SYSCALL_RESULT_H_
#define MQSENTRY_KERNEL_SYSCALL_RESULT_H_

#include <cstdint>
#include <string>

namespace mqsentry::kernel {

class SyscallResult {
 public:
  static constexpr SyscallResult Value(int64_t v) { return SyscallResult(v, 0); }
  static constexpr SyscallResult Error(int errno_value) { return SyscallResult(0, errno_value); }
  static constexpr SyscallResult Ok() { return Value(0); }

  constexpr bool ok() const { return errno_ == 0; }
  constexpr int error() const { return errno_; }  // 0 when ok()
  constexpr int64_t value() const { return value_; }
  // The raw return register: value, or -errno.
  constexpr int64_t raw() const { return ok() ? value_ : -static_cast<int64_t>(errno_); }
  friend constexpr bool operator==(SyscallResult, SyscallResult) = default;
  std::string ToString() const;  // "3" or "-1 EAGAIN"

 private:
  constexpr SyscallResult(int64_t v, int e) : value_(v), errno_(e) {}
  int64_t value_;
  int errno_;
};

// "EAGAIN" for EAGAIN; "" for values it does not know.
const char* ErrnoName(int errno_value);

}  // namespace mqsentry::kernel

#endif  // MQSENTRY_KERNEL_SYSCALL_RESULT_H_
