// Conformance tests for mq_notify(2) (spec §6): the order of checks, EBUSY and
// unregistration rules, SIGEV_SIGNAL siginfo contents (sigtimedwait and signalfd), when a
// notification fires (empty -> non-empty only, one-shot for every type, not on a hand-off),
// implicit removal on close/exit/exec, SIGEV_THREAD through glibc's unmodified mq_notify,
// and the raw SIGEV_THREAD netlink cookie protocol.
//
// The notification signal is blocked in the main thread and collected with sigtimedwait,
// so it is blocked before any helper thread is created (threads inherit the mask).
#include <fcntl.h>
#include <linux/netlink.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/util/mq_test_util.h"

namespace mqsentry::testing {
namespace {

constexpr int kBadFd = 999;

int NotifySignal() { return SIGRTMIN + 2; }

struct sigevent SignalEvent(int signo, void* ptr = nullptr) {
  struct sigevent sev;
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = signo;
  sev.sigev_value.sival_ptr = ptr;
  return sev;
}

struct sigevent NoneEvent() {
  struct sigevent sev;
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_NONE;
  return sev;
}

// Waits up to timeout_ms for sig (which must be blocked); true if it arrived.
bool WaitForSignal(int sig, siginfo_t* info, int timeout_ms) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
  siginfo_t local;
  return sigtimedwait(&set, info != nullptr ? info : &local, &ts) == sig;
}

bool SignalIsPending(int sig) {
  sigset_t pending;
  sigpending(&pending);
  return sigismember(&pending, sig) == 1;
}

std::atomic<int> g_stray_signals{0};
void StraySignalHandler(int) { g_stray_signals++; }

// Test fixture: the notification signal is blocked (in this thread, and so in every thread
// a test creates) and drained around every test. A handler is installed too, so that a
// delivery to some thread that has it unblocked (glibc's SIGEV_THREAD function threads
// unblock everything) is counted as a failure instead of killing the binary.
class MqNotify : public ::testing::Test {
 protected:
  void SetUp() override {
    g_stray_signals = 0;
    DrainPendingSignal(NotifySignal());
  }
  void TearDown() override {
    DrainPendingSignal(NotifySignal());
    EXPECT_EQ(g_stray_signals.load(), 0) << "the notification signal reached another thread";
  }

  ScopedSigaction handler_{NotifySignal(), StraySignalHandler, 0};
  ScopedSignalBlock block_{NotifySignal()};
};

// ---- §6.1 order of checks ----

// §6.1 step 1: "sigev_notify is not one of {SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD} ->
// EINVAL. SIGEV_THREAD_ID (4), 3 and 99 are all rejected. This comes before the fd check".
TEST_F(MqNotify, InvalidSigevNotifyIsEinvalBeforeEbadf_Spec6_1) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  for (int notify : {3, static_cast<int>(SIGEV_THREAD_ID), 99, -1}) {
    SCOPED_TRACE(notify);
    struct sigevent sev = SignalEvent(SIGUSR1);
    sev.sigev_notify = notify;
    EXPECT_THAT(RawMqNotify(kBadFd, &sev), SyscallFailsWithErrno(EINVAL));
    EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallFailsWithErrno(EINVAL));
  }
}

// §6.1 step 2: "SIGEV_SIGNAL with a signal number that is not in 0..64 (compared as
// unsigned) -> EINVAL. That covers -1 and 65."
TEST_F(MqNotify, SignalNumberOutOfRangeIsEinvalBeforeEbadf_Spec6_1) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  for (int signo : {65, -1, 1000, INT32_MIN}) {
    SCOPED_TRACE(signo);
    const struct sigevent sev = SignalEvent(signo);
    EXPECT_THAT(RawMqNotify(kBadFd, &sev), SyscallFailsWithErrno(EINVAL));
    EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallFailsWithErrno(EINVAL));
  }
}

// §6.1 step 2: "0 is accepted. Any signal 1..64 is accepted, including SIGKILL and SIGSTOP.
// For other notify types sigev_signo is ignored."
TEST_F(MqNotify, SignalNumbersZeroToSixtyFourAreAccepted_Spec6_1) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  for (int signo : {0, 1, SIGKILL, SIGSTOP, 64}) {
    SCOPED_TRACE(signo);
    const struct sigevent sev = SignalEvent(signo);
    // Valid sigevent: the fd check decides on a bad fd.
    EXPECT_THAT(RawMqNotify(kBadFd, &sev), SyscallFailsWithErrno(EBADF));
    EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
    EXPECT_THAT(RawMqNotify(q.fd(), nullptr), SyscallSucceeds());
  }
  struct sigevent none = NoneEvent();
  none.sigev_signo = 1000;
  EXPECT_THAT(RawMqNotify(q.fd(), &none), SyscallSucceeds());
  EXPECT_THAT(RawMqNotify(q.fd(), nullptr), SyscallSucceeds());
}

// §6.1: "If sevp is non-NULL, copy 64 bytes (EFAULT)" -- before anything else.
TEST_F(MqNotify, BadSigeventPointerIsEfaultBeforeEbadf_Spec6_1) {
  EXPECT_THAT(RawMqNotify(kBadFd, static_cast<struct sigevent*>(kBadPtr)),
              SyscallFailsWithErrno(EFAULT));
  // §1.3: "The kernel copies all 64 bytes (EFAULT if any part is unreadable)."
  const long page = sysconf(_SC_PAGESIZE);
  char* mem = static_cast<char*>(
      mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(mem, MAP_FAILED);
  ASSERT_THAT(mprotect(mem + page, page, PROT_NONE), SyscallSucceeds());
  struct sigevent* sev = reinterpret_cast<struct sigevent*>(mem + page - 16);
  // The fields the kernel looks at (the first 16 bytes) are readable.
  memset(sev, 0, 16);
  sev->sigev_notify = SIGEV_NONE;
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  EXPECT_THAT(RawMqNotify(q.fd(), sev), SyscallFailsWithErrno(EFAULT));
  munmap(mem, 2 * page);
  // Nothing was registered.
  const struct sigevent none = NoneEvent();
  EXPECT_THAT(RawMqNotify(q.fd(), &none), SyscallSucceeds());
}

// §6.1 step 4: "mqdes is not open, or not an mq fd -> EBADF", also for NULL.
TEST_F(MqNotify, BadOrNonMqFdIsEbadf_Spec6_1) {
  const struct sigevent sev = SignalEvent(SIGUSR1);
  EXPECT_THAT(RawMqNotify(kBadFd, &sev), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(RawMqNotify(kBadFd, nullptr), SyscallFailsWithErrno(EBADF));
  int pipefd[2];
  ASSERT_THAT(pipe2(pipefd, O_CLOEXEC), SyscallSucceeds());
  ScopedFd r(pipefd[0]), w(pipefd[1]);
  EXPECT_THAT(RawMqNotify(r.get(), &sev), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(RawMqNotify(r.get(), nullptr), SyscallFailsWithErrno(EBADF));
}

// §6.1 step 4: "No access mode is needed: O_WRONLY and access-mode-3 fds work."
TEST_F(MqNotify, WorksOnWriteOnlyAndAccessMode3Descriptors_Spec6_1) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  ScopedFd wo(RawMqOpen(q.name().c_str(), O_WRONLY));
  ASSERT_THAT(wo.get(), SyscallSucceeds());
  const struct sigevent sev = SignalEvent(NotifySignal());
  ASSERT_THAT(RawMqNotify(wo.get(), &sev), SyscallSucceeds());
  ASSERT_THAT(Send(wo.get(), "x"), SyscallSucceeds());
  EXPECT_TRUE(WaitForSignal(NotifySignal(), nullptr, 10000));

  const std::string name3 = UniqueName();
  QueueCleanup cleanup(name3);
  ScopedFd m3(RawMqOpen(name3.c_str(), 3 | O_CREAT | O_EXCL, 0600));
  ASSERT_THAT(m3.get(), SyscallSucceeds());
  ASSERT_THAT(RawMqNotify(m3.get(), &sev), SyscallSucceeds());
  EXPECT_THAT(RawMqNotify(m3.get(), &sev), SyscallFailsWithErrno(EBUSY));
  EXPECT_THAT(RawMqNotify(m3.get(), nullptr), SyscallSucceeds());
}

// ---- §6.1 step 5: EBUSY and NULL ----

// §6.1 step 5: "A registration already exists (any owner, including the caller itself) ->
// EBUSY."
TEST_F(MqNotify, SecondRegistrationIsEbusyEvenForTheOwner_Spec6_1) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const struct sigevent sev = SignalEvent(NotifySignal());
  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallFailsWithErrno(EBUSY));
  const struct sigevent none = NoneEvent();
  EXPECT_THAT(RawMqNotify(q.fd(), &none), SyscallFailsWithErrno(EBUSY));
  // Through a different descriptor of the same queue as well.
  ScopedFd other(RawMqOpen(q.name().c_str(), O_RDONLY));
  ASSERT_THAT(other.get(), SyscallSucceeds());
  EXPECT_THAT(RawMqNotify(other.get(), &none), SyscallFailsWithErrno(EBUSY));
  // Another process too.
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK_ERRNO(RawMqNotify(q.fd(), &none), EBUSY);
    return 0;
  }));
}

