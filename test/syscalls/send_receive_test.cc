// Conformance tests for mq_timedsend(2) and mq_timedreceive(2) (spec §5): the order of
// checks (the timeout and the priority are validated before the fd), EMSGSIZE/EFAULT
// behaviour, message ordering, O_NONBLOCK, deadlines, and blocking calls woken by another
// thread or process. Signal interaction is in blocking_signals_test.cc.
#include <fcntl.h>
#include <mqueue.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/util/mq_test_util.h"

namespace mqsentry::testing {
namespace {

constexpr int kBadFd = 999;

const struct timespec* BadTimeout() { return static_cast<const struct timespec*>(kBadPtr); }

// The invalid timeouts of §5.1 step 1.
std::vector<struct timespec> InvalidTimeouts() {
  return {{0, -1}, {0, 1000000000}, {-1, 0}, {-1, 500}, {5, LONG_MAX}};
}

// ---- §5.1 / §5.2: order of checks ----

// §5.1 step 1: timeout validation "happens on every call, even when the call would not
// block, when O_NONBLOCK is set, or when the fd is bad."
TEST(MqSend, InvalidTimeoutIsEinvalEvenOnBadFd_Spec5_1) {
  for (const struct timespec& ts : InvalidTimeouts()) {
    SCOPED_TRACE(::testing::Message() << ts.tv_sec << "." << ts.tv_nsec);
    EXPECT_THAT(RawMqTimedSend(kBadFd, "x", 1, 0, &ts), SyscallFailsWithErrno(EINVAL));
  }
}

// §5.2 step 1: "Timeout copy/validation (EFAULT/EINVAL), on every call."
TEST(MqReceive, InvalidTimeoutIsEinvalEvenOnBadFd_Spec5_2) {
  char buf[16];
  for (const struct timespec& ts : InvalidTimeouts()) {
    SCOPED_TRACE(::testing::Message() << ts.tv_sec << "." << ts.tv_nsec);
    EXPECT_THAT(RawMqTimedReceive(kBadFd, buf, sizeof(buf), nullptr, &ts),
                SyscallFailsWithErrno(EINVAL));
  }
}

// §5.1 step 1: copying the timeout can fault (EFAULT), before the fd and prio checks.
TEST(MqSend, BadTimeoutPointerIsEfaultBeforeEverything_Spec5_1) {
  EXPECT_THAT(RawMqTimedSend(kBadFd, "x", 1, 0, BadTimeout()), SyscallFailsWithErrno(EFAULT));
  // Before the priority check: an invalid prio would give EINVAL otherwise.
  EXPECT_THAT(RawMqTimedSend(kBadFd, "x", 1, kMqPrioMax, BadTimeout()),
              SyscallFailsWithErrno(EFAULT));
}

TEST(MqReceive, BadTimeoutPointerIsEfaultOnBadFd_Spec5_2) {
  char buf[16];
  EXPECT_THAT(RawMqTimedReceive(kBadFd, buf, sizeof(buf), nullptr, BadTimeout()),
              SyscallFailsWithErrno(EFAULT));
}

// §11.1: "Timeout validation ... happens on every call ... even with O_NONBLOCK; the man
// page says otherwise." A send that would succeed immediately still fails.
TEST(MqSend, InvalidTimeoutIsEinvalWhenSendWouldNotBlock_Spec5_1) {
  TestQueue q(4, 16, O_RDWR | O_NONBLOCK);
  ASSERT_QUEUE_OK(q);
  const struct timespec bad = {0, -1};
  EXPECT_THAT(RawMqTimedSend(q.fd(), "x", 1, 0, &bad), SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(CurMsgs(q.fd()), 0);
}

// §5.2 step 1: same for a receive that has a message waiting; the message is not consumed.
TEST(MqReceive, InvalidTimeoutIsEinvalWhenMessageIsAvailable_Spec5_2) {
  TestQueue q(4, 16);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "keep"), SyscallSucceeds());
  char buf[16];
  const struct timespec bad = {0, 1000000000};
  EXPECT_THAT(RawMqTimedReceive(q.fd(), buf, sizeof(buf), nullptr, &bad),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(CurMsgs(q.fd()), 1);
}

// §5.1 step 2: "msg_prio >= 32768 (unsigned comparison; 0xffffffff included) -> EINVAL. This
// is before the fd check".
TEST(MqSend, PrioOutOfRangeIsEinvalBeforeEbadf_Spec5_1) {
  for (unsigned prio : {kMqPrioMax, kMqPrioMax + 1, 0x80000000u, 0xffffffffu}) {
    SCOPED_TRACE(prio);
    EXPECT_THAT(RawMqTimedSend(kBadFd, "x", 1, prio, nullptr), SyscallFailsWithErrno(EINVAL));
  }
  // And before EFAULT / EMSGSIZE on a valid queue.
  TestQueue q(2, 8);
  ASSERT_QUEUE_OK(q);
  EXPECT_THAT(RawMqTimedSend(q.fd(), kBadPtr, 100, kMqPrioMax, nullptr),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(sysconf(_SC_MQ_PRIO_MAX), static_cast<long>(kMqPrioMax));
}

// §5.1 step 3: "The fd is not open -> EBADF. The fd is not an mq descriptor -> EBADF."
TEST(MqSend, BadOrNonMqFdIsEbadf_Spec5_1) {
  EXPECT_THAT(RawMqTimedSend(kBadFd, "x", 1, 0, nullptr), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(RawMqTimedSend(-1, "x", 1, 0, nullptr), SyscallFailsWithErrno(EBADF));
  int pipefd[2];
  ASSERT_THAT(pipe2(pipefd, O_CLOEXEC), SyscallSucceeds());
  ScopedFd r(pipefd[0]), w(pipefd[1]);
  EXPECT_THAT(RawMqTimedSend(w.get(), "x", 1, 0, nullptr), SyscallFailsWithErrno(EBADF));
  ScopedFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
  EXPECT_THAT(RawMqTimedSend(null.get(), "x", 1, 0, nullptr), SyscallFailsWithErrno(EBADF));
}

TEST(MqReceive, BadOrNonMqFdIsEbadf_Spec5_2) {
  char buf[8192];
  EXPECT_THAT(RawMqTimedReceive(kBadFd, buf, sizeof(buf), nullptr, nullptr),
              SyscallFailsWithErrno(EBADF));
  int pipefd[2];
  ASSERT_THAT(pipe2(pipefd, O_CLOEXEC), SyscallSucceeds());
  ScopedFd r(pipefd[0]), w(pipefd[1]);
  EXPECT_THAT(RawMqTimedReceive(r.get(), buf, sizeof(buf), nullptr, nullptr),
              SyscallFailsWithErrno(EBADF));
}

// §5.1 step 3: "The fd is not open for writing (O_RDONLY or access mode 3) -> EBADF."
TEST(MqSend, ReadOnlyDescriptorIsEbadf_Spec5_1) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  ScopedFd ro(RawMqOpen(q.name().c_str(), O_RDONLY));
  ASSERT_THAT(ro.get(), SyscallSucceeds());
  EXPECT_THAT(RawMqTimedSend(ro.get(), "x", 1, 0, nullptr), SyscallFailsWithErrno(EBADF));
  // EBADF comes before EMSGSIZE and EFAULT.
  EXPECT_THAT(RawMqTimedSend(ro.get(), kBadPtr, 1000, 0, nullptr), SyscallFailsWithErrno(EBADF));
  EXPECT_EQ(CurMsgs(q.fd()), 0);
}

// §5.2 step 2: "not readable (O_WRONLY or access mode 3). EBADF is reported before EMSGSIZE."
TEST(MqReceive, WriteOnlyDescriptorIsEbadfBeforeEmsgsize_Spec5_2) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "m"), SyscallSucceeds());
  ScopedFd wo(RawMqOpen(q.name().c_str(), O_WRONLY));
  ASSERT_THAT(wo.get(), SyscallSucceeds());
  char buf[16];
  EXPECT_THAT(RawMqTimedReceive(wo.get(), buf, sizeof(buf), nullptr, nullptr),
              SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(RawMqTimedReceive(wo.get(), buf, 1, nullptr, nullptr), SyscallFailsWithErrno(EBADF));
  EXPECT_EQ(CurMsgs(q.fd()), 1);
}

// §5.1 step 4: "msg_len > mq_msgsize -> EMSGSIZE, before the buffer is touched."
TEST(MqSend, TooLongIsEmsgsizeBeforeBufferIsRead_Spec5_1) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  const std::string big(17, 'b');
  EXPECT_THAT(RawMqTimedSend(q.fd(), big.data(), big.size(), 0, nullptr),
              SyscallFailsWithErrno(EMSGSIZE));
  EXPECT_THAT(RawMqTimedSend(q.fd(), kBadPtr, 17, 0, nullptr), SyscallFailsWithErrno(EMSGSIZE));
  EXPECT_THAT(RawMqTimedSend(q.fd(), kBadPtr, SIZE_MAX, 0, nullptr),
              SyscallFailsWithErrno(EMSGSIZE));
  // Exactly msgsize is fine.
  EXPECT_THAT(RawMqTimedSend(q.fd(), big.data(), 16, 0, nullptr), SyscallSucceeds());
  EXPECT_EQ(CurMsgs(q.fd()), 1);
}

