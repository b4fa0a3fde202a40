// Conformance tests for RLIMIT_MSGQUEUE accounting (spec §3.5): the exact per-queue cost,
// the (usage + cost) > soft-limit check, who is charged (the real uid, across IPC
// namespaces), and when the charge is released (unlinked and closed).
//
// The usage counter belongs to a real uid and outlives IPC namespaces, so every test runs
// in a forked child with its own IPC namespace and its own uids (DistinctUid), never reused
// by another test or another run.
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/util/mq_test_util.h"

namespace mqsentry::testing {
namespace {

// §3.5: "cost = maxmsg*48 + min(maxmsg, 32768)*48 + maxmsg*msgsize".
long Cost(long maxmsg, long msgsize) {
  return maxmsg * 48 + std::min(maxmsg, 32768L) * 48 + maxmsg * msgsize;
}

int SetMsgqueueLimit(rlim_t soft) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_MSGQUEUE, &rl) != 0) return -1;
  rl.rlim_cur = soft;
  return setrlimit(RLIMIT_MSGQUEUE, &rl);
}

// Runs fn in a child that has its own IPC namespace, soft RLIMIT_MSGQUEUE `limit`, and all
// ids set to `uid` (so it is charged to `uid` and has no capabilities).
int RunAsUserWithLimit(uid_t uid, rlim_t limit, const std::function<int()>& fn) {
  return RunInFreshIpcNamespace([&]() -> int {
    CHILD_CHECK_OK(SetMsgqueueLimit(limit));
    CHILD_CHECK_OK(SwitchToUser(uid, uid));
    return fn();
  });
}

int Create(const std::string& name, long maxmsg, long msgsize) {
  const mq_attr attr = MakeAttr(maxmsg, msgsize);
  return RawMqOpen(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
}

struct CostCase {
  long maxmsg;
  long msgsize;
  rlim_t minimum;
};

// §3.5 [E]: "Measured minimum RLIMIT_MSGQUEUE values needed to create one queue: 1x1 97,
// 1x128 224, 3x100 588, 10x8192 82880" -- and "Equality is allowed": one byte less is EMFILE.
TEST(MqLimits, MinimumRlimitIsExactlyTheCost_Spec3_5) {
  const CostCase cases[] = {{1, 1, 97}, {1, 128, 224}, {3, 100, 588}, {10, 8192, 82880}};
  int slot = 0;
  for (const CostCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.maxmsg << "x" << c.msgsize);
    EXPECT_EQ(Cost(c.maxmsg, c.msgsize), static_cast<long>(c.minimum));
    EXPECT_CHILD_OK(RunAsUserWithLimit(DistinctUid(slot++), c.minimum, [&]() -> int {
      CHILD_CHECK_OK(Create(UniqueName(), c.maxmsg, c.msgsize));
      return 0;
    }));
    EXPECT_CHILD_OK(RunAsUserWithLimit(DistinctUid(slot++), c.minimum - 1, [&]() -> int {
      const std::string name = UniqueName();
      CHILD_CHECK_ERRNO(Create(name, c.maxmsg, c.msgsize), EMFILE);
      // Nothing was created.
      CHILD_CHECK_ERRNO(RawMqOpen(name.c_str(), O_RDONLY), ENOENT);
      return 0;
    }));
  }
}

// §3.5: "The failure condition is (usage + cost) > rlimit": the costs of a user's queues
// add up.
TEST(MqLimits, CostsOfQueuesAddUp_Spec3_5) {
  EXPECT_CHILD_OK(RunAsUserWithLimit(DistinctUid(10), 2 * 97 + 223, [&]() -> int {
    CHILD_CHECK_OK(Create(UniqueName(), 1, 1));
    CHILD_CHECK_OK(Create(UniqueName(), 1, 1));
    CHILD_CHECK_ERRNO(Create(UniqueName(), 1, 128), EMFILE);  // needs 224, 223 left
    CHILD_CHECK_OK(Create(UniqueName(), 1, 127));             // needs 223
    CHILD_CHECK_ERRNO(Create(UniqueName(), 1, 1), EMFILE);
    return 0;
  }));
}

