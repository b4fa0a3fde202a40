// Conformance tests for the mqueue filesystem through a mount (spec §8.5, §9.1): what
// `mount -t mqueue` shows and allows. Each test runs in a child that makes user, mount and
// IPC namespaces of its own (uid and gid 0 mapped to its own), where Linux lets anyone
// mount mqueue: CAP_SYS_ADMIN over the user namespace owning the IPC namespace.
#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/util/mq_test_util.h"

namespace mqsentry::testing {
namespace {

// Names in a directory (without . and ..) and whether . and .. were there as DT_DIR and
// every other entry DT_REG.
std::set<std::string> List(const std::string& dir, bool* types_ok) {
  std::set<std::string> names;
  *types_ok = true;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    *types_ok = false;
    return names;
  }
  int dots = 0;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") {
      ++dots;
      if (e->d_type != DT_DIR) *types_ok = false;
      continue;
    }
    if (e->d_type != DT_REG) *types_ok = false;
    names.insert(name);
  }
  closedir(d);
  if (dots != 2) *types_ok = false;
  return names;
}

// Small queues: RLIMIT_MSGQUEUE is counted per user across namespaces, and other tests of
// the same user may run meanwhile.
const mq_attr kSmall = {0, 2, 64, 0, {}};

int MountMqueue(const std::string& dir) { return mount("none", dir.c_str(), "mqueue", 0, nullptr); }

// §8.5: the mount shows the queues of the mounting task's IPC namespace: readdir, and
// stat of the root and of a queue.
TEST(MqMqueueMount, ListsAndStatsQueues_Spec8_5) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS | CLONE_NEWIPC));
    const std::string name = UniqueName();
    const int q = RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0640, &kSmall);
    CHILD_CHECK_OK(q);
    CHILD_CHECK_OK(MountMqueue(dir.path()));
    bool types_ok = false;
    CHILD_CHECK(List(dir.path(), &types_ok) == std::set<std::string>{name});
    CHILD_CHECK(types_ok);
    struct stat st;
    CHILD_CHECK_OK(stat(dir.path().c_str(), &st));
    CHILD_CHECK_EQ(st.st_mode, static_cast<mode_t>(S_IFDIR | 01777));
    CHILD_CHECK_EQ(st.st_uid, 0u);
    CHILD_CHECK_EQ(st.st_gid, 0u);
    CHILD_CHECK_EQ(st.st_size, 60);  // 40 + 20 per queue
    CHILD_CHECK_OK(stat((dir / name).c_str(), &st));
    CHILD_CHECK_EQ(st.st_mode, static_cast<mode_t>(S_IFREG | 0640));
    CHILD_CHECK_EQ(st.st_uid, 0u);
    CHILD_CHECK_EQ(st.st_gid, 0u);
    CHILD_CHECK_EQ(st.st_size, 80);
    CHILD_CHECK_EQ(st.st_nlink, 1u);
    CHILD_CHECK_EQ(st.st_blksize, 4096);
    // A queue made after the mount appears in it, and the size follows.
    const std::string second = UniqueName();
    CHILD_CHECK_OK(RawMqOpen(second.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &kSmall));
    CHILD_CHECK((List(dir.path(), &types_ok) == std::set<std::string>{name, second}));
    CHILD_CHECK_OK(stat(dir.path().c_str(), &st));
    CHILD_CHECK_EQ(st.st_size, 80);
    // Adding and removing names sets the root's times (whole seconds).
    const time_t before = st.st_mtim.tv_sec;
    SleepMs(1100);
    const std::string third = UniqueName();
    CHILD_CHECK_OK(RawMqOpen(third.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &kSmall));
    CHILD_CHECK_OK(stat(dir.path().c_str(), &st));
    CHILD_CHECK(st.st_mtim.tv_sec > before);
    CHILD_CHECK_EQ(st.st_ctim.tv_sec, st.st_mtim.tv_sec);
    CHILD_CHECK_EQ(st.st_mtim.tv_nsec, 0L);
    CHILD_CHECK_OK(RawMqUnlink(third.c_str()));
    // mq_unlink removes it from the mount.
    CHILD_CHECK_OK(RawMqUnlink(second.c_str()));
    CHILD_CHECK(List(dir.path(), &types_ok) == std::set<std::string>{name});
    CHILD_CHECK_ERRNO(stat((dir / second).c_str(), &st), ENOENT);
    return 0;
  }));
}

