// Tests of Mqfs through a real FUSE mount: the descriptor as a file (spec §8) with host
// system calls on fds from Mqfs::Open: read/lseek/write, poll and wake-ups, fstat/fstatfs,
// fchmod/fchown/ftruncate, close (flush/release hooks), dup and F_SETFL sharing,
// /proc/self/fd reopening, Identify, lifetime, unmount, and a concurrency stress test.
// Queues live in a real IpcNamespace whose QueueEvents forward PollWake to the Mqfs, as
// the sentry wires them (so PollWake runs under Queue::mu_ here too).
#include "vfs/mqfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ipc/accounting.h"
#include "ipc/ipc_namespace.h"
#include "ipc/notification.h"
#include "ipc/queue.h"
#include "ipc/sysctls.h"
#include "kernel/abi.h"
#include "kernel/credentials.h"
#include "kernel/user_namespace.h"

namespace mqsentry::vfs {
namespace {

using ::testing::HasSubstr;

constexpr char kEmptyLine[] = "QSIZE:0          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n";
constexpr short kAllPollEvents =
    POLLIN | POLLPRI | POLLOUT | POLLRDNORM | POLLRDBAND | POLLWRNORM | POLLWRBAND;
constexpr absl::Duration kWait = absl::Seconds(10);

int32_t Tid() { return static_cast<int32_t>(syscall(SYS_gettid)); }

// The sentry's QueueEvents, reduced to what mqfs needs: poll wake-ups go to the Mqfs.
class ForwardingEvents : public ipc::QueueEvents {
 public:
  void NotificationFired(const ipc::Queue&, const ipc::NotificationFiring&) override {}
  void NotificationRemoved(const ipc::Queue&, const ipc::NotificationRegistration&) override {}
  void PollWake(const ipc::Queue& queue) override {
    Mqfs* mqfs = mqfs_.load();
    if (mqfs != nullptr) mqfs->PollWake(queue);
  }
  void set_mqfs(Mqfs* mqfs) { mqfs_.store(mqfs); }

 private:
  std::atomic<Mqfs*> mqfs_{nullptr};
};

// Records every hook call. OnRelease releases the model's description, as the sentry does.
class RecordingHooks : public MqfsHooks {
 public:
  struct Flush {
    uint64_t queue_id;
    int32_t tid;
  };

  void OnFlush(const std::shared_ptr<ipc::QueueInode>& inode, ipc::IpcNamespace& ns,
               int32_t tid) override {
    {
      absl::MutexLock lock(&mu_);
      ++flushes_started_;
      mu_.Await(absl::Condition(
          +[](bool* blocked) { return !*blocked; }, &block_flushes_));
    }
    Mqfs* reenter = reenter_.load();
    if (reenter != nullptr) {
      absl::StatusOr<int> fd = reenter->Open(*inode, O_RDONLY);
      absl::MutexLock lock(&mu_);
      reentrant_open_ = fd.status();
    }
    absl::MutexLock lock(&mu_);
    flushes_.push_back({inode->id(), tid});
  }
  void OnRelease(const std::shared_ptr<ipc::QueueInode>& inode, ipc::IpcNamespace& ns) override {
    ns.ReleaseDescription(inode);
    absl::MutexLock lock(&mu_);
    releases_.push_back(inode->id());
  }
  int32_t NotifyPidFor(int32_t reader_tid, int32_t owner_host_tgid) override {
    absl::MutexLock lock(&mu_);
    notify_pid_calls_.push_back({reader_tid, owner_host_tgid});
    return notify_pid_answer_;
  }

  std::vector<Flush> flushes() const {
    absl::MutexLock lock(&mu_);
    return flushes_;
  }
  std::vector<uint64_t> releases() const {
    absl::MutexLock lock(&mu_);
    return releases_;
  }
  // Release is asynchronous to close(2): wait for the count.
  bool WaitForReleases(size_t n) const {
    const absl::Time deadline = absl::Now() + kWait;
    while (releases().size() < n) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return true;
  }
  std::vector<std::pair<int32_t, int32_t>> notify_pid_calls() const {
    absl::MutexLock lock(&mu_);
    return notify_pid_calls_;
  }
  void set_notify_pid_answer(int32_t pid) {
    absl::MutexLock lock(&mu_);
    notify_pid_answer_ = pid;
  }
  void set_reenter(Mqfs* mqfs) { reenter_.store(mqfs); }
  // While set, OnFlush waits (a sentry busy in a hook).
  void set_block_flushes(bool block) {
    absl::MutexLock lock(&mu_);
    block_flushes_ = block;
  }
  bool WaitForFlushesStarted(int n) {
    const absl::Time deadline = absl::Now() + kWait;
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (flushes_started_ >= n) return true;
      }
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(1));
    }
  }
  absl::Status reentrant_open() const {
    absl::MutexLock lock(&mu_);
    return reentrant_open_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Flush> flushes_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> releases_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<int32_t, int32_t>> notify_pid_calls_ ABSL_GUARDED_BY(mu_);
  int32_t notify_pid_answer_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status reentrant_open_ ABSL_GUARDED_BY(mu_);
  bool block_flushes_ ABSL_GUARDED_BY(mu_) = false;
  int flushes_started_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<Mqfs*> reenter_{nullptr};
};

bool FuseAvailable() {
  const int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  close(fd);
  return true;
}

std::string MakeTempDir() {
  char tmpl[] = "/tmp/mqfs_test.XXXXXX";
  const char* dir = mkdtemp(tmpl);
  return dir == nullptr ? std::string() : std::string(dir);
}

int CountOpenFds() {
  int n = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the DIR's own fd
}

std::string ReadSome(int fd, size_t n) {
  std::string buf(n, '\0');
  const ssize_t got = read(fd, buf.data(), n);
  if (got < 0) return "<error " + std::to_string(errno) + ">";
  buf.resize(got);
  return buf;
}

std::string PreadAll(int fd) {
  std::string buf(200, '\0');
  const ssize_t got = pread(fd, buf.data(), buf.size(), 0);
  if (got < 0) return "<error " + std::to_string(errno) + ">";
  buf.resize(got);
  return buf;
}

short PollNow(int fd) {
  pollfd p{fd, kAllPollEvents, 0};
  if (poll(&p, 1, 0) < 0) return -1;
  return p.revents;
}

class MqfsTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!FuseAvailable()) GTEST_SKIP() << "/dev/fuse cannot be opened";
    dir_ = MakeTempDir();
    ASSERT_FALSE(dir_.empty());
    absl::StatusOr<std::unique_ptr<Mqfs>> mqfs = Mqfs::Mount(dir_, &hooks_);
    ASSERT_TRUE(mqfs.ok()) << mqfs.status();
    mqfs_ = std::move(*mqfs);
    events_.set_mqfs(mqfs_.get());
    ipc::IpcNamespace::Options o;
    o.id = 1;
    o.owner_user_ns = kernel::UserNamespace::Initial();
    o.limits = std::make_shared<ipc::StaticLimits>();
    o.accounting = std::make_shared<ipc::UserAccounting>();
    o.events = &events_;
    ns_ = std::make_shared<ipc::IpcNamespace>(std::move(o));
  }

  void TearDown() override {
    events_.set_mqfs(nullptr);
    hooks_.set_reenter(nullptr);
    mqfs_.reset();
    if (!dir_.empty()) rmdir(dir_.c_str());
  }

  static kernel::Credentials Root() { return kernel::Credentials::Root(); }

  // mq_open(O_CREAT) in the model (one description counted) and AddQueue.
  std::shared_ptr<ipc::QueueInode> Create(const std::string& name, int64_t maxmsg = 2,
                                          int64_t msgsize = 16, uint32_t mode = 0600) {
    kernel::abi::MqAttr attr{};
    attr.mq_maxmsg = maxmsg;
    attr.mq_msgsize = msgsize;
    ipc::OpenOutcome o =
        ns_->Open(Root(), name, kernel::abi::kORdwr | kernel::abi::kOCreat, mode, &attr);
    EXPECT_TRUE(o.result.ok()) << o.result.ToString();
    if (o.inode != nullptr) mqfs_->AddQueue(o.inode, ns_);
    return o.inode;
  }

  // mq_open of an existing queue in the model: one more counted description.
  void CountDescription(const std::string& name) {
    ipc::OpenOutcome o = ns_->Open(Root(), name, kernel::abi::kORdwr, 0, nullptr);
    ASSERT_TRUE(o.result.ok()) << o.result.ToString();
  }

  int OpenFd(const ipc::QueueInode& inode, int flags) {
    absl::StatusOr<int> fd = mqfs_->Open(inode, flags);
    EXPECT_TRUE(fd.ok()) << fd.status();
    return fd.ok() ? *fd : -1;
  }

  // Create + Mqfs::Open, the path of a successful mq_open.
  int CreateAndOpen(const std::string& name, std::shared_ptr<ipc::QueueInode>* inode_out,
                    int flags = O_RDWR, int64_t maxmsg = 2) {
    std::shared_ptr<ipc::QueueInode> inode = Create(name, maxmsg);
    if (inode == nullptr) return -1;
    if (inode_out != nullptr) *inode_out = inode;
    return OpenFd(*inode, flags);
  }

  static void Send(ipc::Queue& queue, const std::string& payload) {
    ipc::SendRequest r;
    r.payload = payload;
    r.nonblocking = true;
    ASSERT_TRUE(queue.Send(std::move(r)).result.ok());
  }

  static void Receive(ipc::Queue& queue) {
    ipc::ReceiveRequest r;
    r.buffer_len = queue.attributes().msgsize;
    r.nonblocking = true;
    ASSERT_TRUE(queue.Receive(r).result.ok());
  }

  std::string dir_;
  RecordingHooks hooks_;
  ForwardingEvents events_;
  std::unique_ptr<Mqfs> mqfs_;
  std::shared_ptr<ipc::IpcNamespace> ns_;
};

// ---- read / lseek / write (spec §8.1) ----

TEST_F(MqfsTest, ReadGivesTheStatusLine_Spec8_1) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ReadSome(fd, 200), kEmptyLine);
  EXPECT_EQ(std::string(kEmptyLine).size(), 60u);
  EXPECT_EQ(ReadSome(fd, 200), "");  // at the end

  Send(inode->queue(), "hello");
  Send(inode->queue(), "world");
  EXPECT_EQ(PreadAll(fd), "QSIZE:10         NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n");
  Receive(inode->queue());
  EXPECT_EQ(PreadAll(fd), "QSIZE:5          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n");
  close(fd);
}

TEST_F(MqfsTest, PartialReadsContinueFromThePosition_Spec8_1) {
  const int fd = CreateAndOpen("q", nullptr);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ReadSome(fd, 10), "QSIZE:0   ");
  EXPECT_EQ(ReadSome(fd, 100).size(), 50u);
  EXPECT_EQ(ReadSome(fd, 100), "");
  EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 60);
  EXPECT_EQ(lseek(fd, 0, SEEK_END), 80);  // i_size, not the text's length
  errno = 0;
  EXPECT_EQ(lseek(fd, -1, SEEK_SET), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(lseek(fd, 55, SEEK_SET), 55);
  EXPECT_EQ(ReadSome(fd, 100), "    \n");
  char c;
  EXPECT_EQ(pread(fd, &c, 1, 70), 0);
  EXPECT_EQ(pread(fd, &c, 1, 1 << 20), 0);
  close(fd);
}

TEST_F(MqfsTest, WriteIsEinvalAndAccessModesAreTheKernels_Spec8_1) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int rw = CreateAndOpen("q", &inode);
  ASSERT_GE(rw, 0);
  errno = 0;
  EXPECT_EQ(write(rw, "x", 1), -1);
  EXPECT_EQ(errno, EINVAL);

  CountDescription("q");
  const int ro = OpenFd(*inode, O_RDONLY);
  errno = 0;
  EXPECT_EQ(write(ro, "x", 1), -1);
  EXPECT_EQ(errno, EBADF);

  CountDescription("q");
  const int wo = OpenFd(*inode, O_WRONLY);
  char buf[100];
  errno = 0;
  EXPECT_EQ(read(wo, buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, EBADF);
  // Poll readiness does not depend on the access mode (spec §8.2).
  Send(inode->queue(), "m");
  EXPECT_EQ(PollNow(wo), POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM);
  close(rw);
  close(ro);
  close(wo);
}

TEST_F(MqfsTest, AccessModeThreeOpensWithNeitherReadNorWrite_Spec3_3) {
  std::shared_ptr<ipc::QueueInode> inode = Create("q");
  const int fd = OpenFd(*inode, 3);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, 3);
  char buf[100];
  errno = 0;
  EXPECT_EQ(read(fd, buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, EBADF);
  errno = 0;
  EXPECT_EQ(write(fd, "x", 1), -1);
  EXPECT_EQ(errno, EBADF);
  EXPECT_EQ(PollNow(fd), POLLOUT | POLLWRNORM);
  close(fd);
}

