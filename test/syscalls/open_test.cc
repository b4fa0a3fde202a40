// Conformance tests for mq_open(2) (spec §3): the order of checks, the name rules, oflag
// handling, the created mode, attribute defaults and validation, and queues_max. Error
// paths use the raw syscall; glibc is used only where the spec describes glibc.
#include <fcntl.h>
#include <linux/capability.h>
#include <mqueue.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/util/mq_test_util.h"

namespace mqsentry::testing {
namespace {

// The kernel's O_LARGEFILE (glibc defines O_LARGEFILE as 0 on x86-64).
constexpr int kKernelOLargefile = 0100000;

mq_attr* BadAttr() { return static_cast<mq_attr*>(kBadPtr); }

// ---- §3.1 order of checks ----

// §3.1 step 1: "If attr != NULL, copy 64 bytes -> EFAULT. This happens even without
// O_CREAT and even for an empty name."
TEST(MqOpen, BadAttrPointerIsEfaultEvenWithoutCreat_Spec3_1) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  EXPECT_THAT(RawMqOpen(q.name().c_str(), O_RDWR, 0, BadAttr()), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(RawMqOpen(q.name().c_str(), O_RDONLY | O_CREAT, 0600, BadAttr()),
              SyscallFailsWithErrno(EFAULT));
}

// §3.1 step 1 comes before the name: "even for an empty name".
TEST(MqOpen, BadAttrPointerBeatsEmptyAndMissingNames_Spec3_1) {
  EXPECT_THAT(RawMqOpen("", O_RDONLY, 0, BadAttr()), SyscallFailsWithErrno(EFAULT));
  const std::string missing = UniqueName();
  EXPECT_THAT(RawMqOpen(missing.c_str(), O_RDONLY, 0, BadAttr()), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(RawMqOpen(".", O_RDONLY, 0, BadAttr()), SyscallFailsWithErrno(EFAULT));
}

// §1.2: "The kernel always copies a full 64 bytes ... If any part of the range is
// inaccessible the result is EFAULT."
TEST(MqOpen, AttrStraddlingUnmappedPageIsEfault_Spec1_2) {
  const long page = sysconf(_SC_PAGESIZE);
  char* mem = static_cast<char*>(
      mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(mem, MAP_FAILED);
  ASSERT_THAT(mprotect(mem + page, page, PROT_NONE), SyscallSucceeds());
  // maxmsg and msgsize (the first 24 bytes) are readable; the reserved tail is not.
  mq_attr* attr = reinterpret_cast<mq_attr*>(mem + page - 32);
  attr->mq_flags = 0;
  attr->mq_maxmsg = 1;
  attr->mq_msgsize = 16;
  attr->mq_curmsgs = 0;
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  EXPECT_THAT(RawMqOpen(name.c_str(), O_RDWR | O_CREAT, 0600, attr), SyscallFailsWithErrno(EFAULT));
  // Nothing was created.
  EXPECT_THAT(RawMqOpen(name.c_str(), O_RDONLY), SyscallFailsWithErrno(ENOENT));
  munmap(mem, 2 * page);
}

// §3.1 step 2: "bad pointer -> EFAULT".
TEST(MqOpen, BadNamePointerIsEfault_Spec3_1) {
  EXPECT_THAT(RawMqOpen(static_cast<const char*>(kBadPtr), O_RDONLY),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(RawMqOpen(static_cast<const char*>(kBadPtr), O_RDWR | O_CREAT, 0600),
              SyscallFailsWithErrno(EFAULT));
}

// §3.1 step 2 / §3.2: "length >= 4096 (PATH_MAX including the NUL) -> ENAMETOOLONG".
TEST(MqOpen, NameOf4096BytesIsEnametoolong_Spec3_2) {
  const std::string name(4096, 'a');
  EXPECT_THAT(RawMqOpen(name.c_str(), O_RDONLY), SyscallFailsWithErrno(ENAMETOOLONG));
  EXPECT_THAT(RawMqOpen(name.c_str(), O_RDWR | O_CREAT, 0600), SyscallFailsWithErrno(ENAMETOOLONG));
  const std::string longer(10000, 'b');
  EXPECT_THAT(RawMqOpen(longer.c_str(), O_RDONLY), SyscallFailsWithErrno(ENAMETOOLONG));
}

// §3.2: `""` -> ENOENT (raw), with or without O_CREAT.
TEST(MqOpen, EmptyNameIsEnoent_Spec3_2) {
  EXPECT_THAT(RawMqOpen("", O_RDONLY), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(RawMqOpen("", O_RDWR | O_CREAT, 0600), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(RawMqOpen("", O_RDWR | O_CREAT | O_EXCL, 0600), SyscallFailsWithErrno(ENOENT));
}

// §3.2: "glibc "/" reaches the kernel as "", so it also gives ENOENT."
TEST(MqOpen, GlibcSlashAloneIsEnoent_Spec3_2) {
  errno = 0;
  EXPECT_EQ(mq_open("/", O_RDONLY), static_cast<mqd_t>(-1));
  EXPECT_EQ(errno, ENOENT);
}

// §3.2: `"."`, `".."` -> EACCES.
TEST(MqOpen, DotAndDotDotAreEacces_Spec3_2) {
  for (const char* name : {".", ".."}) {
    SCOPED_TRACE(name);
    EXPECT_THAT(RawMqOpen(name, O_RDONLY), SyscallFailsWithErrno(EACCES));
    EXPECT_THAT(RawMqOpen(name, O_RDWR | O_CREAT, 0600), SyscallFailsWithErrno(EACCES));
  }
}

// §3.2: `"a/b"`, `"/x"` (a leading slash reaching the kernel) -> EACCES; any '/' anywhere.
TEST(MqOpen, SlashAnywhereIsEacces_Spec3_2) {
  for (const char* name : {"a/b", "/x", "a/", "/"}) {
    SCOPED_TRACE(name);
    EXPECT_THAT(RawMqOpen(name, O_RDONLY), SyscallFailsWithErrno(EACCES));
    EXPECT_THAT(RawMqOpen(name, O_RDWR | O_CREAT, 0600), SyscallFailsWithErrno(EACCES));
  }
}

// §3.1 step 5: "The '/' check comes first: a 256-byte name containing '/' gives EACCES."
TEST(MqOpen, SlashCheckedBeforeNameLength_Spec3_1) {
  std::string name(256, 'a');
  name[100] = '/';
  EXPECT_THAT(RawMqOpen(name.c_str(), O_RDWR | O_CREAT, 0600), SyscallFailsWithErrno(EACCES));
  EXPECT_THAT(RawMqOpen(name.c_str(), O_RDONLY), SyscallFailsWithErrno(EACCES));
}

// §3.2: 255 bytes -> OK.
TEST(MqOpen, NameOf255BytesIsAccepted_Spec3_2) {
  const std::string unique = UniqueName();
  const std::string name = unique + std::string(255 - unique.size(), 'n');
  ASSERT_EQ(name.size(), 255u);
  QueueCleanup cleanup(name);
  ScopedFd fd(RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  ScopedFd again(RawMqOpen(name.c_str(), O_RDONLY));
  EXPECT_THAT(again.get(), SyscallSucceeds());
  EXPECT_THAT(RawMqUnlink(name.c_str()), SyscallSucceeds());
}

// §3.2: 256 to 4095 bytes -> ENAMETOOLONG, whether or not the queue would be created.
TEST(MqOpen, NameOf256To4095BytesIsEnametoolong_Spec3_2) {
  for (size_t len : {256u, 1000u, 4095u}) {
    SCOPED_TRACE(len);
    const std::string name(len, 'z');
    EXPECT_THAT(RawMqOpen(name.c_str(), O_RDWR | O_CREAT, 0600),
                SyscallFailsWithErrno(ENAMETOOLONG));
    EXPECT_THAT(RawMqOpen(name.c_str(), O_RDONLY), SyscallFailsWithErrno(ENAMETOOLONG));
  }
}

// §3.2: `"..."`, `" "`, `"a\nb"`, `"\xff"` are valid: "Any byte except NUL and '/' is allowed."
TEST(MqOpen, UnusualBytesFormValidNames_Spec3_2) {
  const std::string suffix = UniqueName();
  for (const std::string& prefix : {std::string("..."), std::string(" "), std::string("a\nb"),
                                    std::string("\xff"), std::string("\x01\x7f")}) {
    const std::string name = prefix == "..." || prefix == " " ? prefix : prefix + suffix;
    SCOPED_TRACE(name);
    QueueCleanup cleanup(name);
    ScopedFd fd(RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
    ASSERT_THAT(fd.get(), SyscallSucceeds());
    EXPECT_THAT(RawMqUnlink(name.c_str()), SyscallSucceeds());
  }
}

// §1.6: "If name[0] != '/', glibc returns EINVAL without making a syscall. This includes "".
TEST(MqOpen, GlibcRejectsNamesWithoutLeadingSlash_Spec1_6) {
  errno = 0;
  EXPECT_EQ(mq_open("noslash", O_RDONLY), static_cast<mqd_t>(-1));
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(mq_open("", O_RDONLY), static_cast<mqd_t>(-1));
  EXPECT_EQ(errno, EINVAL);
  // Even with O_CREAT, and nothing reaches the kernel: the name does not get created.
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  errno = 0;
  EXPECT_EQ(mq_open(name.c_str(), O_RDWR | O_CREAT, 0600, nullptr), static_cast<mqd_t>(-1));
  EXPECT_EQ(errno, EINVAL);
  EXPECT_THAT(RawMqOpen(name.c_str(), O_RDONLY), SyscallFailsWithErrno(ENOENT));
}

// §3.2: 'Through glibc: "//a", "/.", "/.." and "/a/" give EACCES.'
TEST(MqOpen, GlibcNamesThatReachTheKernelWithSlashOrDotsAreEacces_Spec3_2) {
  for (const char* name : {"//a", "/.", "/..", "/a/"}) {
    SCOPED_TRACE(name);
    errno = 0;
    EXPECT_EQ(mq_open(name, O_RDWR | O_CREAT, 0600, nullptr), static_cast<mqd_t>(-1));
    EXPECT_EQ(errno, EACCES);
  }
}

// §1.6: "mode and attr are read from the varargs only when O_CREAT is set; otherwise it
// passes mode=0 and attr=NULL" -- so a bad attr pointer cannot fault through glibc.
TEST(MqOpen, GlibcPassesNullAttrWithoutCreat_Spec1_6) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const mqd_t fd = mq_open(q.slash_name().c_str(), O_RDONLY, 0, BadAttr());
  ASSERT_NE(fd, static_cast<mqd_t>(-1)) << ErrnoName(errno);
  mq_close(fd);
  // The raw syscall with the same pointer faults (§3.1 step 1).
  EXPECT_THAT(RawMqOpen(q.name().c_str(), O_RDONLY, 0, BadAttr()), SyscallFailsWithErrno(EFAULT));
}

// §1.6: with O_CREAT glibc passes mode and attr through.
TEST(MqOpen, GlibcCreatePassesModeAndAttr_Spec1_6) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  const mode_t old_umask = umask(0);
  mq_attr attr = MakeAttr(3, 77);
  const mqd_t fd = mq_open(Slash(name).c_str(), O_RDWR | O_CREAT | O_EXCL, 0640, &attr);
  umask(old_umask);
  ASSERT_NE(fd, static_cast<mqd_t>(-1)) << ErrnoName(errno);
  ScopedFd closer(fd);
  mq_attr got{};
  ASSERT_EQ(mq_getattr(fd, &got), 0);
  EXPECT_EQ(got.mq_maxmsg, 3);
  EXPECT_EQ(got.mq_msgsize, 77);
  struct stat st;
  ASSERT_THAT(fstat(fd, &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

// §3.1 step 6.1: "Without O_CREAT -> ENOENT."
TEST(MqOpen, MissingQueueWithoutCreatIsEnoent_Spec3_1) {
  const std::string name = UniqueName();
  for (int acc : {O_RDONLY, O_WRONLY, O_RDWR}) {
    EXPECT_THAT(RawMqOpen(name.c_str(), acc), SyscallFailsWithErrno(ENOENT));
  }
  // O_EXCL without O_CREAT is ignored.
  EXPECT_THAT(RawMqOpen(name.c_str(), O_RDWR | O_EXCL), SyscallFailsWithErrno(ENOENT));
}

// §3.1 step 3: "Allocate an fd ... EMFILE if RLIMIT_NOFILE is exhausted. An empty name
// still gives ENOENT here because step 2 runs first. "." and nonexistent names give EMFILE."
TEST(MqOpen, EmfileComesAfterNameCopyButBeforeLookup_Spec3_1) {
  const std::string missing = UniqueName();
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    struct rlimit rl;
    CHILD_CHECK_OK(getrlimit(RLIMIT_NOFILE, &rl));
    rl.rlim_cur = 0;
    CHILD_CHECK_OK(setrlimit(RLIMIT_NOFILE, &rl));
    CHILD_CHECK_ERRNO(RawMqOpen("", O_RDONLY), ENOENT);
    CHILD_CHECK_ERRNO(RawMqOpen(static_cast<const char*>(kBadPtr), O_RDONLY), EFAULT);
    CHILD_CHECK_ERRNO(RawMqOpen(std::string(4096, 'x').c_str(), O_RDONLY), ENAMETOOLONG);
    CHILD_CHECK_ERRNO(RawMqOpen(".", O_RDONLY), EMFILE);
    CHILD_CHECK_ERRNO(RawMqOpen(std::string(300, 'x').c_str(), O_RDONLY), EMFILE);
    CHILD_CHECK_ERRNO(RawMqOpen(missing.c_str(), O_RDONLY), EMFILE);
    CHILD_CHECK_ERRNO(RawMqOpen(missing.c_str(), O_RDWR | O_CREAT, 0600), EMFILE);
    return 0;
  }));
  // The failed O_CREAT did not create anything.
  EXPECT_THAT(RawMqOpen(missing.c_str(), O_RDONLY), SyscallFailsWithErrno(ENOENT));
}

// §3.1 step 7.1: "O_CREAT|O_EXCL -> EEXIST."
TEST(MqOpen, ExistingWithCreatExclIsEexist_Spec3_1) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  EXPECT_THAT(RawMqOpen(q.name().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600),
              SyscallFailsWithErrno(EEXIST));
  EXPECT_THAT(RawMqOpen(q.name().c_str(), O_RDONLY | O_CREAT | O_EXCL, 0600),
              SyscallFailsWithErrno(EEXIST));
}

// §3.1 step 7.1-7.2: EEXIST "is checked before the access-mode check".
TEST(MqOpen, EexistBeforeEinvalForAccessMode3_Spec3_1) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  EXPECT_THAT(RawMqOpen(q.name().c_str(), 3 | O_CREAT | O_EXCL, 0600),
              SyscallFailsWithErrno(EEXIST));
}

// §3.3: "Access mode 3 ... on an existing queue -> EINVAL".
TEST(MqOpen, AccessMode3OnExistingQueueIsEinval_Spec3_3) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  EXPECT_THAT(RawMqOpen(q.name().c_str(), 3), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(RawMqOpen(q.name().c_str(), 3 | O_CREAT, 0600), SyscallFailsWithErrno(EINVAL));
}

// §3.3: "on a new queue it creates the queue and returns an fd with neither read nor write
// access: send and receive give EBADF, while mq_getsetattr, mq_notify and poll work."
TEST(MqOpen, AccessMode3OnNewQueueCreatesUselessFd_Spec3_3) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  const mq_attr attr = MakeAttr(4, 32);
  ScopedFd fd(RawMqOpen(name.c_str(), 3 | O_CREAT | O_EXCL, 0600, &attr));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  EXPECT_THAT(RawMqTimedSend(fd.get(), "x", 1, 0, nullptr), SyscallFailsWithErrno(EBADF));
  char buf[32];
  EXPECT_THAT(RawMqTimedReceive(fd.get(), buf, sizeof(buf), nullptr, nullptr),
              SyscallFailsWithErrno(EBADF));
  mq_attr got{};
  ASSERT_THAT(RawMqGetSetAttr(fd.get(), nullptr, &got), SyscallSucceeds());
  EXPECT_EQ(got.mq_maxmsg, 4);
  EXPECT_EQ(got.mq_msgsize, 32);
  struct sigevent sev {};
  sev.sigev_notify = SIGEV_NONE;
  EXPECT_THAT(RawMqNotify(fd.get(), &sev), SyscallSucceeds());
  EXPECT_THAT(RawMqNotify(fd.get(), nullptr), SyscallSucceeds());
  struct pollfd pfd = {fd.get(), POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM, 0};
  ASSERT_THAT(poll(&pfd, 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(pfd.revents, POLLOUT | POLLWRNORM);
  // The queue really exists: a normal open finds it.
  ScopedFd rd(RawMqOpen(name.c_str(), O_RDWR));
  EXPECT_THAT(rd.get(), SyscallSucceeds());
}

// §3.1 step 7.4: "attr, mode and O_CREAT are otherwise ignored: no attribute validation
// happens (even invalid attrs succeed)."
TEST(MqOpen, ExistingQueueIgnoresAttrAndMode_Spec3_1) {
  const mode_t old_umask = umask(0);
  TestQueue q(3, 40, O_RDWR, 0640);
  umask(old_umask);
  ASSERT_QUEUE_OK(q);
  for (const mq_attr& attr : {MakeAttr(0, 0), MakeAttr(-1, 1), MakeAttr(1000000, 100000000)}) {
    ScopedFd fd(RawMqOpen(q.name().c_str(), O_RDWR | O_CREAT, 0777, &attr));
    ASSERT_THAT(fd.get(), SyscallSucceeds());
    const mq_attr got = GetAttr(fd.get());
    EXPECT_EQ(got.mq_maxmsg, 3);
    EXPECT_EQ(got.mq_msgsize, 40);
    struct stat st;
    ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
    EXPECT_EQ(st.st_mode & 07777, 0640u);
  }
}

// §3.3: "The creator gets the fd regardless of the mode bits. A queue created with mode 0
// still returns an O_RDWR fd" -- shown as an unprivileged user, who cannot open it again.
TEST(MqOpen, CreatorGetsFdRegardlessOfMode_Spec3_3) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK_OK(SwitchToUser(12345, 12345));
    const mq_attr attr = MakeAttr(2, 16);
    const int fd = RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0, &attr);
    CHILD_CHECK_OK(fd);
    CHILD_CHECK_OK(RawMqTimedSend(fd, "hi", 2, 1, nullptr));
    char buf[16];
    CHILD_CHECK_EQ(RawMqTimedReceive(fd, buf, sizeof(buf), nullptr, nullptr), 2);
    CHILD_CHECK_ERRNO(RawMqOpen(name.c_str(), O_RDONLY), EACCES);
    CHILD_CHECK_ERRNO(RawMqOpen(name.c_str(), O_WRONLY), EACCES);
    return 0;
  }));
}

// §3.3: "the kernel always sets FD_CLOEXEC on the new fd. F_GETFD returns 1 whether or not
// O_CLOEXEC was passed." (Also when opening an existing queue.)
TEST(MqOpen, FdCloexecIsAlwaysSet_Spec3_3) {
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  EXPECT_THAT(fcntl(q.fd(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
  for (int extra : {0, O_CLOEXEC}) {
    ScopedFd fd(RawMqOpen(q.name().c_str(), O_RDONLY | extra));
    ASSERT_THAT(fd.get(), SyscallSucceeds());
    EXPECT_THAT(fcntl(fd.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
  }
}

// §3.3: "F_GETFL content: oflag as passed, minus O_CREAT|O_EXCL|O_NOCTTY|O_TRUNC. O_CLOEXEC
// stays visible in F_GETFL if it was passed."
TEST(MqOpen, GetflIsOflagMinusCreationFlags_Spec3_3) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  const int oflag = O_RDWR | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC | O_NONBLOCK;
  ScopedFd fd(RawMqOpen(name.c_str(), oflag, 0600));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  EXPECT_THAT(fcntl(fd.get(), F_GETFL), SyscallSucceedsWithValue(O_RDWR | O_CLOEXEC | O_NONBLOCK));
  ScopedFd ro(RawMqOpen(name.c_str(), O_RDONLY));
  ASSERT_THAT(ro.get(), SyscallSucceeds());
  EXPECT_THAT(fcntl(ro.get(), F_GETFL), SyscallSucceedsWithValue(O_RDONLY));
  ScopedFd wo(RawMqOpen(name.c_str(), O_WRONLY | O_CREAT, 0600));
  ASSERT_THAT(wo.get(), SyscallSucceeds());
  EXPECT_THAT(fcntl(wo.get(), F_GETFL), SyscallSucceedsWithValue(O_WRONLY));
}

// §3.3: "No O_LARGEFILE is added (regular open(2) on x86-64 adds it)."
TEST(MqOpen, GetflHasNoLargefile_Spec3_3) {
  ScopedFd regular(open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_THAT(regular.get(), SyscallSucceeds());
  const int regular_flags = fcntl(regular.get(), F_GETFL);
  ASSERT_NE(regular_flags & kKernelOLargefile, 0) << "open(2) adds O_LARGEFILE on x86-64";
  TestQueue q;
  ASSERT_QUEUE_OK(q);
  const int flags = fcntl(q.fd(), F_GETFL);
  ASSERT_THAT(flags, SyscallSucceeds());
  EXPECT_EQ(flags & kKernelOLargefile, 0);
}

// §1.1: "oflag is not validated against a whitelist. Unknown bits (bit 30, for example) are
// accepted and show up in F_GETFL." §3.3: O_APPEND, O_SYNC, O_NOATIME, O_DIRECTORY,
// O_NOFOLLOW ... "are accepted and kept, and have no effect."
TEST(MqOpen, UnknownAndInertFlagsAreKept_Spec3_3) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  const int kept = O_RDWR | (1 << 30) | O_APPEND | O_SYNC | O_NOATIME | O_DIRECTORY | O_NOFOLLOW;
  ScopedFd fd(RawMqOpen(name.c_str(), kept | O_CREAT | O_EXCL, 0600));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  EXPECT_THAT(fcntl(fd.get(), F_GETFL), SyscallSucceedsWithValue(kept));
  // ... and the descriptor still works as an ordinary mq descriptor.
  EXPECT_THAT(RawMqTimedSend(fd.get(), "x", 1, 0, nullptr), SyscallSucceeds());
  std::string msg;
  EXPECT_THAT(Receive(fd.get(), &msg), SyscallSucceedsWithValue(1));
  ScopedFd unknown(RawMqOpen(name.c_str(), O_RDONLY | (1 << 30)));
  ASSERT_THAT(unknown.get(), SyscallSucceeds());
  EXPECT_THAT(fcntl(unknown.get(), F_GETFL), SyscallSucceedsWithValue(O_RDONLY | (1 << 30)));
}

// §3.1 step 8: "O_DIRECT -> EINVAL. The queue created by O_CREAT|O_DIRECT stays linked."
TEST(MqOpen, ODirectCreatesQueueThenFailsWithEinval_Spec3_1) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  const mq_attr attr = MakeAttr(5, 50);
  EXPECT_THAT(RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_DIRECT, 0600, &attr),
              SyscallFailsWithErrno(EINVAL));
  ScopedFd fd(RawMqOpen(name.c_str(), O_RDWR));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  const mq_attr got = GetAttr(fd.get());
  EXPECT_EQ(got.mq_maxmsg, 5);
  EXPECT_EQ(got.mq_msgsize, 50);
  // Opening the existing queue with O_DIRECT fails the same way.
  EXPECT_THAT(RawMqOpen(name.c_str(), O_RDONLY | O_DIRECT), SyscallFailsWithErrno(EINVAL));
}

// §3.3: "Mode: (mode & 0xffff) & ~umask & 07777 ... 07777 with umask 022 gives 07755."
TEST(MqOpen, ModeIsMaskedByUmaskAndKeepsSpecialBits_Spec3_3) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  const mode_t old_umask = umask(022);
  ScopedFd fd(RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 07777));
  umask(old_umask);
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode, static_cast<mode_t>(S_IFREG | 07755));
}

