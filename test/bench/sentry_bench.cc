// sentry_bench: the same message-queue workloads natively and under `mqsentry run`, in
// one run, with the ratios. Usage:
//   sentry_bench MQSENTRY_BINARY [--seconds S]     drive: run every workload both ways
//   sentry_bench --workload NAME --seconds S       one workload here; prints "ns_per_op N"
//   sentry_bench MQSENTRY_BINARY|- --parked N [--seconds S]
//                      N threads parked in mq_receive: time to park them all, the
//                      supervisor's CPU while they wait, an unrelated pair's time
//                      ("-": natively)
//   sentry_bench --workload signal_latency --threads N   (natively or under mqsentry run)
//                      how long each signal source takes to interrupt a blocked call,
//                      with N other calls blocked
// Workloads: pair (send+receive in one process), notify (pair + a SIGEV_SIGNAL
// notification fired and collected), pingpong (two processes, two queues),
// cycle (mq_open O_CREAT + close + mq_unlink), big (512 KiB send+receive), and
// trap_floor: the floor of any seccomp-notify supervisor on this machine, run natively —
// two trapped getppid calls answered at once by a parent that does what mqsentry's loop
// does around a call (poll, RECV, SEND with sync wake-up) and nothing else.
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <mqueue.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sentry/fd_passing.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "sentry_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

std::string Name(const char* tag) { return std::string("/bench-") + tag + "-" + std::to_string(getpid()); }

mqd_t Open(const std::string& name, long maxmsg, long msgsize) {
  mq_attr a{};
  a.mq_maxmsg = maxmsg;
  a.mq_msgsize = msgsize;
  mqd_t q = mq_open(name.c_str(), O_RDWR | O_CREAT, 0600, &a);
  if (q < 0) Die("mq_open");
  return q;
}

// Runs `op` until `seconds` pass; returns ns per op.
template <typename F>
double Measure(double seconds, F op) {
  for (int i = 0; i < 100; ++i) op();  // warm-up
  long n = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  auto now = start;
  while (now < end) {
    for (int i = 0; i < 64; ++i) op();
    n += 64;
    now = Clock::now();
  }
  return std::chrono::duration<double, std::nano>(now - start).count() / n;
}

double Pair(double seconds, size_t size) {
  const std::string name = Name("pair");
  // One slot for big messages: ten would exceed the default RLIMIT_MSGQUEUE (819200).
  mqd_t q = Open(name, size > 8192 ? 1 : 10, static_cast<long>(size));
  std::vector<char> buf(size, 'x');
  double ns = Measure(seconds, [&] {
    if (mq_send(q, buf.data(), size, 1) != 0) Die("mq_send");
    if (mq_receive(q, buf.data(), size, nullptr) < 0) Die("mq_receive");
  });
  mq_close(q);
  mq_unlink(name.c_str());
  return ns;
}

// A send that fires a SIGEV_SIGNAL notification: mq_notify + mq_send (fires) + the
// signal collected with sigtimedwait + mq_receive. Compare with pair: the difference is
// what the notification costs (under mqsentry: the signal queued before the send returns).
double NotifyPair(double seconds) {
  const std::string name = Name("notify");
  mqd_t q = Open(name, 10, 64);
  const int sig = SIGRTMIN + 1;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  sigevent sev{};
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = sig;
  char buf[64] = "x";
  double ns = Measure(seconds, [&] {
    if (mq_notify(q, &sev) != 0) Die("mq_notify");
    if (mq_send(q, buf, 1, 1) != 0) Die("mq_send");
    const timespec ten_s{10, 0};
    if (sigtimedwait(&set, nullptr, &ten_s) != sig) Die("sigtimedwait");
    if (mq_receive(q, buf, sizeof(buf), nullptr) < 0) Die("mq_receive");
  });
  mq_close(q);
  mq_unlink(name.c_str());
  return ns;
}

