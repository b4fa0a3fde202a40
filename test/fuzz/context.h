// The state one fuzzer run carries from step to step, and the transcript line of the step
// being built. Every step is: Begin, describe and write the inputs, Call (exactly one call
// under test), Out for what the call returned through memory, End (which also records the
// bytes the call wrote into the arena and any signal it left pending).
#ifndef MQSENTRY_TEST_FUZZ_CONTEXT_H_
#define MQSENTRY_TEST_FUZZ_CONTEXT_H_

#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "test/fuzz/arena.h"
#include "test/fuzz/rng.h"

namespace mqsentry::fuzz {

// Descriptors that exist for the whole run at fixed numbers (opened first, in this order,
// after every inherited descriptor above 2 was closed), so every run numbers them alike.
struct FixedFds {
  int netlink = -1;     // AF_NETLINK, NETLINK_ROUTE: a SIGEV_THREAD target
  int unix_dgram = -1;  // a socket that is not netlink (EINVAL for SIGEV_THREAD)
  int dev_null = -1;    // not a socket, not an mq descriptor
  int pipe_read = -1;
  int pipe_write = -1;
  int path_root = -1;   // O_PATH of "/"
};

// Known differences of `mqsentry run` the fuzzer steers around, by name (the runner
// passes test/fuzz/known_gaps.txt, which says why each exists). Natively and sandboxed the
// same names are given, so both transcripts stay comparable.
inline constexpr const char* kGapNames[] = {
    "opath",            // mq_open never gets O_PATH
    "read-bad-buffer",  // read() only gets valid buffers
    "lseek-hole",       // lseek() never gets SEEK_DATA/SEEK_HOLE
    "prio-straddle",    // a receive's priority pointer never straddles into PROT_NONE
    "write-zero",       // write() on mq descriptors never has length 0
};

class Context {
 public:
  Context(uint64_t seed, FILE* out) : rng(seed), out_(out) {}

  Rng rng;
  Arena arena;
  FixedFds fixed;
  pid_t self = 0;
  // Descriptors that mq_open, dup or fcntl(F_DUPFD) returned and that are still open.
  std::vector<int> mq_fds;
  // Descriptors this run closed (numbers to reuse as "closed").
  std::vector<int> closed_fds;
  // SIGEV_THREAD registrations and removals since the netlink socket was last drained: each
  // may queue a cookie, and a full receive buffer would make mq_notify block.
  int cookies_since_drain = 0;
  // Gaps to steer around (names from kGapNames).
  std::vector<std::string> gaps;
  bool Gap(std::string_view name) const {
    for (const std::string& g : gaps) {
      if (g == name) return true;
    }
    return false;
  }

  // Starts a step: resets the arena (so call before writing any input there).
  void Begin(std::string_view call);
  void SetCall(std::string_view call) { call_ = std::string(call); }
  template <typename... T>
  void Arg(const T&... parts) {
    if (!args_.empty()) args_.append(", ");
    absl::StrAppend(&args_, parts...);
  }
  template <typename... T>
  void Out(const T&... parts) {
    if (!out_text_.empty()) out_text_.append(" ");
    absl::StrAppend(&out_text_, parts...);
  }
  // Runs the call under test: snapshots the arena first, then records the result and errno.
  template <typename F>
  long Call(F&& f) {
    arena.Snapshot();
    errno = 0;
    const long ret = f();
    ret_ = ret;
    errno_ = ret < 0 ? errno : 0;
    return ret;
  }
  long Syscall(long nr, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0, uint64_t d = 0,
               uint64_t e = 0);
  int last_errno() const { return errno_; }
  void End();

  // An fd argument: a live mq descriptor `mq_percent` of the time, else a closed, foreign,
  // O_PATH or out-of-range one, or one with garbage in the upper half of the register
  // (mqd_t is an int). `label` says which, for the transcript.
  uint64_t PickFd(std::string* label, unsigned mq_percent = 70);
  // Forgets `fd` as an mq descriptor (it was closed or replaced).
  void Forget(int fd);
  void Remember(int fd);
  bool IsMq(int fd) const;

  // A uid as the transcript shows it: our own real uid is "<uid>" (the runner gives each
  // native run a real uid of its own; see differential_fuzz_test.sh), any other the number.
  std::string UidText(uint32_t uid) const;
  std::string GidText(uint32_t gid) const;  // likewise, our real gid is "<gid>"

  // A status line or any text the kernel wrote, with our own pid replaced by "<self>" and
  // unprintable bytes escaped.
  std::string Normalize(std::string_view text) const;

 private:
  FILE* out_;
  int step_ = 0;
  std::string call_;
  std::string args_;
  std::string out_text_;
  long ret_ = 0;
  int errno_ = 0;
  std::string signals_;

  // Records (and consumes) the signals the step left pending.
  void CollectSignals();
};

// Human-readable errno name ("EINVAL"), or the number.
std::string ErrnoName(int err);

}  // namespace mqsentry::fuzz

#endif  // MQSENTRY_TEST_FUZZ_CONTEXT_H_
