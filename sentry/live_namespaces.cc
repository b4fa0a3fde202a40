// LiveIpcNamespaces: a scan of every task's ns/ipc link.
#include "sentry/live_namespaces.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <string>

namespace mqsentry::sentry {
namespace {

bool IsNumber(const char* s) {
  if (*s == 0) return false;
  for (; *s; ++s) {
    if (!std::isdigit(static_cast<unsigned char>(*s))) return false;
  }
  return true;
}

}  // namespace

absl::flat_hash_set<NsId> LiveIpcNamespaces() {
  absl::flat_hash_set<NsId> live;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return live;
  while (dirent* p = readdir(proc)) {
    if (!IsNumber(p->d_name)) continue;
    const int task_dir = openat(dirfd(proc), (std::string(p->d_name) + "/task").c_str(),
                                O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (task_dir < 0) continue;  // exited meanwhile
    DIR* tasks = fdopendir(task_dir);
    if (tasks == nullptr) {
      close(task_dir);
      continue;
    }
    while (dirent* t = readdir(tasks)) {
      if (!IsNumber(t->d_name)) continue;
      struct stat st;
      if (fstatat(task_dir, (std::string(t->d_name) + "/ns/ipc").c_str(), &st, 0) == 0) {
        live.insert(NsId{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)});
      }
    }
    closedir(tasks);
  }
  closedir(proc);
  return live;
}

}  // namespace mqsentry::sentry