double PingPong(double seconds) {
  const std::string a = Name("ping"), b = Name("pong");
  mqd_t qa = Open(a, 1, 64), qb = Open(b, 1, 64);
  char buf[64] = "ball";
  pid_t child = fork();
  if (child < 0) Die("fork");
  if (child == 0) {
    for (;;) {
      if (mq_receive(qa, buf, sizeof(buf), nullptr) < 0) _exit(1);
      if (buf[0] == 'q') _exit(0);
      if (mq_send(qb, buf, 4, 0) != 0) _exit(1);
    }
  }
  double ns = Measure(seconds, [&] {
    if (mq_send(qa, "ball", 4, 0) != 0) Die("mq_send");
    if (mq_receive(qb, buf, sizeof(buf), nullptr) < 0) Die("mq_receive");
  });
  mq_send(qa, "q", 1, 0);
  waitpid(child, nullptr, 0);
  mq_close(qa);
  mq_close(qb);
  mq_unlink(a.c_str());
  mq_unlink(b.c_str());
  return ns;
}

double Cycle(double seconds) {
  const std::string name = Name("cycle");
  return Measure(seconds, [&] {
    mqd_t q = mq_open(name.c_str(), O_RDWR | O_CREAT, 0600, nullptr);
    if (q < 0) Die("mq_open");
    mq_close(q);
    if (mq_unlink(name.c_str()) != 0) Die("mq_unlink");
  });
}

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1
#endif

// Waits until `count` threads of this process are inside system call `nr`.
void WaitForThreadsInSyscall(long nr, int count) {
  for (int spins = 0;; ++spins) {
    int in_call = 0;
    char path[64];
    std::snprintf(path, sizeof(path), "/proc/%d/task", getpid());
    if (DIR* d = opendir(path)) {
      while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        char sc[512];
        std::snprintf(sc, sizeof(sc), "%s/%s/syscall", path, e->d_name);
        FILE* f = std::fopen(sc, "re");
        if (f == nullptr) continue;
        long got = -1;
        if (std::fscanf(f, "%ld", &got) == 1 && got == nr) ++in_call;
        std::fclose(f);
      }
      closedir(d);
    }
    if (in_call >= count) return;
    if (spins > 100000) Die("threads did not block");
    usleep(1000);
  }
}

double TrapFloor(double seconds, int held) {
  using mqsentry::sentry::ReceiveMessage;
  using mqsentry::sentry::SendMessage;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) Die("socketpair");
  const pid_t child = fork();
  if (child < 0) Die("fork");
  if (child == 0) {
    sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof(code) / sizeof(code[0])), code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(1);
    const int listener = static_cast<int>(
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));
    if (listener < 0) _exit(1);
    // Hand the listener to the parent, then wait until it is serving.
    if (!SendMessage(sv[1], "L", listener).ok()) _exit(1);
    close(listener);
    absl::StatusOr<mqsentry::sentry::ReceivedMessage> go = ReceiveMessage(sv[1], 1);
    if (!go.ok() || go->eof) _exit(1);
    // Calls the parent holds unanswered, as mqsentry holds parked calls.
    for (int i = 0; i < held; ++i) {
      pthread_t t;
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setstacksize(&attr, 64 * 1024);
      if (pthread_create(&t, &attr, [](void*) -> void* {
            syscall(SYS_getppid);
            return nullptr;
          }, nullptr) != 0) {
        _exit(1);
      }
      pthread_attr_destroy(&attr);
    }
    WaitForThreadsInSyscall(SYS_getppid, held);
    double ns = Measure(seconds, [] {
      if (syscall(SYS_getppid) != 4242 || syscall(SYS_getppid) != 4242) _exit(1);
    });
    if (write(sv[1], &ns, sizeof(ns)) != sizeof(ns)) _exit(1);
    _exit(0);
  }
  close(sv[1]);
  absl::StatusOr<mqsentry::sentry::ReceivedMessage> got = ReceiveMessage(sv[0], 1);
  if (!got.ok() || !got->fd.valid()) Die("receiving the listener");
  const int listener = got->fd.get();
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0) != 0) {
    Die("SECCOMP_IOCTL_NOTIF_SET_FLAGS");
  }
  if (!SendMessage(sv[0], "G").ok()) Die("write");
  for (;;) {
    pollfd pfd{listener, POLLIN, 0};
    if (poll(&pfd, 1, -1) < 0) Die("poll");
    if (!(pfd.revents & POLLIN)) break;  // POLLHUP: the child has exited
    seccomp_notif req{};
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) continue;
    if (static_cast<pid_t>(req.pid) != child) continue;  // a held call
    seccomp_notif_resp resp{};
    resp.id = req.id;
    resp.val = 4242;
    (void)ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }
  double ns = -1;
  if (read(sv[0], &ns, sizeof(ns)) != sizeof(ns)) ns = -1;
  int status = 0;
  waitpid(child, &status, 0);
  close(sv[0]);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) Die("trap_floor child failed");
  return ns;
}