TEST_F(MqfsTest, NotifyFieldsAndNotifyPidFromTheHook_Spec8_1) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  ipc::NotificationRegistration reg;
  reg.owner = ipc::ProcessRef{42};
  reg.owner_host_tgid = 1234;
  reg.notify = kernel::abi::kSigevSignal;
  reg.signo = 64;
  ASSERT_TRUE(inode->queue().RegisterNotification(reg).ok());
  hooks_.set_notify_pid_answer(4321);
  EXPECT_EQ(PreadAll(fd), "QSIZE:0          NOTIFY:0     SIGNO:64    NOTIFY_PID:4321  \n");
  ASSERT_EQ(hooks_.notify_pid_calls().size(), 1u);
  EXPECT_EQ(hooks_.notify_pid_calls()[0].first, Tid());  // the reading thread
  EXPECT_EQ(hooks_.notify_pid_calls()[0].second, 1234);

  // An owner invisible to the reader.
  hooks_.set_notify_pid_answer(0);
  EXPECT_EQ(PreadAll(fd), "QSIZE:0          NOTIFY:0     SIGNO:64    NOTIFY_PID:0     \n");

  inode->queue().UnregisterNotification(ipc::ProcessRef{42});
  reg.notify = kernel::abi::kSigevNone;
  ASSERT_TRUE(inode->queue().RegisterNotification(reg).ok());
  hooks_.set_notify_pid_answer(7);
  EXPECT_EQ(PreadAll(fd), "QSIZE:0          NOTIFY:1     SIGNO:0     NOTIFY_PID:7     \n");

  // No registration: the hook is not asked.
  inode->queue().UnregisterNotification(ipc::ProcessRef{42});
  const size_t calls = hooks_.notify_pid_calls().size();
  EXPECT_EQ(PreadAll(fd), kEmptyLine);
  EXPECT_EQ(hooks_.notify_pid_calls().size(), calls);
  close(fd);
}

// ---- poll / epoll (spec §8.2) ----

TEST_F(MqfsTest, PollMasksFollowTheQueue_Spec8_2) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode, O_RDWR, /*maxmsg=*/2);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(PollNow(fd), 0x104);
  Send(inode->queue(), "a");
  EXPECT_EQ(PollNow(fd), 0x145);
  Send(inode->queue(), "b");
  EXPECT_EQ(PollNow(fd), 0x41);
  Receive(inode->queue());
  Receive(inode->queue());
  EXPECT_EQ(PollNow(fd), 0x104);
  close(fd);
}

TEST_F(MqfsTest, BlockedPollerIsWokenBySendAndPollWake_Spec8_2) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  std::atomic<short> revents{-1};
  std::thread waiter([&] {
    pollfd p{fd, POLLIN, 0};
    const int n = poll(&p, 1, absl::ToInt64Milliseconds(kWait));
    revents = n == 1 ? p.revents : 0;
  });
  absl::SleepFor(absl::Milliseconds(100));  // let it block (a send before that works too)
  const absl::Time start = absl::Now();
  Send(inode->queue(), "wake");
  waiter.join();
  EXPECT_EQ(revents.load(), POLLIN);
  EXPECT_LT(absl::Now() - start, kWait / 2);
  close(fd);
}

TEST_F(MqfsTest, EdgeTriggeredEpollFiresOnEveryInsertingSend_Spec8_2) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode, O_RDWR, /*maxmsg=*/4);
  ASSERT_GE(fd, 0);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
  epoll_event out{};
  EXPECT_EQ(epoll_wait(ep, &out, 1, 0), 0);

  // The wake comes from another thread while this one waits.
  std::thread sender([&] {
    absl::SleepFor(absl::Milliseconds(50));
    Send(inode->queue(), "1");
  });
  EXPECT_EQ(epoll_wait(ep, &out, 1, absl::ToInt64Milliseconds(kWait)), 1);
  EXPECT_EQ(out.events, static_cast<uint32_t>(EPOLLIN));
  sender.join();
  EXPECT_EQ(epoll_wait(ep, &out, 1, 0), 0);  // edge consumed

  Send(inode->queue(), "2");  // already non-empty: still an edge
  EXPECT_EQ(epoll_wait(ep, &out, 1, absl::ToInt64Milliseconds(kWait)), 1);
  EXPECT_EQ(epoll_wait(ep, &out, 1, 0), 0);
  close(ep);
  close(fd);
}

TEST_F(MqfsTest, PollWakeWithoutPollersIsANoOp) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  mqfs_->PollWake(inode->queue());
  std::shared_ptr<ipc::QueueInode> other = Create("unopened");
  mqfs_->PollWake(other->queue());
  close(fd);
}

// ---- fstat, fchmod, fchown, ftruncate (spec §8.3) ----

TEST_F(MqfsTest, FstatFields_Spec8_3) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0600u);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 0u);
  EXPECT_EQ(st.st_size, 80);
  EXPECT_EQ(st.st_blksize, 4096);
  EXPECT_EQ(st.st_blocks, 0);
  EXPECT_EQ(st.st_rdev, 0u);
  EXPECT_EQ(st.st_dev, mqfs_->device());
  EXPECT_EQ(st.st_ino, InoForQueue(inode->id()));

  ASSERT_TRUE(ns_->Unlink(Root(), "q").ok());
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_nlink, 0u);
  close(fd);
}

TEST_F(MqfsTest, FchmodAndFchownChangeTheQueue_Spec8_3) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fchmod(fd, 0640), 0);
  EXPECT_EQ(inode->queue().mode(), 0640u);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0640u);
  // Mode bits are kept whole (set-id and sticky too), as the model keeps them.
  ASSERT_EQ(fchmod(fd, 07644), 0);
  EXPECT_EQ(inode->queue().mode(), 07644u);

  ASSERT_EQ(fchown(fd, 1234, 5678), 0);
  EXPECT_EQ(inode->queue().uid(), kernel::KUid(1234));
  EXPECT_EQ(inode->queue().gid(), kernel::KGid(5678));
  ASSERT_EQ(fchown(fd, -1, 99), 0);
  EXPECT_EQ(inode->queue().uid(), kernel::KUid(1234));
  EXPECT_EQ(inode->queue().gid(), kernel::KGid(99));
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 99u);
  // The kernel cleared set-uid on chown (notify_change's ATTR_KILL_SUID, as for mqueue).
  EXPECT_EQ(inode->queue().mode() & S_ISUID, 0u);

  // A model-side change shows at once (no attribute cache).
  inode->queue().SetMode(0604);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0604u);
  close(fd);
}

TEST_F(MqfsTest, FtruncateChangesSizeNotTheLine_Spec8_3) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 10), 0);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 10);
  EXPECT_EQ(lseek(fd, 0, SEEK_END), 10);
  EXPECT_EQ(PreadAll(fd), kEmptyLine);

  // The size belongs to the inode: another description sees it.
  CountDescription("q");
  const int ro = OpenFd(*inode, O_RDONLY);
  ASSERT_EQ(fstat(ro, &st), 0);
  EXPECT_EQ(st.st_size, 10);
  errno = 0;
  EXPECT_EQ(ftruncate(ro, 0), -1);
  EXPECT_EQ(errno, EINVAL);
  close(ro);
  close(fd);
}

