// producer_consumer: the bundled demo program that `bazel run //demo` runs under
// `mqsentry run`. An ordinary POSIX message-queue program (glibc's mq_* calls, nothing
// mqsentry-specific): a producer and a consumer process share one queue.
//
//   1. The consumer asks to be notified (SIGEV_SIGNAL, SIGUSR1) when the empty queue
//      gets a message, and waits for the signal.
//   2. The producer sends five messages with priorities 1, 30, 5, 30, 10.
//   3. The consumer, woken by the notification (si_code SI_MESGQ, si_pid = the producer),
//      drains the queue: highest priority first, FIFO among equal priorities.
//   4. The consumer then blocks in mq_receive; the producer sends "done" a moment later
//      and the blocked receive gets it.
//
// It checks what it sees and exits 0 only if everything came as Linux specifies, so it
// proves the same things natively and sandboxed.
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr char kName[] = "/mqsentry-demo";

struct Sent {
  const char* text;
  unsigned prio;
};
constexpr Sent kMessages[] = {
    {"low", 1}, {"urgent-1", 30}, {"normal", 5}, {"urgent-2", 30}, {"high", 10}};
// Highest priority first, FIFO among equal priorities.
const std::vector<std::string> kExpectedOrder = {"urgent-1", "urgent-2", "high", "normal", "low"};

int Fail(const char* who, const char* what) {
  std::fprintf(stderr, "%s: %s: %s\n", who, what, std::strerror(errno));
  return 1;
}

int Consumer(int ready_fd) {
  mqd_t q = mq_open(kName, O_RDONLY);
  if (q == (mqd_t)-1) return Fail("consumer", "mq_open");
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, nullptr);
  sigevent sev{};
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGUSR1;
  sev.sigev_value.sival_int = 42;
  if (mq_notify(q, &sev) != 0) return Fail("consumer", "mq_notify");
  std::printf("consumer: registered for a notification, waiting\n");
  std::fflush(stdout);
  (void)!write(ready_fd, "r", 1);

  siginfo_t info{};
  if (sigwaitinfo(&usr1, &info) != SIGUSR1) return Fail("consumer", "sigwaitinfo");
  std::printf("consumer: notified (si_code %s, si_value %d, from pid %d)\n",
              info.si_code == SI_MESGQ ? "SI_MESGQ" : "unexpected", info.si_value.sival_int,
              info.si_pid);
  if (info.si_code != SI_MESGQ || info.si_value.sival_int != 42) return 1;
  int bad = info.si_pid != getppid();

  // Let every message arrive, then drain in the queue's order.
  mq_attr attr{};
  for (int i = 0; i < 200; ++i) {
    if (mq_getattr(q, &attr) != 0) return Fail("consumer", "mq_getattr");
    if (attr.mq_curmsgs == 5) break;
    usleep(5000);
  }
  std::printf("consumer: %ld messages queued (mq_maxmsg %ld, mq_msgsize %ld)\n", attr.mq_curmsgs,
              attr.mq_maxmsg, attr.mq_msgsize);
  std::vector<std::string> order;
  char buf[64];
  for (int i = 0; i < 5; ++i) {
    unsigned prio = 0;
    const ssize_t n = mq_receive(q, buf, sizeof(buf), &prio);
    if (n < 0) return Fail("consumer", "mq_receive");
    order.emplace_back(buf, static_cast<size_t>(n));
    std::printf("consumer: received \"%s\" (priority %u)\n", order.back().c_str(), prio);
  }
  if (order != kExpectedOrder) {
    std::printf("consumer: WRONG ORDER\n");
    bad = 1;
  }

  std::printf("consumer: queue empty, blocking in mq_receive\n");
  std::fflush(stdout);
  unsigned prio = 0;
  const ssize_t n = mq_receive(q, buf, sizeof(buf), &prio);
  if (n < 0) return Fail("consumer", "blocking mq_receive");
  std::printf("consumer: woke with \"%.*s\" (priority %u)\n", static_cast<int>(n), buf, prio);
  if (std::string(buf, static_cast<size_t>(n)) != "done") bad = 1;
  mq_close(q);
  return bad;
}

}  // namespace

int main() {
  mq_unlink(kName);  // a leftover from an interrupted run
  mq_attr attr{};
  attr.mq_maxmsg = 8;
  attr.mq_msgsize = 64;
  mqd_t q = mq_open(kName, O_WRONLY | O_CREAT | O_EXCL, 0600, &attr);
  if (q == (mqd_t)-1) return Fail("producer", "mq_open");
  std::printf("producer: created %s (pid %d)\n", kName, getpid());

  // Flushed before the fork: with stdout a pipe (as under `bazel run`) the buffered line
  // would otherwise be copied into the consumer and printed twice.
  std::fflush(stdout);
  int ready[2];
  if (pipe(ready) != 0) return Fail("producer", "pipe");
  const pid_t consumer = fork();
  if (consumer < 0) return Fail("producer", "fork");
  if (consumer == 0) {
    close(ready[0]);
    _exit(Consumer(ready[1]));
  }
  close(ready[1]);
  char c;
  if (read(ready[0], &c, 1) != 1) return Fail("producer", "consumer did not start");

  for (const Sent& m : kMessages) {
    if (mq_send(q, m.text, std::strlen(m.text), m.prio) != 0) return Fail("producer", "mq_send");
    std::printf("producer: sent \"%s\" (priority %u)\n", m.text, m.prio);
    std::fflush(stdout);
  }
  // Give the consumer time to drain and block, then wake it.
  for (int i = 0; i < 200; ++i) {
    mq_attr now{};
    if (mq_getattr(q, &now) == 0 && now.mq_curmsgs == 0) break;
    usleep(5000);
  }
  usleep(100 * 1000);
  if (mq_send(q, "done", 4, 0) != 0) return Fail("producer", "mq_send done");
  std::printf("producer: sent \"done\"\n");
  std::fflush(stdout);

  int status = 0;
  waitpid(consumer, &status, 0);
  mq_close(q);
  if (mq_unlink(kName) != 0) return Fail("producer", "mq_unlink");
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::printf("%s\n", ok ? "demo: OK (priority order, notification, blocking receive)"
                         : "demo: FAILED");
  return ok ? 0 : 1;
}