// §3.5: "Under the default limit of 819200, a user can create 9 default-size queues; the
// 10th fails with EMFILE."
TEST(MqLimits, TenthDefaultQueueIsEmfileUnderDefaultLimit_Spec3_5) {
  EXPECT_CHILD_OK(RunAsUserWithLimit(DistinctUid(11), 819200, [&]() -> int {
    for (int i = 0; i < 9; ++i) {
      CHILD_CHECK_OK(RawMqOpen(UniqueName().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, nullptr));
    }
    CHILD_CHECK_ERRNO(RawMqOpen(UniqueName().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, nullptr),
                      EMFILE);
    return 0;
  }));
}

// §3.4 step 4: "Any EINVAL is raised first: with rlimit 0 and maxmsg 0 the result is EINVAL."
TEST(MqLimits, EinvalComesBeforeEmfile_Spec3_4) {
  EXPECT_CHILD_OK(RunAsUserWithLimit(DistinctUid(12), 0, [&]() -> int {
    const std::string name = UniqueName();
    CHILD_CHECK_ERRNO(Create(name, 0, 1), EINVAL);
    CHILD_CHECK_ERRNO(Create(name, 11, 1), EINVAL);
    CHILD_CHECK_ERRNO(Create(name, 1, 1), EMFILE);
    CHILD_CHECK_ERRNO(RawMqOpen(name.c_str(), O_RDWR | O_CREAT, 0600, nullptr), EMFILE);
    return 0;
  }));
}

// §3.1 step 6.6: ENOSPC (queues_max) "comes before attribute validation", and so before the
// rlimit check too.
TEST(MqLimits, EnospcComesBeforeEmfile_Spec3_1) {
  EXPECT_CHILD_OK(RunInFreshIpcNamespace([]() -> int {
    CHILD_CHECK_OK(WriteSysctl("queues_max", "0"));
    CHILD_CHECK_OK(SetMsgqueueLimit(0));
    CHILD_CHECK_OK(SwitchToUser(DistinctUid(13), DistinctUid(13)));
    CHILD_CHECK_ERRNO(Create(UniqueName(), 1, 1), ENOSPC);
    return 0;
  }));
}

// §3.5: "Only when the queue inode is destroyed: the queue must be unlinked and have no open
// descriptors. A queue that is closed but still linked keeps the charge. So does a queue
// that is unlinked but still open."
TEST(MqLimits, ChargeIsReleasedOnlyWhenUnlinkedAndClosed_Spec3_5) {
  EXPECT_CHILD_OK(RunAsUserWithLimit(DistinctUid(14), 97, [&]() -> int {
    const std::string a = UniqueName(), b = UniqueName();
    int fd = Create(a, 1, 1);
    CHILD_CHECK_OK(fd);
    CHILD_CHECK_ERRNO(Create(b, 1, 1), EMFILE);
    // Closed but linked: still charged.
    close(fd);
    CHILD_CHECK_ERRNO(Create(b, 1, 1), EMFILE);
    // Unlinked but open: still charged.
    fd = RawMqOpen(a.c_str(), O_RDWR);
    CHILD_CHECK_OK(fd);
    CHILD_CHECK_OK(RawMqUnlink(a.c_str()));
    CHILD_CHECK_ERRNO(Create(b, 1, 1), EMFILE);
    // Unlinked and closed: released.
    close(fd);
    CHILD_CHECK_OK(Create(b, 1, 1));
    return 0;
  }));
}