// §5.2 step 3: "msg_len < mq_msgsize -> EMSGSIZE. The buffer must be at least mq_msgsize,
// whatever size the next message is."
TEST(MqReceive, BufferSmallerThanMsgsizeIsEmsgsize_Spec5_2) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "a"), SyscallSucceeds());
  char buf[16];
  EXPECT_THAT(RawMqTimedReceive(q.fd(), buf, 15, nullptr, nullptr),
              SyscallFailsWithErrno(EMSGSIZE));
  EXPECT_THAT(RawMqTimedReceive(q.fd(), buf, 0, nullptr, nullptr), SyscallFailsWithErrno(EMSGSIZE));
  EXPECT_EQ(CurMsgs(q.fd()), 1);
  // Also on an empty queue, before EAGAIN.
  TestQueue empty(2, 16, O_RDWR | O_NONBLOCK);
  ASSERT_QUEUE_OK(empty);
  EXPECT_THAT(RawMqTimedReceive(empty.fd(), buf, 15, nullptr, nullptr),
              SyscallFailsWithErrno(EMSGSIZE));
}

// §5.2 step 3: "The comparison is unsigned; (size_t)-1 passes." Only the message's bytes
// are written.
TEST(MqReceive, HugeBufferLengthIsAccepted_Spec5_2) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "huge"), SyscallSucceeds());
  char buf[16] = {};
  EXPECT_THAT(RawMqTimedReceive(q.fd(), buf, SIZE_MAX, nullptr, nullptr),
              SyscallSucceedsWithValue(4));
  EXPECT_EQ(std::string(buf, 4), "huge");
}