// §6.1 step 5: "sevp == NULL: if the calling process owns the registration, remove it;
// otherwise do nothing and return 0."
TEST_F(MqNotify, NullByNonOwnerReturnsZeroAndKeepsRegistration_Spec6_1) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const struct sigevent sev = SignalEvent(NotifySignal());
  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK_OK(RawMqNotify(q.fd(), nullptr));
    const struct sigevent none = NoneEvent();
    CHILD_CHECK_ERRNO(RawMqNotify(q.fd(), &none), EBUSY);
    return 0;
  }));
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallFailsWithErrno(EBUSY));
  ASSERT_THAT(Send(q.fd(), "fire"), SyscallSucceeds());
  EXPECT_TRUE(WaitForSignal(NotifySignal(), nullptr, 10000));
}

// §6.1 step 5: NULL with nobody registered returns 0 ("No EINVAL, no EBUSY").
TEST_F(MqNotify, NullWithoutRegistrationReturnsZero_Spec6_1) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  EXPECT_THAT(RawMqNotify(q.fd(), nullptr), SyscallSucceeds());
  EXPECT_THAT(RawMqNotify(q.fd(), nullptr), SyscallSucceeds());
}

// §6.1 step 5: the owner's NULL removes the registration: nothing fires, and a new
// registration is accepted.
TEST_F(MqNotify, NullByOwnerRemovesRegistration_Spec6_1) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const struct sigevent sev = SignalEvent(NotifySignal());
  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  ASSERT_THAT(RawMqNotify(q.fd(), nullptr), SyscallSucceeds());
  ASSERT_THAT(Send(q.fd(), "quiet"), SyscallSucceeds());
  EXPECT_FALSE(SignalIsPending(NotifySignal()));
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
}

// §6.2: "Any thread of the owning process can unregister with NULL."
TEST_F(MqNotify, AnyThreadOfTheOwnerCanUnregister_Spec6_2) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const struct sigevent sev = SignalEvent(NotifySignal());
  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  int rc = -2;
  std::thread([&] { rc = RawMqNotify(q.fd(), nullptr); }).join();
  EXPECT_EQ(rc, 0);
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  // And a registration made by another thread belongs to the process.
  ASSERT_THAT(RawMqNotify(q.fd(), nullptr), SyscallSucceeds());
  std::thread([&] { rc = RawMqNotify(q.fd(), &sev); }).join();
  EXPECT_EQ(rc, 0);
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallFailsWithErrno(EBUSY));
  EXPECT_THAT(RawMqNotify(q.fd(), nullptr), SyscallSucceeds());
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
}

// ---- §6.3 SIGEV_SIGNAL delivery ----

// §6.3 / §1.4: "si_code=SI_MESGQ(-3), si_value = the registered value", si_errno 0, si_pid
// the sender's TGID, si_uid the sender's real uid.
TEST_F(MqNotify, SignalCarriesMesgqSiginfo_Spec6_3) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  void* const cookie = reinterpret_cast<void*>(0x1122334455667788ULL);
  const struct sigevent sev = SignalEvent(NotifySignal(), cookie);
  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  ASSERT_THAT(Send(q.fd(), "go"), SyscallSucceeds());
  siginfo_t info;
  memset(&info, 0, sizeof(info));
  ASSERT_TRUE(WaitForSignal(NotifySignal(), &info, 10000));
  EXPECT_EQ(info.si_signo, NotifySignal());
  EXPECT_EQ(info.si_code, kSiMesgq);
  EXPECT_EQ(info.si_code, SI_MESGQ);
  EXPECT_EQ(info.si_errno, 0);
  EXPECT_EQ(info.si_pid, getpid());
  EXPECT_EQ(info.si_uid, getuid());
  EXPECT_EQ(info.si_value.sival_ptr, cookie);
  EXPECT_EQ(static_cast<uint32_t>(info.si_value.sival_int), 0x55667788u);
}

// §6.3: "si_pid = the sending process's TGID", "si_uid = the sender's real uid", and "It
// bypasses permission checks, so any sender triggers it": an unprivileged uid in another
// process triggers a root owner's notification.
TEST_F(MqNotify, SiginfoNamesTheSendingProcessAndItsRealUid_Spec6_3) {
  TestQueue q(4, 16, O_RDWR, 0666);
  ASSERT_QUEUE_OK(q);
  const struct sigevent sev = SignalEvent(NotifySignal(), reinterpret_cast<void*>(42));
  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  const pid_t child = ForkChild([&]() -> int {
    // Real uid 4321, effective uid 5432: si_uid is the real one.
    CHILD_CHECK_OK(setresgid(4321, 4321, 4321));
    CHILD_CHECK_OK(setresuid(4321, 5432, 5432));
    CHILD_CHECK_OK(RawMqTimedSend(q.fd(), "u", 1, 0, nullptr));
    // The child does not get the signal: the registration belongs to the parent.
    CHILD_CHECK(!SignalIsPending(NotifySignal()));
    return 0;
  });
  ASSERT_CHILD_OK(WaitChild(child));
  siginfo_t info;
  memset(&info, 0, sizeof(info));
  ASSERT_TRUE(WaitForSignal(NotifySignal(), &info, 10000));
  EXPECT_EQ(info.si_code, SI_MESGQ);
  EXPECT_EQ(info.si_pid, child);
  EXPECT_EQ(info.si_uid, 4321u);
  EXPECT_EQ(info.si_value.sival_ptr, reinterpret_cast<void*>(42));
}

// ---- §6.3: the notification is queued inside the send that fires it ----

constexpr int kOrderingIterations = 200;

std::atomic<int> g_fired{0};
void FiredHandler(int) { g_fired.fetch_add(1, std::memory_order_relaxed); }

// Receives the one message of `fd`, retrying an interruption by a (late) signal.
ssize_t ReceiveRetrying(int fd) {
  char buf[16];
  ssize_t n;
  do {
    n = RawMqTimedReceive(fd, buf, sizeof(buf), nullptr, nullptr);
  } while (n < 0 && errno == EINTR);
  return n;
}

