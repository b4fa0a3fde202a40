// SCM_RIGHTS messages over SOCK_SEQPACKET sockets.
#include "sentry/fd_passing.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace mqsentry::sentry {

absl::Status SendMessage(int sock, absl::string_view data, int fd) {
  if (data.empty()) return absl::InvalidArgumentError("SendMessage: empty message");
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return absl::ErrnoToStatus(errno, "sendmsg");
  if (static_cast<size_t>(n) != data.size()) {
    return absl::InternalError(absl::StrCat("sendmsg: sent ", n, " of ", data.size(), " bytes"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ReceivedMessage> ReceiveMessage(int sock, size_t max_size) {
  ReceivedMessage out;
  std::string buffer(max_size + 1, '\0');  // one spare byte to detect truncation
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return absl::ErrnoToStatus(errno, "recvmsg");
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len == CMSG_LEN(sizeof(int))) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
      out.fd.reset(fd);
    }
  }
  if ((msg.msg_flags & MSG_CTRUNC) != 0) {
    return absl::InternalError("recvmsg: control data truncated (more than one fd?)");
  }
  if (n == 0) {
    out.eof = true;
    return out;
  }
  if (static_cast<size_t>(n) > max_size || (msg.msg_flags & MSG_TRUNC) != 0) {
    return absl::InternalError(absl::StrCat("recvmsg: message longer than ", max_size, " bytes"));
  }
  buffer.resize(n);
  out.data = std::move(buffer);
  return out;
}

}  // namespace mqsentry::sentry