TEST_F(MqfsTest, OtherFileSyscalls_Spec8_3) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);

  errno = 0;
  EXPECT_EQ(fsync(fd), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(fdatasync(fd), -1);
  EXPECT_EQ(errno, EINVAL);

  // FIONREAD is the VFS's i_size - f_pos for any regular file (spec: 80, then 20).
  int avail = -1;
  ASSERT_EQ(ioctl(fd, FIONREAD, &avail), 0);
  EXPECT_EQ(avail, 80);
  EXPECT_EQ(ReadSome(fd, 100).size(), 60u);
  ASSERT_EQ(ioctl(fd, FIONREAD, &avail), 0);
  EXPECT_EQ(avail, 20);
  termios t{};
  errno = 0;
  EXPECT_EQ(ioctl(fd, TCGETS, &t), -1);
  EXPECT_EQ(errno, ENOTTY);

  // Spec: mmap -> ENODEV. A direct_io FUSE file refuses shared mappings only.
  errno = 0;
  EXPECT_EQ(mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0), MAP_FAILED);
  EXPECT_EQ(errno, ENODEV);

  EXPECT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(flock(fd, LOCK_UN), 0);
  struct flock lk {};
  lk.l_type = F_WRLCK;
  lk.l_whence = SEEK_SET;
  EXPECT_EQ(fcntl(fd, F_SETLK, &lk), 0);

  struct statfs sfs {};
  ASSERT_EQ(fstatfs(fd, &sfs), 0);
  EXPECT_EQ(sfs.f_bsize, 4096);
  EXPECT_EQ(sfs.f_namelen, 255);
  EXPECT_EQ(sfs.f_blocks, 0u);
  EXPECT_EQ(sfs.f_files, 0u);
  EXPECT_EQ(static_cast<uint32_t>(sfs.f_type), 0x65735546u);  // FUSE_SUPER_MAGIC, not 0x19800202

  errno = 0;
  EXPECT_EQ(fallocate(fd, 0, 0, 100), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
  char value[16];
  errno = 0;
  EXPECT_EQ(fgetxattr(fd, "user.x", value, sizeof(value)), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);

  char link[256] = {};
  ASSERT_GT(readlink(absl::StrCat("/proc/self/fd/", fd).c_str(), link, sizeof(link) - 1), 0);
  EXPECT_EQ(std::string(link), "/q");  // d_path() of a detached mount's file (spec §8.3)
  close(fd);
}

// What FUSE cannot make Linux-exact. Pinned so that a kernel or libfuse change that
// fixes (or moves) one of them is noticed.
TEST_F(MqfsTest, KnownDifferencesFromLinuxMqueue) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  // Linux: mmap -> ENODEV for every mapping. A direct_io FUSE file refuses only shared
  // ones; a private mapping is filled through read.
  void* map = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  EXPECT_NE(map, MAP_FAILED);
  if (map != MAP_FAILED) munmap(map, 4096);
  // Linux: F_SETFL O_DIRECT -> EINVAL (mqueue has no direct I/O); FUSE files accept it.
  EXPECT_EQ(fcntl(fd, F_SETFL, O_DIRECT), 0);
  EXPECT_NE(fcntl(fd, F_GETFL) & O_DIRECT, 0);
  ASSERT_EQ(fcntl(fd, F_SETFL, 0), 0);
  // Linux: write() of 0 bytes -> EINVAL (no write op); FUSE returns 0 without asking us.
  EXPECT_EQ(write(fd, "", 0), 0);
  close(fd);
}

// Flush carries the closing task as the supervisor sees it: a child's close, and the
// implicit close at exit, come with the child's pid (spec §6.2: closes by other processes).
TEST_F(MqfsTest, FlushFromAChildProcessCarriesItsPid_Spec6_2) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  const pid_t closer = fork();
  if (closer == 0) {
    close(fd);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(closer, &status, 0), closer);
  const pid_t exiter = fork();
  if (exiter == 0) _exit(0);  // exit closes it
  ASSERT_EQ(waitpid(exiter, &status, 0), exiter);
  std::vector<int32_t> tids;
  for (const RecordingHooks::Flush& f : hooks_.flushes()) tids.push_back(f.tid);
  EXPECT_EQ(tids, (std::vector<int32_t>{closer, exiter}));
  EXPECT_TRUE(hooks_.releases().empty());  // the parent still holds the description
  close(fd);
  EXPECT_TRUE(hooks_.WaitForReleases(1));
}

// ---- close, dup, flags (spec §6.2, §7, §8.4) ----

TEST_F(MqfsTest, CloseFlushesWithTheCallersTidAndLastCloseReleases_Spec6_2) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  const int copy = dup(fd);
  ASSERT_GE(copy, 0);
  ASSERT_EQ(close(fd), 0);
  // Flush is synchronous: it has run when close() returns.
  ASSERT_EQ(hooks_.flushes().size(), 1u);
  EXPECT_EQ(hooks_.flushes()[0].queue_id, inode->id());
  EXPECT_EQ(hooks_.flushes()[0].tid, Tid());

  int32_t other_tid = 0;
  std::thread([&] {
    other_tid = Tid();
    close(copy);
  }).join();
  ASSERT_EQ(hooks_.flushes().size(), 2u);
  EXPECT_EQ(hooks_.flushes()[1].tid, other_tid);
  ASSERT_TRUE(hooks_.WaitForReleases(1));
  EXPECT_EQ(hooks_.releases(), std::vector<uint64_t>{inode->id()});
  EXPECT_EQ(mqfs_->open_files(), 0u);
}

// The release the kernel sends after close(2) has returned has been handled once
// WaitForQueuedRequests returns (the sentry relies on it before refusing a creation).
TEST_F(MqfsTest, WaitForQueuedRequestsCoversTheReleaseAfterClose_Spec3_5) {
  for (int round = 0; round < 20; ++round) {
    std::shared_ptr<ipc::QueueInode> inode;
    const std::string name = "w" + std::to_string(round);
    const int fd = CreateAndOpen(name, &inode);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(close(fd), 0);
    mqfs_->WaitForQueuedRequests(5000);
    ASSERT_EQ(hooks_.releases().size(), static_cast<size_t>(round + 1)) << "round " << round;
    EXPECT_EQ(hooks_.releases().back(), inode->id());
  }
  // Nothing queued: returns at once, reporting nothing pending.
  EXPECT_FALSE(mqfs_->WaitForQueuedRequests(5000));
}

// The mount id (what /proc/<pid>/fdinfo/<fd> shows) of a descriptor.
uint64_t MountIdOf(int fd) {
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) != 0) return 0;
  return stx.stx_mnt_id;
}

