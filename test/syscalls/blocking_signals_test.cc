// Conformance tests for blocked mq_timedsend/mq_timedreceive calls (spec §5.4): signals
// (EINTR, SA_RESTART, stop/continue, absolute deadlines across restarts), message integrity
// under a signal storm, and the order in which blocked waiters are served (scheduler
// priority, then FIFO).
//
// Every test waits until the blocked thread is provably asleep inside the system call
// (/proc/<tid>/stat and /proc/<tid>/syscall) before acting, so no assertion depends on
// timing except the explicitly timed deadline tests, which use generous bounds.
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/util/mq_test_util.h"

namespace mqsentry::testing {
namespace {

std::atomic<int> g_handled{0};
void CountingHandler(int) { g_handled.fetch_add(1, std::memory_order_relaxed); }

int Tgkill(pid_t tid, int sig) { return static_cast<int>(syscall(SYS_tgkill, getpid(), tid, sig)); }

// A thread that runs a blocking call; its tid is published before the call starts.
class CallThread {
 public:
  explicit CallThread(std::function<long()> call)
      : thread_([this, call = std::move(call)] {
          tid_ = gettid();
          const long r = call();
          errno_ = errno;
          result_ = r;
          done_ = true;
        }) {
    while (tid_ == 0) SleepMs(1);
  }
  ~CallThread() {
    if (thread_.joinable()) thread_.join();
  }
  pid_t tid() const { return tid_; }
  bool done() const { return done_; }
  // Joins and returns the call's result; errno() is the errno after the call.
  long Join() {
    thread_.join();
    return result_;
  }
  int error() const { return errno_; }

 private:
  std::atomic<pid_t> tid_{0};
  std::atomic<bool> done_{false};
  std::atomic<long> result_{-2};
  std::atomic<int> errno_{0};
  std::thread thread_;
};

// ---- EINTR and restart ----

// §5.4: "handler without SA_RESTART -> EINTR".
TEST(MqBlocking, ReceiveInterruptedWithoutSaRestartIsEintr_Spec5_4) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  ScopedSigaction sa(SIGUSR1, CountingHandler, 0);
  g_handled = 0;
  CallThread t([&] { return static_cast<long>(Receive(q.fd(), nullptr)); });
  ASSERT_TRUE(WaitUntilBlockedInSyscall(t.tid(), SYS_mq_timedreceive));
  ASSERT_THAT(Tgkill(t.tid(), SIGUSR1), SyscallSucceeds());
  EXPECT_EQ(t.Join(), -1);
  EXPECT_EQ(t.error(), EINTR);
  EXPECT_EQ(g_handled.load(), 1);
}

// §5.4: EINTR for a timed receive too (the deadline has not passed).
TEST(MqBlocking, TimedReceiveInterruptedWithoutSaRestartIsEintr_Spec5_4) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  ScopedSigaction sa(SIGUSR1, CountingHandler, 0);
  CallThread t([&] {
    char buf[16];
    const struct timespec deadline = RealtimeFromNow(60000);
    return static_cast<long>(RawMqTimedReceive(q.fd(), buf, sizeof(buf), nullptr, &deadline));
  });
  ASSERT_TRUE(WaitUntilBlockedInSyscall(t.tid(), SYS_mq_timedreceive));
  ASSERT_THAT(Tgkill(t.tid(), SIGUSR1), SyscallSucceeds());
  EXPECT_EQ(t.Join(), -1);
  EXPECT_EQ(t.error(), EINTR);
}

// ---- Interruption by every kind of signal source (spec §5.4) ----
//
// A process-directed signal interrupts a blocked call only in a thread that takes it: the
// main thread blocks the signal, the call's thread unblocks it (threads inherit the mask).