// §3.5: "The real uid of the creator ... With ruid=12345 and euid=23456, the charge goes to
// 12345."
TEST(MqLimits, ChargeGoesToTheRealUid_Spec3_5) {
  const uid_t ruid = DistinctUid(15), euid = DistinctUid(16);
  EXPECT_CHILD_OK(RunInFreshIpcNamespace([&]() -> int {
    CHILD_CHECK_OK(SetMsgqueueLimit(97));
    const std::string q1 = UniqueName(), q2 = UniqueName(), q3 = UniqueName();
    // ruid A, euid B creates a 1x1 queue (97 bytes) and leaves it linked.
    CHILD_CHECK_EQ(RunInChild([&]() -> int {
                     CHILD_CHECK_OK(setresgid(ruid, ruid, ruid));
                     CHILD_CHECK_OK(setresuid(ruid, euid, euid));
                     CHILD_CHECK_OK(Create(q1, 1, 1));
                     return 0;
                   }),
                   0);
    // B (as real uid) has nothing charged.
    CHILD_CHECK_EQ(RunInChild([&]() -> int {
                     CHILD_CHECK_OK(SwitchToUser(euid, euid));
                     CHILD_CHECK_OK(Create(q2, 1, 1));
                     return 0;
                   }),
                   0);
    // A is at its limit.
    CHILD_CHECK_EQ(RunInChild([&]() -> int {
                     CHILD_CHECK_OK(SwitchToUser(ruid, ruid));
                     CHILD_CHECK_ERRNO(Create(q3, 1, 1), EMFILE);
                     return 0;
                   }),
                   0);
    // Root (fsuid 0 owns the namespace's root directory) cleans up; the charges return.
    CHILD_CHECK_OK(RawMqUnlink(q1.c_str()));
    CHILD_CHECK_OK(RawMqUnlink(q2.c_str()));
    CHILD_CHECK_EQ(RunInChild([&]() -> int {
                     CHILD_CHECK_OK(SwitchToUser(ruid, ruid));
                     CHILD_CHECK_OK(Create(q3, 1, 1));
                     return 0;
                   }),
                   0);
    return 0;
  }));
}

// §3.5: "The counter is shared across IPC namespaces. Queues left behind in other IPC
// namespaces still count."
TEST(MqLimits, UsageIsSharedAcrossIpcNamespaces_Spec3_5) {
  const uid_t uid = DistinctUid(17);
  EXPECT_CHILD_OK(RunInFreshIpcNamespace([&]() -> int {
    CHILD_CHECK_OK(SetMsgqueueLimit(97));
    const std::string name = UniqueName();
    // Namespace 1 (this process's): a queue charged to uid stays linked.
    CHILD_CHECK_EQ(RunInChild([&]() -> int {
                     CHILD_CHECK_OK(SwitchToUser(uid, uid));
                     CHILD_CHECK_OK(Create(name, 1, 1));
                     return 0;
                   }),
                   0);
    // Namespace 2: the same uid is already at its limit there.
    CHILD_CHECK_EQ(RunInFreshIpcNamespace([&]() -> int {
                     CHILD_CHECK_ERRNO(RawMqOpen(name.c_str(), O_RDONLY), ENOENT);
                     CHILD_CHECK_OK(SwitchToUser(uid, uid));
                     CHILD_CHECK_ERRNO(Create(name, 1, 1), EMFILE);
                     return 0;
                   }),
                   0);
    CHILD_CHECK_OK(RawMqUnlink(name.c_str()));
    return 0;
  }));
}

// §3.5: "using the soft RLIMIT_MSGQUEUE of the creating task": the usage belongs to the
// user, the limit to whichever task creates the next queue.
TEST(MqLimits, LimitOfTheCreatingTaskApplies_Spec3_5) {
  const uid_t uid = DistinctUid(18);
  EXPECT_CHILD_OK(RunInFreshIpcNamespace([&]() -> int {
    auto create_with_limit = [&](rlim_t limit, int want_errno) {
      return RunInChild([&]() -> int {
        CHILD_CHECK_OK(SetMsgqueueLimit(limit));
        CHILD_CHECK_OK(SwitchToUser(uid, uid));
        if (want_errno == 0) {
          CHILD_CHECK_OK(Create(UniqueName(), 1, 1));
        } else {
          CHILD_CHECK_ERRNO(Create(UniqueName(), 1, 1), want_errno);
        }
        return 0;
      });
    };
    CHILD_CHECK_EQ(create_with_limit(819200, 0), 0);   // usage 97
    CHILD_CHECK_EQ(create_with_limit(97, EMFILE), 0);  // 97 + 97 > 97
    CHILD_CHECK_EQ(create_with_limit(193, EMFILE), 0);
    CHILD_CHECK_EQ(create_with_limit(194, 0), 0);  // usage 194
    CHILD_CHECK_EQ(create_with_limit(194, EMFILE), 0);
    return 0;
  }));
}