// Mqfs::Open gives the file only the flags fcntl can change; the rest of an mq_open oflag
// (O_CLOEXEC, bits open(2) drops) is carried by the mount the file is opened through.
TEST_F(MqfsTest, ExtraOpenFlagsAreCarriedByTheMount_Spec3_3) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int plain = CreateAndOpen("q", &inode, O_RDWR | O_NONBLOCK);
  ASSERT_GE(plain, 0);
  EXPECT_EQ(mqfs_->ExtraFlagsOfMount(MountIdOf(plain)), 0);
  EXPECT_EQ(fcntl(plain, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR | O_NONBLOCK);

  const int extra = O_CLOEXEC | (1 << 30) | O_SYNC | O_NOFOLLOW;
  CountDescription("q");
  const int marked = OpenFd(*inode, O_RDONLY | O_APPEND | extra);
  ASSERT_GE(marked, 0);
  EXPECT_EQ(mqfs_->ExtraFlagsOfMount(MountIdOf(marked)), extra);
  EXPECT_EQ(fcntl(marked, F_GETFL) & (O_ACCMODE | O_APPEND | O_SYNC), O_RDONLY | O_APPEND)
      << "the file holds only what fcntl can change";
  // The same queue, whatever the view it is opened through.
  auto a = mqfs_->Identify(plain);
  auto b = mqfs_->Identify(marked);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(a->first, b->first);
  EXPECT_TRUE(mqfs_->IdentifyMountInode(MountIdOf(marked), InoForQueue(inode->id())).has_value());
  // One view per combination: a second open with the same flags reuses it.
  CountDescription("q");
  const int again = OpenFd(*inode, O_WRONLY | extra);
  ASSERT_GE(again, 0);
  EXPECT_EQ(MountIdOf(again), MountIdOf(marked));
  // A mount that is not ours.
  const int other = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(mqfs_->ExtraFlagsOfMount(MountIdOf(other)), std::nullopt);
  for (int fd : {plain, marked, again, other}) close(fd);
}

// A program cycling through flag combinations cannot make the supervisor mount without
// bound: past kMaxViews the plain mount is used.
TEST_F(MqfsTest, ViewsAreBounded_Spec3_3) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int first = CreateAndOpen("q", &inode);
  ASSERT_GE(first, 0);
  std::vector<int> fds{first};
  std::set<uint64_t> mounts;
  for (size_t i = 0; i < Mqfs::kMaxViews + 8; ++i) {
    CountDescription("q");
    const int fd = OpenFd(*inode, O_RDWR | static_cast<int>((i + 1) << 22));  // unknown bits
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
    mounts.insert(MountIdOf(fd));
  }
  EXPECT_LE(mounts.size(), Mqfs::kMaxViews + 1);
  EXPECT_EQ(mqfs_->ExtraFlagsOfMount(MountIdOf(fds.back())), 0);
  for (int fd : fds) close(fd);
}

TEST_F(MqfsTest, DupSharesTheDescriptionMqfsOpenDoesNot_Spec7) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
  const int copy = dup(fd);
  CountDescription("q");
  const int other = OpenFd(*inode, O_RDWR);

  ASSERT_EQ(fcntl(fd, F_SETFL, O_NONBLOCK | O_APPEND), 0);
  EXPECT_NE(fcntl(copy, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(fcntl(copy, F_GETFL) & O_APPEND, 0);
  EXPECT_EQ(fcntl(other, F_GETFL) & O_NONBLOCK, 0);
  ASSERT_EQ(fcntl(copy, F_SETFL, 0), 0);
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);

  // Mqfs::Open keeps O_NONBLOCK and O_APPEND; O_CREAT/O_EXCL/O_TRUNC are dropped.
  CountDescription("q");
  const int nb = OpenFd(*inode, O_RDONLY | O_NONBLOCK | O_APPEND | O_CREAT | O_EXCL | O_TRUNC);
  ASSERT_GE(nb, 0);
  const int fl = fcntl(nb, F_GETFL);
  EXPECT_NE(fl & O_NONBLOCK, 0);
  EXPECT_NE(fl & O_APPEND, 0);
  EXPECT_EQ(fl & (O_CREAT | O_EXCL | O_TRUNC), 0);
  // A host open(2) on x86-64 always adds the kernel's O_LARGEFILE (0100000; glibc's
  // O_LARGEFILE is 0 here), which Linux's mq_open never shows (spec §11.5).
  EXPECT_NE(fl & 0100000, 0);
  struct stat st {};
  ASSERT_EQ(fstat(nb, &st), 0);
  EXPECT_EQ(st.st_size, 80);  // O_TRUNC did not truncate

  // The position is the description's too.
  EXPECT_EQ(ReadSome(fd, 10).size(), 10u);
  EXPECT_EQ(lseek(copy, 0, SEEK_CUR), 10);
  EXPECT_EQ(lseek(other, 0, SEEK_CUR), 0);
  close(fd);
  close(copy);
  close(other);
  close(nb);
  EXPECT_TRUE(hooks_.WaitForReleases(3));
}

TEST_F(MqfsTest, ProcSelfFdReopenIsANewCountedDescription_Spec8_3) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ns_->queues_count(), 1u);
  // Reopening works even after unlink; the queue lives while either description does.
  ASSERT_TRUE(ns_->Unlink(Root(), "q").ok());
  const int reopened = open(absl::StrCat("/proc/self/fd/", fd).c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(reopened, 0) << errno;
  EXPECT_EQ(PreadAll(reopened), kEmptyLine);
  ASSERT_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
  EXPECT_EQ(fcntl(reopened, F_GETFL) & O_NONBLOCK, 0);
  auto identified = mqfs_->Identify(reopened);
  ASSERT_TRUE(identified.has_value());
  EXPECT_EQ(identified->first, inode);

  close(fd);
  ASSERT_TRUE(hooks_.WaitForReleases(1));
  // Without AddDescription on the reopen this release would have destroyed the queue.
  EXPECT_EQ(ns_->queues_count(), 1u);
  Send(inode->queue(), "still");
  EXPECT_EQ(PollNow(reopened), 0x145);
  close(reopened);
  ASSERT_TRUE(hooks_.WaitForReleases(2));
  EXPECT_EQ(ns_->queues_count(), 0u);
  EXPECT_EQ(mqfs_->open_files(), 0u);
}

// ---- Identify, lookup, readdir, lifetime ----

TEST_F(MqfsTest, IdentifyRecognisesOnlyQueueFiles) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  auto identified = mqfs_->Identify(fd);
  ASSERT_TRUE(identified.has_value());
  EXPECT_EQ(identified->first, inode);
  EXPECT_EQ(identified->second, ns_);
  const int copy = dup(fd);
  EXPECT_TRUE(mqfs_->Identify(copy).has_value());

  const std::string plain = absl::StrCat(MakeTempDir(), "/plain");
  const int reg = open(plain.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(reg, 0);
  EXPECT_FALSE(mqfs_->Identify(reg).has_value());
  const int root = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root, 0);
  EXPECT_FALSE(mqfs_->Identify(root).has_value());
  EXPECT_FALSE(mqfs_->Identify(-1).has_value());
  EXPECT_FALSE(mqfs_->Identify(9999).has_value());
  close(root);
  close(reg);
  unlink(plain.c_str());
  rmdir(plain.substr(0, plain.rfind('/')).c_str());
  close(copy);
  close(fd);
}

