// Conformance tests for new-superblock mounts (mount(2) and fsopen(2)), which mqsentry
// performs itself from the bytes it copied (sentry/mount_performer.h): the caller's
// namespaces, root, working directory and credentials decide, as on Linux, and so do the
// kernel's copy limits and the order of its checks. Every test runs in a child that makes
// a user and mount namespace of its own (uid and gid 0 mapped to its own), where Linux
// lets any user mount tmpfs and proc, or in a user namespace alone (no capability over the
// mount namespace: EPERM).
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/util/mq_test_util.h"

namespace mqsentry::testing {
namespace {

long FsMagic(const char* path) {
  struct statfs sf;
  return statfs(path, &sf) == 0 ? static_cast<long>(sf.f_type) : -1;
}

int Fsopen(const char* name, unsigned flags) {
  return static_cast<int>(syscall(SYS_fsopen, name, flags));
}

// A tmpfs mounted by a user namespace's root: its options apply, its root belongs to the
// mounter, statfs shows tmpfs, files can be made, and it unmounts.
TEST(MqMount, TmpfsInOwnUserNamespace) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS));
    const char* d = dir.path().c_str();
    CHILD_CHECK_OK(mount("none", d, "tmpfs", 0, "size=1m,mode=0710"));
    CHILD_CHECK_EQ(FsMagic(d), static_cast<long>(TMPFS_MAGIC));
    struct stat st;
    CHILD_CHECK_OK(stat(d, &st));
    CHILD_CHECK_EQ(st.st_mode, static_cast<mode_t>(S_IFDIR | 0710));
    CHILD_CHECK_EQ(st.st_uid, 0u);
    CHILD_CHECK_EQ(st.st_gid, 0u);
    const std::string file = dir.path() + "/f";
    const int fd = open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    CHILD_CHECK_OK(fd);
    close(fd);
    CHILD_CHECK_OK(umount2(d, 0));
    CHILD_CHECK_ERRNO(access(file.c_str(), F_OK), ENOENT);
    return 0;
  }));
}

// Flags reach the new mount (MS_RDONLY: EROFS).
TEST(MqMount, ReadOnlyFlag) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS));
    CHILD_CHECK_OK(mount("none", dir.path().c_str(), "tmpfs", MS_RDONLY, nullptr));
    const std::string file = dir.path() + "/f";
    CHILD_CHECK_ERRNO(open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600), EROFS);
    return 0;
  }));
}

// A relative target is resolved from the caller's working directory, an absolute one from
// its root.
TEST(MqMount, TargetFromCallersWorkingDirectoryAndRoot) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string sub = dir.path() + "/sub";
  ASSERT_THAT(mkdir(sub.c_str(), 0755), SyscallSucceeds());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS));
    CHILD_CHECK_OK(chdir(dir.path().c_str()));
    CHILD_CHECK_OK(mount("none", "sub", "tmpfs", 0, nullptr));
    CHILD_CHECK_EQ(FsMagic(sub.c_str()), static_cast<long>(TMPFS_MAGIC));
    CHILD_CHECK_OK(umount2(sub.c_str(), 0));
    CHILD_CHECK_OK(chroot(dir.path().c_str()));
    CHILD_CHECK_OK(chdir("/"));
    CHILD_CHECK_OK(mount("none", "/sub", "tmpfs", 0, nullptr));
    CHILD_CHECK_EQ(FsMagic("/sub"), static_cast<long>(TMPFS_MAGIC));
    return 0;
  }));
  rmdir(sub.c_str());
}

// proc mounted in a PID namespace of the caller's shows that namespace.
TEST(MqMount, ProcOfCallersPidNamespace) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS | CLONE_NEWPID));
    const pid_t pid = fork();
    CHILD_CHECK_OK(pid);
    if (pid == 0) {
      // PID 1 of the new namespace.
      if (mount("proc", dir.path().c_str(), "proc", 0, nullptr) != 0) _exit(10);
      char self[32] = {};
      const std::string link = dir.path() + "/self";
      if (readlink(link.c_str(), self, sizeof(self) - 1) < 0) _exit(11);
      if (std::strcmp(self, "1") != 0) _exit(12);
      if (FsMagic(dir.path().c_str()) != PROC_SUPER_MAGIC) _exit(13);
      _exit(0);
    }
    int status = 0;
    CHILD_CHECK_OK(waitpid(pid, &status, 0));
    CHILD_CHECK_EQ(status, 0);
    return 0;
  }));
}

