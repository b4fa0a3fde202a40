// IdentityReader against the real kernel: the caller's own identity, forked children
// that change their ids, user/IPC/PID namespaces, priorities and process refs. Needs
// root (creates namespaces and writes uid maps); runs outside Bazel's sandbox.
#include "sentry/identity.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernel/capabilities.h"
#include "kernel/credentials.h"
#include "kernel/ids.h"
#include "kernel/user_namespace.h"

namespace mqsentry::sentry {
namespace {

using kernel::Capability;
using kernel::CapabilitySet;
using kernel::IdMap;
using kernel::IdMapExtent;
using kernel::KGid;
using kernel::KUid;
using kernel::UserNamespace;
using ::testing::ElementsAre;

// In a forked child: report the failed condition and exit non-zero (gtest assertions
// would be lost in the child).
#define CHILD_CHECK(cond)                                                                        \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      std::fprintf(stderr, "%s:%d: child check failed: %s (errno %d: %s)\n", __FILE__, __LINE__, \
                   #cond, errno, std::strerror(errno));                                          \
      _exit(1);                                                                                  \
    }                                                                                            \
  } while (0)

// Two pipes between a test and one forked child, so that each side can wait for the
// other at named steps.
class Channel {
 public:
  Channel(int read_fd, int write_fd) : read_fd_(read_fd), write_fd_(write_fd) {}
  void Signal(char c = 1) const { CHILD_CHECK(write(write_fd_, &c, 1) == 1); }
  // Returns the next byte from the other side; 0 if it has gone.
  char Wait() const {
    char c = 0;
    ssize_t n;
    do {
      n = read(read_fd_, &c, 1);
    } while (n < 0 && errno == EINTR);
    return n == 1 ? c : 0;
  }
  void SendInt(int32_t v) const { CHILD_CHECK(write(write_fd_, &v, sizeof(v)) == sizeof(v)); }
  int32_t ReceiveInt() const {
    int32_t v = -1;
    CHILD_CHECK(read(read_fd_, &v, sizeof(v)) == sizeof(v));
    return v;
  }

 private:
  int read_fd_;
  int write_fd_;
};

void CloseAllExcept(int a, int b) {
  if (a > b) std::swap(a, b);
  syscall(SYS_close_range, 3u, static_cast<unsigned>(a - 1), 0u);
  syscall(SYS_close_range, static_cast<unsigned>(a + 1), static_cast<unsigned>(b - 1), 0u);
  syscall(SYS_close_range, static_cast<unsigned>(b + 1), ~0u, 0u);
}