// §5.1 step 5: "The whole message is copied from user memory -> EFAULT ... Nothing is
// queued, and this happens even if the queue is full with O_NONBLOCK set."
TEST(MqSend, BadBufferIsEfaultAndQueuesNothing_Spec5_1) {
  TestQueue q(1, 16, O_RDWR | O_NONBLOCK);
  ASSERT_QUEUE_OK(q);
  EXPECT_THAT(RawMqTimedSend(q.fd(), kBadPtr, 5, 0, nullptr), SyscallFailsWithErrno(EFAULT));
  EXPECT_EQ(CurMsgs(q.fd()), 0);
  ASSERT_THAT(Send(q.fd(), "full"), SyscallSucceeds());
  EXPECT_THAT(RawMqTimedSend(q.fd(), kBadPtr, 5, 0, nullptr), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(RawMqTimedSend(q.fd(), "x", 1, 0, nullptr), SyscallFailsWithErrno(EAGAIN));
  EXPECT_EQ(CurMsgs(q.fd()), 1);
}

// §5.1 step 5: a buffer whose tail is unmapped faults as a whole.
TEST(MqSend, PartiallyMappedBufferIsEfault_Spec5_1) {
  const long page = sysconf(_SC_PAGESIZE);
  char* mem = static_cast<char*>(
      mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(mem, MAP_FAILED);
  ASSERT_THAT(mprotect(mem + page, page, PROT_NONE), SyscallSucceeds());
  TestQueue q(2, 64);
  ASSERT_QUEUE_OK(q);
  EXPECT_THAT(RawMqTimedSend(q.fd(), mem + page - 10, 20, 0, nullptr),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_EQ(CurMsgs(q.fd()), 0);
  EXPECT_THAT(RawMqTimedSend(q.fd(), mem + page - 10, 10, 0, nullptr), SyscallSucceeds());
  munmap(mem, 2 * page);
}

// §5.1 step 5: "A NULL buffer with length 0 is fine."
TEST(MqSend, NullBufferWithZeroLengthIsFine_Spec5_1) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  EXPECT_THAT(RawMqTimedSend(q.fd(), nullptr, 0, 3, nullptr), SyscallSucceeds());
  char buf[16];
  unsigned prio = 0;
  EXPECT_THAT(RawMqTimedReceive(q.fd(), buf, sizeof(buf), &prio, nullptr),
              SyscallSucceedsWithValue(0));
  EXPECT_EQ(prio, 3u);
}

// §5.2 step 6: "If either write faults, the call returns EFAULT and the message is already
// gone (lost)." [E: curmsgs went from 1 to 0 for a bad buffer.]
TEST(MqReceive, BadBufferLosesTheMessage_Spec5_2) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "lost", 1), SyscallSucceeds());
  ASSERT_THAT(Send(q.fd(), "kept", 0), SyscallSucceeds());
  unsigned prio = 99;
  EXPECT_THAT(RawMqTimedReceive(q.fd(), kBadPtr, 16, &prio, nullptr),
              SyscallFailsWithErrno(EFAULT));
  // The priority was written before the payload faulted.
  EXPECT_EQ(prio, 1u);
  EXPECT_EQ(CurMsgs(q.fd()), 1);
  std::string msg;
  ASSERT_THAT(Receive(q.fd(), &msg), SyscallSucceeds());
  EXPECT_EQ(msg, "kept");
}