// fsopen gives an fs-context descriptor (close-on-exec as asked) from which fsconfig and
// fsmount make the filesystem.
TEST(MqMount, FsopenTmpfsInOwnUserNamespace) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS));
    const int fs = Fsopen("tmpfs", FSOPEN_CLOEXEC);
    CHILD_CHECK_OK(fs);
    CHILD_CHECK_EQ(fcntl(fs, F_GETFD), FD_CLOEXEC);
    CHILD_CHECK_OK(syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "0701", 0));
    CHILD_CHECK_OK(syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0));
    const int mnt = static_cast<int>(syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0));
    CHILD_CHECK_OK(mnt);
    struct statfs sf;
    CHILD_CHECK_OK(fstatfs(mnt, &sf));
    CHILD_CHECK_EQ(static_cast<long>(sf.f_type), static_cast<long>(TMPFS_MAGIC));
    CHILD_CHECK_OK(syscall(SYS_move_mount, mnt, "", AT_FDCWD, dir.path().c_str(),
                           MOVE_MOUNT_F_EMPTY_PATH));
    struct stat st;
    CHILD_CHECK_OK(stat(dir.path().c_str(), &st));
    CHILD_CHECK_EQ(st.st_mode, static_cast<mode_t>(S_IFDIR | 0701));
    const int plain = Fsopen("tmpfs", 0);
    CHILD_CHECK_OK(plain);
    CHILD_CHECK_EQ(fcntl(plain, F_GETFD), 0);
    return 0;
  }));
}

// FUSE: "fd=N" names the mounting task's /dev/fuse descriptor (any number); one that is not
// a FUSE device is EINVAL. The mount is made and detached without being served.
TEST(MqMount, FuseNamesTheCallersDescriptor) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS));
    // One connection per opened device: one for a low number, one moved to 100.
    const int fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    CHILD_CHECK_OK(fuse);
    const int second = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    CHILD_CHECK_OK(second);
    CHILD_CHECK_OK(dup2(second, 100));
    close(second);
    const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    CHILD_CHECK_OK(null);
    for (const int fd : {fuse, 100}) {
      const std::string options =
          "fd=" + std::to_string(fd) + ",rootmode=40000,user_id=0,group_id=0";
      CHILD_CHECK_OK(mount("test", dir.path().c_str(), "fuse", 0, options.c_str()));
      CHILD_CHECK_OK(umount2(dir.path().c_str(), MNT_DETACH));
    }
    const std::string not_fuse =
        "fd=" + std::to_string(null) + ",rootmode=40000,user_id=0,group_id=0";
    CHILD_CHECK_ERRNO(mount("test", dir.path().c_str(), "fuse", 0, not_fuse.c_str()), EINVAL);
    CHILD_CHECK_ERRNO(mount("test", dir.path().c_str(), "fuse", 0,
                            "fd=999,rootmode=40000,user_id=0,group_id=0"),
                      EINVAL);
    return 0;
  }));
}