// §1.1: "mode is a umode_t, which is 16 bits. ... Passing 0xffffffff gives mode 07777, and
// 0170644 gives 0644."
TEST(MqOpen, ModeKeepsOnlyPermissionBitsOfLow16_Spec1_1) {
  const mode_t old_umask = umask(0);
  const std::string a = UniqueName(), b = UniqueName();
  QueueCleanup ca(a), cb(b);
  ScopedFd fa(RawMqOpen(a.c_str(), O_RDWR | O_CREAT | O_EXCL, 0xffffffffUL));
  ScopedFd fb(RawMqOpen(b.c_str(), O_RDWR | O_CREAT | O_EXCL, 0170644));
  umask(old_umask);
  ASSERT_THAT(fa.get(), SyscallSucceeds());
  ASSERT_THAT(fb.get(), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(fstat(fa.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode, static_cast<mode_t>(S_IFREG | 07777));
  ASSERT_THAT(fstat(fb.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode, static_cast<mode_t>(S_IFREG | 0644));
}

// §3.3: "O_NONBLOCK: stored in f_flags; mq_flags reports it as 2048."
TEST(MqOpen, NonblockAtOpenIsReportedInMqFlags_Spec3_3) {
  TestQueue q(kDefaultMaxMsg, 64, O_RDWR | O_NONBLOCK);
  ASSERT_QUEUE_OK(q);
  EXPECT_EQ(GetAttr(q.fd()).mq_flags, 2048);
  ScopedFd blocking(RawMqOpen(q.name().c_str(), O_RDWR));
  ASSERT_THAT(blocking.get(), SyscallSucceeds());
  EXPECT_EQ(GetAttr(blocking.get()).mq_flags, 0);
}

// ---- §3.4 attributes and defaults ----

// §3.4: "When attr == NULL: maxmsg = min(msg_max, msg_default) ... The defaults give 10 and
// 8192." The new queue reports flags=0, curmsgs=0, pad=0.
TEST(MqOpen, NullAttrGivesDefaultAttributes_Spec3_4) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  ScopedFd fd(RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, nullptr));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  mq_attr got;
  memset(&got, 0xa5, sizeof(got));
  ASSERT_THAT(RawMqGetSetAttr(fd.get(), nullptr, &got), SyscallSucceeds());
  EXPECT_EQ(got.mq_flags, 0);
  EXPECT_EQ(got.mq_maxmsg, 10);
  EXPECT_EQ(got.mq_msgsize, 8192);
  EXPECT_EQ(got.mq_curmsgs, 0);
  for (long pad : got.__pad) EXPECT_EQ(pad, 0);
}

// §3.4: "Only mq_maxmsg and mq_msgsize are used. mq_flags, mq_curmsgs and the padding are
// ignored, and the new queue reports flags=0, curmsgs=0, pad=0."
TEST(MqOpen, OnlyMaxmsgAndMsgsizeAreUsed_Spec3_4) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  mq_attr attr;
  memset(&attr, 0x5a, sizeof(attr));
  attr.mq_flags = O_NONBLOCK | O_APPEND;
  attr.mq_maxmsg = 7;
  attr.mq_msgsize = 300;
  attr.mq_curmsgs = 5;
  ScopedFd fd(RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  const mq_attr got = GetAttr(fd.get());
  EXPECT_EQ(got.mq_flags, 0);
  EXPECT_EQ(got.mq_maxmsg, 7);
  EXPECT_EQ(got.mq_msgsize, 300);
  EXPECT_EQ(got.mq_curmsgs, 0);
  for (long pad : got.__pad) EXPECT_EQ(pad, 0);
  // Not O_NONBLOCK: an empty receive with a past deadline times out instead of EAGAIN.
  std::vector<char> buf(300);
  const struct timespec past = {0, 0};
  EXPECT_THAT(RawMqTimedReceive(fd.get(), buf.data(), buf.size(), nullptr, &past),
              SyscallFailsWithErrno(ETIMEDOUT));
}

// §3.4 step 1: "maxmsg <= 0 || msgsize <= 0 -> EINVAL", and nothing is created.
TEST(MqOpen, NonPositiveAttributesAreEinval_Spec3_4) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  for (const mq_attr& attr : {MakeAttr(0, 1), MakeAttr(1, 0), MakeAttr(-1, 8), MakeAttr(8, -1),
                              MakeAttr(0, 0), MakeAttr(LONG_MIN, LONG_MIN)}) {
    SCOPED_TRACE(::testing::Message() << attr.mq_maxmsg << "x" << attr.mq_msgsize);
    EXPECT_THAT(RawMqOpen(name.c_str(), O_RDWR | O_CREAT, 0600, &attr),
                SyscallFailsWithErrno(EINVAL));
  }
  EXPECT_THAT(RawMqOpen(name.c_str(), O_RDONLY), SyscallFailsWithErrno(ENOENT));
}