// Whether signal `sig` is in the shared pending set of process `pid` (ShdPnd).
bool SharedPending(pid_t pid, int sig) {
  const std::string status = ReadFile("/proc/" + std::to_string(pid) + "/status");
  const size_t at = status.find("\nShdPnd:\t");
  if (at == std::string::npos) return false;
  const uint64_t mask = std::strtoull(status.c_str() + at + 9, nullptr, 16);
  return (mask >> (sig - 1)) & 1;
}

// §6.3: the signal is sent from inside mq_timedsend, so an owner that sends to its own
// empty queue has run its handler by the time mq_send returns (the kernel delivers pending
// signals on the way back to user mode).
TEST_F(MqNotify, OwnersHandlerHasRunWhenItsOwnSendReturns_Spec6_3) {
  const int sig = SIGRTMIN + 3;
  ScopedSigaction sa(sig, FiredHandler, 0);
  TestQueue q(4, 16);
  ASSERT_QUEUE_OK(q);
  const struct sigevent sev = SignalEvent(sig);
  int late = 0;
  for (int i = 0; i < kOrderingIterations; ++i) {
    g_fired = 0;
    ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
    ASSERT_THAT(RawMqTimedSend(q.fd(), "x", 1, 0, nullptr), SyscallSucceeds());
    if (g_fired.load() != 1) ++late;
    // A late signal must still come (once) before the next round.
    for (int w = 0; w < 10000 && g_fired.load() == 0; ++w) usleep(100);
    ASSERT_EQ(g_fired.load(), 1) << "iteration " << i;
    ASSERT_THAT(ReceiveRetrying(q.fd()), SyscallSucceedsWithValue(1));
  }
  EXPECT_EQ(late, 0) << late << " of " << kOrderingIterations
                     << " sends returned before the handler ran";
}

// §6.3: the same when the sender is another thread of the owner: the signal is pending
// for the process (every thread blocks it here) when the other thread's send returns.
TEST_F(MqNotify, SignalIsPendingWhenAnotherThreadsSendReturns_Spec6_3) {
  TestQueue q(4, 16);
  ASSERT_QUEUE_OK(q);
  const struct sigevent sev = SignalEvent(NotifySignal());
  int late = 0;
  for (int i = 0; i < kOrderingIterations; ++i) {
    ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
    bool pending_at_return = false;
    int send_result = -1;
    std::thread t([&] {
      send_result = RawMqTimedSend(q.fd(), "t", 1, 0, nullptr);
      pending_at_return = SignalIsPending(NotifySignal());
    });
    t.join();
    ASSERT_EQ(send_result, 0) << "iteration " << i;
    if (!pending_at_return) ++late;
    ASSERT_TRUE(WaitForSignal(NotifySignal(), nullptr, 10000)) << "iteration " << i;
    ASSERT_THAT(ReceiveRetrying(q.fd()), SyscallSucceedsWithValue(1));
  }
  EXPECT_EQ(late, 0) << late << " of " << kOrderingIterations
                     << " sends returned before the signal was pending";
}

// §6.3: the same when the owner is another process: when the sender's mq_send returns,
// the signal is in the owner's shared pending set.
TEST_F(MqNotify, SignalIsPendingAtAnotherOwnerWhenTheSendReturns_Spec6_3) {
  TestQueue q(4, 16);
  ASSERT_QUEUE_OK(q);
  const struct sigevent sev = SignalEvent(NotifySignal());
  const pid_t owner = getpid();
  constexpr int kRounds = 50;
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
    const pid_t child = ForkChild([&]() -> int {
      CHILD_CHECK_OK(RawMqTimedSend(q.fd(), "p", 1, 0, nullptr));
      CHILD_CHECK(SharedPending(owner, NotifySignal()));
      return 0;
    });
    ASSERT_CHILD_OK(WaitChild(child)) << "iteration " << i;
    ASSERT_TRUE(WaitForSignal(NotifySignal(), nullptr, 10000)) << "iteration " << i;
    ASSERT_THAT(ReceiveRetrying(q.fd()), SyscallSucceedsWithValue(1));
  }
}

// §1.4: "signalfd shows the same data as ssi_pid, ssi_uid, ssi_int and ssi_ptr."
TEST_F(MqNotify, SignalfdShowsTheSameData_Spec1_4) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, NotifySignal());
  ScopedFd sfd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  ASSERT_THAT(sfd.get(), SyscallSucceeds());
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  void* const cookie = reinterpret_cast<void*>(0x1122334455667788ULL);
  const struct sigevent sev = SignalEvent(NotifySignal(), cookie);
  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  ASSERT_THAT(Send(q.fd(), "sfd"), SyscallSucceeds());
  struct pollfd pfd = {sfd.get(), POLLIN, 0};
  ASSERT_THAT(poll(&pfd, 1, 10000), SyscallSucceedsWithValue(1));
  struct signalfd_siginfo ssi;
  ASSERT_THAT(read(sfd.get(), &ssi, sizeof(ssi)), SyscallSucceedsWithValue(sizeof(ssi)));
  EXPECT_EQ(ssi.ssi_signo, static_cast<uint32_t>(NotifySignal()));
  EXPECT_EQ(ssi.ssi_code, SI_MESGQ);
  EXPECT_EQ(ssi.ssi_errno, 0);
  EXPECT_EQ(ssi.ssi_pid, static_cast<uint32_t>(getpid()));
  EXPECT_EQ(ssi.ssi_uid, getuid());
  EXPECT_EQ(ssi.ssi_ptr, 0x1122334455667788ULL);
  EXPECT_EQ(static_cast<uint32_t>(ssi.ssi_int), 0x55667788u);
}

// §6.3: "It fires only when a send inserts a message and curmsgs becomes 1 ... Sends to a
// non-empty queue do not fire. A registration made while the queue is non-empty fires only
// after the queue has been drained and then refilled."
TEST_F(MqNotify, FiresOnlyOnEmptyToNonEmpty_Spec6_3) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "already"), SyscallSucceeds());
  const struct sigevent sev = SignalEvent(NotifySignal());
  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  ASSERT_THAT(Send(q.fd(), "second"), SyscallSucceeds());
  EXPECT_FALSE(SignalIsPending(NotifySignal()));
  // Still registered.
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallFailsWithErrno(EBUSY));
  std::string msg;
  ASSERT_THAT(Receive(q.fd(), &msg), SyscallSucceeds());
  ASSERT_THAT(Receive(q.fd(), &msg), SyscallSucceeds());
  EXPECT_FALSE(SignalIsPending(NotifySignal()));
  ASSERT_THAT(Send(q.fd(), "refill"), SyscallSucceeds());
  EXPECT_TRUE(WaitForSignal(NotifySignal(), nullptr, 10000));
}

// §6.3: "Firing always removes the registration (one-shot), for every type" -- SIGEV_SIGNAL.
TEST_F(MqNotify, SignalRegistrationIsOneShot_Spec6_3) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const struct sigevent sev = SignalEvent(NotifySignal());
  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  ASSERT_THAT(Send(q.fd(), "1"), SyscallSucceeds());
  EXPECT_TRUE(WaitForSignal(NotifySignal(), nullptr, 10000));
  std::string msg;
  ASSERT_THAT(Receive(q.fd(), &msg), SyscallSucceeds());
  ASSERT_THAT(Send(q.fd(), "2"), SyscallSucceeds());
  EXPECT_FALSE(SignalIsPending(NotifySignal()));
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
}

// §6.3: "SIGEV_NONE is consumed too" (and §8.1 shows it as NOTIFY:1 until then).
TEST_F(MqNotify, SigevNoneIsOneShot_Spec6_3) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const struct sigevent none = NoneEvent();
  ASSERT_THAT(RawMqNotify(q.fd(), &none), SyscallSucceeds());
  EXPECT_THAT(StatusLine(q.fd()), ::testing::HasSubstr("NOTIFY:1 "));
  EXPECT_THAT(RawMqNotify(q.fd(), &none), SyscallFailsWithErrno(EBUSY));
  ASSERT_THAT(Send(q.fd(), "consume"), SyscallSucceeds());
  EXPECT_THAT(StatusLine(q.fd()), ::testing::HasSubstr("NOTIFY:0 "));
  EXPECT_THAT(StatusLine(q.fd()), ::testing::HasSubstr("NOTIFY_PID:0 "));
  EXPECT_THAT(RawMqNotify(q.fd(), &none), SyscallSucceeds());
}

