// Conformance tests for the compat ABIs (spec §1.1 "Compat differences"): the six mq calls
// made through the i386 ABI (`int $0x80` from this 64-bit test, with every pointer and
// buffer in the low 4 GiB), and x32 calls, which get the kernel's answer: ENOSYS on a
// kernel without x32 (issue 7 finding 7: an emulating supervisor must not answer them).
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/util/mq_test_util.h"

namespace mqsentry::testing {
namespace {

// i386 numbers (arch/x86/entry/syscalls/syscall_32.tbl).
constexpr long kI386MqOpen = 277;
constexpr long kI386MqUnlink = 278;
constexpr long kI386MqTimedSend = 279;  // old_timespec32
constexpr long kI386MqTimedReceive = 280;
constexpr long kI386MqNotify = 281;
constexpr long kI386MqGetSetAttr = 282;
constexpr long kI386OldMmap = 90;
constexpr long kI386Mmap2 = 192;
constexpr long kI386Sendfile = 187;
constexpr long kI386Sendfile64 = 239;
constexpr long kI386Fstatfs = 100;
constexpr long kI386Fstatfs64 = 269;
constexpr long kX32Bit = 0x40000000;

// An i386 system call from a 64-bit process: the kernel runs the ia32 table (and seccomp
// sees AUDIT_ARCH_I386). Returns the kernel's value, -1 with errno set on failure, like
// syscall(3). The entry clobbers r8-r11.
long I386(long nr, uint32_t a = 0, uint32_t b = 0, uint32_t c = 0, uint32_t d = 0,
          uint32_t e = 0) {
  long ret;
  asm volatile("int $0x80"
               : "=a"(ret)
               : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
               : "r8", "r9", "r10", "r11", "memory", "cc");
  if (ret < 0 && ret > -4096) {
    errno = static_cast<int>(-ret);
    return -1;
  }
  return ret;
}

// compat_mq_attr: eight 32-bit longs.
struct CompatMqAttr {
  int32_t mq_flags, mq_maxmsg, mq_msgsize, mq_curmsgs;
  int32_t reserved[4];
};
// compat_sigevent (64 bytes): sigval is 32 bits.
struct CompatSigevent {
  int32_t sigev_value;
  int32_t sigev_signo;
  int32_t sigev_notify;
  int32_t pad[13];
};
struct OldTimespec32 {
  int32_t tv_sec, tv_nsec;
};

// One page below 4 GiB for everything an i386 call points to.
class LowPage {
 public:
  LowPage() {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
                   -1, 0);
    base_ = p == MAP_FAILED ? nullptr : static_cast<char*>(p);
  }
  ~LowPage() {
    if (base_ != nullptr) munmap(base_, 4096);
  }
  bool ok() const { return base_ != nullptr; }
  // A pointer at `offset` into the page, and its 32-bit address.
  template <typename T>
  T* At(size_t offset) {
    return reinterpret_cast<T*>(base_ + offset);
  }
  uint32_t Addr(size_t offset) const {
    return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(base_ + offset));
  }

 private:
  char* base_ = nullptr;
};

bool KernelRunsI386() {
  errno = 0;
  return !(I386(20 /* getpid */) == -1 && errno == ENOSYS);
}