// §3.4 step 2: without CAP_SYS_RESOURCE, "maxmsg > msg_max || msgsize > msgsize_max ->
// EINVAL. The comparison is done on 64-bit longs, so 4294967297 is also EINVAL."
TEST(MqOpen, AttributesAboveSysctlCeilingsAreEinval_Spec3_4) {
  const std::string name = UniqueName();
  QueueCleanup cleanup(name);
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK_OK(DropCapabilities({CAP_SYS_RESOURCE}));
    for (const mq_attr& attr :
         {MakeAttr(11, 8192), MakeAttr(10, 8193), MakeAttr(4294967297L, 1),
          MakeAttr(1, 4294967297L), MakeAttr(65537, 1), MakeAttr(LONG_MAX, LONG_MAX)}) {
      CHILD_CHECK_ERRNO(RawMqOpen(name.c_str(), O_RDWR | O_CREAT, 0600, &attr), EINVAL);
    }
    CHILD_CHECK_ERRNO(RawMqOpen(name.c_str(), O_RDONLY), ENOENT);
    // The ceilings themselves are allowed.
    const mq_attr max = MakeAttr(10, 8192);
    CHILD_CHECK_OK(RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &max));
    return 0;
  }));
}

// §3.4: "With msg_default=50 and msgsize_default=100000 the queue still gets 10 and 8192.
// With msg_max=3/msg_default=2 and msgsize_max=200/msgsize_default=150 it gets 2 and 150."
TEST(MqOpen, NullAttrUsesMinOfMaxAndDefault_Spec3_4) {
  EXPECT_CHILD_OK(RunInFreshIpcNamespace([]() -> int {
    auto create_and_get = [](mq_attr* out) -> int {
      const std::string name = UniqueName();
      const int fd = RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, nullptr);
      if (fd < 0) return -1;
      *out = GetAttr(fd);
      close(fd);
      return RawMqUnlink(name.c_str());
    };
    mq_attr got{};
    CHILD_CHECK_OK(WriteSysctl("msg_default", "50"));
    CHILD_CHECK_OK(WriteSysctl("msgsize_default", "100000"));
    CHILD_CHECK_OK(create_and_get(&got));
    CHILD_CHECK_EQ(got.mq_maxmsg, 10);
    CHILD_CHECK_EQ(got.mq_msgsize, 8192);

    CHILD_CHECK_OK(WriteSysctl("msg_max", "3"));
    CHILD_CHECK_OK(WriteSysctl("msg_default", "2"));
    CHILD_CHECK_OK(WriteSysctl("msgsize_max", "200"));
    CHILD_CHECK_OK(WriteSysctl("msgsize_default", "150"));
    CHILD_CHECK_OK(create_and_get(&got));
    CHILD_CHECK_EQ(got.mq_maxmsg, 2);
    CHILD_CHECK_EQ(got.mq_msgsize, 150);

    // Defaults above the ceilings are capped at the ceilings.
    CHILD_CHECK_OK(WriteSysctl("msg_default", "10"));
    CHILD_CHECK_OK(WriteSysctl("msgsize_default", "8192"));
    CHILD_CHECK_OK(create_and_get(&got));
    CHILD_CHECK_EQ(got.mq_maxmsg, 3);
    CHILD_CHECK_EQ(got.mq_msgsize, 200);
    return 0;
  }));
}

