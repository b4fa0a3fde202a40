// mount_race: tries to get an mqueue superblock past a check of the type string. A second
// thread flips the type buffer between "tmpfs" and "mqueue" while the main thread calls
// mount(2) and fsopen(2) (+ fsconfig CREATE + fsmount) with it, TRIES times each. Every
// filesystem that mounts is identified by its statfs magic and removed; at the end
// /proc/self/mountinfo is searched for an mqueue mount.
//
//   mount_race [--userns] TRIES
//     --userns: first unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWIPC) with uid/gid 0 mapped
//               to the caller's, where Linux lets anyone mount tmpfs and mqueue.
// Prints: "mount: T tries, K mounted, M mqueue", "fsopen: T tries, K mounted, M mqueue",
// "mountinfo: M mqueue" (and the first error of each call, for the log).
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

namespace {

constexpr long kMqueueMagic = 0x19800202;

// One aligned 8-byte word, rewritten whole: the kernel reads either name, never a mix.
alignas(8) char g_type[8];
std::atomic<bool> g_stop{false};

uint64_t Word(const char* s) {
  uint64_t w = 0;
  std::memcpy(&w, s, std::strlen(s) + 1);
  return w;
}

void Flip() {
  const uint64_t tmpfs = Word("tmpfs"), mqueue = Word("mqueue");
  auto* word = reinterpret_cast<uint64_t*>(g_type);
  // Each name is held for a while: back-to-back stores leave the line mostly in its last
  // state, and a reader would see "tmpfs" too rarely to prove anything.
  auto hold = [] {
    for (int i = 0; i < 64; ++i) __builtin_ia32_pause();
  };
  while (!g_stop.load(std::memory_order_relaxed)) {
    __atomic_store_n(word, tmpfs, __ATOMIC_RELAXED);
    hold();
    __atomic_store_n(word, mqueue, __ATOMIC_RELAXED);
    hold();
  }
}

bool WriteFile(const char* path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

bool EnterOwnNamespaces() {
  const uid_t uid = geteuid();
  const gid_t gid = getegid();
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC) != 0) {
    std::perror("unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWIPC)");
    return false;
  }
  return WriteFile("/proc/self/setgroups", "deny") &&
         WriteFile("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") &&
         WriteFile("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
}

struct Count {
  int mounted = 0;
  int mqueue = 0;
  int first_errno = 0;
};

void Report(const char* call, int tries, const Count& c) {
  std::printf("%s: %d tries, %d mounted, %d mqueue\n", call, tries, c.mounted, c.mqueue);
  if (c.first_errno != 0) {
    std::fprintf(stderr, "%s: first error %s\n", call, strerrorname_np(c.first_errno));
  }
}

void Failed(Count& c) {
  if (c.first_errno == 0) c.first_errno = errno;
}

int MqueueMounts() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.find(" - mqueue ") != std::string::npos) ++n;
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  int arg = 1;
  const bool userns = argc > 1 && std::strcmp(argv[1], "--userns") == 0;
  if (userns) ++arg;
  if (arg >= argc) return 2;
  const int tries = std::atoi(argv[arg]);
  if (userns && !EnterOwnNamespaces()) return 1;
  char dir[] = "/tmp/mount-race-XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  std::memcpy(g_type, "tmpfs", 6);
  std::thread flipper(Flip);

  Count m;
  for (int i = 0; i < tries; ++i) {
    if (mount("none", dir, g_type, 0, nullptr) != 0) {
      Failed(m);
      continue;
    }
    ++m.mounted;
    struct statfs sf;
    if (statfs(dir, &sf) == 0 && sf.f_type == kMqueueMagic) ++m.mqueue;
    umount2(dir, MNT_DETACH);
  }
  Count f;
  for (int i = 0; i < tries; ++i) {
    const int fs = static_cast<int>(syscall(SYS_fsopen, g_type, FSOPEN_CLOEXEC));
    if (fs < 0) {
      Failed(f);
      continue;
    }
    const int mnt = syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0
                        ? static_cast<int>(syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0))
                        : -1;
    if (mnt < 0) {
      Failed(f);
      close(fs);
      continue;
    }
    ++f.mounted;
    struct statfs sf;
    if (fstatfs(mnt, &sf) == 0 && sf.f_type == kMqueueMagic) ++f.mqueue;
    close(mnt);
    close(fs);
  }
  g_stop = true;
  flipper.join();
  rmdir(dir);
  Report("mount", tries, m);
  Report("fsopen", tries, f);
  std::printf("mountinfo: %d mqueue\n", MqueueMounts());
  return 0;
}