// Spec §1.1: the i386 entry points take compat mq_attr, sigevent and old_timespec32 and
// otherwise behave as the 64-bit ones (open, send, receive, getsetattr, notify, unlink).
TEST(MqAbi, I386CallsWorkWithCompatLayouts_Spec1_1) {
  if (!KernelRunsI386()) GTEST_SKIP() << "this kernel does not run i386 system calls";
  LowPage page;
  ASSERT_TRUE(page.ok());
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  std::strcpy(page.At<char>(0), name.c_str());
  const uint32_t name_addr = page.Addr(0);
  auto* attr = page.At<CompatMqAttr>(256);
  *attr = CompatMqAttr{0, 4, 16, 0, {}};
  const long fd = I386(kI386MqOpen, name_addr, O_RDWR | O_CREAT | O_EXCL, 0600, page.Addr(256));
  ASSERT_THAT(fd, SyscallSucceeds());
  ScopedFd owned(static_cast<int>(fd));
  EXPECT_EQ(fcntl(owned.get(), F_GETFD), FD_CLOEXEC);
  // The 64-bit view of the same queue shows the attributes.
  EXPECT_EQ(GetAttr(owned.get()).mq_maxmsg, 4);
  EXPECT_EQ(GetAttr(owned.get()).mq_msgsize, 16);

  std::memcpy(page.At<char>(512), "hello", 5);
  ASSERT_THAT(I386(kI386MqTimedSend, static_cast<uint32_t>(fd), page.Addr(512), 5, 3, 0),
              SyscallSucceeds());
  auto* got = page.At<CompatMqAttr>(1024);
  std::memset(got, 0xff, sizeof(*got));
  ASSERT_THAT(I386(kI386MqGetSetAttr, static_cast<uint32_t>(fd), 0, page.Addr(1024)),
              SyscallSucceeds());
  EXPECT_EQ(got->mq_maxmsg, 4);
  EXPECT_EQ(got->mq_msgsize, 16);
  EXPECT_EQ(got->mq_curmsgs, 1);
  EXPECT_EQ(got->mq_flags, 0);
  // mq_setattr through i386: O_NONBLOCK in, the old flags out.
  auto* set = page.At<CompatMqAttr>(1536);
  *set = CompatMqAttr{O_NONBLOCK, 0, 0, 0, {}};
  ASSERT_THAT(I386(kI386MqGetSetAttr, static_cast<uint32_t>(fd), page.Addr(1536), page.Addr(1024)),
              SyscallSucceeds());
  EXPECT_EQ(got->mq_flags, 0);
  EXPECT_EQ(GetAttr(owned.get()).mq_flags, O_NONBLOCK);

  auto* prio = page.At<uint32_t>(2048);
  *prio = 0;
  ASSERT_THAT(I386(kI386MqTimedReceive, static_cast<uint32_t>(fd), page.Addr(2304), 16,
                   page.Addr(2048), 0),
              SyscallSucceedsWithValue(5));
  EXPECT_EQ(std::string(page.At<char>(2304), 5), "hello");
  EXPECT_EQ(*prio, 3u);
  // Empty and non-blocking: EAGAIN; with a 32-bit timeout in the past on a blocking
  // description: ETIMEDOUT.
  EXPECT_THAT(I386(kI386MqTimedReceive, static_cast<uint32_t>(fd), page.Addr(2304), 16, 0, 0),
              SyscallFailsWithErrno(EAGAIN));
  *set = CompatMqAttr{0, 0, 0, 0, {}};
  ASSERT_THAT(I386(kI386MqGetSetAttr, static_cast<uint32_t>(fd), page.Addr(1536), 0),
              SyscallSucceeds());
  auto* past = page.At<OldTimespec32>(2560);
  *past = OldTimespec32{1, 0};
  EXPECT_THAT(I386(kI386MqTimedReceive, static_cast<uint32_t>(fd), page.Addr(2304), 16, 0,
                   page.Addr(2560)),
              SyscallFailsWithErrno(ETIMEDOUT));
  auto* bad = page.At<OldTimespec32>(2568);
  *bad = OldTimespec32{1, 1000000000};
  EXPECT_THAT(I386(kI386MqTimedReceive, static_cast<uint32_t>(fd), page.Addr(2304), 16, 0,
                   page.Addr(2568)),
              SyscallFailsWithErrno(EINVAL));

  // A compat sigevent: SIGEV_SIGNAL with a 32-bit sigval, fired by the next send.
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigset_t old;
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &usr1, &old), 0);
  auto* sev = page.At<CompatSigevent>(3072);
  std::memset(sev, 0, sizeof(*sev));
  sev->sigev_value = 0x1234;
  sev->sigev_signo = SIGUSR1;
  sev->sigev_notify = SIGEV_SIGNAL;
  ASSERT_THAT(I386(kI386MqNotify, static_cast<uint32_t>(fd), page.Addr(3072)), SyscallSucceeds());
  EXPECT_THAT(I386(kI386MqNotify, static_cast<uint32_t>(fd), page.Addr(3072)),
              SyscallFailsWithErrno(EBUSY));
  ASSERT_THAT(I386(kI386MqTimedSend, static_cast<uint32_t>(fd), page.Addr(512), 5, 0, 0),
              SyscallSucceeds());
  siginfo_t si{};
  const timespec wait{5, 0};
  EXPECT_EQ(sigtimedwait(&usr1, &si, &wait), SIGUSR1);
  EXPECT_EQ(si.si_code, kSiMesgq);
  EXPECT_EQ(si.si_value.sival_int, 0x1234);
  EXPECT_EQ(si.si_pid, getpid());
  sigprocmask(SIG_SETMASK, &old, nullptr);
  // Unregistering with NULL when nothing is registered is fine.
  EXPECT_THAT(I386(kI386MqNotify, static_cast<uint32_t>(fd), 0), SyscallSucceeds());

  EXPECT_THAT(I386(kI386MqUnlink, name_addr), SyscallSucceeds());
  EXPECT_THAT(I386(kI386MqUnlink, name_addr), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(I386(kI386MqOpen, 8 /* unmapped */, O_RDONLY, 0, 0), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(I386(kI386MqGetSetAttr, 9999, 0, page.Addr(1024)), SyscallFailsWithErrno(EBADF));
}

// Spec §1.1: the compat mq_notify reads only the first 16 bytes of the sigevent
// (get_compat_sigevent: sigev_value, sigev_signo, sigev_notify and the tid), where the
// 64-bit call copies all 64: a compat sigevent ending 16 bytes before a PROT_NONE page is
// read, one ending 15 bytes before it is EFAULT. (Found by test/fuzz.)
TEST(MqAbi, I386NotifyReadsOnlyTheSigeventsFirst16Bytes_Spec1_1) {
  if (!KernelRunsI386()) GTEST_SKIP() << "this kernel does not run i386 system calls";
  void* m = mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
                 -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  char* const low = static_cast<char*>(m);
  ASSERT_THAT(mprotect(low + 4096, 4096, PROT_NONE), SyscallSucceeds());
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  const int fd = mq_open(Slash(name).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, nullptr);
  ASSERT_THAT(fd, SyscallSucceeds());
  ScopedFd owned(fd);
  const CompatSigevent none{0, 0, SIGEV_NONE, {}};
  auto at_end = [&](size_t room) {
    char* p = low + 4096 - room;
    std::memcpy(p, &none, room);
    return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p));
  };
  EXPECT_THAT(I386(kI386MqNotify, static_cast<uint32_t>(fd), at_end(16)), SyscallSucceeds());
  EXPECT_THAT(I386(kI386MqNotify, static_cast<uint32_t>(fd), 0), SyscallSucceeds());
  EXPECT_THAT(I386(kI386MqNotify, static_cast<uint32_t>(fd), at_end(15)),
              SyscallFailsWithErrno(EFAULT));
  // The 64-bit call reads the whole struct: 63 bytes are not enough.
  char* p64 = low + 4096 - (sizeof(sigevent) - 1);
  std::memset(p64, 0, sizeof(sigevent) - 1);
  EXPECT_THAT(syscall(SYS_mq_notify, fd, p64), SyscallFailsWithErrno(EFAULT));
  munmap(m, 8192);
}