// Runs a blocking receive on `q` in a thread that unblocks `sig`; `raise_it` sends the
// signal once the thread is blocked. The call must fail with EINTR, the handler run once.
void ExpectReceiveInterruptedBy(int sig, const std::function<void(pid_t tid)>& raise_it) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  ScopedSigaction sa(sig, CountingHandler, 0);
  ScopedSignalBlock block({sig});
  g_handled = 0;
  CallThread t([&] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    return static_cast<long>(Receive(q.fd(), nullptr));
  });
  ASSERT_TRUE(WaitUntilBlockedInSyscall(t.tid(), SYS_mq_timedreceive));
  raise_it(t.tid());
  EXPECT_EQ(t.Join(), -1);
  EXPECT_EQ(t.error(), EINTR);
  EXPECT_EQ(g_handled.load(), 1);
}

// kill(2) of the whole process by itself.
TEST(MqBlocking, ReceiveInterruptedByKillOfTheProcess_Spec5_4) {
  ExpectReceiveInterruptedBy(SIGUSR1, [](pid_t) { ASSERT_THAT(kill(getpid(), SIGUSR1), SyscallSucceeds()); });
}

// kill(2) from another process.
TEST(MqBlocking, ReceiveInterruptedByKillFromAnotherProcess_Spec5_4) {
  const pid_t self = getpid();
  ExpectReceiveInterruptedBy(SIGUSR1, [self](pid_t) {
    ASSERT_CHILD_OK(RunInChild([self]() -> int {
      CHILD_CHECK_OK(kill(self, SIGUSR1));
      return 0;
    }));
  });
}

// tgkill(2) of the blocked thread, from another process.
TEST(MqBlocking, ReceiveInterruptedByTgkillFromAnotherProcess_Spec5_4) {
  const pid_t self = getpid();
  ExpectReceiveInterruptedBy(SIGUSR1, [self](pid_t tid) {
    ASSERT_CHILD_OK(RunInChild([self, tid]() -> int {
      CHILD_CHECK_OK(syscall(SYS_tgkill, self, tid, SIGUSR1));
      return 0;
    }));
  });
}

// sigqueue(3) (rt_sigqueueinfo).
TEST(MqBlocking, ReceiveInterruptedBySigqueue_Spec5_4) {
  ExpectReceiveInterruptedBy(SIGRTMIN + 4, [](pid_t) {
    union sigval v;
    v.sival_int = 7;
    ASSERT_THAT(sigqueue(getpid(), SIGRTMIN + 4, v), SyscallSucceeds());
  });
}

// pidfd_send_signal(2) with and without flags.
TEST(MqBlocking, ReceiveInterruptedByPidfdSendSignal_Spec5_4) {
  for (unsigned flags : {0u, 1u << 1 /* PIDFD_SIGNAL_THREAD_GROUP */}) {
    SCOPED_TRACE(flags);
    ExpectReceiveInterruptedBy(SIGUSR2, [flags](pid_t) {
      ScopedFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0)));
      ASSERT_THAT(pidfd.get(), SyscallSucceeds());
      ASSERT_THAT(syscall(SYS_pidfd_send_signal, pidfd.get(), SIGUSR2, nullptr, flags),
                  SyscallSucceeds());
    });
  }
}

// alarm(2): a kernel-generated signal, which no sandboxed call sends.
TEST(MqBlocking, ReceiveInterruptedByAlarm_Spec5_4) {
  ExpectReceiveInterruptedBy(SIGALRM, [](pid_t) { alarm(1); });
}