// §9.2: msg_max / msgsize_max are the ceilings on mq_maxmsg / mq_msgsize for unprivileged
// callers; raising them admits bigger queues, lowering them rejects smaller ones.
TEST(MqOpen, SysctlCeilingsFollowWrites_Spec3_4) {
  EXPECT_CHILD_OK(RunInFreshIpcNamespace([]() -> int {
    CHILD_CHECK_OK(DropCapabilities({CAP_SYS_RESOURCE}));
    CHILD_CHECK_OK(WriteSysctl("msg_max", "20"));
    CHILD_CHECK_OK(WriteSysctl("msgsize_max", "16384"));
    const std::string name = UniqueName();
    const mq_attr ok = MakeAttr(20, 16384);
    CHILD_CHECK_OK(RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &ok));
    const mq_attr too_many = MakeAttr(21, 1);
    const mq_attr too_big = MakeAttr(1, 16385);
    const std::string other = UniqueName();
    CHILD_CHECK_ERRNO(RawMqOpen(other.c_str(), O_RDWR | O_CREAT, 0600, &too_many), EINVAL);
    CHILD_CHECK_ERRNO(RawMqOpen(other.c_str(), O_RDWR | O_CREAT, 0600, &too_big), EINVAL);
    CHILD_CHECK_OK(WriteSysctl("msg_max", "2"));
    const mq_attr three = MakeAttr(3, 16);
    CHILD_CHECK_ERRNO(RawMqOpen(other.c_str(), O_RDWR | O_CREAT, 0600, &three), EINVAL);
    return 0;
  }));
}

