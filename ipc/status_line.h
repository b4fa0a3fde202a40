// The text a read() of a queue descriptor returns: the status line (spec §8.1).
#ifndef MQSENTRY_IPC_STATUS_LINE_H_
#define MQSENTRY_IPC_STATUS_LINE_H_

#include <cstdint>
#include <string>

namespace mqsentry::ipc {

// i_size of a queue inode (FILENT_SIZE): lseek(SEEK_END) gives 80 although the line is
// normally 60 bytes (spec §8.1).
inline constexpr int64_t kStatusFileSize = 80;

// "QSIZE:%-10lu NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", formatted as the kernel does into
// an 80-byte buffer (so at most 79 characters). `notify` is the registered sigev_notify or
// 0, `signo` the SIGEV_SIGNAL signal or 0, `notify_pid` the owner's pid in the reader's PID
// namespace or 0.
std::string FormatStatusLine(uint64_t qsize, int notify, int signo, int notify_pid);

}  // namespace mqsentry::ipc

#endif  // MQSENTRY_IPC_STATUS_LINE_H_
