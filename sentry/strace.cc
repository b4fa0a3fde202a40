// Formatting for --strace.
#include "sentry/strace.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mqsentry::sentry {
namespace {

namespace abi = kernel::abi;

std::string ResultString(kernel::SyscallResult r) {
  if (r.ok()) return absl::StrCat(r.value());
  const char* name = kernel::ErrnoName(r.error());
  return absl::StrCat("-1 ", *name ? name : absl::StrCat("E", r.error()).c_str(), " (",
                      std::strerror(r.error()), ")");
}

}  // namespace

std::string OpenFlagsString(int oflag) {
  static constexpr struct {
    int bit;
    const char* name;
  } kFlags[] = {{abi::kOCreat, "O_CREAT"},       {abi::kOExcl, "O_EXCL"},
                {abi::kONoctty, "O_NOCTTY"},     {abi::kOTrunc, "O_TRUNC"},
                {abi::kOAppend, "O_APPEND"},     {abi::kONonblock, "O_NONBLOCK"},
                {abi::kODirect, "O_DIRECT"},     {abi::kOLargefile, "O_LARGEFILE"},
                {abi::kOCloexec, "O_CLOEXEC"},   {abi::kOPath, "O_PATH"}};
  const int acc = oflag & abi::kOAccmode;
  std::string out = acc == 0 ? "O_RDONLY" : acc == 1 ? "O_WRONLY" : acc == 2 ? "O_RDWR" : "03";
  int rest = oflag & ~abi::kOAccmode;
  for (const auto& f : kFlags) {
    if (rest & f.bit) {
      absl::StrAppend(&out, "|", f.name);
      rest &= ~f.bit;
    }
  }
  if (rest) absl::StrAppend(&out, absl::StrFormat("|%#o", rest));
  return out;
}

std::string QuotedString(const std::string& s, size_t max) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    unsigned char c = s[i];
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          absl::StrAppend(&out, absl::StrFormat("\\%o", c));
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += "\"";
  if (s.size() > max) out += "...";
  return out;
}

std::string AttrString(const abi::MqAttr& a, bool full) {
  if (!full) return absl::StrCat("{mq_maxmsg=", a.mq_maxmsg, ", mq_msgsize=", a.mq_msgsize, "}");
  return absl::StrCat("{mq_flags=", a.mq_flags & abi::kONonblock ? "O_NONBLOCK" : "0",
                      ", mq_maxmsg=", a.mq_maxmsg, ", mq_msgsize=", a.mq_msgsize,
                      ", mq_curmsgs=", a.mq_curmsgs, "}");
}

std::string TimespecString(int64_t sec, int64_t nsec) {
  return absl::StrCat("{tv_sec=", sec, ", tv_nsec=", nsec, "}");
}

std::string SigeventString(int notify, int signo, uint64_t value) {
  const char* kind = notify == abi::kSigevSignal ? "SIGEV_SIGNAL"
                     : notify == abi::kSigevNone ? "SIGEV_NONE"
                     : notify == abi::kSigevThread ? "SIGEV_THREAD"
                                                   : nullptr;
  std::string k = kind ? kind : absl::StrCat(notify);
  return absl::StrCat("{sigev_value={sival_int=", static_cast<int32_t>(value),
                      ", sival_ptr=", PointerString(value), "}, sigev_signo=", signo,
                      ", sigev_notify=", k, "}");
}

std::string PointerString(uint64_t p) {
  return p == 0 ? "NULL" : absl::StrFormat("%#x", p);
}

void Strace::Complete(int32_t pid, const std::string& call, kernel::SyscallResult result) {
  if (!out_) return;
  absl::MutexLock lock(&mu_);
  std::fprintf(out_, "[%d] %s = %s\n", pid, call.c_str(), ResultString(result).c_str());
  std::fflush(out_);
}

void Strace::Unfinished(int32_t pid, const std::string& call) {
  if (!out_) return;
  absl::MutexLock lock(&mu_);
  std::fprintf(out_, "[%d] %s <unfinished ...>\n", pid, call.c_str());
  std::fflush(out_);
}

void Strace::Resumed(int32_t pid, const std::string& name, kernel::SyscallResult result) {
  if (!out_) return;
  absl::MutexLock lock(&mu_);
  std::fprintf(out_, "[%d] <... %s resumed>) = %s\n", pid, name.c_str(),
               ResultString(result).c_str());
  std::fflush(out_);
}

}  // namespace mqsentry::sentry
