// mq_fuzz: a deterministic differential fuzzer of the six POSIX mq system calls.
//
//   mq_fuzz --seed=N [--steps=N] [--ruid=N] [--msgqueue-limit=BYTES] [--gaps=NAME,...]
//
// From the seed it generates a sequence of calls (raw x86-64 syscalls mostly, glibc's
// wrappers and i386 calls through int $0x80 sometimes) with edge-case names, flags, modes, attributes, pointers, lengths, priorities,
// deadlines, sigevents and descriptors, plus close/dup/read/poll/fcntl on the descriptors,
// and prints one transcript line per call: arguments, result and errno, what the call
// wrote into memory, and the signals it left pending. The same seed run natively and
// under `mqsentry run` must print the same transcript (test/fuzz/differential_fuzz_test.sh).
//
// Deterministic environment: every inherited descriptor above 2 is closed and a few fixed
// ones opened, so descriptor numbers match; umask is fixed; every catchable signal is
// blocked, so a notification signal stays pending until the step records it; our own pid
// never appears in the output. The IPC namespace must be fresh: the runner gives the
// native run a new one (unshare), and `mqsentry run` always makes one.
//
// RLIMIT_MSGQUEUE usage is counted per real uid across the whole machine (spec §3.5), so
// natively other processes of the same uid could make a creation fail with EMFILE where
// the sandbox (which counts its own queues) would not. --ruid sets the real uid alone
// (a root run keeps euid 0 and its capabilities, but charges a uid nobody else uses), and
// --msgqueue-limit lowers the soft limit, so the run reaches EMFILE on its own usage, at
// the same step natively and sandboxed.
#include <fcntl.h>
#include <linux/netlink.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "test/fuzz/context.h"
#include "test/fuzz/ops.h"

namespace mqsentry::fuzz {
namespace {

struct Weighted {
  unsigned weight;
  void (*step)(Context&);
};

constexpr Weighted kSteps[] = {
    {16, MqOpenStep},      {6, MqUnlinkStep},    {20, MqTimedSendStep},
    {18, MqTimedReceiveStep}, {11, MqNotifyStep}, {9, MqGetSetAttrStep},
    {6, CloseStep},        {4, DupStep},         {4, ReadStep},
    {2, LseekStep},        {1, WriteStep},       {2, PollStep},
    {2, FstatStep},        {3, FcntlStep},       {1, DrainCookiesStep},
    {14, I386Step},        {2, X32Step},
};

[[noreturn]] void Usage() {
  fprintf(stderr,
          "usage: mq_fuzz --seed=N [--steps=N] [--ruid=N] [--msgqueue-limit=BYTES]\n"
          "               [--gaps=NAME,...]\n");
  exit(2);
}

[[noreturn]] void Die(const std::string& what) {
  fprintf(stderr, "mq_fuzz: %s: %s\n", what.c_str(), strerror(errno));
  exit(2);
}

// Opens `fd` with `open_fn` and checks it got the expected number.
template <typename F>
int Fixed(int want, const char* what, F open_fn) {
  const int fd = open_fn();
  if (fd != want) Die(absl::StrFormat("%s got fd %d, wanted %d", what, fd, want));
  return fd;
}

void SetUp(Context& ctx) {
  if (close_range(3, ~0U, 0) != 0) Die("close_range");
  umask(022);
  sigset_t all;
  sigfillset(&all);
  if (sigprocmask(SIG_BLOCK, &all, nullptr) != 0) Die("sigprocmask");
  FixedFds& f = ctx.fixed;
  f.netlink = Fixed(3, "netlink socket", [] {
    return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  });
  f.unix_dgram = Fixed(4, "unix socket", [] {
    return socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  });
  f.dev_null = Fixed(5, "/dev/null", [] { return open("/dev/null", O_RDWR | O_CLOEXEC); });
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0 || p[0] != 6 || p[1] != 7) Die("pipe");
  f.pipe_read = p[0];
  f.pipe_write = p[1];
  f.path_root = Fixed(8, "O_PATH /", [] { return open("/", O_PATH | O_CLOEXEC); });
  ctx.self = getpid();
}

struct Options {
  uint64_t seed = 0;
  int steps = 3000;
  int64_t ruid = -1;
  int64_t msgqueue_limit = -1;
  std::vector<std::string> gaps;
};

void Run(const Options& opt) {
  if (opt.ruid >= 0 && setresuid(static_cast<uid_t>(opt.ruid), -1, -1) != 0) Die("setresuid");
  if (opt.msgqueue_limit >= 0) {
    struct rlimit lim;
    getrlimit(RLIMIT_MSGQUEUE, &lim);
    lim.rlim_cur = static_cast<rlim_t>(opt.msgqueue_limit);
    if (setrlimit(RLIMIT_MSGQUEUE, &lim) != 0) Die("setrlimit(RLIMIT_MSGQUEUE)");
  }
  const uint64_t seed = opt.seed;
  const int steps = opt.steps;
  Context ctx(seed, stdout);
  ctx.gaps = opt.gaps;
  SetUp(ctx);
  struct rlimit msgq, nofile;
  getrlimit(RLIMIT_MSGQUEUE, &msgq);
  getrlimit(RLIMIT_NOFILE, &nofile);
  // Ids relative to our own: which real uid a run charges is the runner's choice.
  absl::PrintF(
      "# mq_fuzz seed=%d steps=%d uid=<uid> euid=%s gid=<gid> egid=%s msgqueue=%d nofile=%d "
      "i386=%d x32=%d gaps=%s\n",
      seed, steps, ctx.UidText(geteuid()), ctx.GidText(getegid()), msgq.rlim_cur,
      nofile.rlim_cur, I386Available(), !KernelLacksX32(), absl::StrJoin(ctx.gaps, ","));
  // i386 steps only where the kernel runs them, x32 ones only where it does not (the same
  // natively and sandboxed).
  const bool i386 = I386Available();
  const bool no_x32 = KernelLacksX32();
  auto weight = [&](const Weighted& w) {
    if (w.step == I386Step && !i386) return 0u;
    if (w.step == X32Step && !no_x32) return 0u;
    return w.weight;
  };
  unsigned total = 0;
  for (const Weighted& w : kSteps) total += weight(w);
  for (int i = 0; i < steps; ++i) {
    unsigned r = static_cast<unsigned>(ctx.rng.Below(total));
    for (const Weighted& w : kSteps) {
      if (r < weight(w)) {
        w.step(ctx);
        break;
      }
      r -= weight(w);
    }
  }
  // The end state: every cookie still queued.
  DrainCookiesStep(ctx);
  absl::PrintF("# end\n");
  fflush(stdout);
}

}  // namespace
}  // namespace mqsentry::fuzz