// §5.2 step 6: same for a bad priority pointer.
TEST(MqReceive, BadPrioPointerLosesTheMessage_Spec5_2) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "lost"), SyscallSucceeds());
  char buf[16];
  EXPECT_THAT(RawMqTimedReceive(q.fd(), buf, sizeof(buf), static_cast<unsigned*>(kBadPtr), nullptr),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_EQ(CurMsgs(q.fd()), 0);
}

// §5.2 step 6: "bytes past the message length in the user buffer are untouched"; a NULL
// prio pointer is skipped.
TEST(MqReceive, OnlyMessageBytesAreWritten_Spec5_2) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "abc", 7), SyscallSucceeds());
  char buf[16];
  memset(buf, 'x', sizeof(buf));
  EXPECT_THAT(RawMqTimedReceive(q.fd(), buf, sizeof(buf), nullptr, nullptr),
              SyscallSucceedsWithValue(3));
  EXPECT_EQ(std::string(buf, sizeof(buf)), "abc" + std::string(13, 'x'));
}

// ---- §5.3 ordering ----

// §5.3: "sending a1(prio 1), b5(5), c1(1) gives b5, a1, c1."
TEST(MqReceive, HighestPriorityFirstThenFifo_Spec5_3) {
  TestQueue q(4, 16);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "a1", 1), SyscallSucceeds());
  ASSERT_THAT(Send(q.fd(), "b5", 5), SyscallSucceeds());
  ASSERT_THAT(Send(q.fd(), "c1", 1), SyscallSucceeds());
  std::string msg;
  unsigned prio = 0;
  ASSERT_THAT(Receive(q.fd(), &msg, &prio), SyscallSucceeds());
  EXPECT_EQ(msg, "b5");
  EXPECT_EQ(prio, 5u);
  ASSERT_THAT(Receive(q.fd(), &msg, &prio), SyscallSucceeds());
  EXPECT_EQ(msg, "a1");
  EXPECT_EQ(prio, 1u);
  ASSERT_THAT(Receive(q.fd(), &msg, &prio), SyscallSucceeds());
  EXPECT_EQ(msg, "c1");
  EXPECT_EQ(prio, 1u);
}