// §8.5: a second mount shows the same queues; one made in a child IPC namespace shows the
// child's; umount works.
TEST(MqMqueueMount, MountsFollowTheIpcNamespace_Spec8_5) {
  ScratchDir first, second, child;
  ASSERT_FALSE(first.path().empty() || second.path().empty() || child.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS | CLONE_NEWIPC));
    const std::string name = UniqueName();
    CHILD_CHECK_OK(RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &kSmall));
    CHILD_CHECK_OK(MountMqueue(first.path()));
    CHILD_CHECK_OK(MountMqueue(second.path()));
    bool types_ok;
    CHILD_CHECK(List(second.path(), &types_ok) == std::set<std::string>{name});
    CHILD_CHECK_OK(unshare(CLONE_NEWIPC));
    const std::string child_name = UniqueName();
    CHILD_CHECK_OK(RawMqOpen(child_name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &kSmall));
    CHILD_CHECK_OK(MountMqueue(child.path()));
    CHILD_CHECK(List(child.path(), &types_ok) == std::set<std::string>{child_name});
    CHILD_CHECK(List(first.path(), &types_ok) == std::set<std::string>{name});
    CHILD_CHECK_OK(umount2(second.path().c_str(), 0));
    CHILD_CHECK(List(second.path(), &types_ok).empty());
    CHILD_CHECK_OK(umount2(child.path().c_str(), 0));
    CHILD_CHECK_OK(umount2(first.path().c_str(), 0));
    return 0;
  }));
}

// §8.5: open(2) of a queue file gives a descriptor that works with the mq calls, poll and
// notify, and whose read() is the status line; umount while it is open: EBUSY.
TEST(MqMqueueMount, OpenGivesAWorkingMqDescriptor_Spec8_5) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS | CLONE_NEWIPC));
    const std::string name = UniqueName();
    const int q = RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &kSmall);
    CHILD_CHECK_OK(q);
    CHILD_CHECK_OK(MountMqueue(dir.path()));
    const int fd = open((dir / name).c_str(), O_RDWR | O_CLOEXEC);
    CHILD_CHECK_OK(fd);
    CHILD_CHECK_OK(RawMqTimedSend(fd, "hello", 5, 3, nullptr));
    CHILD_CHECK_EQ(CurMsgs(q), 1L);
    CHILD_CHECK_EQ(GetAttr(fd).mq_curmsgs, 1L);
    pollfd p{fd, POLLIN | POLLOUT, 0};
    CHILD_CHECK_EQ(poll(&p, 1, 0), 1);
    CHILD_CHECK_EQ(p.revents, POLLIN | POLLOUT);
    char status[128] = {};
    CHILD_CHECK(read(fd, status, sizeof(status) - 1) > 0);
    CHILD_CHECK_EQ(std::string(status), StatusLine(q));
    CHILD_CHECK(std::string(status).rfind("QSIZE:5 ", 0) == 0);
    char buf[8192];
    unsigned prio = 0;
    CHILD_CHECK_EQ(RawMqTimedReceive(fd, buf, sizeof(buf), &prio, nullptr), 5L);
    CHILD_CHECK_EQ(prio, 3u);
    sigevent sev{};
    sev.sigev_notify = SIGEV_NONE;
    CHILD_CHECK_OK(RawMqNotify(fd, &sev));
    CHILD_CHECK_ERRNO(RawMqNotify(q, &sev), EBUSY);
    CHILD_CHECK_ERRNO(umount2(dir.path().c_str(), 0), EBUSY);
    close(fd);
    // Through a bind mount of the mount too.
    ScratchDir bind;
    CHILD_CHECK(!bind.path().empty());
    CHILD_CHECK_OK(mount(dir.path().c_str(), bind.path().c_str(), nullptr, MS_BIND, nullptr));
    const int via_bind = open((bind / name).c_str(), O_RDWR | O_CLOEXEC);
    CHILD_CHECK_OK(via_bind);
    CHILD_CHECK_OK(RawMqTimedSend(via_bind, "bound", 5, 1, nullptr));
    CHILD_CHECK_EQ(CurMsgs(q), 1L);
    close(via_bind);
    CHILD_CHECK_OK(umount2(bind.path().c_str(), 0));
    CHILD_CHECK_OK(umount2(dir.path().c_str(), 0));
    return 0;
  }));
}