// A process-directed signal wakes one of several blocked threads: exactly one call fails
// with EINTR, the others stay blocked and then receive every message once.
TEST(MqBlocking, ProcessSignalInterruptsExactlyOneOfManyBlockedReceivers_Spec5_4) {
  constexpr int kThreads = 10;  // the default msg_max: room for every message
  TestQueue q(kThreads, 16);
  ASSERT_QUEUE_OK(q);
  ScopedSigaction sa(SIGUSR1, CountingHandler, 0);
  ScopedSignalBlock block({SIGUSR1});
  g_handled = 0;
  std::vector<std::unique_ptr<CallThread>> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.push_back(std::make_unique<CallThread>([&] {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGUSR1);
      pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
      return static_cast<long>(Receive(q.fd(), nullptr));
    }));
  }
  for (auto& t : threads) ASSERT_TRUE(WaitUntilBlockedInSyscall(t->tid(), SYS_mq_timedreceive));
  ASSERT_THAT(kill(getpid(), SIGUSR1), SyscallSucceeds());
  // Wait for the one interrupted call.
  for (int i = 0; i < 10000 && g_handled.load() == 0; ++i) SleepMs(1);
  ASSERT_EQ(g_handled.load(), 1);
  int interrupted = 0;
  for (int i = 0; i < 10000 && interrupted == 0; ++i) {
    for (auto& t : threads) interrupted += t->done() ? 1 : 0;
    if (interrupted == 0) SleepMs(1);
  }
  EXPECT_EQ(interrupted, 1);
  // One message per call still blocked (also after a failure above, so that every thread
  // can be joined).
  for (int i = 0; i < kThreads - interrupted; ++i) {
    EXPECT_THAT(Send(q.fd(), "m"), SyscallSucceeds());
  }
  int eintr = 0, received = 0;
  for (auto& t : threads) {
    const long r = t->Join();
    if (r == -1 && t->error() == EINTR) ++eintr;
    if (r == 1) ++received;
    if (r != 1 && !(r == -1 && t->error() == EINTR)) {
      ADD_FAILURE() << "a call returned " << r << " errno " << ErrnoName(t->error());
    }
  }
  EXPECT_EQ(eintr, 1);
  EXPECT_EQ(received, kThreads - eintr);
  EXPECT_EQ(g_handled.load(), 1);
  EXPECT_EQ(CurMsgs(q.fd()), 0);
}

// A process-directed signal is taken by the thread the kernel chose for it (the leader
// when it does not block it): another thread's blocked call is neither interrupted nor
// failed. Here the leader sits in vfork() (a killable sleep) for 300 ms after its vfork
// child sent the signal, so the signal stays pending for the process meanwhile; the
// blocked receive must then still get the message, as on Linux (answering it -ERESTARTSYS
// would hand errno 512 to a thread that has no signal to handle).
TEST(MqBlocking, ProcessSignalTakenByTheLeaderLeavesAnotherThreadsCallBlocked_Spec5_4) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  ScopedSigaction sa(SIGUSR1, CountingHandler, 0);
  g_handled = 0;
  CallThread t([&] { return static_cast<long>(Receive(q.fd(), nullptr)); });
  ASSERT_TRUE(WaitUntilBlockedInSyscall(t.tid(), SYS_mq_timedreceive));
  const pid_t self = getpid();
  const pid_t child = vfork();
  if (child == 0) {
    syscall(SYS_kill, self, SIGUSR1);
    const struct timespec hold = {0, 300 * 1000 * 1000};
    syscall(SYS_nanosleep, &hold, nullptr);
    _exit(0);
  }
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_THAT(waitpid(child, &status, 0), SyscallSucceedsWithValue(child));
  for (int i = 0; i < 1000 && g_handled.load() == 0; ++i) SleepMs(1);
  EXPECT_EQ(g_handled.load(), 1);
  SleepMs(20);
  EXPECT_FALSE(t.done()) << "the blocked call returned " << t.Join() << " errno "
                         << ErrnoName(t.error());
  if (!t.done()) {
    ASSERT_THAT(Send(q.fd(), "m"), SyscallSucceeds());
    EXPECT_EQ(t.Join(), 1);
  }
}

// §5.4: "An interrupted sender's message is discarded."
TEST(MqBlocking, SendInterruptedWithoutSaRestartIsEintrAndDiscarded_Spec5_4) {
  TestQueue q(1, 16);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "first"), SyscallSucceeds());
  ScopedSigaction sa(SIGUSR1, CountingHandler, 0);
  CallThread t([&] { return static_cast<long>(Send(q.fd(), "interrupted")); });
  ASSERT_TRUE(WaitUntilBlockedInSyscall(t.tid(), SYS_mq_timedsend));
  ASSERT_THAT(Tgkill(t.tid(), SIGUSR1), SyscallSucceeds());
  EXPECT_EQ(t.Join(), -1);
  EXPECT_EQ(t.error(), EINTR);
  std::string msg;
  ASSERT_THAT(Receive(q.fd(), &msg), SyscallSucceeds());
  EXPECT_EQ(msg, "first");
  EXPECT_EQ(CurMsgs(q.fd()), 0);
}