// A user namespace of the caller's own, mapping its uid and gid to themselves, with
// `extra` namespaces (CLONE_NEWIPC) made at the same time.
int UnshareOwnUserNamespace(int extra) {
  const uid_t uid = geteuid();
  const gid_t gid = getegid();
  // A task that changed its uids is not dumpable: its /proc files would be root's.
  if (prctl(PR_SET_DUMPABLE, 1) != 0) return -1;
  if (unshare(CLONE_NEWUSER | extra) != 0) return -1;
  auto write_file = [](const char* path, const std::string& text) {
    const int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    close(fd);
    return ok;
  };
  const bool ok =
      write_file("/proc/self/setgroups", "deny") &&
      write_file("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1") &&
      write_file("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1");
  return ok ? 0 : -1;
}

// §3.5: "Nested user namespaces are also checked against each ancestor's counter and
// against the rlimit that was recorded when each ancestor user namespace was created."
// Two children of one user namespace P, each in a user namespace of its own made while
// RLIMIT_MSGQUEUE was 5 x 97 bytes, each with a fresh counter of its own: both are also
// charged to (P, uid), whose ceiling is that recorded limit, so together they get 5
// queues of 97 bytes, not 5 each.
TEST(MqLimits, NestedUserNamespacesAreBoundedByTheRecordedLimit_Spec3_5) {
  const uid_t uid = DistinctUid(19);
  EXPECT_CHILD_OK(RunInChild([&]() -> int {
    CHILD_CHECK_OK(SwitchToUser(uid, uid));
    CHILD_CHECK_OK(UnshareOwnUserNamespace(0));  // P
    CHILD_CHECK_OK(SetMsgqueueLimit(5 * Cost(1, 1)));
    int ready[2], release[2];
    CHILD_CHECK_OK(pipe(ready));
    CHILD_CHECK_OK(pipe(release));
    // The first child keeps 3 queues (and its namespaces) alive.
    const pid_t first = ForkChild([&]() -> int {
      close(ready[0]);
      close(release[1]);
      CHILD_CHECK_OK(UnshareOwnUserNamespace(CLONE_NEWIPC));
      for (int i = 0; i < 3; ++i) CHILD_CHECK_OK(Create(UniqueName(), 1, 1));
      CHILD_CHECK_EQ(write(ready[1], "r", 1), 1);
      char byte;
      CHILD_CHECK_EQ(read(release[0], &byte, 1), 0);
      return 0;
    });
    CHILD_CHECK(first > 0);
    close(ready[1]);
    close(release[0]);
    char byte;
    CHILD_CHECK_EQ(read(ready[0], &byte, 1), 1);
    // The second gets the 2 that are left.
    const int second = RunInChild([&]() -> int {
      CHILD_CHECK_OK(UnshareOwnUserNamespace(CLONE_NEWIPC));
      CHILD_CHECK_OK(Create(UniqueName(), 1, 1));
      CHILD_CHECK_OK(Create(UniqueName(), 1, 1));
      CHILD_CHECK_ERRNO(Create(UniqueName(), 1, 1), EMFILE);
      return 0;
    });
    close(release[1]);
    CHILD_CHECK_EQ(WaitChild(first), 0);
    CHILD_CHECK_EQ(second, 0);
    return 0;
  }));
}

}  // namespace
}  // namespace mqsentry::testing