// §6.3: "so is SIGEV_SIGNAL with signo 0, which delivers nothing."
TEST_F(MqNotify, SignalZeroIsOneShotAndDeliversNothing_Spec6_3) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const struct sigevent zero = SignalEvent(0);
  ASSERT_THAT(RawMqNotify(q.fd(), &zero), SyscallSucceeds());
  EXPECT_THAT(StatusLine(q.fd()), ::testing::HasSubstr("NOTIFY_PID:" + std::to_string(getpid())));
  ASSERT_THAT(Send(q.fd(), "zero"), SyscallSucceeds());
  EXPECT_THAT(StatusLine(q.fd()), ::testing::HasSubstr("NOTIFY_PID:0 "));
  const struct sigevent sev = SignalEvent(NotifySignal());
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
}

// §6.3: "A hand-off to a blocked receiver does not count, and the registration then remains."
TEST_F(MqNotify, HandOffToBlockedReceiverDoesNotFire_Spec6_3) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const struct sigevent sev = SignalEvent(NotifySignal());
  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  std::atomic<pid_t> tid{0};
  std::atomic<ssize_t> result{-2};
  std::thread receiver([&] {  // inherits the blocked notification signal
    tid = gettid();
    result = Receive(q.fd(), nullptr);
  });
  while (tid == 0) SleepMs(1);
  ASSERT_TRUE(WaitUntilBlockedInSyscall(tid, SYS_mq_timedreceive));
  ASSERT_THAT(Send(q.fd(), "handoff"), SyscallSucceeds());
  receiver.join();
  EXPECT_EQ(result.load(), 7);
  EXPECT_FALSE(SignalIsPending(NotifySignal()));
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallFailsWithErrno(EBUSY));
  // The kept registration fires on the next real insertion.
  ASSERT_THAT(Send(q.fd(), "insert"), SyscallSucceeds());
  EXPECT_TRUE(WaitForSignal(NotifySignal(), nullptr, 10000));
}

// ---- §6.2 implicit removal ----

// §6.2: "On every close() of any descriptor of that queue by a thread of the owning process,
// the registration is removed ... even when it is a different open description of the same
// queue (a second mq_open) or a dup."
TEST_F(MqNotify, OwnerClosingAnyDescriptorOfTheQueueRemovesIt_Spec6_2) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const struct sigevent sev = SignalEvent(NotifySignal());
  // A second open description.
  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  int other = RawMqOpen(q.name().c_str(), O_RDONLY);
  ASSERT_THAT(other, SyscallSucceeds());
  ASSERT_THAT(close(other), SyscallSucceeds());
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  // A dup.
  int dupfd = dup(q.fd());
  ASSERT_THAT(dupfd, SyscallSucceeds());
  ASSERT_THAT(close(dupfd), SyscallSucceeds());
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  // Closing the registering descriptor itself (registered via a dup, closed the original).
  dupfd = dup(q.fd());
  ASSERT_THAT(dupfd, SyscallSucceeds());
  ScopedFd keep(dupfd);
  ASSERT_THAT(RawMqNotify(q.fd(), nullptr), SyscallSucceeds());
  ASSERT_THAT(RawMqNotify(keep.get(), &sev), SyscallSucceeds());
  q.Close();
  EXPECT_THAT(RawMqNotify(keep.get(), &sev), SyscallSucceeds());
  ASSERT_THAT(Send(keep.get(), "x"), SyscallSucceeds());
  EXPECT_TRUE(WaitForSignal(NotifySignal(), nullptr, 10000));
}

// §6.2: "Closing a descriptor of a different queue has no effect."
TEST_F(MqNotify, ClosingAnotherQueueHasNoEffect_Spec6_2) {
  TestQueue q, other;
  ASSERT_QUEUE_OK(q);
  ASSERT_QUEUE_OK(other);
  const struct sigevent sev = SignalEvent(NotifySignal());
  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  other.Close();
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallFailsWithErrno(EBUSY));
  ASSERT_THAT(Send(q.fd(), "x"), SyscallSucceeds());
  EXPECT_TRUE(WaitForSignal(NotifySignal(), nullptr, 10000));
}

// §6.2: "Closes by other processes have no effect. For example, a child created by fork()
// closing its inherited copy does not remove the parent's registration."
TEST_F(MqNotify, CloseByForkedChildDoesNotRemove_Spec6_2) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const struct sigevent sev = SignalEvent(NotifySignal());
  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK_OK(close(q.fd()));
    return 0;
  }));
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallFailsWithErrno(EBUSY));
  ASSERT_THAT(Send(q.fd(), "still"), SyscallSucceeds());
  EXPECT_TRUE(WaitForSignal(NotifySignal(), nullptr, 10000));
}

// §6.2: "Process exit closes everything, so the registration is removed."
TEST_F(MqNotify, OwnerExitRemovesRegistration_Spec6_2) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    const struct sigevent none = NoneEvent();
    CHILD_CHECK_OK(RawMqNotify(q.fd(), &none));
    return 0;
  }));
  const struct sigevent sev = SignalEvent(NotifySignal());
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
}

// §6.2: "Exec closes mq fds (they are CLOEXEC), so the registration is removed."
TEST_F(MqNotify, ExecRemovesRegistration_Spec6_2) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  int pipefd[2];
  ASSERT_THAT(pipe(pipefd), SyscallSucceeds());  // no CLOEXEC: the shell reads from it
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const struct sigevent none = NoneEvent();
    if (RawMqNotify(q.fd(), &none) != 0) _exit(2);
    dup2(pipefd[0], 0);
    close(pipefd[1]);
    execl("/bin/sh", "sh", "-c", "read x", static_cast<char*>(nullptr));
    _exit(3);
  }
  close(pipefd[0]);
  ScopedFd writer(pipefd[1]);
  // Once the shell is asleep in read(), the exec (and its close-on-exec) has completed.
  ASSERT_TRUE(WaitUntilBlockedInSyscall(child, SYS_read));
  const struct sigevent sev = SignalEvent(NotifySignal());
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  ASSERT_THAT(write(writer.get(), "\n", 1), SyscallSucceeds());
  EXPECT_CHILD_OK(WaitChild(child));
}

// ---- SIGEV_THREAD ----

struct ThreadNotifyResult {
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  void* value = nullptr;
  pid_t tid = 0;
};
ThreadNotifyResult* g_thread_result = nullptr;

// Waits until the SIGEV_THREAD function thread has exited: it runs with every signal
// unblocked, so it must be gone before a later test raises the notification signal.
void WaitForThreadExit(pid_t tid) {
  const std::string path = "/proc/self/task/" + std::to_string(tid);
  for (int i = 0; i < 10000 && access(path.c_str(), F_OK) == 0; ++i) SleepMs(1);
}

void ThreadNotifyFunction(union sigval sv) {
  std::lock_guard<std::mutex> lock(g_thread_result->mu);
  g_thread_result->calls++;
  g_thread_result->value = sv.sival_ptr;
  g_thread_result->tid = gettid();
  g_thread_result->cv.notify_all();
}

