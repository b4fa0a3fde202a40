// program_kinds: one mq program exercising the kinds of process a sandbox must handle —
// threads, fork, vfork, exec (of itself, which then opens the queue by name) and a nested
// IPC namespace — built twice, dynamically and statically linked (program_kinds_test.sh
// runs both natively and under mqsentry). Exits 0 only if every step saw what Linux
// specifies; each failure is printed.
//   program_kinds            the whole run
//   program_kinds --exec Q   (internal) the exec'd step: receive from queue Q, print it
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

namespace {

int failures = 0;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAIL: %s (errno %d: %s)\n", what, errno, std::strerror(errno));
    ++failures;
  }
}

std::string Receive(mqd_t q, unsigned* prio) {
  char buf[64];
  const ssize_t n = mq_receive(q, buf, sizeof(buf), prio);
  return n < 0 ? std::string("<error>") : std::string(buf, static_cast<size_t>(n));
}

int ExecStep(const char* name) {
  mqd_t q = mq_open(name, O_RDONLY);
  if (q == (mqd_t)-1) {
    std::printf("FAIL: exec'd mq_open (errno %d)\n", errno);
    return 1;
  }
  unsigned prio = 0;
  const std::string got = Receive(q, &prio);
  std::printf("exec'd process received \"%s\" (priority %u)\n", got.c_str(), prio);
  return got == "to-exec" && prio == 9 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--exec") return ExecStep(argv[2]);
  const std::string name = "/program-kinds-" + std::to_string(getpid());
  mq_unlink(name.c_str());
  mq_attr attr{};
  attr.mq_maxmsg = 8;
  attr.mq_msgsize = 64;
  mqd_t q = mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
  if (q == (mqd_t)-1) {
    std::printf("FAIL: mq_open (errno %d)\n", errno);
    return 1;
  }

  // A thread sends; the main thread receives.
  std::thread([q] { Check(mq_send(q, "from-thread", 11, 1) == 0, "thread mq_send"); }).join();
  unsigned prio = 0;
  Check(Receive(q, &prio) == "from-thread" && prio == 1, "message from the thread");

  // fork: the child shares the queue through the inherited descriptor.
  pid_t child = fork();
  if (child == 0) _exit(mq_send(q, "from-fork", 9, 2) == 0 ? 0 : 1);
  int status = 0;
  Check(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "forked child's send");
  Check(Receive(q, &prio) == "from-fork" && prio == 2, "message from the forked child");

  // vfork: the child runs on the parent's memory until it exits.
  child = vfork();
  if (child == 0) _exit(mq_send(q, "from-vfork", 10, 3) == 0 ? 0 : 1);
  Check(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "vforked child's send");
  Check(Receive(q, &prio) == "from-vfork" && prio == 3, "message from the vforked child");

  // exec: a new image opens the queue by name and receives what we sent.
  Check(mq_send(q, "to-exec", 7, 9) == 0, "mq_send for the exec'd process");
  child = fork();
  if (child == 0) {
    execl("/proc/self/exe", argv[0], "--exec", name.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  Check(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "exec'd process");

  // A nested IPC namespace (root only) has its own, empty registry.
  if (geteuid() == 0) {
    child = fork();
    if (child == 0) {
      // Without CAP_SYS_ADMIN (a root program under mqsentry has Docker's default set), a
      // user namespace of its own gives the new IPC namespace.
      if (unshare(CLONE_NEWIPC) != 0 &&
          (errno != EPERM || unshare(CLONE_NEWUSER | CLONE_NEWIPC) != 0)) {
        _exit(2);
      }
      const mqd_t other = mq_open(name.c_str(), O_RDONLY);
      _exit(other == (mqd_t)-1 && errno == ENOENT ? 0 : 1);
    }
    Check(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the queue is invisible from a new IPC namespace");
  }

  mq_close(q);
  Check(mq_unlink(name.c_str()) == 0, "mq_unlink");
  std::printf("%s\n", failures == 0 ? "program_kinds: OK" : "program_kinds: FAILED");
  return failures == 0 ? 0 : 1;
}