// §5.4: "handler with SA_RESTART -> transparently restarted".
TEST(MqBlocking, ReceiveRestartsTransparentlyWithSaRestart_Spec5_4) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  ScopedSigaction sa(SIGUSR1, CountingHandler, SA_RESTART);
  g_handled = 0;
  std::string got;
  CallThread t([&] { return static_cast<long>(Receive(q.fd(), &got)); });
  ASSERT_TRUE(WaitUntilBlockedInSyscall(t.tid(), SYS_mq_timedreceive));
  for (int i = 1; i <= 3; ++i) {
    ASSERT_THAT(Tgkill(t.tid(), SIGUSR1), SyscallSucceeds());
    while (g_handled.load() < i) SleepMs(1);
    // Back asleep in the same system call.
    ASSERT_TRUE(WaitUntilBlockedInSyscall(t.tid(), SYS_mq_timedreceive));
    EXPECT_FALSE(t.done());
  }
  ASSERT_THAT(Send(q.fd(), "after-signals"), SyscallSucceeds());
  EXPECT_EQ(t.Join(), 13);
  EXPECT_EQ(got, "after-signals");
}

TEST(MqBlocking, SendRestartsTransparentlyWithSaRestart_Spec5_4) {
  TestQueue q(1, 16);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "first"), SyscallSucceeds());
  ScopedSigaction sa(SIGUSR1, CountingHandler, SA_RESTART);
  g_handled = 0;
  CallThread t([&] { return static_cast<long>(Send(q.fd(), "second")); });
  ASSERT_TRUE(WaitUntilBlockedInSyscall(t.tid(), SYS_mq_timedsend));
  ASSERT_THAT(Tgkill(t.tid(), SIGUSR1), SyscallSucceeds());
  while (g_handled.load() < 1) SleepMs(1);
  ASSERT_TRUE(WaitUntilBlockedInSyscall(t.tid(), SYS_mq_timedsend));
  std::string msg;
  ASSERT_THAT(Receive(q.fd(), &msg), SyscallSucceeds());
  EXPECT_EQ(msg, "first");
  EXPECT_EQ(t.Join(), 0);
  ASSERT_THAT(Receive(q.fd(), &msg), SyscallSucceeds());
  EXPECT_EQ(msg, "second");
}

// §5.4: "Because the timeout is absolute, a restarted timed call still ends at the original
// deadline." A restart with a fresh relative timeout would end >= 1.7 s; the bound allows
// 600 ms of scheduling slack.
TEST(MqBlocking, RestartedTimedCallEndsAtOriginalDeadline_Spec5_4) {
  TestQueue q(1, 16);
  ASSERT_QUEUE_OK(q);
  ScopedSigaction sa(SIGUSR1, CountingHandler, SA_RESTART);
  g_handled = 0;
  const int64_t start = MonotonicNowNs();
  CallThread t([&] {
    char buf[16];
    const struct timespec deadline = RealtimeFromNow(1000);
    return static_cast<long>(RawMqTimedReceive(q.fd(), buf, sizeof(buf), nullptr, &deadline));
  });
  ASSERT_TRUE(WaitUntilBlockedInSyscall(t.tid(), SYS_mq_timedreceive));
  SleepMs(700 - (MonotonicNowNs() - start) / 1000000);
  ASSERT_THAT(Tgkill(t.tid(), SIGUSR1), SyscallSucceeds());
  EXPECT_EQ(t.Join(), -1);
  EXPECT_EQ(t.error(), ETIMEDOUT);
  const int64_t elapsed_ms = (MonotonicNowNs() - start) / 1000000;
  EXPECT_EQ(g_handled.load(), 1);
  EXPECT_GE(elapsed_ms, 990);
  EXPECT_LT(elapsed_ms, 1600);
}