// §1.6 / §6.3: glibc's SIGEV_THREAD runs the function in a new thread with the registered
// sigval when the queue becomes non-empty, and (one-shot) only once.
TEST_F(MqNotify, SigevThreadThroughGlibcRunsFunction_Spec6_3) {
  ThreadNotifyResult result;
  g_thread_result = &result;
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  int marker = 0;
  struct sigevent sev;
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_notify_function = ThreadNotifyFunction;
  sev.sigev_value.sival_ptr = &marker;
  ASSERT_EQ(mq_notify(q.fd(), &sev), 0) << ErrnoName(errno);
  EXPECT_THAT(StatusLine(q.fd()), ::testing::HasSubstr("NOTIFY:2 "));
  const struct sigevent none = NoneEvent();
  EXPECT_THAT(RawMqNotify(q.fd(), &none), SyscallFailsWithErrno(EBUSY));
  ASSERT_THAT(Send(q.fd(), "thread"), SyscallSucceeds());
  {
    std::unique_lock<std::mutex> lock(result.mu);
    ASSERT_TRUE(
        result.cv.wait_for(lock, std::chrono::seconds(10), [&] { return result.calls > 0; }));
    EXPECT_EQ(result.value, &marker);
    EXPECT_NE(result.tid, gettid());
  }
  // One-shot: a new registration is accepted; the old one does not fire again.
  std::string msg;
  ASSERT_THAT(Receive(q.fd(), &msg), SyscallSucceeds());
  ASSERT_THAT(Send(q.fd(), "again"), SyscallSucceeds());
  SleepMs(50);
  {
    std::lock_guard<std::mutex> lock(result.mu);
    EXPECT_EQ(result.calls, 1);
  }
  ASSERT_THAT(Receive(q.fd(), &msg), SyscallSucceeds());
  ASSERT_EQ(mq_notify(q.fd(), &sev), 0) << ErrnoName(errno);
  ASSERT_EQ(mq_notify(q.fd(), nullptr), 0) << ErrnoName(errno);
  WaitForThreadExit(result.tid);
  g_thread_result = nullptr;
}

// §1.6: glibc copies sigev_notify_attributes and creates the thread with them.
TEST_F(MqNotify, SigevThreadWithAttributes_Spec1_6) {
  ThreadNotifyResult result;
  g_thread_result = &result;
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, 1 << 20), 0);
  struct sigevent sev;
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_notify_function = ThreadNotifyFunction;
  sev.sigev_notify_attributes = &attr;
  sev.sigev_value.sival_ptr = reinterpret_cast<void*>(0xabc);
  ASSERT_EQ(mq_notify(q.fd(), &sev), 0) << ErrnoName(errno);
  pthread_attr_destroy(&attr);  // glibc keeps its own copy
  ASSERT_THAT(Send(q.fd(), "attr"), SyscallSucceeds());
  std::unique_lock<std::mutex> lock(result.mu);
  ASSERT_TRUE(result.cv.wait_for(lock, std::chrono::seconds(10), [&] { return result.calls > 0; }));
  EXPECT_EQ(result.value, reinterpret_cast<void*>(0xabc));
  const pid_t tid = result.tid;
  lock.unlock();
  WaitForThreadExit(tid);
  g_thread_result = nullptr;
}

// Raw SIGEV_THREAD: a sigevent whose sigev_signo is a netlink socket and whose sival_ptr
// points at a 32-byte cookie.
struct sigevent ThreadEvent(int sock, const void* cookie) {
  struct sigevent sev;
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_signo = sock;
  sev.sigev_value.sival_ptr = const_cast<void*>(cookie);
  return sev;
}

int NetlinkSocket() { return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE); }