// §5.3: "within one priority, strictly FIFO", across the whole priority range.
TEST(MqReceive, ManyPrioritiesAndFifoWithinEach_Spec5_3) {
  TestQueue q(10, 16);
  ASSERT_QUEUE_OK(q);
  const unsigned prios[] = {0, 32767, 5, 0, 32767, 5, 100, 0, 1, 100};
  for (int i = 0; i < 10; ++i) {
    ASSERT_THAT(Send(q.fd(), std::to_string(i), prios[i]), SyscallSucceeds());
  }
  const char* expected[] = {"1", "4", "6", "9", "2", "5", "8", "0", "3", "7"};
  for (const char* want : expected) {
    std::string msg;
    ASSERT_THAT(Receive(q.fd(), &msg), SyscallSucceeds());
    EXPECT_EQ(msg, want);
  }
}

// §5.3: "Zero-length messages are allowed"; they are queued and counted like others.
TEST(MqReceive, ZeroLengthMessages_Spec5_3) {
  TestQueue q(3, 16);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(RawMqTimedSend(q.fd(), "", 0, 2, nullptr), SyscallSucceeds());
  ASSERT_THAT(Send(q.fd(), "z", 1), SyscallSucceeds());
  ASSERT_THAT(RawMqTimedSend(q.fd(), "", 0, 2, nullptr), SyscallSucceeds());
  EXPECT_EQ(CurMsgs(q.fd()), 3);
  std::string msg = "junk";
  unsigned prio = 0;
  EXPECT_THAT(Receive(q.fd(), &msg, &prio), SyscallSucceedsWithValue(0));
  EXPECT_EQ(msg, "");
  EXPECT_EQ(prio, 2u);
  EXPECT_THAT(Receive(q.fd(), &msg, &prio), SyscallSucceedsWithValue(0));
  EXPECT_THAT(Receive(q.fd(), &msg, &prio), SyscallSucceedsWithValue(1));
  EXPECT_EQ(prio, 1u);
}

// Payload bytes are delivered exactly, including NULs and high bytes.
TEST(MqReceive, BinaryPayloadRoundTrips_Spec5_2) {
  TestQueue q(2, 256);
  ASSERT_QUEUE_OK(q);
  std::string payload(256, '\0');
  for (int i = 0; i < 256; ++i) payload[i] = static_cast<char>(255 - i);
  ASSERT_THAT(Send(q.fd(), payload), SyscallSucceeds());
  std::string msg;
  ASSERT_THAT(Receive(q.fd(), &msg), SyscallSucceedsWithValue(256));
  EXPECT_EQ(msg, payload);
}

// §5.1 step 7: each inserted message increments curmsgs; the queue holds exactly maxmsg.
TEST(MqSend, CurmsgsCountsUpToMaxmsg_Spec5_1) {
  TestQueue q(3, 16, O_RDWR | O_NONBLOCK);
  ASSERT_QUEUE_OK(q);
  for (long i = 1; i <= 3; ++i) {
    ASSERT_THAT(Send(q.fd(), "m"), SyscallSucceeds());
    EXPECT_EQ(CurMsgs(q.fd()), i);
  }
  EXPECT_THAT(Send(q.fd(), "m"), SyscallFailsWithErrno(EAGAIN));
  EXPECT_EQ(CurMsgs(q.fd()), 3);
}