// §8.5: open(O_CREAT) of a new name creates a queue with the namespace's defaults, the
// creator's ids and mode & ~umask; O_EXCL, missing names and name length as open(2).
TEST(MqMqueueMount, OpenCreateMakesAQueue_Spec8_5) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS | CLONE_NEWIPC));
    CHILD_CHECK_OK(MountMqueue(dir.path()));
    umask(022);
    const std::string name = UniqueName();
    const int fd = open((dir / name).c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0666);
    CHILD_CHECK_OK(fd);
    const mq_attr attr = GetAttr(fd);
    CHILD_CHECK_EQ(attr.mq_maxmsg, kDefaultMaxMsg);
    CHILD_CHECK_EQ(attr.mq_msgsize, kDefaultMsgSize);
    struct stat st;
    CHILD_CHECK_OK(fstat(fd, &st));
    CHILD_CHECK_EQ(st.st_mode, static_cast<mode_t>(S_IFREG | 0644));
    CHILD_CHECK_EQ(st.st_uid, 0u);
    const int q = RawMqOpen(name.c_str(), O_RDWR);
    CHILD_CHECK_OK(q);
    CHILD_CHECK_OK(RawMqTimedSend(fd, "x", 1, 0, nullptr));
    CHILD_CHECK_EQ(CurMsgs(q), 1L);
    CHILD_CHECK_ERRNO(open((dir / name).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600), EEXIST);
    CHILD_CHECK_ERRNO(open((dir / "missing").c_str(), O_RDWR), ENOENT);
    CHILD_CHECK_ERRNO(open((dir / std::string(256, 'n')).c_str(), O_CREAT | O_RDWR, 0600),
                      ENAMETOOLONG);
    // One default-sized queue at a time (see kSmall).
    close(fd);
    close(q);
    CHILD_CHECK_OK(RawMqUnlink(name.c_str()));
    const std::string longest_name(255, 'n');
    const int longest = open((dir / longest_name).c_str(), O_CREAT | O_RDWR, 0600);
    CHILD_CHECK_OK(longest);
    close(longest);
    CHILD_CHECK_OK(RawMqUnlink(longest_name.c_str()));
    return 0;
  }));
}

// §8.5: unlink is mq_unlink; chmod, chown and utimes change the queue.
TEST(MqMqueueMount, UnlinkChmodChownUtimes_Spec8_5) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS | CLONE_NEWIPC));
    const std::string name = UniqueName();
    const int q = RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &kSmall);
    CHILD_CHECK_OK(q);
    CHILD_CHECK_OK(MountMqueue(dir.path()));
    const std::string path = dir / name;
    CHILD_CHECK_OK(chmod(path.c_str(), 0604));
    struct stat st;
    CHILD_CHECK_OK(fstat(q, &st));
    CHILD_CHECK_EQ(st.st_mode, static_cast<mode_t>(S_IFREG | 0604));
    CHILD_CHECK_OK(chown(path.c_str(), 0, 0));
    const timeval times[2] = {{1000000, 0}, {2000000, 0}};
    CHILD_CHECK_OK(utimes(path.c_str(), times));
    CHILD_CHECK_OK(stat(path.c_str(), &st));
    CHILD_CHECK_EQ(st.st_atim.tv_sec, 1000000L);
    CHILD_CHECK_EQ(st.st_mtim.tv_sec, 2000000L);
    CHILD_CHECK_OK(unlink(path.c_str()));
    CHILD_CHECK_ERRNO(RawMqOpen(name.c_str(), O_RDWR), ENOENT);
    CHILD_CHECK_ERRNO(unlink(path.c_str()), ENOENT);
    // The descriptor still works and shows no link.
    CHILD_CHECK_OK(RawMqTimedSend(q, "x", 1, 0, nullptr));
    CHILD_CHECK_OK(fstat(q, &st));
    CHILD_CHECK_EQ(st.st_nlink, 0u);
    return 0;
  }));
}