// `threads` threads blocked in mq_receive on a queue nobody sends to, then the pair
// workload on another queue. Prints "parked_ms N" (from creating the threads until the
// first pair completed: the supervisor takes calls in order), then "ready" and sleeps
// `seconds` (the driver measures the supervisor's CPU time meanwhile), then "idle_done" and
// the pair's ns_per_op.
int ParkedPair(double seconds, int threads) {
  const std::string idle = Name("idle");
  mqd_t q = Open(idle, 1, 64);
  const auto start = Clock::now();
  for (int i = 0; i < threads; ++i) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    if (pthread_create(&t, &attr, [](void* arg) -> void* {
          char buf[64];
          mq_receive(static_cast<mqd_t>(reinterpret_cast<intptr_t>(arg)), buf, sizeof(buf),
                     nullptr);
          return nullptr;
        }, reinterpret_cast<void*>(static_cast<intptr_t>(q))) != 0) {
      Die("pthread_create");
    }
    pthread_attr_destroy(&attr);
  }
  // Every thread is in its call (natively asleep; under mqsentry trapped) before the pair.
  WaitForThreadsInSyscall(SYS_mq_timedreceive, threads);
  const std::string name = Name("pair");
  mqd_t p = Open(name, 10, 64);
  char buf[64] = "x";
  if (mq_send(p, buf, 1, 1) != 0 || mq_receive(p, buf, sizeof(buf), nullptr) < 0) Die("pair");
  const double parked_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  std::printf("parked_ms %.1f\nready\n", parked_ms);
  std::fflush(stdout);
  usleep(static_cast<useconds_t>(seconds * 1e6));
  std::printf("idle_done\n");
  std::fflush(stdout);
  double ns = Measure(seconds, [&] {
    if (mq_send(p, buf, 1, 1) != 0) Die("mq_send");
    if (mq_receive(p, buf, sizeof(buf), nullptr) < 0) Die("mq_receive");
  });
  std::printf("ns_per_op %.1f\n", ns);
  std::fflush(stdout);
  mq_unlink(name.c_str());
  mq_unlink(idle.c_str());
  _exit(0);  // the parked threads stay blocked
}