// ---- O_NONBLOCK and deadlines ----

// §5.1 step 6 / §5.2 step 4: O_NONBLOCK -> EAGAIN when full / empty.
TEST(MqSend, NonblockFullAndEmptyAreEagain_Spec5_1) {
  TestQueue q(1, 16, O_RDWR | O_NONBLOCK);
  ASSERT_QUEUE_OK(q);
  std::string msg;
  EXPECT_THAT(Receive(q.fd(), &msg), SyscallFailsWithErrno(EAGAIN));
  ASSERT_THAT(Send(q.fd(), "one"), SyscallSucceeds());
  EXPECT_THAT(Send(q.fd(), "two"), SyscallFailsWithErrno(EAGAIN));
  ASSERT_THAT(Receive(q.fd(), &msg), SyscallSucceeds());
  EXPECT_EQ(msg, "one");
  EXPECT_THAT(Receive(q.fd(), &msg), SyscallFailsWithErrno(EAGAIN));
}

// §5.1 step 6: "O_NONBLOCK is checked before any timeout expiry."
TEST(MqSend, NonblockBeatsExpiredDeadline_Spec5_1) {
  TestQueue q(1, 16, O_RDWR | O_NONBLOCK);
  ASSERT_QUEUE_OK(q);
  const struct timespec past = {0, 0};
  char buf[16];
  EXPECT_THAT(RawMqTimedReceive(q.fd(), buf, sizeof(buf), nullptr, &past),
              SyscallFailsWithErrno(EAGAIN));
  ASSERT_THAT(Send(q.fd(), "x"), SyscallSucceeds());
  EXPECT_THAT(RawMqTimedSend(q.fd(), "y", 1, 0, &past), SyscallFailsWithErrno(EAGAIN));
}

// §5.4: "A deadline already in the past (including {0,0}) gives an immediate ETIMEDOUT, but
// only when the call would block."
TEST(MqReceive, PastDeadlineTimesOutOnlyWhenBlocking_Spec5_4) {
  TestQueue q(1, 16);
  ASSERT_QUEUE_OK(q);
  char buf[16];
  for (const struct timespec& past : {timespec{0, 0}, RealtimeFromNow(-1000)}) {
    EXPECT_THAT(RawMqTimedReceive(q.fd(), buf, sizeof(buf), nullptr, &past),
                SyscallFailsWithErrno(ETIMEDOUT));
  }
  const struct timespec past = {0, 0};
  // Not full: the past deadline is irrelevant.
  ASSERT_THAT(RawMqTimedSend(q.fd(), "a", 1, 0, &past), SyscallSucceeds());
  // Full: the send would block, so it times out.
  EXPECT_THAT(RawMqTimedSend(q.fd(), "b", 1, 0, &past), SyscallFailsWithErrno(ETIMEDOUT));
  // Not empty: the receive succeeds.
  EXPECT_THAT(RawMqTimedReceive(q.fd(), buf, sizeof(buf), nullptr, &past),
              SyscallSucceedsWithValue(1));
  EXPECT_EQ(buf[0], 'a');
}

// §5.4: "A +200 ms deadline returned after 0.200 s." Only a lower bound is asserted.
TEST(MqReceive, TimeoutIsHonoured_Spec5_4) {
  TestQueue q(1, 16);
  ASSERT_QUEUE_OK(q);
  char buf[16];
  const int64_t start = MonotonicNowNs();
  const struct timespec deadline = RealtimeFromNow(200);
  EXPECT_THAT(RawMqTimedReceive(q.fd(), buf, sizeof(buf), nullptr, &deadline),
              SyscallFailsWithErrno(ETIMEDOUT));
  const int64_t elapsed_ms = (MonotonicNowNs() - start) / 1000000;
  EXPECT_GE(elapsed_ms, 190);
  EXPECT_LT(elapsed_ms, 5000);
}

