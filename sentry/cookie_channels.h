// CookieChannels: where SIGEV_THREAD cookies go (spec §6.3, §6.4).
//
// The kernel queues the 32-byte cookie on the registration's netlink socket from inside.
// A process cannot do that: a unicast to a netlink port needs CAP_NET_ADMIN over the
// socket's network namespace for every protocol but NETLINK_USERSOCK, a socket connect()ed
// to portid 0 accepts datagrams from the kernel only, and an address taken from
// getsockname() carries the socket's multicast groups. So at its first SIGEV_THREAD
// registration the program's socket is replaced, at the same descriptor number, by one end
// of an AF_UNIX SOCK_SEQPACKET pair whose other end the supervisor keeps (a channel). The
// supervisor then writes cookies into its own end and nowhere else:
//  - they reach only the program's end: a connected pair end accepts data from its peer
//    only, the program's end has no name another process could address, and a reconnect
//    of it elsewhere makes the supervisor's send fail, never go elsewhere;
//  - no privilege is used: the same works from an unprivileged supervisor;
//  - the program end is shut down for writing (the supervisor's end for reading), so what
//    the program writes into it fails with EPIPE instead of queueing in the supervisor.
// What the program can observe: the descriptor is now an AF_UNIX socket (getsockname,
// SO_DOMAIN, its inode); recv() gives the cookies as the netlink socket would.
//
// A channel costs the supervisor one descriptor, for as long as the program's end lives
// (its last close shows as POLLHUP on the supervisor's end). Every registration on the
// same socket shares it (glibc uses one socket per process), and the number of channels
// is bounded: at the bound, after dropping channels whose program end is gone, Create()
// fails and mq_notify answers ENOMEM (as the kernel does when it cannot allocate the
// cookie's skb).
#ifndef MQSENTRY_SENTRY_COOKIE_CHANNELS_H_
#define MQSENTRY_SENTRY_COOKIE_CHANNELS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {

class CookieChannels {
 public:
  explicit CookieChannels(size_t max_channels) : max_channels_(max_channels) {}
  CookieChannels(const CookieChannels&) = delete;
  CookieChannels& operator=(const CookieChannels&) = delete;

  // The live channel whose program end is the socket `sock` (any descriptor of it).
  std::optional<uint64_t> Find(int sock) ABSL_LOCKS_EXCLUDED(mu_);

  struct Created {
    uint64_t id = 0;        // never 0
    UniqueFd program_end;   // to install in the program; the supervisor's copy
  };
  // A new channel; nullopt at the bound or when the supervisor cannot make a socket pair
  // (the caller answers ENOMEM). `nonblocking`: the program end gets O_NONBLOCK, as the
  // socket it replaces had.
  std::optional<Created> Create(bool nonblocking) ABSL_LOCKS_EXCLUDED(mu_);

  // Queues one cookie on channel `id`'s program end, never blocking. False if the channel
  // is gone (its program end closed everywhere) or its queue is full: the cookie is
  // dropped, as the kernel's goes to a closed socket.
  bool Send(uint64_t id, const std::array<uint8_t, 32>& cookie) ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Channel {
    UniqueFd supervisor_end;
    uint64_t program_ino = 0;
  };
  // Drops channels whose program end is closed everywhere.
  void SweepLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static bool Hung(int fd);

  const size_t max_channels_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Channel> channels_ ABSL_GUARDED_BY(mu_);    // by id
  absl::flat_hash_map<uint64_t, uint64_t> by_ino_ ABSL_GUARDED_BY(mu_);     // ino -> id
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  size_t sweep_at_ ABSL_GUARDED_BY(mu_) = 64;
};

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_COOKIE_CHANNELS_H_
