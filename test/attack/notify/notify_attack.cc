// Attack programs against notification delivery and the supervisor's per-namespace and
// per-registration resources (issue 7 findings 5, 10, 11). Run natively and under
// `mqsentry run` by test/attack/notify/notify_attack_test.sh.
//
//   notify_attack watch MAX_FDS -- COMMAND...
//       Outside the sandbox: listens on NETLINK_ROUTE group 1 and NETLINK_KOBJECT_UEVENT
//       group 1, runs COMMAND (mqsentry, or setpriv exec'ing it: same pid), samples the
//       number of its open descriptors (/proc/PID/fd) until it exits, then counts the
//       datagrams carrying the attack's cookie marker that reached the listeners. Prints
//       "watch: exit=S leaked=N max_fds=M"; exit 0 iff S == 0, N == 0 and (MAX_FDS < 0 or
//       M <= MAX_FDS).
//   notify_attack cookie
//       SIGEV_THREAD cookies on netlink sockets bound to group 1 (ROUTE, KOBJECT_UEVENT) and
//       on a NETLINK_ROUTE socket connect()ed to the kernel; each must arrive on its own
//       socket; then glibc's SIGEV_THREAD must run its function.
//   notify_attack registrations CHILDREN QUEUES
//       In a user namespace of its own, CHILDREN children, one after another and all kept
//       alive, each in a new user and IPC namespace, create up to QUEUES queues of 1 x 1
//       byte (97 bytes of RLIMIT_MSGQUEUE each, spec §3.5) and register glibc SIGEV_THREAD
//       on every one. Prints "registrations: queues=N registered=R stop=ERRNO".
//   notify_attack namespaces N
//       N children, one after another, each in a new IPC namespace (and a new user
//       namespace without CAP_SYS_ADMIN) creating one queue. Prints "namespaces: ok=K of N".
//   notify_attack live N
//       N children kept alive at once, each in a new IPC namespace with one queue, then
//       (all gone) one more. Prints "live: ok=K enospc=E other=O after=ok".
//   notify_attack viewkeep N
//       A queue of a dead IPC namespace, mounted, survives N more namespaces coming and
//       going. Prints "viewkeep: kept".
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr char kMarker[] = "MQSENTRY-ATTACK-COOKIE";  // 22 bytes + index

void SleepMs(int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, nullptr);
}

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

int GroupSocket(int protocol) {
  const int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (s < 0) return -1;
  sockaddr_nl group{};
  group.nl_family = AF_NETLINK;
  group.nl_groups = 1;
  if (bind(s, reinterpret_cast<sockaddr*>(&group), sizeof(group)) != 0) {
    close(s);
    return -1;
  }
  return s;
}

bool HasMarker(const unsigned char* buf, ssize_t n) {
  const size_t len = sizeof(kMarker) - 1;
  for (ssize_t i = 0; i + static_cast<ssize_t>(len) <= n; ++i) {
    if (memcmp(buf + i, kMarker, len) == 0) return true;
  }
  return false;
}

int CountFds(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  int n = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
  }
  return n;
}

