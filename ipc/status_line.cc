// FormatStatusLine: the kernel's mqueue_read_file() text (spec §8.1).
#include "ipc/status_line.h"

#include <cstdio>
#include <string>

namespace mqsentry::ipc {

std::string FormatStatusLine(uint64_t qsize, int notify, int signo, int notify_pid) {
  // ipc/mqueue.c formats into char buffer[FILENT_SIZE] with snprintf: same truncation here.
  char buffer[kStatusFileSize];
  const int n =
      std::snprintf(buffer, sizeof(buffer), "QSIZE:%-10lu NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n",
                    static_cast<unsigned long>(qsize), notify, signo, notify_pid);
  if (n < 0) return std::string();
  const size_t len = static_cast<size_t>(n) < sizeof(buffer) ? n : sizeof(buffer) - 1;
  return std::string(buffer, len);
}

}  // namespace mqsentry::ipc
