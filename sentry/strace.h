// --strace: one decoded line per emulated call, in strace's style, e.g.
//   [12] mq_open("q", O_RDWR|O_CREAT, 0600, {mq_maxmsg=10, mq_msgsize=64}) = 3
// with "<unfinished ...>" / "<... mq_timedreceive resumed>" lines for calls that block,
// and the errno name on failure.
#ifndef MQSENTRY_SENTRY_STRACE_H_
#define MQSENTRY_SENTRY_STRACE_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/synchronization/mutex.h"
#include "kernel/abi.h"
#include "kernel/syscall_result.h"

namespace mqsentry::sentry {

// "O_RDWR|O_CREAT|O_NONBLOCK" (unknown bits as octal).
std::string OpenFlagsString(int oflag);
// A C string literal, escaped, cut after `max` bytes with "...".
std::string QuotedString(const std::string& s, size_t max = 32);
std::string AttrString(const kernel::abi::MqAttr& a, bool full);
std::string TimespecString(int64_t sec, int64_t nsec);
std::string SigeventString(int notify, int signo, uint64_t value);
std::string PointerString(uint64_t p);  // "NULL" or 0x...

class Strace {
 public:
  explicit Strace(FILE* out) : out_(out) {}
  bool enabled() const { return out_ != nullptr; }
  // "[pid] call = result"
  void Complete(int32_t pid, const std::string& call, kernel::SyscallResult result);
  // "[pid] call <unfinished ...>"
  void Unfinished(int32_t pid, const std::string& call);
  // "[pid] <... name resumed>) = result" (`suffix` e.g. ", {...}")
  void Resumed(int32_t pid, const std::string& name, kernel::SyscallResult result);

 private:
  FILE* const out_;
  absl::Mutex mu_;
};

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_STRACE_H_
