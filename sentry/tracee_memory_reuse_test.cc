// A trapped call's memory is never another process's, even when the caller's tid is
// reused. In a PID namespace of its own (so that ns_last_pid picks the next pid), a
// "supervisor" receives a call from child A, A is SIGKILLed and reaped, and child B is
// made with A's pid and the same memory layout. Reads and writes through the platform
// for A's call must then fail and leave B untouched, while a plain process_vm_writev to
// that tid (the old way) reaches B: the control that proves the tid was reused.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "sentry/platform.h"
#include "sentry/seccomp_platform.h"
#include "sentry/test_support.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {
namespace {

constexpr char kOriginal[] = "the new process's own bytes";
constexpr char kEvil[] = "bytes meant for the dead one";

bool WriteFile(const char* path, const std::string& text) {
  UniqueFd fd(open(path, O_WRONLY | O_CLOEXEC));
  return fd.valid() && write(fd.get(), text.data(), text.size()) ==
                           static_cast<ssize_t>(text.size());
}

// Runs as pid 1 of a new PID namespace with its own /proc. 0 on success, else a step code.
int Supervisor(bool control) {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 10;
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) return 11;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  // Shared by layout with both children (they are forks of this process).
  char* buffer = static_cast<char*>(
      mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (buffer == MAP_FAILED) return 12;
  std::memcpy(buffer, kOriginal, sizeof(kOriginal));

  absl::StatusOr<testing::FilteredChild> a = testing::ForkFilteredChild(
      testing::AllMqRules(), [] { return static_cast<int>(syscall(SYS_mq_getsetattr, 3, 0, 0)); });
  if (!a.ok()) return 13;
  absl::StatusOr<std::unique_ptr<SeccompPlatform>> platform =
      SeccompPlatform::Create(a->listener.release());
  if (!platform.ok()) return 14;
  absl::StatusOr<TrappedCall> call = testing::ReceiveWithin(**platform);
  if (!call.ok() || call->tid != a->pid) return 15;
  // While A's call waits, the platform reaches A.
  char probe[sizeof(kOriginal)];
  if (!(*platform)->memory().Read(*call, reinterpret_cast<uint64_t>(buffer), probe,
                                  sizeof(probe)) ||
      std::memcmp(probe, kOriginal, sizeof(kOriginal)) != 0) {
    return 16;
  }

  kill(a->pid, SIGKILL);
  if (testing::WaitForExit(a->pid) != 128 + SIGKILL) return 17;
  // The next pid is A's.
  if (!WriteFile("/proc/sys/kernel/ns_last_pid", std::to_string(a->pid - 1))) return 18;
  int go[2], verdict[2];
  if (pipe2(go, O_CLOEXEC) != 0 || pipe2(verdict, O_CLOEXEC) != 0) return 19;
  const pid_t b = fork();
  if (b < 0) return 20;
  if (b == 0) {
    char c;
    if (read(go[0], &c, 1) != 1) _exit(1);
    const bool untouched = std::memcmp(buffer, kOriginal, sizeof(kOriginal)) == 0;
    _exit(untouched ? 0 : 2);
  }
  if (b != call->tid) {
    kill(b, SIGKILL);
    return 21;  // the reuse did not happen: the test proves nothing
  }
  const uint64_t addr = reinterpret_cast<uint64_t>(buffer);
  int result = 0;
  if (control) {
    // The old way: a tid is all it takes to reach B.
    iovec l{const_cast<char*>(kEvil), sizeof(kEvil)}, r{buffer, sizeof(kEvil)};
    if (process_vm_writev(call->tid, &l, 1, &r, 1, 0) != static_cast<ssize_t>(sizeof(kEvil))) {
      result = 22;
    }
  } else {
    TraceeMemory& memory = (*platform)->memory();
    if (memory.Write(*call, addr, kEvil, sizeof(kEvil))) result = 23;
    const MemoryWrite w{addr, kEvil, sizeof(kEvil)};
    if (memory.WriteAll(*call, std::span<const MemoryWrite>(&w, 1)) != WriteOutcome::kGone) {
      result = 24;
    }
    if (memory.Read(*call, addr, probe, sizeof(probe))) result = 25;
    std::string name;
    if (memory.ReadName(*call, addr, &name) != EFAULT) result = 26;
  }
  (void)!write(go[1], "g", 1);
  const int b_exit = testing::WaitForExit(b);
  if (result != 0) return result;
  // B untouched: 0; B written: 2.
  return b_exit == 0 ? 0 : 30 + b_exit;
}

// Runs Supervisor() in a fresh PID and mount namespace (and user namespace when not
// root); its exit code.
int InNewPidNamespace(bool control) {
  const pid_t outer = fork();
  if (outer < 0) return -1;
  if (outer == 0) {
    int flags = CLONE_NEWPID | CLONE_NEWNS;
    const uid_t uid = geteuid();
    const gid_t gid = getegid();
    if (uid != 0) flags |= CLONE_NEWUSER;
    if (unshare(flags) != 0) _exit(100);
    if (uid != 0) {
      if (!WriteFile("/proc/self/setgroups", "deny") ||
          !WriteFile("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
          !WriteFile("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1")) {
        _exit(101);
      }
    }
    const pid_t init = fork();  // pid 1 of the new namespace
    if (init < 0) _exit(102);
    if (init == 0) _exit(Supervisor(control));
    _exit(testing::WaitForExit(init));
  }
  return testing::WaitForExit(outer);
}

TEST(TraceeMemoryReuseTest, ControlAPlainTidReachesTheProcessThatReusedIt) {
  EXPECT_EQ(InNewPidNamespace(/*control=*/true), 32) << "expected B to be written";
}

TEST(TraceeMemoryReuseTest, NothingReachesTheProcessThatReusedADeadCallersTid) {
  EXPECT_EQ(InNewPidNamespace(/*control=*/false), 0);
}

}  // namespace
}  // namespace mqsentry::sentry