int Watch(int max_fds, char** argv) {
  const int listeners[2] = {GroupSocket(NETLINK_ROUTE), GroupSocket(NETLINK_KOBJECT_UEVENT)};
  if (listeners[0] < 0 || listeners[1] < 0) {
    perror("watch: listener");
    return 2;
  }
  const pid_t child = fork();
  if (child == 0) {
    execvp(argv[0], argv);
    perror("watch: exec");
    _exit(127);
  }
  int leaked = 0, most = 0, status = 0;
  auto drain = [&] {
    unsigned char buf[16384];
    for (int l : listeners) {
      ssize_t n;
      while ((n = recv(l, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) leaked += HasMarker(buf, n);
    }
  };
  while (waitpid(child, &status, WNOHANG) == 0) {
    most = std::max(most, CountFds(child));
    drain();
    SleepMs(5);
  }
  SleepMs(300);
  drain();
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  printf("watch: exit=%d leaked=%d max_fds=%d\n", code, leaked, most);
  return code == 0 && leaked == 0 && (max_fds < 0 || most <= max_fds) ? 0 : 1;
}

mqd_t NewQueue(const char* tag, long maxmsg, long msgsize) {
  const std::string name = "/attack-" + std::string(tag) + "-" + std::to_string(getpid());
  mq_attr attr{};
  attr.mq_maxmsg = maxmsg;
  attr.mq_msgsize = msgsize;
  const mqd_t q = mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
  if (q >= 0) mq_unlink(name.c_str());
  return q;
}

// Registers a raw SIGEV_THREAD cookie on `sock`, fires it and waits for it there.
bool CookieArrives(const char* label, int sock, int index) {
  const mqd_t q = NewQueue(label, 4, 16);
  if (q < 0) {
    printf("cookie %s: mq_open: %s\n", label, strerror(errno));
    return false;
  }
  unsigned char cookie[32] = {};
  memcpy(cookie, kMarker, sizeof(kMarker) - 1);
  cookie[sizeof(kMarker) - 1] = static_cast<unsigned char>(index);
  struct sigevent sev;
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_signo = sock;
  sev.sigev_value.sival_ptr = cookie;
  if (syscall(SYS_mq_notify, q, &sev) != 0) {
    printf("cookie %s: mq_notify: %s\n", label, strerror(errno));
    return false;
  }
  if (mq_send(q, "x", 1, 0) != 0) {
    printf("cookie %s: mq_send: %s\n", label, strerror(errno));
    return false;
  }
  bool arrived = false;
  for (const int64_t end = NowMs() + 5000; !arrived && NowMs() < end;) {
    pollfd p{sock, POLLIN, 0};
    if (poll(&p, 1, 100) != 1) continue;
    unsigned char buf[16384];
    const ssize_t n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
    arrived = n == 32 && memcmp(buf, cookie, 31) == 0 && buf[31] == 1;
  }
  printf("cookie %s: %s\n", label, arrived ? "arrived" : "MISSING");
  mq_close(q);
  return arrived;
}

std::atomic<int> g_thread_calls{0};
void ThreadFunction(union sigval) { g_thread_calls++; }

int Cookie() {
  bool ok = true;
  const int route = GroupSocket(NETLINK_ROUTE);
  const int uevent = GroupSocket(NETLINK_KOBJECT_UEVENT);
  const int connected = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (route < 0 || uevent < 0 || connected < 0 ||
      connect(connected, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) != 0) {
    perror("cookie: socket");
    return 2;
  }
  ok &= CookieArrives("route-group-1", route, 1);
  ok &= CookieArrives("uevent-group-1", uevent, 2);
  ok &= CookieArrives("route-connected-to-kernel", connected, 3);
  // glibc's own SIGEV_THREAD.
  const mqd_t q = NewQueue("glibc", 4, 16);
  struct sigevent sev;
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_notify_function = ThreadFunction;
  if (q < 0 || mq_notify(q, &sev) != 0 || mq_send(q, "x", 1, 0) != 0) {
    printf("cookie glibc: %s\n", strerror(errno));
    return 1;
  }
  for (int i = 0; i < 500 && g_thread_calls == 0; ++i) SleepMs(10);
  printf("cookie glibc: %s\n", g_thread_calls ? "function ran" : "MISSING");
  return ok && g_thread_calls ? 0 : 1;
}

// A user namespace of the caller's own, mapping its ids to themselves.
bool OwnUserNamespace(int extra_flags) {
  const uid_t uid = geteuid();
  const gid_t gid = getegid();
  if (unshare(CLONE_NEWUSER | extra_flags) != 0) return false;
  auto write_file = [](const char* path, const std::string& text) {
    const int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    close(fd);
    return ok;
  };
  return write_file("/proc/self/setgroups", "deny") &&
         write_file("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1") &&
         write_file("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1");
}

struct ChildReport {
  int queues = 0;
  int registered = 0;
  int stop = 0;  // errno that ended creation, 0 if QUEUES were made
};

int Registrations(int children, int queues) {
  // The accounting chain then ends in counters of this namespace (spec §3.5), shared by
  // nothing else on the host.
  if (!OwnUserNamespace(0)) {
    perror("registrations: user namespace");
    return 2;
  }
  int release[2];
  if (pipe(release) != 0) return 2;
  std::vector<pid_t> pids;
  ChildReport total;
  for (int c = 0; c < children; ++c) {
    int report[2];
    if (pipe(report) != 0) return 2;
    const pid_t pid = fork();
    if (pid == 0) {
      close(release[1]);
      close(report[0]);
      ChildReport r;
      if (!OwnUserNamespace(CLONE_NEWIPC)) {
        r.stop = errno;
      } else {
        struct sigevent sev;
        memset(&sev, 0, sizeof(sev));
        sev.sigev_notify = SIGEV_THREAD;
        sev.sigev_notify_function = ThreadFunction;
        for (int i = 0; i < queues; ++i) {
          const std::string name = "/r" + std::to_string(i);
          mq_attr attr{};
          attr.mq_maxmsg = 1;
          attr.mq_msgsize = 1;
          const mqd_t q = mq_open(name.c_str(), O_CREAT | O_RDWR, 0600, &attr);
          if (q < 0) {
            r.stop = errno;
            break;
          }
          ++r.queues;
          if (mq_notify(q, &sev) == 0) ++r.registered;
        }
      }
      (void)!write(report[1], &r, sizeof(r));
      char byte;
      (void)!read(release[0], &byte, 1);  // until the parent lets every child go
      _exit(0);
    }
    close(report[1]);
    ChildReport r;
    if (read(report[0], &r, sizeof(r)) != sizeof(r)) {
      printf("registrations: child %d died\n", c);
      return 1;
    }
    close(report[0]);
    pids.push_back(pid);
    total.queues += r.queues;
    total.registered += r.registered;
    if (r.stop != 0 && total.stop == 0) total.stop = r.stop;
  }
  close(release[1]);
  for (pid_t pid : pids) waitpid(pid, nullptr, 0);
  printf("registrations: queues=%d registered=%d stop=%s\n", total.queues, total.registered,
         total.stop ? strerrorname_np(total.stop) : "none");
  return total.registered == total.queues ? 0 : 1;
}

int Namespaces(int n) {
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      // Root with CAP_SYS_ADMIN makes only the IPC namespace; others (and root without
      // it, as in a sandbox by default) need a user namespace of their own.
      const bool ns = unshare(CLONE_NEWIPC) == 0 || OwnUserNamespace(CLONE_NEWIPC);
      if (!ns) _exit(2);
      // 97 bytes of RLIMIT_MSGQUEUE, returned at exit: a dead namespace's queue is freed
      // asynchronously, and root's host-level counter is shared with anything else root
      // runs meanwhile.
      mq_attr attr{};
      attr.mq_maxmsg = 1;
      attr.mq_msgsize = 1;
      const mqd_t q = mq_open("/ns", O_CREAT | O_RDWR, 0600, &attr);
      if (q < 0) _exit(3);
      mq_unlink("/ns");
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      ++ok;
    } else if (ok == i) {
      printf("namespaces: child %d failed (status %#x)\n", i, status);
    }
  }
  printf("namespaces: ok=%d of %d\n", ok, n);
  return ok == n ? 0 : 1;
}