// §6.1 step 3: "Copy 32 bytes from sigev_value.sival_ptr -> EFAULT. This comes before the
// socket check"; then "not open -> EBADF; not a socket -> ENOTSOCK; not an AF_NETLINK socket
// -> EINVAL"; "All of this happens before the mq fd is checked."
TEST_F(MqNotify, RawSigevThreadChecksCookieThenSocketBeforeMqFd_Spec6_1) {
  ScopedFd nl(NetlinkSocket());
  ASSERT_THAT(nl.get(), SyscallSucceeds());
  unsigned char cookie[32] = {};
  struct sigevent sev = ThreadEvent(nl.get(), kBadPtr);
  EXPECT_THAT(RawMqNotify(kBadFd, &sev), SyscallFailsWithErrno(EFAULT));
  sev = ThreadEvent(kBadFd, kBadPtr);
  EXPECT_THAT(RawMqNotify(kBadFd, &sev), SyscallFailsWithErrno(EFAULT));
  sev = ThreadEvent(kBadFd + 1, cookie);
  EXPECT_THAT(RawMqNotify(kBadFd, &sev), SyscallFailsWithErrno(EBADF));
  int pipefd[2];
  ASSERT_THAT(pipe2(pipefd, O_CLOEXEC), SyscallSucceeds());
  ScopedFd r(pipefd[0]), w(pipefd[1]);
  sev = ThreadEvent(r.get(), cookie);
  EXPECT_THAT(RawMqNotify(kBadFd, &sev), SyscallFailsWithErrno(ENOTSOCK));
  ScopedFd unix_sock(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_THAT(unix_sock.get(), SyscallSucceeds());
  sev = ThreadEvent(unix_sock.get(), cookie);
  EXPECT_THAT(RawMqNotify(kBadFd, &sev), SyscallFailsWithErrno(EINVAL));
  // A valid cookie and socket: now the bad mq fd is reported.
  sev = ThreadEvent(nl.get(), cookie);
  EXPECT_THAT(RawMqNotify(kBadFd, &sev), SyscallFailsWithErrno(EBADF));
}

// Receives one datagram from the netlink socket (waiting up to 10 s).
ssize_t RecvCookie(int sock, unsigned char* buf, size_t len) {
  struct pollfd pfd = {sock, POLLIN, 0};
  if (poll(&pfd, 1, 10000) != 1) return -1;
  return recv(sock, buf, len, MSG_DONTWAIT);
}

// §6.3: "SIGEV_THREAD: queue the saved 32-byte cookie, with byte 31 set to NOTIFY_WOKENUP
// (1), on the netlink socket as a bare 32-byte datagram." The cookie is copied at
// registration time.
TEST_F(MqNotify, RawSigevThreadDeliversCookieWithWokenUp_Spec6_3) {
  ScopedFd nl(NetlinkSocket());
  ASSERT_THAT(nl.get(), SyscallSucceeds());
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  unsigned char cookie[32];
  for (int i = 0; i < 32; ++i) cookie[i] = static_cast<unsigned char>(0xa0 + i);
  const struct sigevent sev = ThreadEvent(nl.get(), cookie);
  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  memset(cookie, 0, sizeof(cookie));  // copied at registration, not at firing
  ASSERT_THAT(Send(q.fd(), "nl"), SyscallSucceeds());
  unsigned char buf[64];
  ASSERT_THAT(RecvCookie(nl.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(32));
  for (int i = 0; i < 31; ++i) EXPECT_EQ(buf[i], 0xa0 + i) << "byte " << i;
  EXPECT_EQ(buf[31], 1);  // NOTIFY_WOKENUP
  // One-shot.
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  EXPECT_THAT(RawMqNotify(q.fd(), nullptr), SyscallSucceeds());
}

// §6.3: the SIGEV_THREAD cookie is in the socket when the send that fired it returns.
TEST_F(MqNotify, RawSigevThreadCookieIsQueuedWhenTheSendReturns_Spec6_3) {
  ScopedFd nl(NetlinkSocket());
  ASSERT_THAT(nl.get(), SyscallSucceeds());
  TestQueue q(4, 16);
  ASSERT_QUEUE_OK(q);
  unsigned char cookie[32] = {};
  const struct sigevent sev = ThreadEvent(nl.get(), cookie);
  int late = 0;
  for (int i = 0; i < kOrderingIterations; ++i) {
    ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
    ASSERT_THAT(RawMqTimedSend(q.fd(), "c", 1, 0, nullptr), SyscallSucceeds());
    unsigned char buf[64];
    if (recv(nl.get(), buf, sizeof(buf), MSG_DONTWAIT) != 32) {
      ++late;
      ASSERT_THAT(RecvCookie(nl.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(32));
    }
    EXPECT_EQ(buf[31], 1);  // NOTIFY_WOKENUP
    ASSERT_THAT(ReceiveRetrying(q.fd()), SyscallSucceedsWithValue(1));
  }
  EXPECT_EQ(late, 0) << late << " of " << kOrderingIterations
                     << " sends returned before the cookie was queued";
}

// §6.2: the NOTIFY_REMOVED cookie is queued by the unregistering call itself: it is on
// the socket when mq_notify(fd, NULL) or close(2) returns.
TEST_F(MqNotify, RawSigevThreadRemovedCookieIsQueuedWhenTheCallReturns_Spec6_2) {
  ScopedFd nl(NetlinkSocket());
  ASSERT_THAT(nl.get(), SyscallSucceeds());
  TestQueue q(4, 16);
  ASSERT_QUEUE_OK(q);
  unsigned char cookie[32] = {};
  const struct sigevent sev = ThreadEvent(nl.get(), cookie);
  int late = 0;
  for (int i = 0; i < kOrderingIterations; ++i) {
    ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
    if (i % 2 == 0) {
      ASSERT_THAT(RawMqNotify(q.fd(), nullptr), SyscallSucceeds());
    } else {
      const int extra = dup(q.fd());
      ASSERT_THAT(extra, SyscallSucceeds());
      ASSERT_THAT(close(extra), SyscallSucceeds());
    }
    unsigned char buf[64];
    if (recv(nl.get(), buf, sizeof(buf), MSG_DONTWAIT) != 32) {
      ++late;
      ASSERT_THAT(RecvCookie(nl.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(32));
    }
    EXPECT_EQ(buf[31], 2);  // NOTIFY_REMOVED
  }
  EXPECT_EQ(late, 0) << late << " of " << kOrderingIterations
                     << " unregistrations returned before the cookie was queued";
}

// §6.2: "Removing a SIGEV_THREAD registration sends the cookie with byte 31 =
// NOTIFY_REMOVED (2) to the netlink socket. This happens for both NULL unregister and close."
TEST_F(MqNotify, RawSigevThreadRemovalSendsNotifyRemoved_Spec6_2) {
  ScopedFd nl(NetlinkSocket());
  ASSERT_THAT(nl.get(), SyscallSucceeds());
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  unsigned char cookie[32];
  for (int i = 0; i < 32; ++i) cookie[i] = static_cast<unsigned char>(i + 1);
  const struct sigevent sev = ThreadEvent(nl.get(), cookie);
  unsigned char buf[64];

  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  ASSERT_THAT(RawMqNotify(q.fd(), nullptr), SyscallSucceeds());
  ASSERT_THAT(RecvCookie(nl.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(32));
  EXPECT_EQ(buf[0], 1);
  EXPECT_EQ(buf[30], 31);
  EXPECT_EQ(buf[31], 2);  // NOTIFY_REMOVED

  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  const int extra = dup(q.fd());
  ASSERT_THAT(extra, SyscallSucceeds());
  ASSERT_THAT(close(extra), SyscallSucceeds());
  ASSERT_THAT(RecvCookie(nl.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(32));
  EXPECT_EQ(buf[31], 2);
  // Nothing else is queued on the socket.
  EXPECT_THAT(recv(nl.get(), buf, sizeof(buf), MSG_DONTWAIT), SyscallFailsWithErrno(EAGAIN));
}

// §6.1: "If the call fails after step 3, the reserved cookie is released silently: nothing
// is sent to the socket." (EBUSY after a valid cookie and socket.)
TEST_F(MqNotify, RawSigevThreadFailedRegistrationSendsNothing_Spec6_1) {
  ScopedFd nl(NetlinkSocket());
  ASSERT_THAT(nl.get(), SyscallSucceeds());
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const struct sigevent none = NoneEvent();
  ASSERT_THAT(RawMqNotify(q.fd(), &none), SyscallSucceeds());
  unsigned char cookie[32] = {7};
  const struct sigevent sev = ThreadEvent(nl.get(), cookie);
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallFailsWithErrno(EBUSY));
  EXPECT_THAT(RawMqNotify(kBadFd, &sev), SyscallFailsWithErrno(EBADF));
  unsigned char buf[64];
  EXPECT_THAT(recv(nl.get(), buf, sizeof(buf), MSG_DONTWAIT), SyscallFailsWithErrno(EAGAIN));
}

// §6.3: the cookie is queued on the registration's own socket, whatever its state. A
// socket connect()ed to the kernel (portid 0) accepts datagrams from the kernel only, and
// the cookie comes from the kernel: it arrives.
TEST_F(MqNotify, RawSigevThreadReachesASocketConnectedToTheKernel_Spec6_3) {
  ScopedFd nl(NetlinkSocket());
  ASSERT_THAT(nl.get(), SyscallSucceeds());
  struct sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  ASSERT_THAT(connect(nl.get(), reinterpret_cast<struct sockaddr*>(&kernel), sizeof(kernel)),
              SyscallSucceeds());
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  unsigned char cookie[32];
  for (int i = 0; i < 32; ++i) cookie[i] = static_cast<unsigned char>(0x40 + i);
  const struct sigevent sev = ThreadEvent(nl.get(), cookie);
  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  ASSERT_THAT(Send(q.fd(), "connected"), SyscallSucceeds());
  unsigned char buf[64];
  ASSERT_THAT(RecvCookie(nl.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(32));
  for (int i = 0; i < 31; ++i) EXPECT_EQ(buf[i], 0x40 + i) << "byte " << i;
  EXPECT_EQ(buf[31], 1);  // NOTIFY_WOKENUP
}

// Whether `sock` receives, within `ms`, a datagram that starts with `prefix`.
bool SeesPrefix(int sock, const unsigned char* prefix, size_t len, int ms) {
  for (int waited = 0; waited < ms; waited += 10) {
    unsigned char buf[8192];
    ssize_t n;
    while ((n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
      if (static_cast<size_t>(n) >= len && memcmp(buf, prefix, len) == 0) return true;
    }
    SleepMs(10);
  }
  return false;
}

// §6.3: the cookie goes to the owner's socket and nowhere else. With the socket bound to
// multicast groups (NETLINK_ROUTE group 1, RTMGRP_LINK; NETLINK_KOBJECT_UEVENT group 1,
// udev's), which an unprivileged process may listen to, another listener on the same group
// gets nothing: the kernel queues the cookie on the one socket (netlink_sendskb), it does
// not broadcast it.
TEST_F(MqNotify, RawSigevThreadCookieIsNotMulticast_Spec6_3) {
  for (int protocol : {NETLINK_ROUTE, NETLINK_KOBJECT_UEVENT}) {
    SCOPED_TRACE(protocol);
    struct sockaddr_nl group = {};
    group.nl_family = AF_NETLINK;
    group.nl_groups = 1;
    ScopedFd listener(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol));
    ASSERT_THAT(listener.get(), SyscallSucceeds());
    ASSERT_THAT(bind(listener.get(), reinterpret_cast<struct sockaddr*>(&group), sizeof(group)),
                SyscallSucceeds());
    ScopedFd nl(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol));
    ASSERT_THAT(nl.get(), SyscallSucceeds());
    ASSERT_THAT(bind(nl.get(), reinterpret_cast<struct sockaddr*>(&group), sizeof(group)),
                SyscallSucceeds());
    TestQueue q;
    ASSERT_QUEUE_OK(q);
    unsigned char cookie[32];
    for (int i = 0; i < 32; ++i) cookie[i] = static_cast<unsigned char>(0xc0 ^ (i * 7));
    const struct sigevent sev = ThreadEvent(nl.get(), cookie);
    ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
    ASSERT_THAT(Send(q.fd(), "multicast"), SyscallSucceeds());
    EXPECT_TRUE(SeesPrefix(nl.get(), cookie, 31, 10000));
    EXPECT_FALSE(SeesPrefix(listener.get(), cookie, 31, 200));
  }
}

// §6.2 corner case: "Exec with the fd kept. The owner clears FD_CLOEXEC and execs. The
// registration survives the exec, but when it fires no signal is sent (the exec generation
// differs) and it is consumed." SIGUSR1 with its default action would kill the shell.
TEST_F(MqNotify, RegistrationSurvivesExecWithFdKeptButDeliversNothing_Spec6_2) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  int pipefd[2];
  ASSERT_THAT(pipe(pipefd), SyscallSucceeds());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGUSR1, SIG_DFL);
    const struct sigevent sev = SignalEvent(SIGUSR1);
    if (RawMqNotify(q.fd(), &sev) != 0) _exit(2);
    // Every descriptor of the queue in this process must survive the exec.
    if (fcntl(q.fd(), F_SETFD, 0) != 0) _exit(3);
    dup2(pipefd[0], 0);
    close(pipefd[1]);
    execl("/bin/sh", "sh", "-c", "read x", static_cast<char*>(nullptr));
    _exit(4);
  }
  close(pipefd[0]);
  ScopedFd writer(pipefd[1]);
  ASSERT_TRUE(WaitUntilBlockedInSyscall(child, SYS_read));
  EXPECT_THAT(StatusLine(q.fd()), ::testing::HasSubstr("SIGNO:" + std::to_string(SIGUSR1) + " "));
  EXPECT_THAT(StatusLine(q.fd()),
              ::testing::HasSubstr("NOTIFY_PID:" + std::to_string(child) + " "));
  const struct sigevent none = NoneEvent();
  EXPECT_THAT(RawMqNotify(q.fd(), &none), SyscallFailsWithErrno(EBUSY));
  ASSERT_THAT(Send(q.fd(), "after-exec"), SyscallSucceeds());
  // Consumed without a signal: the shell is still alive and asleep in read().
  EXPECT_THAT(StatusLine(q.fd()), ::testing::HasSubstr("NOTIFY_PID:0 "));
  EXPECT_THAT(RawMqNotify(q.fd(), &none), SyscallSucceeds());
  EXPECT_TRUE(WaitUntilBlockedInSyscall(child, SYS_read));
  ASSERT_THAT(write(writer.get(), "\n", 1), SyscallSucceeds());
  EXPECT_CHILD_OK(WaitChild(child));
}

int RegisterAndExit(void* arg) {
  const struct sigevent sev = SignalEvent(NotifySignal());
  return RawMqNotify(*static_cast<int*>(arg), &sev) == 0 ? 0 : 1;
}

// §6.2 corner case: "Stale owner. The owner shares its fd table with another process
// (clone(CLONE_FILES) without CLONE_THREAD) and exits. Nothing is closed, so the registration
// survives with a dead owner: NOTIFY_PID still shows the old number; other processes get
// EBUSY; the next empty->non-empty transition consumes it silently."
TEST_F(MqNotify, RegistrationOfExitedCloneFilesOwnerSurvives_Spec6_2) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  int fd = q.fd();
  std::vector<char> stack(256 * 1024);
  const pid_t child =
      clone(RegisterAndExit, stack.data() + stack.size(), CLONE_FILES | SIGCHLD, &fd);
  ASSERT_THAT(child, SyscallSucceeds());
  ASSERT_CHILD_OK(WaitChild(child));
  EXPECT_THAT(StatusLine(q.fd()),
              ::testing::HasSubstr("NOTIFY_PID:" + std::to_string(child) + " "));
  const struct sigevent sev = SignalEvent(NotifySignal());
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallFailsWithErrno(EBUSY));
  // Not the owner: NULL is a silent no-op.
  EXPECT_THAT(RawMqNotify(q.fd(), nullptr), SyscallSucceeds());
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallFailsWithErrno(EBUSY));
  ASSERT_THAT(Send(q.fd(), "stale"), SyscallSucceeds());
  EXPECT_FALSE(SignalIsPending(NotifySignal()));
  EXPECT_THAT(StatusLine(q.fd()), ::testing::HasSubstr("NOTIFY_PID:0 "));
  EXPECT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
}