TEST(MqSend, TimeoutIsHonoured_Spec5_4) {
  TestQueue q(1, 16);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "full"), SyscallSucceeds());
  const int64_t start = MonotonicNowNs();
  const struct timespec deadline = RealtimeFromNow(200);
  EXPECT_THAT(RawMqTimedSend(q.fd(), "x", 1, 0, &deadline), SyscallFailsWithErrno(ETIMEDOUT));
  const int64_t elapsed_ms = (MonotonicNowNs() - start) / 1000000;
  EXPECT_GE(elapsed_ms, 190);
  EXPECT_LT(elapsed_ms, 5000);
  // The timed-out message was not queued.
  EXPECT_EQ(CurMsgs(q.fd()), 1);
}

// ---- Blocking and hand-off (§5.4) ----

// A blocking receive (NULL timeout) is woken by a sender in another thread; the message is
// handed over directly and never counted in the queue.
TEST(MqReceive, BlockedReceiveWokenBySenderThread_Spec5_4) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  std::atomic<pid_t> tid{0};
  std::atomic<ssize_t> result{-2};
  std::string got;
  unsigned prio = 0;
  std::thread receiver([&] {
    tid = gettid();
    result = Receive(q.fd(), &got, &prio);
  });
  while (tid == 0) SleepMs(1);
  ASSERT_TRUE(WaitUntilBlockedInSyscall(tid, SYS_mq_timedreceive));
  ASSERT_THAT(Send(q.fd(), "handoff", 12), SyscallSucceeds());
  receiver.join();
  EXPECT_EQ(result.load(), 7);
  EXPECT_EQ(got, "handoff");
  EXPECT_EQ(prio, 12u);
  EXPECT_EQ(CurMsgs(q.fd()), 0);
}

// A blocking receive is woken by a sender in another process.
TEST(MqReceive, BlockedReceiveWokenBySenderProcess_Spec5_4) {
  TestQueue q(2, 16);
  ASSERT_QUEUE_OK(q);
  const pid_t parent_tid = gettid();
  const std::string name = q.name();
  const pid_t child = ForkChild([&]() -> int {
    CHILD_CHECK(WaitUntilBlockedInSyscall(parent_tid, SYS_mq_timedreceive));
    const int fd = RawMqOpen(name.c_str(), O_WRONLY);
    CHILD_CHECK_OK(fd);
    CHILD_CHECK_OK(RawMqTimedSend(fd, "from-child", 10, 3, nullptr));
    return 0;
  });
  ASSERT_GT(child, 0);
  unsigned prio = 0;
  // A generous deadline so that a broken child cannot hang the test.
  std::vector<char> buf(16);
  const struct timespec deadline = RealtimeFromNow(30000);
  const ssize_t n = RawMqTimedReceive(q.fd(), buf.data(), buf.size(), &prio, &deadline);
  EXPECT_THAT(n, SyscallSucceedsWithValue(10));
  EXPECT_CHILD_OK(WaitChild(child));
  if (n == 10) {
    EXPECT_EQ(std::string(buf.data(), 10), "from-child");
  }
  EXPECT_EQ(prio, 3u);
}

// A blocked sender (queue full) is woken by a receive in another thread; the receive moves
// the sender's message into the queue at once (§5.2 step 5: "If a sender is blocked, move
// the best-ranked sender's message into the queue now").
TEST(MqSend, BlockedSenderMessageIsInsertedByTheReceive_Spec5_2) {
  TestQueue q(1, 16);
  ASSERT_QUEUE_OK(q);
  ASSERT_THAT(Send(q.fd(), "first"), SyscallSucceeds());
  std::atomic<pid_t> tid{0};
  std::atomic<int> result{-2};
  std::thread sender([&] {
    tid = gettid();
    result = Send(q.fd(), "second", 2);
  });
  while (tid == 0) SleepMs(1);
  ASSERT_TRUE(WaitUntilBlockedInSyscall(tid, SYS_mq_timedsend));
  std::string msg;
  ASSERT_THAT(Receive(q.fd(), &msg), SyscallSucceeds());
  EXPECT_EQ(msg, "first");
  // The queue is never observably empty: the sender's message is already there.
  EXPECT_EQ(CurMsgs(q.fd()), 1);
  sender.join();
  EXPECT_EQ(result.load(), 0);
  unsigned prio = 0;
  ASSERT_THAT(Receive(q.fd(), &msg, &prio), SyscallSucceeds());
  EXPECT_EQ(msg, "second");
  EXPECT_EQ(prio, 2u);
}

