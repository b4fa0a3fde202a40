// CookieChannels: socket pairs that carry SIGEV_THREAD cookies to the program.
#include "sentry/cookie_channels.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <vector>

namespace mqsentry::sentry {

bool CookieChannels::Hung(int fd) {
  // The supervisor's end is shut down for reading (so POLLIN and POLLRDHUP are always
  // set); POLLHUP comes only when the program's end has been released.
  pollfd p{fd, POLLOUT, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

std::optional<uint64_t> CookieChannels::Find(int sock) {
  struct stat st;
  if (fstat(sock, &st) != 0 || !S_ISSOCK(st.st_mode)) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto it = by_ino_.find(st.st_ino);
  if (it == by_ino_.end()) return std::nullopt;
  auto ch = channels_.find(it->second);
  // A channel whose program end is gone may share the number of a newer socket.
  if (ch == channels_.end() || Hung(ch->second.supervisor_end.get())) return std::nullopt;
  return it->second;
}

std::optional<CookieChannels::Created> CookieChannels::Create(bool nonblocking) {
  absl::MutexLock lock(&mu_);
  if (channels_.size() >= sweep_at_ || channels_.size() >= max_channels_) SweepLocked();
  if (channels_.size() >= max_channels_) return std::nullopt;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return std::nullopt;
  UniqueFd program_end(sv[0]);
  UniqueFd supervisor_end(sv[1]);
  struct stat st;
  if (fstat(program_end.get(), &st) != 0) return std::nullopt;
  // Shutting our end for reading shuts the program's for writing (unix_shutdown()).
  if (shutdown(supervisor_end.get(), SHUT_RD) != 0) return std::nullopt;
  if (nonblocking && fcntl(program_end.get(), F_SETFL, O_NONBLOCK) != 0) return std::nullopt;
  const uint64_t id = next_id_++;
  by_ino_[st.st_ino] = id;
  channels_.emplace(id, Channel{std::move(supervisor_end), st.st_ino});
  return Created{id, std::move(program_end)};
}

bool CookieChannels::Send(uint64_t id, const std::array<uint8_t, 32>& cookie) {
  absl::MutexLock lock(&mu_);
  auto it = channels_.find(id);
  if (it == channels_.end()) return false;
  return send(it->second.supervisor_end.get(), cookie.data(), cookie.size(),
              MSG_DONTWAIT | MSG_NOSIGNAL) == static_cast<ssize_t>(cookie.size());
}

size_t CookieChannels::size() const {
  absl::MutexLock lock(&mu_);
  return channels_.size();
}

void CookieChannels::SweepLocked() {
  std::vector<pollfd> fds;
  std::vector<uint64_t> ids;
  fds.reserve(channels_.size());
  ids.reserve(channels_.size());
  for (const auto& [id, ch] : channels_) {
    fds.push_back(pollfd{ch.supervisor_end.get(), POLLOUT, 0});
    ids.push_back(id);
  }
  if (!fds.empty() && poll(fds.data(), fds.size(), 0) > 0) {
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLHUP | POLLERR | POLLNVAL))) continue;
      auto it = channels_.find(ids[i]);
      if (auto ino = by_ino_.find(it->second.program_ino);
          ino != by_ino_.end() && ino->second == ids[i]) {
        by_ino_.erase(ino);
      }
      channels_.erase(it);
    }
  }
  sweep_at_ = std::max<size_t>(64, 2 * channels_.size());
}

}  // namespace mqsentry::sentry