// §5.4: "stop/continue with no handler -> restarted transparently". Stopping affects the
// whole process, so the blocked receiver is a child process.
TEST(MqBlocking, StopAndContinueRestartTransparently_Spec5_4) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  const int fd = q.fd();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char buf[16];
    const ssize_t n = RawMqTimedReceive(fd, buf, sizeof(buf), nullptr, nullptr);
    _exit(n == 4 && std::string(buf, 4) == "cont" ? 0 : 1);
  }
  ASSERT_TRUE(WaitUntilBlockedInSyscall(child, SYS_mq_timedreceive));
  ASSERT_THAT(kill(child, SIGSTOP), SyscallSucceeds());
  int status = 0;
  ASSERT_THAT(waitpid(child, &status, WUNTRACED), SyscallSucceedsWithValue(child));
  ASSERT_TRUE(WIFSTOPPED(status));
  ASSERT_THAT(kill(child, SIGCONT), SyscallSucceeds());
  ASSERT_THAT(waitpid(child, &status, WCONTINUED), SyscallSucceedsWithValue(child));
  ASSERT_TRUE(WIFCONTINUED(status));
  ASSERT_TRUE(WaitUntilBlockedInSyscall(child, SYS_mq_timedreceive));
  ASSERT_THAT(Send(q.fd(), "cont"), SyscallSucceeds());
  EXPECT_CHILD_OK(WaitChild(child));
}

// §5.4 (O_NONBLOCK "is sampled once at the start of the call"): setting O_NONBLOCK on the
// description does not turn an already blocked receive into EAGAIN.
TEST(MqBlocking, NonblockChangeDoesNotAffectBlockedCall_Spec5_4) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  std::string got;
  CallThread t([&] { return static_cast<long>(Receive(q.fd(), &got)); });
  ASSERT_TRUE(WaitUntilBlockedInSyscall(t.tid(), SYS_mq_timedreceive));
  mq_attr nonblock{};
  nonblock.mq_flags = O_NONBLOCK;
  ASSERT_THAT(RawMqGetSetAttr(q.fd(), &nonblock, nullptr), SyscallSucceeds());
  SleepMs(50);
  EXPECT_FALSE(t.done());
  ASSERT_THAT(Send(q.fd(), "still"), SyscallSucceeds());
  EXPECT_EQ(t.Join(), 5);
  EXPECT_EQ(got, "still");
}

// §5.4: "closing the fd from another thread does not wake waiters (each syscall holds its
// own file reference)".
TEST(MqBlocking, CloseFromAnotherThreadDoesNotWakeReceiver_Spec5_4) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  const int rd = RawMqOpen(q.name().c_str(), O_RDONLY);
  ASSERT_THAT(rd, SyscallSucceeds());
  std::string got;
  CallThread t([&] { return static_cast<long>(Receive(rd, &got)); });
  ASSERT_TRUE(WaitUntilBlockedInSyscall(t.tid(), SYS_mq_timedreceive));
  ASSERT_THAT(close(rd), SyscallSucceeds());
  SleepMs(50);
  EXPECT_FALSE(t.done());
  EXPECT_TRUE(Asleep(t.tid()));
  ASSERT_THAT(Send(q.fd(), "closed"), SyscallSucceeds());
  EXPECT_EQ(t.Join(), 6);
  EXPECT_EQ(got, "closed");
}

// ---- Signal storm: no message lost or duplicated ----