// N children kept alive at once, each in a new IPC namespace with one queue; then, once
// they are gone, one more.
int Live(int n) {
  int release[2];
  if (pipe(release) != 0) return 2;
  std::vector<pid_t> pids;
  int ok = 0, enospc = 0, other = 0;
  auto child = [&](bool wait) -> pid_t {
    int report[2];
    if (pipe(report) != 0) return -1;
    const pid_t pid = fork();
    if (pid == 0) {
      close(release[1]);
      close(report[0]);
      int err = 0;
      if (unshare(CLONE_NEWIPC) != 0 && !OwnUserNamespace(CLONE_NEWIPC)) {
        err = -1;
      } else {
        mq_attr attr{};
        attr.mq_maxmsg = 1;
        attr.mq_msgsize = 1;
        if (mq_open("/live", O_CREAT | O_RDWR, 0600, &attr) < 0) err = errno;
      }
      (void)!write(report[1], &err, sizeof(err));
      char byte;
      if (wait) (void)!read(release[0], &byte, 1);
      _exit(0);
    }
    close(report[1]);
    int err = -2;
    (void)!read(report[0], &err, sizeof(err));
    close(report[0]);
    if (err == 0) {
      ++ok;
    } else if (err == ENOSPC) {
      ++enospc;
    } else {
      ++other;
      printf("live: child %zu: %s\n", pids.size(), err > 0 ? strerrorname_np(err) : "setup");
    }
    return pid;
  };
  for (int i = 0; i < n; ++i) pids.push_back(child(true));
  close(release[1]);
  for (pid_t pid : pids) waitpid(pid, nullptr, 0);
  const int before = ok;
  waitpid(child(false), nullptr, 0);
  const bool after = ok == before + 1;
  printf("live: ok=%d enospc=%d other=%d after=%s\n", before, enospc, other,
         after ? "ok" : "FAILED");
  return other == 0 && after ? 0 : 1;
}