// ---- queues_max (§3.1 step 6.6, §9.2) ----

// §3.1 step 6.6: "queues_count >= queues_max ... -> ENOSPC ... This check comes before
// attribute validation."
TEST(MqOpen, QueuesMaxIsEnospcBeforeEinval_Spec3_1) {
  EXPECT_CHILD_OK(RunInFreshIpcNamespace([]() -> int {
    CHILD_CHECK_OK(DropCapabilities({CAP_SYS_RESOURCE}));
    CHILD_CHECK_OK(WriteSysctl("queues_max", "0"));
    const std::string name = UniqueName();
    const mq_attr bad = MakeAttr(0, 0);
    const mq_attr good = MakeAttr(1, 16);
    CHILD_CHECK_ERRNO(RawMqOpen(name.c_str(), O_RDWR | O_CREAT, 0600, &bad), ENOSPC);
    CHILD_CHECK_ERRNO(RawMqOpen(name.c_str(), O_RDWR | O_CREAT, 0600, &good), ENOSPC);
    CHILD_CHECK_ERRNO(RawMqOpen(name.c_str(), O_RDWR | O_CREAT, 0600, nullptr), ENOSPC);
    // ENOENT for a plain open: the limit only applies to creation.
    CHILD_CHECK_ERRNO(RawMqOpen(name.c_str(), O_RDWR), ENOENT);
    return 0;
  }));
}