// §8.5: mkdir, mknod, symlink, link and rename are EPERM; write is EINVAL; truncate is 0;
// setxattr is EOPNOTSUPP; rmdir of the root is EBUSY.
TEST(MqMqueueMount, RefusedOperations_Spec8_5) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS | CLONE_NEWIPC));
    const std::string name = UniqueName();
    CHILD_CHECK_OK(RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &kSmall));
    CHILD_CHECK_OK(MountMqueue(dir.path()));
    const std::string path = dir / name;
    CHILD_CHECK_ERRNO(mkdir((dir / "d").c_str(), 0755), EPERM);
    CHILD_CHECK_ERRNO(mknod((dir / "f").c_str(), S_IFIFO | 0600, 0), EPERM);
    CHILD_CHECK_ERRNO(symlink("x", (dir / "s").c_str()), EPERM);
    CHILD_CHECK_ERRNO(link(path.c_str(), (dir / "l").c_str()), EPERM);
    CHILD_CHECK_ERRNO(rename(path.c_str(), (dir / "r").c_str()), EPERM);
    const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    CHILD_CHECK_OK(fd);
    CHILD_CHECK_ERRNO(write(fd, "x", 1), EINVAL);
    close(fd);
    CHILD_CHECK_OK(truncate(path.c_str(), 0));
    CHILD_CHECK_ERRNO(setxattr(path.c_str(), "user.x", "1", 1, 0), EOPNOTSUPP);
    CHILD_CHECK_ERRNO(rmdir(dir.path().c_str()), EBUSY);
    return 0;
  }));
}

// §8.5 statfs of the mount shows the mqueue magic.
TEST(MqMqueueMount, StatfsShowsMqueueMagic_Spec8_5) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS | CLONE_NEWIPC));
    CHILD_CHECK_OK(MountMqueue(dir.path()));
    struct statfs sf;
    CHILD_CHECK_OK(statfs(dir.path().c_str(), &sf));
    CHILD_CHECK_EQ(static_cast<long>(sf.f_type), kMqueueMagic);
    return 0;
  }));
}

// §8.5: the root is sticky: another user cannot remove root's queue (mode 0666) nor chmod
// it, but opens it by its mode and may create queues of its own; root removes anyone's.
// Root only: a second uid (in the test's mount and IPC namespaces, made with
// CAP_SYS_ADMIN).
TEST(MqMqueueMount, StickyRootAndOwnerRules_Spec8_5) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK_OK(unshare(CLONE_NEWNS | CLONE_NEWIPC));
    CHILD_CHECK_OK(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr));
    CHILD_CHECK_OK(MountMqueue(dir.path()));
    const std::string name = UniqueName();
    umask(0);
    CHILD_CHECK_OK(RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0666, &kSmall));
    const std::string path = dir / name;
    const std::string mine = dir / (name + ".nobody");
    const pid_t pid = fork();
    CHILD_CHECK_OK(pid);
    if (pid == 0) {
      if (SwitchToUser(65534, 65534) != 0) _exit(10);
      if (unlink(path.c_str()) != -1 || errno != EPERM) _exit(11);
      if (chmod(path.c_str(), 0600) != -1 || errno != EPERM) _exit(12);
      const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
      if (fd < 0) _exit(13);
      close(fd);
      const int own = open(mine.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
      if (own < 0) _exit(14);
      struct stat st;
      if (fstat(own, &st) != 0 || st.st_uid != 65534u) _exit(15);
      close(own);
      _exit(0);
    }
    int status = 0;
    CHILD_CHECK_OK(waitpid(pid, &status, 0));
    CHILD_CHECK_EQ(status, 0);
    CHILD_CHECK_OK(unlink(mine.c_str()));
    CHILD_CHECK_OK(unlink(path.c_str()));
    struct stat st;
    CHILD_CHECK_OK(stat(dir.path().c_str(), &st));
    CHILD_CHECK_EQ(st.st_mode, static_cast<mode_t>(S_IFDIR | 01777));
    return 0;
  }));
}

// §8.5: the root directory's owner may chmod it (simple_setattr).
TEST(MqMqueueMount, ChmodOfTheRoot_Spec8_5) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS | CLONE_NEWIPC));
    CHILD_CHECK_OK(MountMqueue(dir.path()));
    CHILD_CHECK_OK(chmod(dir.path().c_str(), 0755));
    struct stat st;
    CHILD_CHECK_OK(stat(dir.path().c_str(), &st));
    CHILD_CHECK_EQ(st.st_mode, static_cast<mode_t>(S_IFDIR | 0755));
    return 0;
  }));
}