// The kernel copies type, source and data before anything else (EFAULT; EINVAL for a
// string without a NUL in PATH_MAX bytes), then resolves the target (EFAULT, ENOENT,
// ENAMETOOLONG), then looks the type up (ENODEV).
TEST(MqMount, MountArgumentErrors) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS));
    const char* d = dir.path().c_str();
    auto* bad = static_cast<const char*>(kBadPtr);
    CHILD_CHECK_ERRNO(mount("none", d, bad, 0, nullptr), EFAULT);
    CHILD_CHECK_ERRNO(mount(bad, d, "tmpfs", 0, nullptr), EFAULT);
    CHILD_CHECK_ERRNO(mount("none", d, "tmpfs", 0, kBadPtr), EFAULT);
    CHILD_CHECK_ERRNO(mount("none", bad, "tmpfs", 0, nullptr), EFAULT);
    // A bad type wins over a bad target.
    CHILD_CHECK_ERRNO(mount("none", bad, bad, 0, nullptr), EFAULT);
    const std::string long_name(4096, 'x');
    CHILD_CHECK_ERRNO(mount("none", d, long_name.c_str(), 0, nullptr), EINVAL);
    CHILD_CHECK_ERRNO(mount(long_name.c_str(), d, "tmpfs", 0, nullptr), EINVAL);
    CHILD_CHECK_ERRNO(mount("none", long_name.c_str(), "tmpfs", 0, nullptr), ENAMETOOLONG);
    CHILD_CHECK_ERRNO(mount("none", "", "tmpfs", 0, nullptr), ENOENT);
    CHILD_CHECK_ERRNO(mount("none", (dir.path() + "/none").c_str(), "tmpfs", 0, nullptr),
                      ENOENT);
    CHILD_CHECK_ERRNO(mount("none", d, "nosuchfs", 0, nullptr), ENODEV);
    CHILD_CHECK_ERRNO(mount("none", d, nullptr, 0, nullptr), EINVAL);
    // A type with a subtype resolves only for filesystems that take one.
    CHILD_CHECK_ERRNO(mount("none", d, "tmpfs.sub", 0, nullptr), ENODEV);
    CHILD_CHECK_ERRNO(mount("none", d, "mqueue.sub", 0, nullptr), ENODEV);
    CHILD_CHECK_ERRNO(mount("none", d, "tmpfs", 0, "nosuchoption"), EINVAL);
    return 0;
  }));
}

// Options that end at the last readable byte are copied: the kernel reads up to a page
// and stops at the first unreadable one.
TEST(MqMount, OptionsEndingAtUnreadablePage) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  const long page = sysconf(_SC_PAGESIZE);
  void* map = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  ASSERT_THAT(munmap(static_cast<char*>(map) + page, page), SyscallSucceeds());
  const char kOptions[] = "mode=0705";
  char* options = static_cast<char*>(map) + page - sizeof(kOptions);
  std::memcpy(options, kOptions, sizeof(kOptions));
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS));
    CHILD_CHECK_OK(mount("none", dir.path().c_str(), "tmpfs", 0, options));
    struct stat st;
    CHILD_CHECK_OK(stat(dir.path().c_str(), &st));
    CHILD_CHECK_EQ(st.st_mode, static_cast<mode_t>(S_IFDIR | 0705));
    return 0;
  }));
  munmap(map, page);
}

// fsopen checks the caller's capability and its flags before it copies the name.
TEST(MqMount, FsopenErrors) {
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS));
    CHILD_CHECK_ERRNO(Fsopen(static_cast<const char*>(kBadPtr), 0), EFAULT);
    CHILD_CHECK_ERRNO(Fsopen(nullptr, 0), EFAULT);
    CHILD_CHECK_ERRNO(Fsopen("tmpfs", 0x100), EINVAL);
    CHILD_CHECK_ERRNO(Fsopen(static_cast<const char*>(kBadPtr), 0x100), EINVAL);
    CHILD_CHECK_ERRNO(Fsopen("nosuchfs", 0), ENODEV);
    const std::string long_name(4096, 'x');
    CHILD_CHECK_ERRNO(Fsopen(long_name.c_str(), 0), EINVAL);
    return 0;
  }));
}

// A user namespace without a mount namespace of its own holds no capability over the
// mount namespace: mount and fsopen are EPERM. The copies still come first for mount,
// the permission check first for fsopen.
TEST(MqMount, NoCapabilityOverTheMountNamespaceIsEperm) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(0));
    const char* d = dir.path().c_str();
    CHILD_CHECK_ERRNO(mount("none", d, "tmpfs", 0, nullptr), EPERM);
    CHILD_CHECK_ERRNO(mount("none", d, "proc", 0, nullptr), EPERM);
    CHILD_CHECK_ERRNO(mount("none", d, static_cast<const char*>(kBadPtr), 0, nullptr), EFAULT);
    CHILD_CHECK_ERRNO(Fsopen("tmpfs", 0), EPERM);
    CHILD_CHECK_ERRNO(Fsopen(static_cast<const char*>(kBadPtr), 0x100), EPERM);
    CHILD_CHECK_EQ(FsMagic(d) == TMPFS_MAGIC, false);
    return 0;
  }));
}

}  // namespace
}  // namespace mqsentry::testing