// §6.3: "si_pid = the sending process's TGID as seen in the owner's PID namespace, or 0 if
// the sender is not visible there. [E: owner inside a child pid namespace, sender in the
// parent namespace -> si_pid=0]"; §8.1: NOTIFY_PID is relative to the reader.
TEST_F(MqNotify, SiPidIsZeroWhenSenderIsOutsideOwnersPidNamespace_Spec6_3) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  int ready[2], report[2];
  ASSERT_THAT(pipe2(ready, O_CLOEXEC), SyscallSucceeds());
  ASSERT_THAT(pipe2(report, O_CLOEXEC), SyscallSucceeds());
  ScopedFd ready_r(ready[0]), ready_w(ready[1]), report_r(report[0]), report_w(report[1]);
  const pid_t middle = ForkChild([&]() -> int {
    CHILD_CHECK_OK(unshare(CLONE_NEWPID));
    const pid_t owner = ForkChild([&]() -> int {  // pid 1 of the new PID namespace
      CHILD_CHECK_EQ(getpid(), 1);
      const struct sigevent sev = SignalEvent(NotifySignal(), reinterpret_cast<void*>(77));
      CHILD_CHECK_OK(RawMqNotify(q.fd(), &sev));
      CHILD_CHECK(StatusLine(q.fd()).find("NOTIFY_PID:1 ") != std::string::npos);
      CHILD_CHECK_EQ(write(ready_w.get(), "r", 1), 1);
      siginfo_t info;
      memset(&info, 0, sizeof(info));
      CHILD_CHECK(WaitForSignal(NotifySignal(), &info, 20000));
      CHILD_CHECK_EQ(info.si_code, SI_MESGQ);
      CHILD_CHECK_EQ(info.si_pid, 0);
      CHILD_CHECK_EQ(info.si_value.sival_ptr, reinterpret_cast<void*>(77));
      return 0;
    });
    CHILD_CHECK_OK(owner);
    CHILD_CHECK_EQ(write(report_w.get(), &owner, sizeof(owner)),
                   static_cast<ssize_t>(sizeof(owner)));
    return WaitChild(owner);
  });
  ASSERT_GT(middle, 0);
  ready_w.reset();
  report_w.reset();
  pid_t owner = 0;
  ASSERT_THAT(read(report_r.get(), &owner, sizeof(owner)), SyscallSucceedsWithValue(sizeof(owner)));
  char c;
  ASSERT_THAT(read(ready_r.get(), &c, 1), SyscallSucceedsWithValue(1));
  // This reader sees the owner by its pid in this (the parent) namespace.
  EXPECT_THAT(StatusLine(q.fd()),
              ::testing::HasSubstr("NOTIFY_PID:" + std::to_string(owner) + " "));
  ASSERT_THAT(Send(q.fd(), "from-outside"), SyscallSucceeds());
  EXPECT_CHILD_OK(WaitChild(middle));
}