// Drives ParkedPair under mqsentry (or natively with "-"): prints the time to park, the
// supervisor's CPU share while the calls are parked and idle, and the pair's time.
int DriveParked(const std::string& self, const std::string& mqsentry, int threads,
                double seconds) {
  int pipefd[2];
  if (pipe(pipefd) != 0) Die("pipe");
  const std::string secs = std::to_string(seconds), n = std::to_string(threads);
  std::vector<std::string> args = {self, "--workload", "parked", "--threads", n, "--seconds", secs};
  if (mqsentry != "-") args.insert(args.begin(), {mqsentry, "run", "--"});
  const pid_t pid = fork();
  if (pid < 0) Die("fork");
  if (pid == 0) {
    dup2(pipefd[1], 1);
    close(pipefd[0]);
    close(pipefd[1]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(pipefd[1]);
  // utime + stime of the supervisor process (all its threads), in clock ticks.
  auto cpu_ticks = [pid]() -> double {
    const std::string path = "/proc/" + std::to_string(pid) + "/stat";
    FILE* f = std::fopen(path.c_str(), "re");
    if (f == nullptr) return -1;
    char text[2048] = {};
    const size_t len = std::fread(text, 1, sizeof(text) - 1, f);
    std::fclose(f);
    text[len] = 0;
    const char* p = std::strrchr(text, ')');
    if (p == nullptr) return -1;
    unsigned long utime = 0, stime = 0;
    // Fields after "(comm)": 3 state ... 14 utime, 15 stime.
    if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                    &stime) != 2) {
      return -1;
    }
    return static_cast<double>(utime + stime);
  };
  FILE* out = fdopen(pipefd[0], "r");
  char line[256];
  double parked_ms = -1, ns = -1, cpu_start = -1, cpu_end = -1;
  Clock::time_point idle_start;
  double idle_s = 0;
  while (std::fgets(line, sizeof(line), out)) {
    if (std::sscanf(line, "parked_ms %lf", &parked_ms) == 1) continue;
    if (std::strncmp(line, "ready", 5) == 0) {
      cpu_start = cpu_ticks();
      idle_start = Clock::now();
    } else if (std::strncmp(line, "idle_done", 9) == 0) {
      cpu_end = cpu_ticks();
      idle_s = std::chrono::duration<double>(Clock::now() - idle_start).count();
    } else {
      std::sscanf(line, "ns_per_op %lf", &ns);
    }
  }
  std::fclose(out);
  int status = 0;
  waitpid(pid, &status, 0);
  const double cpu_pct = (mqsentry != "-" && cpu_start >= 0 && cpu_end >= 0 && idle_s > 0)
                             ? 100.0 * (cpu_end - cpu_start) / sysconf(_SC_CLK_TCK) / idle_s
                             : -1;
  std::printf("%-8s parked=%-5d park_all_ms=%-9.1f supervisor_cpu_idle=%5.1f%%  pair_ns=%.0f\n",
              mqsentry == "-" ? "native" : "mqsentry", threads, parked_ms, cpu_pct, ns);
  return ns > 0 ? 0 : 1;
}

// How long a signal takes to interrupt a blocked mq_receive, per signal source, with
// `idle` other calls blocked meanwhile. Prints one line per source: n, median, 90th
// percentile and maximum, in microseconds (from the send, or a timer's expiry, to the
// handler).
std::atomic<int64_t> g_handler_ns{0};
int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}
void StampHandler(int) { g_handler_ns.store(MonoNs()); }