// §3.5: "An unlinked-but-open queue still counts toward queues_max"; opening an existing
// queue is not limited.
TEST(MqOpen, QueuesMaxCountsQueuesUntilDestroyed_Spec3_5) {
  EXPECT_CHILD_OK(RunInFreshIpcNamespace([]() -> int {
    CHILD_CHECK_OK(DropCapabilities({CAP_SYS_RESOURCE}));
    CHILD_CHECK_OK(WriteSysctl("queues_max", "1"));
    const std::string a = UniqueName(), b = UniqueName();
    const int fa = RawMqOpen(a.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, nullptr);
    CHILD_CHECK_OK(fa);
    CHILD_CHECK_ERRNO(RawMqOpen(b.c_str(), O_RDWR | O_CREAT, 0600, nullptr), ENOSPC);
    // Reopening the existing queue, even with O_CREAT, is fine.
    const int again = RawMqOpen(a.c_str(), O_RDWR | O_CREAT, 0600, nullptr);
    CHILD_CHECK_OK(again);
    close(again);
    CHILD_CHECK_OK(RawMqUnlink(a.c_str()));
    CHILD_CHECK_ERRNO(RawMqOpen(b.c_str(), O_RDWR | O_CREAT, 0600, nullptr), ENOSPC);
    close(fa);
    const int fb = RawMqOpen(b.c_str(), O_RDWR | O_CREAT, 0600, nullptr);
    CHILD_CHECK_OK(fb);
    return 0;
  }));
}