// §6.3: "the reverse case gave the sender's pid in the parent (global) namespace"; §8.1 "[E:
// a reader in a child pid namespace saw 0.]"
TEST_F(MqNotify, SiPidIsTheSendersPidInTheOwnersNamespace_Spec6_3) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const struct sigevent sev = SignalEvent(NotifySignal());
  ASSERT_THAT(RawMqNotify(q.fd(), &sev), SyscallSucceeds());
  int report[2];
  ASSERT_THAT(pipe2(report, O_CLOEXEC), SyscallSucceeds());
  ScopedFd report_r(report[0]), report_w(report[1]);
  const pid_t middle = ForkChild([&]() -> int {
    CHILD_CHECK_OK(unshare(CLONE_NEWPID));
    const pid_t sender = ForkChild([&]() -> int {
      CHILD_CHECK_EQ(getpid(), 1);
      // The owner (the test process) is invisible from here.
      CHILD_CHECK(StatusLine(q.fd()).find("NOTIFY_PID:0 ") != std::string::npos);
      CHILD_CHECK_OK(RawMqTimedSend(q.fd(), "inner", 5, 0, nullptr));
      return 0;
    });
    CHILD_CHECK_OK(sender);
    CHILD_CHECK_EQ(write(report_w.get(), &sender, sizeof(sender)),
                   static_cast<ssize_t>(sizeof(sender)));
    return WaitChild(sender);
  });
  ASSERT_GT(middle, 0);
  report_w.reset();
  pid_t sender = 0;
  ASSERT_THAT(read(report_r.get(), &sender, sizeof(sender)),
              SyscallSucceedsWithValue(sizeof(sender)));
  ASSERT_CHILD_OK(WaitChild(middle));
  siginfo_t info;
  memset(&info, 0, sizeof(info));
  ASSERT_TRUE(WaitForSignal(NotifySignal(), &info, 10000));
  EXPECT_EQ(info.si_code, SI_MESGQ);
  EXPECT_EQ(info.si_pid, sender);
}

// §6.3: "si_uid = the sender's real uid mapped into the owner's user namespace recorded at
// registration, or 65534 (overflowuid) if it is unmapped. [E: ... 65534 when the owner was
// in a user namespace that mapped only 0.]"
TEST_F(MqNotify, SiUidIsOverflowUidWhenSenderIsUnmapped_Spec6_3) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  int ready[2];
  ASSERT_THAT(pipe2(ready, O_CLOEXEC), SyscallSucceeds());
  ScopedFd ready_r(ready[0]), ready_w(ready[1]);
  const pid_t owner = ForkChild([&]() -> int {
    CHILD_CHECK_OK(unshare(CLONE_NEWUSER));
    const int map = open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC);
    CHILD_CHECK_OK(map);
    CHILD_CHECK_EQ(write(map, "0 0 1", 5), 5);
    close(map);
    for (int round = 0; round < 2; ++round) {
      const struct sigevent sev = SignalEvent(NotifySignal());
      CHILD_CHECK_OK(RawMqNotify(q.fd(), &sev));
      CHILD_CHECK_EQ(write(ready_w.get(), "r", 1), 1);
      siginfo_t info;
      memset(&info, 0, sizeof(info));
      CHILD_CHECK(WaitForSignal(NotifySignal(), &info, 20000));
      CHILD_CHECK_EQ(info.si_code, SI_MESGQ);
      // Round 0: real uid 0 (mapped to 0). Round 1: real uid 4321 (unmapped).
      CHILD_CHECK_EQ(info.si_uid, round == 0 ? 0u : 65534u);
      CHILD_CHECK_OK(Receive(q.fd(), nullptr));
    }
    return 0;
  });
  ASSERT_GT(owner, 0);
  ready_w.reset();
  char c;
  ASSERT_THAT(read(ready_r.get(), &c, 1), SyscallSucceedsWithValue(1));
  ASSERT_THAT(Send(q.fd(), "root"), SyscallSucceeds());
  ASSERT_THAT(read(ready_r.get(), &c, 1), SyscallSucceedsWithValue(1));
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK_OK(SwitchToUser(4321, 4321));
    CHILD_CHECK_OK(RawMqTimedSend(q.fd(), "user", 4, 0, nullptr));
    return 0;
  }));
  EXPECT_CHILD_OK(WaitChild(owner));
}

std::atomic<int> g_usr1{0};
void Usr1Handler(int) { g_usr1++; }

// §6.1 step 3.3: "The cookie is charged to the socket's receive buffer. If that would go over
// SO_RCVBUF (one cookie is always allowed), mq_notify blocks interruptibly until space is
// freed. A signal gives -ERESTARTSYS (EINTR without SA_RESTART)." Measured on this kernel: with
// SO_RCVBUF at its minimum (2304), registrations #0 and #1 succeed and #2 blocks.
TEST_F(MqNotify, RawSigevThreadBlocksWhenReceiveBufferIsFull_Spec6_1) {
  ScopedFd nl(NetlinkSocket());
  ASSERT_THAT(nl.get(), SyscallSucceeds());
  const int zero = 0;
  ASSERT_THAT(setsockopt(nl.get(), SOL_SOCKET, SO_RCVBUF, &zero, sizeof(zero)), SyscallSucceeds());
  int rcvbuf = 0;
  socklen_t len = sizeof(rcvbuf);
  ASSERT_THAT(getsockopt(nl.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len), SyscallSucceeds());
  EXPECT_EQ(rcvbuf, 2304);
  TestQueue a, b, c;
  ASSERT_QUEUE_OK(a);
  ASSERT_QUEUE_OK(b);
  ASSERT_QUEUE_OK(c);
  unsigned char cookie[32] = {1};
  const struct sigevent sev = ThreadEvent(nl.get(), cookie);
  ASSERT_THAT(RawMqNotify(a.fd(), &sev), SyscallSucceeds());
  ASSERT_THAT(RawMqNotify(b.fd(), &sev), SyscallSucceeds());
  ScopedSigaction sa(SIGUSR1, Usr1Handler, 0);
  std::atomic<int> result{-2}, error{0};
  auto register_c = [&](std::atomic<pid_t>* tid) {
    *tid = gettid();
    result = RawMqNotify(c.fd(), &sev);
    error = errno;
  };

  // Interrupted by a signal: EINTR, and nothing was registered.
  std::atomic<pid_t> tid{0};
  std::thread t1(register_c, &tid);
  while (tid == 0) SleepMs(1);
  const bool blocked = WaitUntilBlockedInSyscall(tid, SYS_mq_notify);
  ASSERT_THAT(syscall(SYS_tgkill, getpid(), tid.load(), SIGUSR1), SyscallSucceeds());
  t1.join();
  ASSERT_TRUE(blocked);
  EXPECT_EQ(result.load(), -1);
  EXPECT_EQ(error.load(), EINTR);
  const struct sigevent none = NoneEvent();
  ASSERT_THAT(RawMqNotify(c.fd(), &none), SyscallSucceeds());
  ASSERT_THAT(RawMqNotify(c.fd(), nullptr), SyscallSucceeds());

  // Woken when space is freed: unregistering a queues its NOTIFY_REMOVED cookie (still
  // charged); reading it from the socket frees the space.
  tid = 0;
  result = -2;
  std::thread t2(register_c, &tid);
  while (tid == 0) SleepMs(1);
  const bool blocked_again = WaitUntilBlockedInSyscall(tid, SYS_mq_notify);
  ASSERT_THAT(RawMqNotify(a.fd(), nullptr), SyscallSucceeds());
  unsigned char buf[64];
  const ssize_t n = RecvCookie(nl.get(), buf, sizeof(buf));
  if (n != 32) syscall(SYS_tgkill, getpid(), tid.load(), SIGUSR1);  // do not hang on failure
  t2.join();
  ASSERT_TRUE(blocked_again);
  ASSERT_EQ(n, 32);
  EXPECT_EQ(buf[31], 2);
  EXPECT_EQ(result.load(), 0);
  EXPECT_THAT(RawMqNotify(c.fd(), &none), SyscallFailsWithErrno(EBUSY));
}

}  // namespace
}  // namespace mqsentry::testing