// Sends kMessages sequence numbers through a 2-slot queue while both the blocked receiver
// and the blocked sender are hit by a stream of signals. Interrupted sends are retried
// (their message was discarded, §5.4), interrupted receives are retried; every message must
// arrive exactly once and in order.
void RunSignalStorm(int sa_flags) {
  constexpr int kMessages = 20000;
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  ScopedSigaction sa(SIGUSR1, CountingHandler, sa_flags);
  g_handled = 0;
  std::atomic<bool> done{false};
  std::atomic<int> send_eintr{0}, recv_eintr{0};
  std::vector<int> received;
  received.reserve(kMessages);
  std::atomic<pid_t> recv_tid{0}, send_tid{0};
  std::atomic<bool> storming{false};

  std::thread receiver([&] {
    recv_tid = gettid();
    char buf[16];
    while (static_cast<int>(received.size()) < kMessages) {
      const ssize_t n = RawMqTimedReceive(q.fd(), buf, sizeof(buf), nullptr, nullptr);
      if (n < 0) {
        if (errno == EINTR) {
          recv_eintr++;
          continue;
        }
        ADD_FAILURE() << "receive: " << ErrnoName(errno);
        return;
      }
      received.push_back(std::stoi(std::string(buf, static_cast<size_t>(n))));
    }
  });
  std::thread sender([&] {
    send_tid = gettid();
    while (!storming) SleepMs(1);
    for (int i = 0; i < kMessages; ++i) {
      const std::string msg = std::to_string(i);
      while (Send(q.fd(), msg) != 0) {
        if (errno != EINTR) {
          ADD_FAILURE() << "send: " << ErrnoName(errno);
          return;
        }
        send_eintr++;
      }
    }
  });
  while (recv_tid == 0 || send_tid == 0) SleepMs(1);
  std::thread storm([&] {
    storming = true;
    while (!done) {
      Tgkill(recv_tid, SIGUSR1);
      Tgkill(send_tid, SIGUSR1);
      usleep(10);
    }
  });
  sender.join();
  receiver.join();
  done = true;
  storm.join();

  ASSERT_EQ(received.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(received[i], i) << "message " << i << " lost, duplicated or reordered";
  }
  EXPECT_EQ(CurMsgs(q.fd()), 0);
  EXPECT_GT(g_handled.load(), 0);
  if (sa_flags & SA_RESTART) {
    EXPECT_EQ(send_eintr.load(), 0);
    EXPECT_EQ(recv_eintr.load(), 0);
  }
  ::testing::Test::RecordProperty("signals", g_handled.load());
  ::testing::Test::RecordProperty("send_eintr", send_eintr.load());
  ::testing::Test::RecordProperty("recv_eintr", recv_eintr.load());
}

// §5.4 hand-off and interruption: nothing lost or duplicated (handlers without SA_RESTART).
TEST(MqBlocking, SignalStormWithEintrLosesAndDuplicatesNothing_Spec5_4) { RunSignalStorm(0); }

// Same with SA_RESTART: the calls never report EINTR.
TEST(MqBlocking, SignalStormWithRestartLosesAndDuplicatesNothing_Spec5_4) {
  RunSignalStorm(SA_RESTART);
}

// ---- Calls that do not block (spec §5.4) ----