// §8.3: no handle is decoded on mqueue (it has no export operations). With the mount's
// root or a queue opened through it as mount_fd, a caller that may mount the filesystem
// (CAP_SYS_ADMIN over the IPC namespace's owner, here without the host's
// CAP_DAC_READ_SEARCH) may try only with O_DIRECTORY (may_decode_fh(): EPERM otherwise),
// and then gets EINVAL for a bad header, ESTALE for any handle.
TEST(MqMqueueMount, HandlesDoNotDecode_Spec8_5) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS | CLONE_NEWIPC));
    const std::string name = UniqueName();
    CHILD_CHECK_OK(RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &kSmall));
    CHILD_CHECK_OK(MountMqueue(dir.path()));
    const int root = open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHILD_CHECK_OK(root);
    const int queue = open((dir / name).c_str(), O_RDONLY | O_CLOEXEC);
    CHILD_CHECK_OK(queue);
    struct {
      file_handle fh;
      unsigned char bytes[16];
    } h{};
    for (const int mount_fd : {root, queue}) {
      h.fh.handle_bytes = 8;
      h.fh.handle_type = 1;
      CHILD_CHECK_ERRNO(open_by_handle_at(mount_fd, &h.fh, O_RDONLY | O_CLOEXEC), EPERM);
      CHILD_CHECK_ERRNO(open_by_handle_at(mount_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
                        ESTALE);
      // Handles shaped like FUSE's (node id high and low words, generation 0) for the
      // nodes of directories mqsentry's mqfs would have: its root and the first
      // namespaces' directories.
      for (const uint64_t node : {uint64_t{1}, (uint64_t{1} << 62) + 1, (uint64_t{1} << 62) + 2,
                                  (uint64_t{1} << 62) + 3}) {
        const uint32_t words[3] = {static_cast<uint32_t>(node >> 32),
                                   static_cast<uint32_t>(node), 0};
        h.fh.handle_bytes = sizeof(words);
        h.fh.handle_type = 0x81;
        std::memcpy(h.bytes, words, sizeof(words));
        CHILD_CHECK_ERRNO(
            open_by_handle_at(mount_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ESTALE);
      }
      h.fh.handle_bytes = 0;
      CHILD_CHECK_ERRNO(open_by_handle_at(mount_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
                        EINVAL);
    }
    return 0;
  }));
}

// The new mount API makes the same filesystem: fsopen("mqueue"), fsconfig, fsmount.
TEST(MqMqueueMount, FsopenMqueue_Spec8_5) {
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS | CLONE_NEWIPC));
    const std::string name = UniqueName();
    CHILD_CHECK_OK(RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &kSmall));
    const int fs = static_cast<int>(syscall(SYS_fsopen, "mqueue", FSOPEN_CLOEXEC));
    CHILD_CHECK_OK(fs);
    CHILD_CHECK_OK(syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0));
    const int mnt = static_cast<int>(syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0));
    CHILD_CHECK_OK(mnt);
    struct stat st;
    CHILD_CHECK_OK(fstatat(mnt, name.c_str(), &st, 0));
    CHILD_CHECK_EQ(st.st_size, 80);
    return 0;
  }));
}

// The permission rule: CAP_SYS_ADMIN over the user namespace that owns the IPC namespace.
// A user namespace of one's own with a mount namespace, but the IPC namespace of the
// parent: EPERM. Options: mqueue takes none (EINVAL).
TEST(MqMqueueMount, NeedsCapabilityOverTheIpcNamespace_Spec8_5) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK(EnterOwnUserNamespace(CLONE_NEWNS));
    CHILD_CHECK_ERRNO(MountMqueue(dir.path()), EPERM);
    CHILD_CHECK_ERRNO(mount("none", (dir / "missing").c_str(), "mqueue", 0, nullptr), ENOENT);
    CHILD_CHECK_OK(unshare(CLONE_NEWIPC));
    CHILD_CHECK_ERRNO(mount("none", dir.path().c_str(), "mqueue", 0, "nosuchoption"), EINVAL);
    CHILD_CHECK_OK(MountMqueue(dir.path()));
    return 0;
  }));
}

}  // namespace
}  // namespace mqsentry::testing