// §9.2: queues_max "Compared unsigned: -1 means unlimited, 0 forbids creation."
TEST(MqOpen, QueuesMaxMinusOneIsUnlimited_Spec9_2) {
  EXPECT_CHILD_OK(RunInFreshIpcNamespace([]() -> int {
    CHILD_CHECK_OK(DropCapabilities({CAP_SYS_RESOURCE}));
    CHILD_CHECK_OK(WriteSysctl("queues_max", "-1"));
    CHILD_CHECK_EQ(ReadSysctl("queues_max"), std::string("-1"));
    const mq_attr attr = MakeAttr(1, 16);
    for (int i = 0; i < 5; ++i) {
      CHILD_CHECK_OK(RawMqOpen(UniqueName().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr));
    }
    return 0;
  }));
}

// ---- Identity of an opened queue ----

// Two opens of one name reach the same queue (a message sent via one is received via the
// other); a queue outlives its descriptors (kernel persistence, §4).
TEST(MqOpen, OpensOfOneNameShareTheQueue_Spec4) {
  TestQueue q(4, 32);
  ASSERT_QUEUE_OK(q);
  ScopedFd wr(RawMqOpen(q.name().c_str(), O_WRONLY));
  ASSERT_THAT(wr.get(), SyscallSucceeds());
  ASSERT_THAT(Send(wr.get(), "shared", 3), SyscallSucceeds());
  wr.reset();
  q.Close();
  ScopedFd rd(RawMqOpen(q.name().c_str(), O_RDONLY));
  ASSERT_THAT(rd.get(), SyscallSucceeds());
  std::string msg;
  unsigned prio = 0;
  ASSERT_THAT(Receive(rd.get(), &msg, &prio), SyscallSucceedsWithValue(6));
  EXPECT_EQ(msg, "shared");
  EXPECT_EQ(prio, 3u);
}

}  // namespace
}  // namespace mqsentry::testing