int SignalLatency(int idle, int rounds) {
  const int sig = SIGUSR1;
  struct sigaction sa {};
  sa.sa_handler = StampHandler;
  sigaction(sig, &sa, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // every thread but the target blocks it
  const std::string idle_name = Name("lat-idle"), name = Name("lat");
  mqd_t iq = Open(idle_name, 1, 64), q = Open(name, 1, 64);
  for (int i = 0; i < idle; ++i) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    if (pthread_create(&t, &attr, [](void* arg) -> void* {
          char buf[64];
          mq_receive(static_cast<mqd_t>(reinterpret_cast<intptr_t>(arg)), buf, sizeof(buf),
                     nullptr);
          return nullptr;
        }, reinterpret_cast<void*>(static_cast<intptr_t>(iq))) != 0) {
      Die("pthread_create");
    }
    pthread_attr_destroy(&attr);
  }
  WaitForThreadsInSyscall(SYS_mq_timedreceive, idle);
  static std::atomic<int> entered{0}, interrupted{0};
  static std::atomic<pid_t> target_tid{0};
  static mqd_t target_q;
  target_q = q;
  pthread_t target;
  if (pthread_create(&target, nullptr, [](void*) -> void* {
        target_tid = static_cast<pid_t>(syscall(SYS_gettid));
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGUSR1);
        pthread_sigmask(SIG_UNBLOCK, &s, nullptr);
        char buf[64];
        for (;;) {
          entered++;
          if (mq_receive(target_q, buf, sizeof(buf), nullptr) >= 0) return nullptr;
          if (errno == EINTR) interrupted++;
        }
      }, nullptr) != 0) {
    Die("pthread_create");
  }
  while (target_tid == 0) usleep(1000);
  struct Source {
    const char* name;
    std::function<int64_t()> fire;  // returns the reference time
  };
  timer_t process_timer, thread_timer;
  sigevent pev{};
  pev.sigev_notify = SIGEV_SIGNAL;
  pev.sigev_signo = sig;
  if (timer_create(CLOCK_MONOTONIC, &pev, &process_timer) != 0) Die("timer_create");
  sigevent tev{};
  tev.sigev_notify = SIGEV_THREAD_ID;
  tev.sigev_signo = sig;
  tev._sigev_un._tid = target_tid;
  if (timer_create(CLOCK_MONOTONIC, &tev, &thread_timer) != 0) Die("timer_create");
  auto arm = [](timer_t t) {
    const int64_t at = MonoNs() + 2'000'000;
    itimerspec its{};
    its.it_value.tv_sec = at / 1'000'000'000;
    its.it_value.tv_nsec = at % 1'000'000'000;
    if (timer_settime(t, TIMER_ABSTIME, &its, nullptr) != 0) Die("timer_settime");
    return at;
  };
  const pid_t self = getpid();
  const Source sources[] = {
      {"tgkill from another thread",
       [&] {
         const int64_t t0 = MonoNs();
         syscall(SYS_tgkill, self, target_tid.load(), sig);
         return t0;
       }},
      {"kill of the process by itself",
       [&] {
         const int64_t t0 = MonoNs();
         kill(self, sig);
         return t0;
       }},
      {"kill from another process",
       [&] {
         const int64_t t0 = MonoNs();
         const pid_t c = fork();
         if (c == 0) {
           kill(self, SIGUSR1);
           _exit(0);
         }
         waitpid(c, nullptr, 0);
         return t0;
       }},
      {"POSIX timer, process-directed (kernel)", [&] { return arm(process_timer); }},
      {"POSIX timer, SIGEV_THREAD_ID (kernel)", [&] { return arm(thread_timer); }},
  };
  for (const Source& src : sources) {
    std::vector<double> us;
    for (int r = 0; r < rounds; ++r) {
      const int want = interrupted.load() + 1;
      // The target is back in its call, and (under mqsentry) parked by now.
      while (entered.load() < want) usleep(100);
      usleep(20000);
      g_handler_ns = 0;
      const int64_t t0 = src.fire();
      const int64_t give_up = MonoNs() + 10'000'000'000;
      while (interrupted.load() < want && MonoNs() < give_up) usleep(50);
      if (interrupted.load() < want) {
        std::printf("%-40s not interrupted within 10 s\n", src.name);
        while (interrupted.load() < want) usleep(1000);  // (it will be, by a later sweep)
        continue;
      }
      us.push_back((g_handler_ns.load() - t0) / 1000.0);
    }
    if (us.empty()) continue;
    std::sort(us.begin(), us.end());
    std::printf("%-40s n=%-4zu median=%8.0f us  p90=%8.0f us  max=%8.0f us\n", src.name,
                us.size(), us[us.size() / 2], us[us.size() * 9 / 10], us.back());
    std::fflush(stdout);
  }
  mq_unlink(name.c_str());
  mq_unlink(idle_name.c_str());
  _exit(0);
}

int RunWorkload(const std::string& w, double seconds) {
  double ns = 0;
  if (w == "pair") {
    ns = Pair(seconds, 64);
  } else if (w == "notify") {
    ns = NotifyPair(seconds);
  } else if (w == "pingpong") {
    ns = PingPong(seconds);
  } else if (w == "cycle") {
    ns = Cycle(seconds);
  } else if (w == "trap_floor") {
    ns = TrapFloor(seconds, 0);
  } else if (w == "big") {
    // 512 KiB is above the default msgsize_max (8192): raise it in a private IPC namespace,
    // natively and in the sandbox alike (needs root).
    if (unshare(CLONE_NEWIPC) != 0) Die("unshare(CLONE_NEWIPC)");
    const int fd = open("/proc/sys/fs/mqueue/msgsize_max", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "524288", 6) != 6) Die("msgsize_max");
    close(fd);
    ns = Pair(seconds, 512 * 1024);
  } else {
    std::fprintf(stderr, "unknown workload %s\n", w.c_str());
    return 2;
  }
  std::printf("ns_per_op %.1f\n", ns);
  return 0;
}