// Spec §8.3 "mmap -> ENODEV" through the i386 entry points too: mmap2 and the old mmap,
// which passes its six arguments in memory; sendfile (32-bit offset) and sendfile64 from
// an mq descriptor are EINVAL.
TEST(MqAbi, I386FileCallsOnMqDescriptor_Spec8_3) {
  if (!KernelRunsI386()) GTEST_SKIP() << "this kernel does not run i386 system calls";
  LowPage page;
  ASSERT_TRUE(page.ok());
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const uint32_t fd = static_cast<uint32_t>(q.fd());
  EXPECT_THAT(I386(kI386Mmap2, 0, 4096, PROT_READ, MAP_PRIVATE, fd), SyscallFailsWithErrno(ENODEV));
  auto* args = page.At<uint32_t>(0);
  const uint32_t old_args[6] = {0, 4096, PROT_READ, MAP_PRIVATE, fd, 0};
  std::memcpy(args, old_args, sizeof(old_args));
  EXPECT_THAT(I386(kI386OldMmap, page.Addr(0)), SyscallFailsWithErrno(ENODEV));
  const int mem = memfd_create("mqst", MFD_CLOEXEC);
  ASSERT_THAT(mem, SyscallSucceeds());
  ScopedFd owned(mem);
  *page.At<int32_t>(64) = 0;
  EXPECT_THAT(I386(kI386Sendfile, static_cast<uint32_t>(mem), fd, page.Addr(64), 100),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(I386(kI386Sendfile64, static_cast<uint32_t>(mem), fd, 0, 100),
              SyscallFailsWithErrno(EINVAL));
  // A file that maps: the trapped call continues to the kernel.
  ASSERT_THAT(ftruncate(mem, 4096), SyscallSucceeds());
  const long addr = I386(kI386Mmap2, 0, 4096, PROT_READ, MAP_PRIVATE, static_cast<uint32_t>(mem));
  ASSERT_THAT(addr, SyscallSucceeds());
  munmap(reinterpret_cast<void*>(static_cast<uintptr_t>(static_cast<uint32_t>(addr))), 4096);
}

// Spec §8.3 "fstatfs: f_type=0x19800202, f_bsize=4096, f_namelen=255" through i386's
// compat layouts: fstatfs (struct compat_statfs, 64 bytes) and fstatfs64 (packed struct
// compat_statfs64, whose size argument must be 84), agreeing with the 64-bit fstatfs.
TEST(MqAbi, I386FstatfsShowsTheMqueueFilesystem_Spec8_3) {
  if (!KernelRunsI386()) GTEST_SKIP() << "this kernel does not run i386 system calls";
  LowPage page;
  ASSERT_TRUE(page.ok());
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  struct statfs native {};
  ASSERT_THAT(fstatfs(q.fd(), &native), SyscallSucceeds());
  const uint32_t fd = static_cast<uint32_t>(q.fd());
  std::memset(page.At<char>(0), 0xff, 256);
  ASSERT_THAT(I386(kI386Fstatfs, fd, page.Addr(0)), SyscallSucceeds());
  const uint32_t* w = page.At<uint32_t>(0);  // type, bsize, blocks, bfree, bavail, files, ffree
  EXPECT_EQ(w[0], 0x19800202u);
  EXPECT_EQ(w[1], 4096u);
  EXPECT_EQ(w[2], 0u);
  EXPECT_EQ(w[5], 0u);
  EXPECT_EQ(std::memcmp(&w[7], &native.f_fsid, 8), 0);
  EXPECT_EQ(w[9], 255u);                                // namelen
  EXPECT_EQ(w[10], 4096u);                              // frsize
  EXPECT_EQ(w[11], static_cast<uint32_t>(native.f_flags));
  std::memset(page.At<char>(0), 0xff, 256);
  ASSERT_THAT(I386(kI386Fstatfs64, fd, 84, page.Addr(0)), SyscallSucceeds());
  const char* b = page.At<char>(0);
  uint32_t type, bsize, namelen;
  uint64_t blocks;
  std::memcpy(&type, b, 4);
  std::memcpy(&bsize, b + 4, 4);
  std::memcpy(&blocks, b + 8, 8);
  std::memcpy(&namelen, b + 56, 4);
  EXPECT_EQ(type, 0x19800202u);
  EXPECT_EQ(bsize, 4096u);
  EXPECT_EQ(blocks, 0u);
  EXPECT_EQ(std::memcmp(b + 48, &native.f_fsid, 8), 0);
  EXPECT_EQ(namelen, 255u);
  EXPECT_THAT(I386(kI386Fstatfs64, fd, 88, page.Addr(0)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(I386(kI386Fstatfs, fd, 8), SyscallFailsWithErrno(EFAULT));
}

// Issue 7 finding 7: on a kernel without x32, every x32 mq call is ENOSYS and creates
// nothing; on one with x32, the x32 mq_open works as the 64-bit one.
TEST(MqAbi, X32CallsGetTheKernelsAnswer_Spec1_1) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  errno = 0;
  const bool x32 = !(syscall(kX32Bit | SYS_getpid) == -1 && errno == ENOSYS);
  const long fd = syscall(kX32Bit | 240, name.c_str(), O_RDWR | O_CREAT, 0600, nullptr);
  if (!x32) {
    EXPECT_THAT(fd, SyscallFailsWithErrno(ENOSYS));
    EXPECT_THAT(RawMqOpen(name.c_str(), O_RDONLY), SyscallFailsWithErrno(ENOENT));
    TestQueue q;
    ASSERT_QUEUE_OK(q);
    for (long nr : {241L, 242L, 243L, 527L, 245L}) {  // unlink, send, receive, notify, getsetattr
      EXPECT_THAT(syscall(kX32Bit | nr, q.fd(), 0, 0, 0, 0), SyscallFailsWithErrno(ENOSYS))
          << "x32 nr " << nr;
    }
    EXPECT_THAT(syscall(kX32Bit | 241, q.name().c_str()), SyscallFailsWithErrno(ENOSYS));
    ScopedFd still_there(RawMqOpen(q.name().c_str(), O_RDONLY));
    EXPECT_THAT(still_there.get(), SyscallSucceeds());
  } else {
    ASSERT_THAT(fd, SyscallSucceeds());
    close(static_cast<int>(fd));
    EXPECT_THAT(RawMqUnlink(name.c_str()), SyscallSucceeds());
  }
}

}  // namespace
}  // namespace mqsentry::testing