// A forked child running `body` (its return value is the exit code). Destroying it
// closes the pipes (a child blocked in Wait() then returns) and reaps it.
class Child {
 public:
  // `clone_flags`: extra clone(2) flags (CLONE_NEWPID); 0 forks.
  explicit Child(std::function<int(const Channel&)> body, unsigned long clone_flags = 0) {
    int to_child[2], to_parent[2];
    if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(to_parent, O_CLOEXEC) != 0) std::abort();
    pid_ = static_cast<pid_t>(
        syscall(SYS_clone, clone_flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
    if (pid_ < 0) std::abort();
    if (pid_ == 0) {
      // Keep only our own pipe ends: a sibling forked later must not hold this child's
      // pipes open (no exec here, so O_CLOEXEC does not help).
      CloseAllExcept(to_child[0], to_parent[1]);
      Channel channel(to_child[0], to_parent[1]);
      _exit(body(channel));
    }
    close(to_child[0]);
    close(to_parent[1]);
    read_fd_ = to_parent[0];
    write_fd_ = to_child[1];
  }
  ~Child() {
    if (write_fd_ >= 0) close(write_fd_);
    if (read_fd_ >= 0) close(read_fd_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  Channel channel() const { return Channel(read_fd_, write_fd_); }
  // Closes the pipes, reaps the child and returns its exit code (-1 if killed).
  int Finish() {
    close(write_fd_);
    close(read_fd_);
    write_fd_ = read_fd_ = -1;
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int read_fd_ = -1;
  int write_fd_ = -1;
};

bool WriteFile(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

NsId StatNs(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return NsId{.dev = static_cast<uint64_t>(st.st_dev), .ino = static_cast<uint64_t>(st.st_ino)};
}

int32_t Gettid() { return static_cast<int32_t>(syscall(SYS_gettid)); }

struct Caps {
  uint64_t effective, permitted, inheritable;
};

Caps CapGet(pid_t pid) {
  __user_cap_header_struct hdr{.version = _LINUX_CAPABILITY_VERSION_3, .pid = pid};
  __user_cap_data_struct data[2] = {};
  EXPECT_EQ(syscall(SYS_capget, &hdr, data), 0);
  auto join = [](uint32_t lo, uint32_t hi) { return uint64_t{lo} | (uint64_t{hi} << 32); };
  return Caps{join(data[0].effective, data[1].effective),
              join(data[0].permitted, data[1].permitted),
              join(data[0].inheritable, data[1].inheritable)};
}

uint64_t ModelRlimit(rlim_t v) {
  return v == RLIM_INFINITY ? kernel::Credentials::kRlimInfinity : v;
}

// alloc_fd()'s EMFILE test (spec §3.1 step 3): a number below RLIMIT_NOFILE must be free.
TEST(IdentityReaderParts, FreeDescriptorFollowsTheLimitAndTheTable) {
  Child child([](const Channel& ch) {
    // Descriptors 0..2 and the two pipe ends are open.
    for (rlim_t cur : {rlim_t{4096}, rlim_t{0}, rlim_t{64}}) {
      CHILD_CHECK(ch.Wait() == 1);
      struct rlimit rl;
      CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
      rl.rlim_cur = cur;
      CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
      if (cur == 64) {
        // Fill every number below 64.
        for (int fd = 0; fd < 64; ++fd) {
          if (fcntl(fd, F_GETFD) < 0) CHILD_CHECK(dup2(0, fd) == fd);
        }
      }
      ch.Signal();
    }
    return ch.Wait() == 0 ? 0 : 1;
  });
  IdentityReader reader;
  const IdentityReader::Parts parts{.rlimit = false, .process = false, .free_descriptor = true};
  for (bool expected : {true, false, false}) {
    child.channel().Signal();
    ASSERT_EQ(child.channel().Wait(), 1);
    absl::StatusOr<CallerIdentity> id = reader.Read(child.pid(), parts);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(id->has_free_descriptor, expected);
  }
  EXPECT_EQ(child.Finish(), 0);
}

// NOTIFY_PID after the owner has exited (spec §6.2): the numbers recorded while it lived.
TEST(IdentityReaderPidChain, OutlivesTheProcess_Spec6_2) {
  IdentityReader reader;
  pid_t pid;
  {
    Child child([](const Channel& ch) { return ch.Wait() == 0 ? 0 : 1; });
    pid = child.pid();
    absl::StatusOr<IdentityReader::PidChain> chain = reader.PidChainOf(pid);
    ASSERT_TRUE(chain.ok()) << chain.status();
    ASSERT_FALSE(chain->levels.empty());
    EXPECT_EQ(chain->levels.back().second, pid);
    EXPECT_EQ(child.Finish(), 0);
    // Gone and reaped: /proc no longer knows it, the chain still does.
    EXPECT_FALSE(reader.PidAsSeenBy(pid, getpid()).ok() &&
                 *reader.PidAsSeenBy(pid, getpid()) == pid);
    absl::StatusOr<int32_t> seen = reader.PidInChainAsSeenBy(*chain, getpid());
    ASSERT_TRUE(seen.ok()) << seen.status();
    EXPECT_EQ(*seen, pid);
  }
}

// The exec token changes with every execve and only then (spec §6.2, notify_self_exec_id).
TEST(IdentityReaderExecToken, ChangesWithExecOnly_Spec6_2) {
  IdentityReader reader;
  absl::StatusOr<uint64_t> self = reader.ExecToken(getpid());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_EQ(*reader.ExecToken(getpid()), *self);
  int go[2];
  ASSERT_EQ(pipe2(go, O_CLOEXEC), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char c;
    if (read(go[0], &c, 1) != 1) _exit(1);
    dup2(go[0], 0);
    execl("/bin/sh", "sh", "-c", "read x", static_cast<char*>(nullptr));
    _exit(2);
  }
  // A fork keeps the image: the same bytes.
  absl::StatusOr<uint64_t> forked = reader.ExecToken(child);
  ASSERT_TRUE(forked.ok()) << forked.status();
  EXPECT_EQ(*forked, *self);
  ASSERT_EQ(write(go[1], "x", 1), 1);
  // After the exec (the shell waits in read), new bytes.
  absl::StatusOr<uint64_t> execd;
  for (int i = 0; i < 500; ++i) {
    execd = reader.ExecToken(child);
    if (execd.ok() && *execd != *self) break;
    usleep(2000);
  }
  ASSERT_TRUE(execd.ok()) << execd.status();
  EXPECT_NE(*execd, *self);
  ASSERT_EQ(write(go[1], "\n", 1), 1);
  close(go[1]);
  close(go[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
}

// The credentials-only read (mq_open, mq_unlink) goes through cached /proc files: it
// must agree with the full read, and follow a change of the caller's credentials.
TEST(IdentityReaderParts, CredentialsOnlyReadAgreesAndFollowsChanges) {
  Child child([](const Channel& ch) {
    CHILD_CHECK(ch.Wait() == 1);
    CHILD_CHECK(setresgid(0, 4321, 0) == 0);
    CHILD_CHECK(setresuid(0, 1234, 0) == 0);
    ch.Signal();
    return ch.Wait() == 0 ? 0 : 1;
  });
  IdentityReader reader;
  absl::StatusOr<CallerIdentity> full = reader.Read(child.pid());
  absl::StatusOr<CallerIdentity> quick =
      reader.Read(child.pid(), {.rlimit = true, .process = false});
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_TRUE(quick.ok()) << quick.status();
  EXPECT_EQ(quick->tgid, full->tgid);
  EXPECT_EQ(quick->ipc_ns, full->ipc_ns);
  EXPECT_EQ(quick->cred.euid, full->cred.euid);
  EXPECT_EQ(quick->cred.fsgid, full->cred.fsgid);
  EXPECT_EQ(quick->cred.groups, full->cred.groups);
  EXPECT_EQ(quick->cred.effective, full->cred.effective);
  EXPECT_EQ(quick->cred.umask, full->cred.umask);
  EXPECT_EQ(quick->cred.user_ns, full->cred.user_ns);
  EXPECT_EQ(quick->cred.rlimit_msgqueue, full->cred.rlimit_msgqueue);

  absl::StatusOr<CallerIdentity> bare =
      reader.Read(child.pid(), {.rlimit = false, .process = false});
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->cred.rlimit_msgqueue, 0u);  // not read: refuses, never grants

  child.channel().Signal();
  ASSERT_EQ(child.channel().Wait(), 1);
  absl::StatusOr<CallerIdentity> changed =
      reader.Read(child.pid(), {.rlimit = false, .process = false});
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(changed->cred.euid, KUid(1234));
  EXPECT_EQ(changed->cred.fsuid, KUid(1234));
  EXPECT_EQ(changed->cred.egid, KGid(4321));
  EXPECT_EQ(changed->cred.ruid, KUid(0));
  EXPECT_EQ(child.Finish(), 0);

  // Gone: an error, not the identity cached before.
  EXPECT_FALSE(reader.Read(child.pid(), {.rlimit = false, .process = false}).ok());
}

TEST(IdentityReaderTest, SelfMatchesTheGetters) {
  IdentityReader reader;
  absl::StatusOr<CallerIdentity> id = reader.Read(Gettid());
  ASSERT_TRUE(id.ok()) << id.status();

  EXPECT_EQ(id->tid, Gettid());
  EXPECT_EQ(id->tgid, getpid());
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  ASSERT_EQ(getresuid(&ruid, &euid, &suid), 0);
  ASSERT_EQ(getresgid(&rgid, &egid, &sgid), 0);
  EXPECT_EQ(id->cred.ruid, KUid(ruid));
  EXPECT_EQ(id->cred.euid, KUid(euid));
  EXPECT_EQ(id->cred.suid, KUid(suid));
  EXPECT_EQ(id->cred.fsuid, KUid(setfsuid(-1)));  // -1 is invalid: answers the current one
  EXPECT_EQ(id->cred.rgid, KGid(rgid));
  EXPECT_EQ(id->cred.egid, KGid(egid));
  EXPECT_EQ(id->cred.sgid, KGid(sgid));
  EXPECT_EQ(id->cred.fsgid, KGid(setfsgid(-1)));

  std::vector<gid_t> groups(getgroups(0, nullptr));
  ASSERT_EQ(getgroups(static_cast<int>(groups.size()), groups.data()),
            static_cast<int>(groups.size()));
  std::vector<KGid> expected_groups;
  for (gid_t g : groups) expected_groups.push_back(KGid(g));
  EXPECT_EQ(id->cred.groups, expected_groups);

  const mode_t mask = umask(0);
  umask(mask);
  EXPECT_EQ(id->cred.umask, mask);

  const Caps caps = CapGet(0);
  EXPECT_EQ(id->cred.effective.bits(), caps.effective);
  EXPECT_EQ(id->cred.permitted.bits(), caps.permitted);
  EXPECT_EQ(id->cred.inheritable.bits(), caps.inheritable);

  struct rlimit rl {};
  ASSERT_EQ(getrlimit(RLIMIT_MSGQUEUE, &rl), 0);
  EXPECT_EQ(id->cred.rlimit_msgqueue, ModelRlimit(rl.rlim_cur));

  EXPECT_EQ(id->cred.user_ns, UserNamespace::Initial());
  EXPECT_EQ(id->ipc_ns, StatNs("/proc/self/ns/ipc"));
  EXPECT_EQ(id->pid_ns, StatNs("/proc/self/ns/pid"));
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, 0);
  ASSERT_EQ(errno, 0);
  EXPECT_EQ(id->sched_prio, 120 + nice);

  absl::StatusOr<int32_t> tgid = reader.TgidOf(Gettid());
  ASSERT_TRUE(tgid.ok()) << tgid.status();
  EXPECT_EQ(*tgid, getpid());
}

TEST(IdentityReaderTest, DeadThreadIsNotFound) {
  Child child([](const Channel&) { return 0; });
  const pid_t pid = child.pid();
  ASSERT_EQ(child.Finish(), 0);
  IdentityReader reader;
  EXPECT_EQ(reader.Read(pid).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(reader.TgidOf(pid).status().code(), absl::StatusCode::kNotFound);
}

TEST(IdentityReaderTest, ChildWithChangedIds) {
  Child child([](const Channel& ch) {
    const gid_t groups[] = {7, 8, 9};
    CHILD_CHECK(setgroups(3, groups) == 0);
    CHILD_CHECK(setresgid(111, 222, 333) == 0);
    struct rlimit rl = {.rlim_cur = 4096, .rlim_max = 8192};
    CHILD_CHECK(setrlimit(RLIMIT_MSGQUEUE, &rl) == 0);
    umask(027);
    // The saved uid stays 0, so the permitted set survives; the effective set is
    // cleared by the euid change and CAP_SETUID is raised again for setfsuid().
    CHILD_CHECK(setresuid(12345, 23456, 0) == 0);
    __user_cap_header_struct hdr{.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    __user_cap_data_struct data[2] = {};
    CHILD_CHECK(syscall(SYS_capget, &hdr, data) == 0);
    data[0].effective = 1u << CAP_SETUID;
    data[1].effective = 0;
    CHILD_CHECK(syscall(SYS_capset, &hdr, data) == 0);
    setfsuid(34567);
    CHILD_CHECK(setfsuid(-1) == 34567);
    ch.Signal();
    ch.Wait();
    return 0;
  });
  ASSERT_EQ(child.channel().Wait(), 1);

  IdentityReader reader;
  absl::StatusOr<CallerIdentity> id = reader.Read(child.pid());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->tid, child.pid());
  EXPECT_EQ(id->tgid, child.pid());
  EXPECT_EQ(id->cred.ruid, KUid(12345));
  EXPECT_EQ(id->cred.euid, KUid(23456));
  EXPECT_EQ(id->cred.suid, KUid(0));
  EXPECT_EQ(id->cred.fsuid, KUid(34567));
  EXPECT_EQ(id->cred.rgid, KGid(111));
  EXPECT_EQ(id->cred.egid, KGid(222));
  EXPECT_EQ(id->cred.sgid, KGid(333));
  EXPECT_EQ(id->cred.fsgid, KGid(222));  // follows the egid
  EXPECT_THAT(id->cred.groups, ElementsAre(KGid(7), KGid(8), KGid(9)));
  EXPECT_EQ(id->cred.effective, CapabilitySet({Capability::kSetuid}));
  EXPECT_EQ(id->cred.permitted.bits(), CapGet(0).permitted);
  EXPECT_EQ(id->cred.umask, 027u);
  EXPECT_EQ(id->cred.rlimit_msgqueue, 4096u);
  EXPECT_EQ(id->cred.user_ns, UserNamespace::Initial());

  absl::StatusOr<CallerIdentity> self = reader.Read(Gettid());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_NE(id->process, self->process);
  EXPECT_EQ(child.Finish(), 0);
}

TEST(IdentityReaderTest, ChildInANewUserNamespace) {
  Child child([](const Channel& ch) {
    CHILD_CHECK(unshare(CLONE_NEWUSER) == 0);
    ch.Signal();
    ch.Wait();  // maps written
    ch.Signal();
    ch.Wait();
    return 0;
  });
  const Channel ch = child.channel();
  ASSERT_EQ(ch.Wait(), 1);
  IdentityReader reader;

  // Before the maps are written: a namespace that maps nothing yet.
  absl::StatusOr<std::shared_ptr<const UserNamespace>> unmapped =
      reader.UserNamespaceOf(child.pid());
  ASSERT_TRUE(unmapped.ok()) << unmapped.status();
  EXPECT_FALSE((*unmapped)->is_initial());
  EXPECT_TRUE((*unmapped)->uid_map().extents().empty());

  const std::string proc = absl::StrCat("/proc/", child.pid());
  ASSERT_TRUE(WriteFile(proc + "/uid_map", "0 100000 1000\n"));
  ASSERT_TRUE(WriteFile(proc + "/gid_map", "0 200000 1000\n"));
  ch.Signal();
  ASSERT_EQ(ch.Wait(), 1);

  absl::StatusOr<CallerIdentity> id = reader.Read(child.pid());
  ASSERT_TRUE(id.ok()) << id.status();
  const std::shared_ptr<const UserNamespace>& ns = id->cred.user_ns;
  ASSERT_NE(ns, nullptr);
  EXPECT_FALSE(ns->is_initial());
  EXPECT_EQ(ns->parent(), UserNamespace::Initial());
  EXPECT_EQ(ns->level(), 1);
  EXPECT_THAT(ns->uid_map().extents(),
              ElementsAre(IdMapExtent{.first = 0, .lower_first = 100000, .count = 1000}));
  EXPECT_THAT(ns->gid_map().extents(),
              ElementsAre(IdMapExtent{.first = 0, .lower_first = 200000, .count = 1000}));
  EXPECT_EQ(ns->owner(), KUid(0));  // the creator's euid
  EXPECT_EQ(ns->group(), KGid(0));  // approximated: the egid of the first task seen
  // Approximated: the soft RLIMIT_MSGQUEUE of the first task seen in it (inherited).
  struct rlimit rl {};
  ASSERT_EQ(getrlimit(RLIMIT_MSGQUEUE, &rl), 0);
  EXPECT_EQ(ns->rlimit_msgqueue(), ModelRlimit(rl.rlim_cur));
  // The task's own ids did not change (kernel 0, unmapped inside).
  EXPECT_EQ(id->cred.ruid, KUid(0));
  EXPECT_EQ(id->cred.euid, KUid(0));
  EXPECT_FALSE(ns->HasMapping(id->cred.euid));

  // Cached: the same object, from either entry point.
  absl::StatusOr<std::shared_ptr<const UserNamespace>> again = reader.UserNamespaceOf(child.pid());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, ns);
  ch.Signal();
  EXPECT_EQ(child.Finish(), 0);
}

// ns2 inside ns1 inside the initial namespace, with no task left in ns1: its maps must
// come from a helper that joins it.
TEST(IdentityReaderTest, NestedUserNamespacesWithNoTaskInTheMiddle) {
  Child child([](const Channel& ch) {
    CHILD_CHECK(unshare(CLONE_NEWUSER) == 0);
    ch.Signal();
    ch.Wait();  // ns1's maps written
    // Become ns1's root (kernel 100000:200000) so that ns2 can be created and map it.
    CHILD_CHECK(setresgid(0, 0, 0) == 0);
    CHILD_CHECK(setresuid(0, 0, 0) == 0);
    // The id change made us non-dumpable, which gives our /proc files to kernel root,
    // unmapped in ns2: we could not write our own maps.
    CHILD_CHECK(prctl(PR_SET_DUMPABLE, 1) == 0);
    CHILD_CHECK(unshare(CLONE_NEWUSER) == 0);
    CHILD_CHECK(WriteFile("/proc/self/setgroups", "deny"));
    CHILD_CHECK(WriteFile("/proc/self/uid_map", "0 0 1\n"));
    CHILD_CHECK(WriteFile("/proc/self/gid_map", "0 0 1\n"));
    ch.Signal();
    ch.Wait();
    return 0;
  });
  const Channel ch = child.channel();
  ASSERT_EQ(ch.Wait(), 1);
  const std::string proc = absl::StrCat("/proc/", child.pid());
  ASSERT_TRUE(WriteFile(proc + "/uid_map", "0 100000 1000\n"));
  ASSERT_TRUE(WriteFile(proc + "/gid_map", "0 200000 1000\n"));
  ch.Signal();
  ASSERT_EQ(ch.Wait(), 1);

  IdentityReader reader;
  absl::StatusOr<CallerIdentity> id = reader.Read(child.pid());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->cred.ruid, KUid(100000));
  EXPECT_EQ(id->cred.egid, KGid(200000));
  const std::shared_ptr<const UserNamespace>& ns2 = id->cred.user_ns;
  ASSERT_EQ(ns2->level(), 2);
  EXPECT_THAT(ns2->uid_map().extents(),
              ElementsAre(IdMapExtent{.first = 0, .lower_first = 100000, .count = 1}));
  EXPECT_THAT(ns2->gid_map().extents(),
              ElementsAre(IdMapExtent{.first = 0, .lower_first = 200000, .count = 1}));
  EXPECT_EQ(ns2->owner(), KUid(100000));
  EXPECT_EQ(ns2->group(), KGid(200000));
  const std::shared_ptr<const UserNamespace>& ns1 = ns2->parent();
  ASSERT_NE(ns1, nullptr);
  EXPECT_EQ(ns1->level(), 1);
  EXPECT_EQ(ns1->parent(), UserNamespace::Initial());
  EXPECT_THAT(ns1->uid_map().extents(),
              ElementsAre(IdMapExtent{.first = 0, .lower_first = 100000, .count = 1000}));
  EXPECT_THAT(ns1->gid_map().extents(),
              ElementsAre(IdMapExtent{.first = 0, .lower_first = 200000, .count = 1000}));
  EXPECT_EQ(ns1->owner(), KUid(0));
  // ns1's real group (0) is not observable; the first task seen (in ns2) lends its egid.
  EXPECT_EQ(ns1->group(), KGid(200000));
  // Root of the initial namespace holds every capability in both.
  const kernel::Credentials root = kernel::Credentials::Root();
  EXPECT_TRUE(root.HasCapabilityIn(Capability::kSysAdmin, *ns2));

  absl::StatusOr<CallerIdentity> again = reader.Read(child.pid());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->cred.user_ns, ns2);
  ch.Signal();
  EXPECT_EQ(child.Finish(), 0);
}

TEST(IdentityReaderTest, ProcessRefs) {
  IdentityReader reader;
  absl::StatusOr<CallerIdentity> self1 = reader.Read(Gettid());
  absl::StatusOr<CallerIdentity> self2 = reader.Read(Gettid());
  ASSERT_TRUE(self1.ok() && self2.ok());
  EXPECT_EQ(self1->process, self2->process);
  EXPECT_NE(self1->process, ipc::ProcessRef{});

  // Another thread of this process: the same process.
  absl::Notification started, done;
  int32_t thread_tid = 0;
  std::thread thread([&] {
    thread_tid = Gettid();
    started.Notify();
    done.WaitForNotification();
  });
  started.WaitForNotification();
  absl::StatusOr<CallerIdentity> other_thread = reader.Read(thread_tid);
  done.Notify();
  thread.join();
  ASSERT_TRUE(other_thread.ok()) << other_thread.status();
  EXPECT_EQ(other_thread->tid, thread_tid);
  EXPECT_EQ(other_thread->tgid, getpid());
  EXPECT_EQ(other_thread->process, self1->process);

  auto waiting_child = [](const Channel& ch) {
    ch.Signal();
    ch.Wait();
    return 0;
  };
  Child a(waiting_child), b(waiting_child);
  ASSERT_EQ(a.channel().Wait(), 1);
  ASSERT_EQ(b.channel().Wait(), 1);
  absl::StatusOr<CallerIdentity> ia = reader.Read(a.pid());
  absl::StatusOr<CallerIdentity> ib = reader.Read(b.pid());
  ASSERT_TRUE(ia.ok() && ib.ok());
  EXPECT_NE(ia->process, ib->process);
  EXPECT_NE(ia->process, self1->process);
  EXPECT_NE(ib->process, self1->process);
  absl::StatusOr<CallerIdentity> ia2 = reader.Read(a.pid());
  ASSERT_TRUE(ia2.ok());
  EXPECT_EQ(ia2->process, ia->process);

  // Forgotten (as if it had exited): seen again, it gets a fresh ref, never an old one.
  reader.ForgetProcess(a.pid());
  absl::StatusOr<CallerIdentity> ia3 = reader.Read(a.pid());
  ASSERT_TRUE(ia3.ok());
  EXPECT_NE(ia3->process, ia->process);
  EXPECT_NE(ia3->process, ib->process);
  EXPECT_NE(ia3->process, self1->process);
  EXPECT_EQ(a.Finish(), 0);
  EXPECT_EQ(b.Finish(), 0);
}

TEST(IdentityReaderTest, SchedPrioFollowsTheThreadsNice) {
  IdentityReader reader;
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, 0);
  ASSERT_EQ(errno, 0);
  absl::StatusOr<CallerIdentity> self = reader.Read(Gettid());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_EQ(self->sched_prio, 120 + nice);

  absl::Notification started, done;
  int32_t thread_tid = 0;
  int set_result = -1;
  std::thread thread([&] {
    thread_tid = Gettid();
    set_result = setpriority(PRIO_PROCESS, static_cast<id_t>(thread_tid), 5);  // this thread only
    started.Notify();
    done.WaitForNotification();
  });
  started.WaitForNotification();
  absl::StatusOr<CallerIdentity> niced = reader.Read(thread_tid);
  absl::StatusOr<CallerIdentity> main_again = reader.Read(Gettid());
  done.Notify();
  thread.join();
  ASSERT_EQ(set_result, 0);
  ASSERT_TRUE(niced.ok()) << niced.status();
  EXPECT_EQ(niced->sched_prio, 125);
  ASSERT_TRUE(main_again.ok()) << main_again.status();
  EXPECT_EQ(main_again->sched_prio, 120 + nice);
}

TEST(IdentityReaderTest, IpcNamespaceChangesAfterUnshare) {
  Child child([](const Channel& ch) {
    ch.Signal();
    ch.Wait();
    CHILD_CHECK(unshare(CLONE_NEWIPC) == 0);
    ch.Signal();
    ch.Wait();
    return 0;
  });
  const Channel ch = child.channel();
  ASSERT_EQ(ch.Wait(), 1);
  IdentityReader reader;
  const NsId own_ipc = StatNs("/proc/self/ns/ipc");
  absl::StatusOr<CallerIdentity> before = reader.Read(child.pid());
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->ipc_ns, own_ipc);

  ch.Signal();
  ASSERT_EQ(ch.Wait(), 1);
  absl::StatusOr<CallerIdentity> after = reader.Read(child.pid());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NE(after->ipc_ns, own_ipc);
  EXPECT_EQ(after->ipc_ns, StatNs(absl::StrCat("/proc/", child.pid(), "/ns/ipc")));
  EXPECT_EQ(after->pid_ns, before->pid_ns);
  EXPECT_EQ(after->process, before->process);
  ch.Signal();
  EXPECT_EQ(child.Finish(), 0);
}

int CountOpenFds() {
  int n = 0;
  for (int fd = 0; fd < 4096; ++fd) {
    if (fcntl(fd, F_GETFD) >= 0) ++n;
  }
  return n;
}

// The cache holds each namespace's fd, which keeps the namespace alive (and counts
// against the sandbox user's max_user_namespaces): namespaces that nobody refers to any
// more are dropped as the cache grows; one still referred to keeps its object.
TEST(IdentityReaderTest, UnreferencedUserNamespacesAreDropped) {
  IdentityReader reader;
  auto in_new_user_ns = [](const Channel& ch) {
    CHILD_CHECK(unshare(CLONE_NEWUSER) == 0);
    ch.Signal();
    ch.Wait();
    return 0;
  };
  Child kept_child(in_new_user_ns);
  ASSERT_EQ(kept_child.channel().Wait(), 1);
  absl::StatusOr<std::shared_ptr<const UserNamespace>> kept =
      reader.UserNamespaceOf(kept_child.pid());
  ASSERT_TRUE(kept.ok()) << kept.status();

  const int fds_before = CountOpenFds();
  constexpr int kNamespaces = 200;
  for (int i = 0; i < kNamespaces; ++i) {
    Child child(in_new_user_ns);
    ASSERT_EQ(child.channel().Wait(), 1);
    absl::StatusOr<std::shared_ptr<const UserNamespace>> ns = reader.UserNamespaceOf(child.pid());
    ASSERT_TRUE(ns.ok()) << ns.status();
    EXPECT_NE(*ns, *kept);
  }
  EXPECT_LT(CountOpenFds() - fds_before, kNamespaces / 2);

  absl::StatusOr<std::shared_ptr<const UserNamespace>> again =
      reader.UserNamespaceOf(kept_child.pid());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *kept);
}