// Only a call that sleeps can be interrupted: mq_getsetattr, mq_notify, mq_open,
// mq_unlink, a send to a queue with room and a receive from a non-empty queue never fail
// with EINTR on Linux, whatever signals arrive (handlers without SA_RESTART here). A
// thread storms the calling thread with signals while it makes each call kRounds times.
TEST(MqBlocking, CallsThatDoNotBlockNeverFailWithEintrUnderASignalStorm_Spec5_4) {
  constexpr int kRounds = 3000;
  constexpr int kMinSignals = 1000;
  TestQueue q(4, 16, O_RDWR | O_NONBLOCK);
  ASSERT_QUEUE_OK(q);
  ScopedSigaction sa(SIGUSR1, CountingHandler, 0);
  g_handled = 0;
  const pid_t self = gettid();
  std::atomic<bool> done{false};
  std::thread storm([&] {
    while (!done) Tgkill(self, SIGUSR1);
  });
  enum { kGetattr, kSend, kReceive, kNotify, kOpen, kUnlink, kCalls };
  const char* const names[kCalls] = {"mq_getsetattr", "mq_timedsend", "mq_timedreceive",
                                     "mq_notify", "mq_open", "mq_unlink"};
  int eintr[kCalls] = {}, other[kCalls] = {};
  auto count = [&](int which, long r, int want_errno = 0) {
    if (r >= 0 && want_errno == 0) return;
    if (r < 0 && errno == want_errno) return;
    (r < 0 && errno == EINTR ? eintr : other)[which]++;
  };
  const std::string missing = q.name() + "-missing";  // raw calls take the name without '/'
  // Until the storm has been felt, then kRounds rounds (and at least kMinSignals signals).
  while (g_handled.load() == 0) sched_yield();  // (a sleep would be restarted forever)
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int rounds = 0;
  for (int i = 0; i < kRounds || (g_handled.load() < kMinSignals &&
                                  std::chrono::steady_clock::now() < give_up);
       ++i) {
    ++rounds;
    struct mq_attr attr;
    count(kGetattr, RawMqGetSetAttr(q.fd(), nullptr, &attr));
    const long sent = RawMqTimedSend(q.fd(), "s", 1, 0, nullptr);
    count(kSend, sent);
    // The message is taken back (retrying an interrupted receive), so the queue has room.
    for (long got = -1; sent == 0 && got < 0;) {
      char buf[16];
      got = RawMqTimedReceive(q.fd(), buf, sizeof(buf), nullptr, nullptr);
      count(kReceive, got);
      if (got < 0 && errno != EINTR) break;
    }
    count(kNotify, RawMqNotify(q.fd(), nullptr));
    const int fd = RawMqOpen(q.name().c_str(), O_RDONLY);
    count(kOpen, fd);
    if (fd >= 0) close(fd);
    count(kUnlink, RawMqUnlink(missing.c_str()), ENOENT);
  }
  done = true;
  storm.join();
  int total = 0;
  for (int c = 0; c < kCalls; ++c) {
    EXPECT_EQ(eintr[c], 0) << names[c] << ": " << eintr[c] << " EINTR";
    EXPECT_EQ(other[c], 0) << names[c] << ": " << other[c] << " unexpected failures";
    ::testing::Test::RecordProperty(std::string(names[c]) + "_eintr", eintr[c]);
    total += eintr[c];
  }
  EXPECT_GT(g_handled.load(), 0);
  ::testing::Test::RecordProperty("signals", g_handled.load());
  ::testing::Test::RecordProperty("eintr_total", total);
  std::printf("signals %d, EINTR %d in %d rounds of %d calls\n", g_handled.load(), total, rounds,
              static_cast<int>(kCalls));
}

// ---- Waiter order ----

// Blocks one receiver per entry of `nices`, in order, each thread at its own nice level
// (setpriority on its tid), each provably asleep before the next starts. Then sends one
// message per receiver and returns, for each send, the index of the receiver that got it.
std::vector<int> ReceiverServiceOrder(const std::vector<int>& nices) {
  TestQueue q(static_cast<long>(nices.size()), 16);
  EXPECT_GE(q.fd(), 0);
  if (q.fd() < 0) return {};
  const int n = static_cast<int>(nices.size());
  std::vector<std::string> got(n);
  std::vector<std::unique_ptr<CallThread>> threads;
  for (int i = 0; i < n; ++i) {
    const int nice = nices[i];
    threads.push_back(std::make_unique<CallThread>([&, i, nice]() -> long {
      if (setpriority(PRIO_PROCESS, gettid(), nice) != 0) return -100;
      return static_cast<long>(Receive(q.fd(), &got[i]));
    }));
    EXPECT_TRUE(WaitUntilBlockedInSyscall(threads.back()->tid(), SYS_mq_timedreceive));
  }
  for (int m = 0; m < n; ++m) {
    EXPECT_THAT(Send(q.fd(), std::to_string(m)), SyscallSucceeds());
  }
  std::vector<int> order(n, -1);
  for (int i = 0; i < n; ++i) {
    EXPECT_GE(threads[i]->Join(), 0) << "receiver " << i;
    if (!got[i].empty()) order[std::stoi(got[i])] = i;
  }
  return order;
}