// A queue of a dead IPC namespace stays reachable through a mount of that namespace's
// mqueue filesystem (spec §9.3), also once the supervisor has released dead namespaces:
// a child mounts its namespace's mqueue filesystem on /tmp of a mount namespace it shares
// with this process, creates a queue with a message and exits; then `n` short-lived
// namespaces make the registry sweep; the queue still opens through the mount.
int ViewKeep(int n) {
  if (!OwnUserNamespace(CLONE_NEWNS) || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    perror("viewkeep: namespaces");
    return 2;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    if (unshare(CLONE_NEWIPC) != 0 || mount("none", "/tmp", "mqueue", 0, nullptr) != 0) _exit(2);
    mq_attr attr{};
    attr.mq_maxmsg = 4;
    attr.mq_msgsize = 16;
    const mqd_t q = mq_open("/kept", O_CREAT | O_RDWR, 0600, &attr);
    if (q < 0 || mq_send(q, "kept", 4, 3) != 0) _exit(3);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    printf("viewkeep: child failed (status %#x)\n", status);
    return 1;
  }
  if (Namespaces(n) != 0) return 1;
  const int fd = open("/tmp/kept", O_RDONLY | O_CLOEXEC);
  char line[128] = {};
  const ssize_t len = fd < 0 ? -1 : read(fd, line, sizeof(line) - 1);
  const bool ok = len > 0 && strncmp(line, "QSIZE:4 ", 8) == 0;
  printf("viewkeep: %s\n", ok ? "kept" : (fd < 0 ? strerror(errno) : "wrong status line"));
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "watch" && argc > 4 && strcmp(argv[3], "--") == 0) {
    return Watch(atoi(argv[2]), argv + 4);
  }
  if (mode == "cookie") return Cookie();
  if (mode == "registrations" && argc == 4) return Registrations(atoi(argv[2]), atoi(argv[3]));
  if (mode == "namespaces" && argc == 3) return Namespaces(atoi(argv[2]));
  if (mode == "live" && argc == 3) return Live(atoi(argv[2]));
  if (mode == "viewkeep" && argc == 3) return ViewKeep(atoi(argv[2]));
  fprintf(stderr,
          "usage: %s watch MAX_FDS -- COMMAND... | cookie | registrations CHILDREN QUEUES |"
          " namespaces N | live N | viewkeep N\n",
          argv[0]);
  return 2;
}