// The first child of /proc/<pid>'s main thread (a grandchild of the test).
pid_t FirstChildOf(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/task/", pid, "/children"));
  pid_t child = 0;
  in >> child;
  return child;
}

TEST(IdentityReaderTest, PidAsSeenByAcrossPidNamespaces) {
  // A: the init of a new PID namespace, with a child G that is the init of another one
  // nested in A's. B: the init of a sibling of A's namespace.
  Child a(
      [](const Channel& ch) {
        CHILD_CHECK(getpid() == 1);
        Child g(
            [](const Channel& gch) {
              CHILD_CHECK(getpid() == 1);
              gch.Signal();
              gch.Wait();
              return 0;
            },
            CLONE_NEWPID);
        CHILD_CHECK(g.channel().Wait() == 1);
        ch.SendInt(g.pid());  // G's pid in A's namespace
        ch.Wait();
        return 0;
      },
      CLONE_NEWPID);
  Child b(
      [](const Channel& ch) {
        ch.Signal();
        ch.Wait();
        return 0;
      },
      CLONE_NEWPID);
  const int32_t g_in_a = a.channel().ReceiveInt();
  ASSERT_EQ(b.channel().Wait(), 1);
  const pid_t g = FirstChildOf(a.pid());
  ASSERT_GT(g, 0);

  IdentityReader reader;
  const int32_t self = Gettid();
  auto seen = [&](int32_t target, int32_t observer) {
    absl::StatusOr<int32_t> pid = reader.PidAsSeenBy(target, observer);
    EXPECT_TRUE(pid.ok()) << pid.status();
    return pid.value_or(-1);
  };
  EXPECT_EQ(seen(getpid(), self), getpid());
  EXPECT_EQ(seen(a.pid(), self), a.pid());
  EXPECT_EQ(seen(g, self), g);  // two levels down

  EXPECT_EQ(seen(getpid(), a.pid()), 0);  // the parent is outside A's namespace
  EXPECT_EQ(seen(a.pid(), a.pid()), 1);
  EXPECT_EQ(seen(g, a.pid()), g_in_a);
  EXPECT_EQ(g_in_a, 2);

  EXPECT_EQ(seen(g, g), 1);
  EXPECT_EQ(seen(a.pid(), g), 0);
  EXPECT_EQ(seen(getpid(), g), 0);

  // Same depth, different namespaces: depth alone would answer 1.
  EXPECT_EQ(seen(b.pid(), b.pid()), 1);
  EXPECT_EQ(seen(a.pid(), b.pid()), 0);
  EXPECT_EQ(seen(b.pid(), a.pid()), 0);
  EXPECT_EQ(seen(g, b.pid()), 0);

  EXPECT_EQ(reader.PidAsSeenBy(a.pid(), 0x7ffffff0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(a.Finish(), 0);
  EXPECT_EQ(b.Finish(), 0);
}

// Unprivileged mode, simulated: a child enters a user namespace S whose maps the test
// writes, becomes S's root (kernel 100000:200000), and runs a reader told about S.
TEST(IdentityReaderTest, UnprivilegedModeTranslatesThroughTheSupervisorsMaps) {
  Child child([](const Channel& ch) {
    CHILD_CHECK(unshare(CLONE_NEWUSER) == 0);
    ch.Signal();
    ch.Wait();  // S's maps written
    CHILD_CHECK(setgroups(0, nullptr) == 0);
    CHILD_CHECK(setresgid(0, 0, 0) == 0);
    CHILD_CHECK(setresuid(0, 0, 0) == 0);
    CHILD_CHECK(prctl(PR_SET_DUMPABLE, 1) == 0);  // see NestedUserNamespaces...

    absl::StatusOr<IdMap> uid_map = IdMap::Parse("0 100000 65536\n");
    absl::StatusOr<IdMap> gid_map = IdMap::Parse("0 200000 65536\n");
    CHILD_CHECK(uid_map.ok() && gid_map.ok());
    IdentityReader reader(std::make_pair(*uid_map, *gid_map), KUid(0), KGid(0));

    absl::StatusOr<CallerIdentity> self = reader.Read(Gettid());
    if (!self.ok()) std::fprintf(stderr, "%s\n", self.status().ToString().c_str());
    CHILD_CHECK(self.ok());
    CHILD_CHECK(self->cred.ruid == KUid(100000));
    CHILD_CHECK(self->cred.fsuid == KUid(100000));
    CHILD_CHECK(self->cred.egid == KGid(200000));
    CHILD_CHECK(self->cred.groups.empty());
    const std::shared_ptr<const UserNamespace> s = self->cred.user_ns;
    CHILD_CHECK(s->level() == 1);
    CHILD_CHECK(s->parent() == UserNamespace::Initial());
    CHILD_CHECK(s->owner() == KUid(0));
    CHILD_CHECK(s->uid_map().extents().size() == 1);
    CHILD_CHECK(s->uid_map().extents()[0].lower_first == 100000);

    // A namespace T below S, mapped by S's root: lower ids written and read in S's terms.
    Child grandchild([](const Channel& gch) {
      CHILD_CHECK(unshare(CLONE_NEWUSER) == 0);
      gch.Signal();
      gch.Wait();
      return 0;
    });
    CHILD_CHECK(grandchild.channel().Wait() == 1);
    const std::string proc = absl::StrCat("/proc/", grandchild.pid());
    CHILD_CHECK(WriteFile(proc + "/uid_map", "0 500 10\n"));
    CHILD_CHECK(WriteFile(proc + "/gid_map", "0 600 10\n"));
    absl::StatusOr<CallerIdentity> g = reader.Read(grandchild.pid());
    if (!g.ok()) std::fprintf(stderr, "%s\n", g.status().ToString().c_str());
    CHILD_CHECK(g.ok());
    CHILD_CHECK(g->cred.ruid == KUid(100000));
    const std::shared_ptr<const UserNamespace>& t = g->cred.user_ns;
    CHILD_CHECK(t->level() == 2);
    CHILD_CHECK(t->parent() == s);
    CHILD_CHECK(t->owner() == KUid(100000));
    CHILD_CHECK(t->group() == KGid(200000));
    CHILD_CHECK((t->uid_map().extents() ==
                 std::vector<IdMapExtent>{{.first = 0, .lower_first = 100500, .count = 10}}));
    CHILD_CHECK((t->gid_map().extents() ==
                 std::vector<IdMapExtent>{{.first = 0, .lower_first = 200600, .count = 10}}));
    CHILD_CHECK(grandchild.Finish() == 0);

    // The test process lives in the initial namespace, above the supervisor's: not
    // resolvable (ptrace access to its ns/ already fails; NS_GET_PARENT would answer EPERM).
    CHILD_CHECK(!reader.UserNamespaceOf(getppid()).ok());
    return 0;
  });
  const Channel ch = child.channel();
  ASSERT_EQ(ch.Wait(), 1);
  const std::string proc = absl::StrCat("/proc/", child.pid());
  ASSERT_TRUE(WriteFile(proc + "/uid_map", "0 100000 65536\n"));
  ASSERT_TRUE(WriteFile(proc + "/gid_map", "0 200000 65536\n"));
  ch.Signal();
  EXPECT_EQ(child.Finish(), 0);
}

}  // namespace
}  // namespace mqsentry::sentry