TEST_F(MqfsTest, LookupAndReaddirUseNamespaceDirectoriesAndQueueNames) {
  std::shared_ptr<ipc::QueueInode> a = Create("a");
  std::shared_ptr<ipc::QueueInode> b = Create("b");
  const std::string ns_dir = absl::StrCat(dir_, "/1");  // the first namespace's directory
  struct stat st {};
  ASSERT_EQ(stat(absl::StrCat(ns_dir, "/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, InoForQueue(a->id()));
  for (const std::string& bad :
       {absl::StrCat(dir_, "/a"), absl::StrCat(dir_, "/0/a"), absl::StrCat(dir_, "/01"),
        absl::StrCat(dir_, "/2"), absl::StrCat(dir_, "/18446744073709551615"),
        absl::StrCat(ns_dir, "/c"), absl::StrCat(ns_dir, "/", a->id())}) {
    errno = 0;
    EXPECT_EQ(stat(bad.c_str(), &st), -1) << bad;
    EXPECT_EQ(errno, ENOENT) << bad;
  }
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFDIR | 0555u);
  EXPECT_EQ(st.st_ino, kRootIno);
  // A namespace's directory is its mqueue root (spec §8.5): 01777, its creator's, 40 + 20
  // per queue.
  ASSERT_EQ(stat(ns_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFDIR | 01777u);
  EXPECT_EQ(st.st_uid, ns_->root_uid().value());
  EXPECT_EQ(st.st_size, 40 + 20 * static_cast<off_t>(ns_->Names().size()));

  auto list = [](const std::string& path) {
    std::set<std::string> names;
    DIR* d = opendir(path.c_str());
    EXPECT_NE(d, nullptr) << path;
    if (d == nullptr) return names;
    while (dirent* e = readdir(d)) names.insert(e->d_name);
    closedir(d);
    return names;
  };
  EXPECT_EQ(list(dir_), (std::set<std::string>{".", "..", "1"}));
  EXPECT_EQ(list(ns_dir), (std::set<std::string>{".", "..", "a", "b"}));

  // Names are the model's business.
  errno = 0;
  EXPECT_EQ(open(absl::StrCat(ns_dir, "/new").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600), -1);
  EXPECT_EQ(errno, EPERM);
  errno = 0;
  EXPECT_EQ(unlink(absl::StrCat(ns_dir, "/a").c_str()), -1);
  EXPECT_EQ(errno, EPERM);
  errno = 0;
  EXPECT_EQ(mkdir(absl::StrCat(dir_, "/d").c_str(), 0700), -1);
  EXPECT_EQ(errno, EPERM);

  // Each Create counted a description that no Mqfs::Open took: release them.
  ns_->ReleaseDescription(a);
  ns_->ReleaseDescription(b);
}

// Spec §8.3 "/proc/self/fd/N -> /name, or /name (deleted) after unlink": files are opened
// through a detached tree of their namespace's directory, and an unlink unhashes the name.
TEST_F(MqfsTest, FdLinkIsSlashNameThenDeleted_Spec8_3) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  const int ro = OpenFd(*inode, O_RDONLY | O_NONBLOCK | O_NOCTTY);  // another tree (flags)
  ASSERT_GE(ro, 0);
  CountDescription("q");
  auto link = [](int fd) {
    char buf[512];
    const ssize_t n = readlink(absl::StrCat("/proc/self/fd/", fd).c_str(), buf, sizeof(buf));
    return n < 0 ? std::string("<error>") : std::string(buf, static_cast<size_t>(n));
  };
  EXPECT_EQ(link(fd), "/q");
  EXPECT_EQ(link(ro), "/q");
  // ".." cannot leave the tree.
  errno = 0;
  EXPECT_EQ(openat(fd, "..", O_RDONLY | O_CLOEXEC), -1);
  EXPECT_EQ(errno, ENOTDIR);
  ASSERT_TRUE(ns_->Unlink(Root(), "q").ok());
  mqfs_->QueueUnlinked(*ns_, "q");
  EXPECT_EQ(link(fd), "/q (deleted)");
  EXPECT_EQ(link(ro), "/q (deleted)");
  struct stat st {};
  errno = 0;
  EXPECT_EQ(stat(absl::StrCat(dir_, "/1/q").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);
  // A new queue takes the name; the old files stay the old queue's.
  std::shared_ptr<ipc::QueueInode> next;
  const int fd2 = CreateAndOpen("q", &next);
  ASSERT_GE(fd2, 0);
  EXPECT_EQ(link(fd2), "/q");
  EXPECT_EQ(mqfs_->Identify(fd2)->first, next);
  EXPECT_EQ(mqfs_->Identify(fd)->first, inode);
  // The unlinked queue's counted description can still be opened (a racing mq_open).
  const int late = OpenFd(*inode, O_RDWR);
  ASSERT_GE(late, 0);
  EXPECT_EQ(mqfs_->Identify(late)->first, inode);
  EXPECT_EQ(link(late), "/q (deleted)");
  EXPECT_EQ(link(fd2), "/q");
  close(late);
  close(fd2);
  close(ro);
  close(fd);
  ASSERT_TRUE(ns_->Unlink(Root(), "q").ok());
  ASSERT_TRUE(hooks_.WaitForReleases(4));
}

// A name still cached for an unlinked queue (an unlink mqfs was not told of) does not
// lead a new queue's open to the old file.
TEST_F(MqfsTest, StaleNameIsLookedUpAgain) {
  std::shared_ptr<ipc::QueueInode> old;
  const int fd = CreateAndOpen("q", &old);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(ns_->Unlink(Root(), "q").ok());  // no QueueUnlinked
  std::shared_ptr<ipc::QueueInode> next;
  const int fd2 = CreateAndOpen("q", &next);
  ASSERT_GE(fd2, 0);
  EXPECT_EQ(mqfs_->Identify(fd2)->first, next);
  EXPECT_EQ(mqfs_->Identify(fd)->first, old);
  close(fd2);
  close(fd);
  ASSERT_TRUE(ns_->Unlink(Root(), "q").ok());
  // Three: the two files, and the stray open of the old queue that the retry dropped.
  ASSERT_TRUE(hooks_.WaitForReleases(3));
  EXPECT_EQ(ns_->queues_count(), 0u);
}

// A name cached for a queue that is already destroyed (closed, then unlinked with no
// QueueUnlinked) is looked up again; and after QueueUnlinked the name is free at once.
TEST_F(MqfsTest, NameOfADestroyedQueueIsLookedUpAgain) {
  for (bool told : {false, true}) {
    SCOPED_TRACE(told ? "told" : "not told");
    std::shared_ptr<ipc::QueueInode> old;
    const int fd = CreateAndOpen("q", &old);
    ASSERT_GE(fd, 0);
    const size_t releases = hooks_.releases().size();
    close(fd);
    ASSERT_TRUE(hooks_.WaitForReleases(releases + 1));
    ASSERT_TRUE(ns_->Unlink(Root(), "q").ok());  // destroyed: no description left
    if (told) mqfs_->QueueUnlinked(*ns_, "q");
    std::shared_ptr<ipc::QueueInode> next;
    const int fd2 = CreateAndOpen("q", &next);
    ASSERT_GE(fd2, 0);
    EXPECT_EQ(mqfs_->Identify(fd2)->first, next);
    close(fd2);
    ASSERT_TRUE(hooks_.WaitForReleases(releases + 2));
    ASSERT_TRUE(ns_->Unlink(Root(), "q").ok());
    mqfs_->QueueUnlinked(*ns_, "q");
  }
}

// Two IPC namespaces with a queue of the same name: two directories, two files.
TEST_F(MqfsTest, SameNameInTwoNamespaces) {
  ipc::IpcNamespace::Options o;
  o.id = 2;
  o.owner_user_ns = kernel::UserNamespace::Initial();
  o.limits = std::make_shared<ipc::StaticLimits>();
  o.accounting = std::make_shared<ipc::UserAccounting>();
  o.events = &events_;
  auto other = std::make_shared<ipc::IpcNamespace>(std::move(o));
  std::shared_ptr<ipc::QueueInode> mine;
  const int fd = CreateAndOpen("q", &mine);
  ASSERT_GE(fd, 0);
  kernel::abi::MqAttr attr{};
  attr.mq_maxmsg = 2;
  attr.mq_msgsize = 16;
  ipc::OpenOutcome theirs =
      other->Open(Root(), "q", kernel::abi::kORdwr | kernel::abi::kOCreat, 0600, &attr);
  ASSERT_TRUE(theirs.result.ok());
  mqfs_->AddQueue(theirs.inode, other);
  const int fd2 = OpenFd(*theirs.inode, O_RDWR);
  ASSERT_GE(fd2, 0);
  EXPECT_EQ(mqfs_->Identify(fd)->first, mine);
  EXPECT_EQ(mqfs_->Identify(fd2)->first, theirs.inode);
  EXPECT_EQ(mqfs_->Identify(fd2)->second, other);
  close(fd2);
  close(fd);
  ASSERT_TRUE(hooks_.WaitForReleases(2));
  ASSERT_TRUE(ns_->Unlink(Root(), "q").ok());
  ASSERT_TRUE(other->Unlink(Root(), "q").ok());
}

// Issue 7 finding 3: mqfs is no way into other namespaces' queues for a process that got
// hold of one of its directories (a decoded file handle) or forged a handle. Another
// process finds no names and cannot list; a queue's handle needs its random generation.
TEST_F(MqfsTest, OtherProcessesFindNothingAndForgedHandlesDoNotDecode) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  const std::string ns_dir = absl::StrCat(dir_, "/1");
  struct stat st {};
  ASSERT_EQ(stat(absl::StrCat(ns_dir, "/q").c_str(), &st), 0);  // this process: found
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct stat cst {};
    // A name not cached yet, in a directory not cached yet.
    const bool no_lookup = stat(absl::StrCat(dir_, "/0/q").c_str(), &cst) == -1 && errno == ENOENT;
    const bool no_listing = opendir(ns_dir.c_str()) == nullptr && errno == EACCES;
    _exit(no_lookup && no_listing ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  if (geteuid() == 0) {
    // FUSE's handle: node id (high, low words) and generation.
    struct {
      struct file_handle fh;
      uint32_t words[32];
    } h{};
    h.fh.handle_bytes = sizeof(h.words);
    int mount_id = 0;
    ASSERT_EQ(name_to_handle_at(fd, "", &h.fh, &mount_id, AT_EMPTY_PATH), 0);
    ASSERT_EQ(h.fh.handle_bytes, 12u);
    EXPECT_EQ(h.words[1], InoForQueue(inode->id()));
    const int good = open_by_handle_at(fd, &h.fh, O_RDONLY | O_CLOEXEC);
    EXPECT_GE(good, 0) << "the real handle decodes for the supervisor: " << errno;
    if (good >= 0) close(good);
    ++h.words[2];  // another generation: what a forger without it would try
    errno = 0;
    EXPECT_EQ(open_by_handle_at(fd, &h.fh, O_RDONLY | O_CLOEXEC), -1);
    EXPECT_EQ(errno, ESTALE);
  }
  close(fd);
  ASSERT_TRUE(hooks_.WaitForReleases(1));
  ASSERT_TRUE(ns_->Unlink(Root(), "q").ok());
}

// A view (what a program's `mount -t mqueue` gets) lets other processes list and look up
// the namespace's queues through it, and only that namespace's.
TEST_F(MqfsTest, ViewShowsItsNamespaceToOtherProcesses) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  absl::StatusOr<int> view = mqfs_->NewView(ns_);
  ASSERT_TRUE(view.ok()) << view.status();
  struct statx stx {};
  ASSERT_EQ(statx(*view, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx), 0);
  EXPECT_TRUE(mqfs_->IsViewMount(stx.stx_mnt_id));
  EXPECT_FALSE(mqfs_->IsViewMount(mqfs_->mount_id()));
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct stat st {};
    const bool found = fstatat(*view, "q", &st, 0) == 0 && st.st_ino == InoForQueue(inode->id());
    const bool no_other = fstatat(*view, "r", &st, 0) == -1 && errno == ENOENT;
    const int dfd = openat(*view, ".", O_RDONLY | O_DIRECTORY);
    DIR* d = dfd >= 0 ? fdopendir(dfd) : nullptr;
    std::set<std::string> names;
    while (d != nullptr) {
      dirent* e = readdir(d);
      if (e == nullptr) break;
      names.insert(e->d_name);
    }
    const bool listed = names == std::set<std::string>{".", "..", "q"};
    _exit(found && no_other && listed ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  close(*view);
  close(fd);
  ASSERT_TRUE(hooks_.WaitForReleases(1));
  ASSERT_TRUE(ns_->Unlink(Root(), "q").ok());
}

TEST_F(MqfsTest, DestroyedQueueDisappears) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  const std::string path = absl::StrCat(dir_, "/1/q");
  ASSERT_TRUE(ns_->Unlink(Root(), "q").ok());
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0);  // still cached and open: still reachable
  EXPECT_EQ(st.st_nlink, 0u);
  mqfs_->QueueUnlinked(*ns_, "q");
  errno = 0;
  EXPECT_EQ(stat(path.c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_nlink, 0u);
  close(fd);
  ASSERT_TRUE(hooks_.WaitForReleases(1));
  EXPECT_EQ(ns_->queues_count(), 0u);
  std::weak_ptr<ipc::QueueInode> weak = inode;
  inode.reset();
  // The release handler drops its reference just after the hook returns.
  const absl::Time deadline = absl::Now() + kWait;
  while (!weak.expired() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_TRUE(weak.expired());
}

TEST_F(MqfsTest, OpenErrors) {
  // A queue never added.
  std::shared_ptr<ipc::QueueInode> stray = std::make_shared<ipc::QueueInode>(
      999999, "stray",
      std::make_unique<ipc::Queue>(kernel::KUid(0), kernel::KGid(0), 0600,
                                   ipc::QueueAttributes{1, 1}, nullptr),
      ipc::Charge{});
  absl::StatusOr<int> fd = mqfs_->Open(*stray, O_RDWR);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.status().code(), absl::StatusCode::kNotFound);

  // From an mqfs thread (a hook): refused rather than waiting on itself.
  std::shared_ptr<ipc::QueueInode> inode;
  const int q = CreateAndOpen("q", &inode);
  hooks_.set_reenter(mqfs_.get());
  close(q);
  hooks_.set_reenter(nullptr);
  EXPECT_EQ(hooks_.reentrant_open().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(MqfsTest, PathOnlyOpenSendsNoFuseOpen) {
  std::shared_ptr<ipc::QueueInode> inode = Create("q");
  const int fd = OpenFd(*inode, O_PATH);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(mqfs_->open_files(), 0u);
  close(fd);
  EXPECT_TRUE(hooks_.flushes().empty());
  ns_->ReleaseDescription(inode);
}

// A hook that blocks (the sentry busy) holds one request thread; the others keep serving,
// so the syscall thread's Mqfs::Open still completes.
TEST_F(MqfsTest, OpenCompletesWhileHooksBlock) {
  std::shared_ptr<ipc::QueueInode> inode;
  const int fd = CreateAndOpen("q", &inode);
  ASSERT_GE(fd, 0);
  const int copies = Mqfs::kServeThreads - 1;
  std::vector<int> fds;
  for (int i = 0; i < copies; ++i) fds.push_back(dup(fd));
  hooks_.set_block_flushes(true);
  std::vector<std::thread> closers;
  for (int copy : fds) closers.emplace_back([copy] { close(copy); });
  ASSERT_TRUE(hooks_.WaitForFlushesStarted(copies));

  std::shared_ptr<ipc::QueueInode> other = Create("other");
  const int other_fd = OpenFd(*other, O_RDWR);
  EXPECT_GE(other_fd, 0);
  EXPECT_EQ(PreadAll(other_fd), kEmptyLine);
  EXPECT_EQ(PollNow(other_fd), 0x104);

  hooks_.set_block_flushes(false);
  for (std::thread& t : closers) t.join();
  close(other_fd);
  close(fd);
  EXPECT_TRUE(hooks_.WaitForReleases(2));
}

// ---- mount lifetime ----

TEST(MqfsMountTest, MountFailuresAreClear) {
  if (!FuseAvailable()) GTEST_SKIP() << "/dev/fuse cannot be opened";
  RecordingHooks hooks;
  absl::StatusOr<std::unique_ptr<Mqfs>> m = Mqfs::Mount("/nonexistent/mqfs", &hooks);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("/nonexistent/mqfs"));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound);

  const std::string dir = MakeTempDir();
  const std::string file = dir + "/file";
  close(open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  m = Mqfs::Mount(file, &hooks);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition);
  unlink(file.c_str());
  rmdir(dir.c_str());
}

TEST(MqfsMountTest, UnmountWithOpenFilesDoesNotHangOrLeak) {
  if (!FuseAvailable()) GTEST_SKIP() << "/dev/fuse cannot be opened";
  RecordingHooks hooks;
  ipc::IpcNamespace::Options o;
  o.owner_user_ns = kernel::UserNamespace::Initial();
  o.limits = std::make_shared<ipc::StaticLimits>();
  o.accounting = std::make_shared<ipc::UserAccounting>();
  auto ns = std::make_shared<ipc::IpcNamespace>(std::move(o));
  const std::string dir = MakeTempDir();
  const int fds_before = CountOpenFds();

  absl::StatusOr<std::unique_ptr<Mqfs>> m = Mqfs::Mount(dir, &hooks);
  ASSERT_TRUE(m.ok()) << m.status();
  kernel::abi::MqAttr attr{};
  attr.mq_maxmsg = 1;
  attr.mq_msgsize = 1;
  ipc::OpenOutcome q = ns->Open(kernel::Credentials::Root(), "q",
                                kernel::abi::kORdwr | kernel::abi::kOCreat, 0600, &attr);
  ASSERT_TRUE(q.result.ok());
  (*m)->AddQueue(q.inode, ns);
  absl::StatusOr<int> fd = (*m)->Open(*q.inode, O_RDWR);
  ASSERT_TRUE(fd.ok()) << fd.status();
  std::atomic<int> poll_result{-2};
  std::thread poller([&] {
    pollfd p{*fd, POLLIN, 0};
    poll_result = poll(&p, 1, 3000);
  });
  absl::SleepFor(absl::Milliseconds(100));

  const absl::Time start = absl::Now();
  m->reset();  // unmounts while the fd is open and being polled
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  poller.join();
  char buf[100];
  errno = 0;
  EXPECT_EQ(read(*fd, buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, ENOTCONN);
  close(*fd);
  EXPECT_EQ(CountOpenFds(), fds_before);
  EXPECT_EQ(rmdir(dir.c_str()), 0) << errno;  // no longer a mountpoint
}

// ---- concurrency ----

TEST_F(MqfsTest, StressReadPollCloseWhileSendingAndReceiving) {
  std::shared_ptr<ipc::QueueInode> inode = Create("stress", /*maxmsg=*/4);
  ASSERT_NE(inode, nullptr);
  ns_->ReleaseDescription(inode);  // keep only what the threads open
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  std::atomic<int> opens{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      while (absl::Now() < deadline) {
        ipc::OpenOutcome o = ns_->Open(Root(), "stress", kernel::abi::kORdwr, 0, nullptr);
        if (!o.result.ok()) {
          ++failures;
          return;
        }
        absl::StatusOr<int> fd = mqfs_->Open(*inode, O_RDWR | O_NONBLOCK);
        if (!fd.ok()) {
          ++failures;
          return;
        }
        ++opens;
        char buf[100];
        if (pread(*fd, buf, sizeof(buf), 0) < 54) ++failures;  // "QSIZE:n ..." 60 bytes
        pollfd p{*fd, POLLIN, 0};
        if (poll(&p, 1, t % 2 == 0 ? 0 : 5) < 0) ++failures;
        const int copy = dup(*fd);
        if (t == 3) {
          struct stat st {};
          if (fstat(copy, &st) != 0 || st.st_size != 80) ++failures;
        }
        close(*fd);
        close(copy);
      }
    });
  }
  int sent = 0;
  while (absl::Now() < deadline) {
    ipc::SendRequest s;
    s.payload = "x";
    s.nonblocking = true;
    if (inode->queue().Send(std::move(s)).result.ok()) ++sent;
    if (sent % 3 == 0) {
      ipc::ReceiveRequest r;
      r.buffer_len = 16;
      r.nonblocking = true;
      inode->queue().Receive(r);
    }
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(opens.load(), 0);
  ASSERT_TRUE(hooks_.WaitForReleases(opens.load()));
  EXPECT_EQ(mqfs_->open_files(), 0u);
  EXPECT_EQ(ns_->queues_count(), 1u);
  ASSERT_TRUE(ns_->Unlink(Root(), "stress").ok());
  EXPECT_EQ(ns_->queues_count(), 0u);
}

}  // namespace
}  // namespace mqsentry::vfs