// Runs argv and returns the ns_per_op it printed, or -1.
double RunChild(const std::vector<std::string>& args) {
  int pipefd[2];
  if (pipe(pipefd) != 0) Die("pipe");
  pid_t pid = fork();
  if (pid < 0) Die("fork");
  if (pid == 0) {
    dup2(pipefd[1], 1);
    close(pipefd[0]);
    close(pipefd[1]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(pipefd[1]);
  std::string out;
  char buf[256];
  ssize_t r;
  while ((r = read(pipefd[0], buf, sizeof(buf))) > 0) out.append(buf, r);
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  double ns = -1;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    const size_t at = out.find("ns_per_op ");
    if (at != std::string::npos) ns = std::atof(out.c_str() + at + 10);
  }
  return ns;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  std::string workload, mqsentry;
  int threads = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--workload" && i + 1 < argc) {
      workload = argv[++i];
    } else if (a == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (a == "--parked" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
      workload = "drive_parked";
    } else {
      mqsentry = a;
    }
  }
  if (workload == "parked") return ParkedPair(seconds, threads);
  if (workload == "signal_latency") return SignalLatency(std::max(threads, 0), 20);
  if (workload == "trap_floor_held") {
    // The floor with `threads` calls held unanswered on the same listener: what the
    // kernel's walk of the listener's notification list adds to every round trip.
    std::printf("ns_per_op %.1f\n", TrapFloor(seconds, threads));
    return 0;
  }
  if (workload == "drive_parked") {
    char exe[4096];
    const ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len < 0) Die("readlink");
    exe[len] = 0;
    return DriveParked(exe, mqsentry.empty() ? "-" : mqsentry, threads, seconds);
  }
  if (!workload.empty()) return RunWorkload(workload, seconds);
  if (mqsentry.empty()) {
    std::fprintf(stderr, "usage: sentry_bench MQSENTRY_BINARY [--seconds S]\n");
    return 2;
  }
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n < 0) Die("readlink");
  self[n] = 0;
  struct Row {
    const char* workload;
    const char* what;
    double aim;  // the target ratio, 0 = none
  } rows[] = {{"pair", "send+receive pair, one process, 64 B", 10},
              {"notify", "mq_notify+send (fires)+sigtimedwait+receive", 0},
              {"pingpong", "ping-pong, two processes, 64 B", 0},
              {"cycle", "mq_open(O_CREAT)+close+mq_unlink", 6},
              {"big", "send+receive pair, 512 KiB", 0}};
  std::printf("%-40s %12s %12s %8s\n", "workload", "native ns", "mqsentry ns", "ratio");
  int failures = 0;
  for (const Row& r : rows) {
    const std::string secs = std::to_string(seconds);
    double native = RunChild({self, "--workload", r.workload, "--seconds", secs});
    // "big" unshares an IPC namespace (CAP_SYS_ADMIN, not in a root program's default set).
    std::vector<std::string> run = {mqsentry, "run"};
    if (std::string(r.workload) == "big") run.insert(run.end(), {"--cap-add", "SYS_ADMIN"});
    run.insert(run.end(), {"--", self, "--workload", r.workload, "--seconds", secs});
    double sandboxed = RunChild(run);
    if (native <= 0 || sandboxed <= 0) {
      std::printf("%-40s %12s %12s %8s\n", r.what, native > 0 ? "ok" : "FAILED",
                  sandboxed > 0 ? "ok" : "FAILED", "-");
      ++failures;
      continue;
    }
    std::printf("%-40s %12.0f %12.0f %7.1fx%s\n", r.what, native, sandboxed, sandboxed / native,
                r.aim > 0 ? (sandboxed / native <= r.aim ? "  (aim met)" : "  (aim missed)") : "");
    if (std::string(r.workload) == "pair") {
      // What the pair would cost under a supervisor that did no work at all.
      const double floor = RunChild({self, "--workload", "trap_floor", "--seconds", secs});
      if (floor <= 0) {
        std::printf("%-40s %12s %12s %8s\n", "  floor: 2 bare seccomp round trips", "-", "FAILED",
                    "-");
        ++failures;
      } else {
        std::printf("%-40s %12.0f %12.0f %7.1fx  (any seccomp-notify supervisor)\n",
                    "  floor: 2 bare seccomp round trips", native, floor, floor / native);
      }
    }
  }
  return failures ? 1 : 0;
}