// §5.4 [E]: "Five receivers blocked in the order nice 5, 0, 0, 10, -5 were served in the
// order -5, 0 (first), 0 (second), 5, 10."
TEST(MqBlocking, BlockedReceiversServedByNiceThenFifo_Spec5_4) {
  EXPECT_THAT(ReceiverServiceOrder({5, 0, 0, 10, -5}), ::testing::ElementsAre(4, 1, 2, 0, 3));
}

// §5.4: "FIFO within equal priority".
TEST(MqBlocking, EqualPriorityReceiversAreFifo_Spec5_4) {
  EXPECT_THAT(ReceiverServiceOrder({0, 0, 0, 0}), ::testing::ElementsAre(0, 1, 2, 3));
}

// §5.4 [E]: "Blocked senders ranked the same way." With a full one-slot queue, each receive
// pulls in the best-ranked blocked sender's message.
TEST(MqBlocking, BlockedSendersServedByNiceThenFifo_Spec5_4) {
  const std::vector<int> nices = {5, 0, 0, 10, -5};
  TestQueue q(1, 16);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "initial"), SyscallSucceeds());
  std::vector<std::unique_ptr<CallThread>> threads;
  for (size_t i = 0; i < nices.size(); ++i) {
    const int nice = nices[i];
    threads.push_back(std::make_unique<CallThread>([&, i, nice]() -> long {
      if (setpriority(PRIO_PROCESS, gettid(), nice) != 0) return -100;
      return static_cast<long>(Send(q.fd(), "s" + std::to_string(i)));
    }));
    ASSERT_TRUE(WaitUntilBlockedInSyscall(threads.back()->tid(), SYS_mq_timedsend));
  }
  std::vector<std::string> order;
  for (size_t i = 0; i <= nices.size(); ++i) {
    std::string msg;
    ASSERT_THAT(Receive(q.fd(), &msg), SyscallSucceeds());
    order.push_back(msg);
  }
  for (auto& t : threads) EXPECT_EQ(t->Join(), 0);
  EXPECT_THAT(order, ::testing::ElementsAre("initial", "s4", "s1", "s2", "s0", "s3"));
}

// §5.4: "A restarted call joins the waiter list again, at the back of its priority class."
TEST(MqBlocking, RestartedWaiterRejoinsAtTheBack_Spec5_4) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  ScopedSigaction sa(SIGUSR1, CountingHandler, SA_RESTART);
  g_handled = 0;
  std::string got_a, got_b;
  CallThread a([&] { return static_cast<long>(Receive(q.fd(), &got_a)); });
  ASSERT_TRUE(WaitUntilBlockedInSyscall(a.tid(), SYS_mq_timedreceive));
  CallThread b([&] { return static_cast<long>(Receive(q.fd(), &got_b)); });
  ASSERT_TRUE(WaitUntilBlockedInSyscall(b.tid(), SYS_mq_timedreceive));
  // A was first; interrupt and restart it, so it queues again behind B.
  ASSERT_THAT(Tgkill(a.tid(), SIGUSR1), SyscallSucceeds());
  while (g_handled.load() < 1) SleepMs(1);
  ASSERT_TRUE(WaitUntilBlockedInSyscall(a.tid(), SYS_mq_timedreceive));
  ASSERT_THAT(Send(q.fd(), "one"), SyscallSucceeds());
  EXPECT_EQ(b.Join(), 3);
  EXPECT_EQ(got_b, "one");
  EXPECT_FALSE(a.done());
  ASSERT_THAT(Send(q.fd(), "two"), SyscallSucceeds());
  EXPECT_EQ(a.Join(), 3);
  EXPECT_EQ(got_a, "two");
}

}  // namespace
}  // namespace mqsentry::testing