int main(int argc, char** argv) {
  mqsentry::fuzz::Options opt;
  bool have_seed = false;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    // --FLAG=N with N >= 0.
    auto value = [&](absl::string_view flag, int64_t* out) {
      if (!absl::StartsWith(arg, flag)) return false;
      if (!absl::SimpleAtoi(arg.substr(flag.size()), out) || *out < 0) mqsentry::fuzz::Usage();
      return true;
    };
    int64_t n;
    if (value("--seed=", &n)) {
      opt.seed = static_cast<uint64_t>(n);
      have_seed = true;
    } else if (value("--steps=", &n)) {
      opt.steps = static_cast<int>(n);
    } else if (absl::StartsWith(arg, "--gaps=")) {
      for (absl::string_view g : absl::StrSplit(arg.substr(7), ',', absl::SkipEmpty())) {
        if (std::find(std::begin(mqsentry::fuzz::kGapNames), std::end(mqsentry::fuzz::kGapNames),
                      g) == std::end(mqsentry::fuzz::kGapNames)) {
          fprintf(stderr, "mq_fuzz: unknown gap \"%s\"\n", std::string(g).c_str());
          mqsentry::fuzz::Usage();
        }
        opt.gaps.emplace_back(g);
      }
    } else if (!value("--ruid=", &opt.ruid) && !value("--msgqueue-limit=", &opt.msgqueue_limit)) {
      mqsentry::fuzz::Usage();
    }
  }
  if (!have_seed) mqsentry::fuzz::Usage();
  // A line per step as it completes: if a call hangs or kills the run, the transcript
  // still shows every step before it.
  static char buf[1 << 16];
  setvbuf(stdout, buf, _IOLBF, sizeof(buf));
  mqsentry::fuzz::Run(opt);
  return 0;
}