// §5.4: "A tv_sec so large that it saturates is effectively infinite" (and is not EINVAL).
TEST(MqReceive, HugeDeadlineBlocksUntilMessage_Spec5_4) {
  TestQueue q(1, 16);
  ASSERT_QUEUE_OK(q);
  std::atomic<pid_t> tid{0};
  std::atomic<ssize_t> result{-2};
  std::thread receiver([&] {
    tid = gettid();
    char buf[16];
    const struct timespec forever = {LONG_MAX, 999999999};
    result = RawMqTimedReceive(q.fd(), buf, sizeof(buf), nullptr, &forever);
  });
  while (tid == 0) SleepMs(1);
  ASSERT_TRUE(WaitUntilBlockedInSyscall(tid, SYS_mq_timedreceive));
  ASSERT_THAT(Send(q.fd(), "late"), SyscallSucceeds());
  receiver.join();
  EXPECT_EQ(result.load(), 4);
}

// §5.4: several blocked receivers each get exactly one message.
TEST(MqReceive, EachBlockedReceiverGetsOneMessage_Spec5_4) {
  TestQueue q(4, 16);
  ASSERT_QUEUE_OK(q);
  constexpr int kReceivers = 4;
  std::vector<std::thread> threads;
  std::atomic<pid_t> tids[kReceivers] = {};
  std::string got[kReceivers];
  for (int i = 0; i < kReceivers; ++i) {
    threads.emplace_back([&, i] {
      tids[i] = gettid();
      Receive(q.fd(), &got[i]);
    });
  }
  for (int i = 0; i < kReceivers; ++i) {
    while (tids[i] == 0) SleepMs(1);
    ASSERT_TRUE(WaitUntilBlockedInSyscall(tids[i], SYS_mq_timedreceive));
  }
  for (int i = 0; i < kReceivers; ++i) {
    ASSERT_THAT(Send(q.fd(), "m" + std::to_string(i)), SyscallSucceeds());
  }
  for (auto& t : threads) t.join();
  std::vector<std::string> all(got, got + kReceivers);
  EXPECT_THAT(all, ::testing::UnorderedElementsAre("m0", "m1", "m2", "m3"));
  EXPECT_EQ(CurMsgs(q.fd()), 0);
}

// §1.6: glibc's mq_send/mq_receive/mq_timedsend/mq_timedreceive are the same calls.
TEST(MqSendReceive, GlibcWrappersRoundTrip_Spec1_6) {
  TestQueue q(2, 32);
  ASSERT_QUEUE_OK(q);
  ASSERT_EQ(mq_send(q.fd(), "glibc", 5, 9), 0) << ErrnoName(errno);
  char buf[32];
  unsigned prio = 0;
  EXPECT_EQ(mq_receive(q.fd(), buf, sizeof(buf), &prio), 5);
  EXPECT_EQ(prio, 9u);
  const struct timespec past = {0, 0};
  errno = 0;
  EXPECT_EQ(mq_timedreceive(q.fd(), buf, sizeof(buf), &prio, &past), -1);
  EXPECT_EQ(errno, ETIMEDOUT);
  errno = 0;
  EXPECT_EQ(mq_send(q.fd(), "x", 1, kMqPrioMax), -1);
  EXPECT_EQ(errno, EINVAL);
}

}  // namespace
}  // namespace mqsentry::testing
