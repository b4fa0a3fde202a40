// mq_timedsend and mq_timedreceive steps (spec §5.1, §5.2): lengths around msgsize and
// beyond, priorities at and past MQ_PRIO_MAX, bad buffers, and every timeout edge. A call
// never waits: when its deadline is NULL or in the future and the descriptor is blocking,
// the deadline is replaced by an expired one (ETIMEDOUT instead of a wait).
#include <fcntl.h>
#include <mqueue.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/str_format.h"
#include "test/fuzz/args.h"
#include "test/fuzz/ops.h"

namespace mqsentry::fuzz {
namespace {

// The deadline to use: `picked`, unless it could make the call on `fd` wait.
Arg SafeTimeout(Context& ctx, uint64_t fd, const Arg& picked, bool may_block) {
  if (!may_block) return picked;
  // f_flags keep whatever bits mq_open was given (spec §3.3), bit 31 included: only -1
  // with errno set is a failure.
  errno = 0;
  const int flags = fcntl(static_cast<int>(fd), F_GETFL);
  if ((flags == -1 && errno != 0) || (flags & O_NONBLOCK) != 0) return picked;
  return ExpiredTimeout(ctx);
}

uint64_t PickLength(Rng& rng, bool receive) {
  if (rng.Percent(15)) return rng.Below(200);
  if (receive) {
    // Mostly at least any queue's msgsize (spec §5.2 3), so that messages come out.
    if (rng.Percent(60)) return rng.Pick<uint64_t>({8192, 12288, 16384, SIZE_MAX});
    return rng.Pick<uint64_t>({0, 1, 63, 64, 127, 128, 1024, 8191, uint64_t{1} << 40});
  }
  return rng.Pick<uint64_t>({0, 1, 16, 63, 64, 65, 100, 128, 1024, 8192, 8193, SIZE_MAX,
                             uint64_t{1} << 40});
}

}  // namespace

void MqTimedSendStep(Context& ctx) {
  const bool glibc = ctx.rng.Percent(15);
  ctx.Begin(glibc ? "glibc mq_timedsend" : "mq_timedsend");
  std::string fd_label;
  const uint64_t fd = ctx.PickFd(&fd_label, 85);
  const uint64_t len = PickLength(ctx.rng, false);
  const PtrKind kind = PickInKind(ctx);
  uint8_t* storage;
  size_t room;
  const uint64_t msg = ctx.arena.Pointer(kind, len, kRoMessage, true, &storage, &room, ctx.rng);
  // The message: bytes from the seed, as many as fit (the rest is the fill pattern).
  std::string bytes(std::min<uint64_t>({len, room, 16384}), '\0');
  for (char& c : bytes) c = static_cast<char>(ctx.rng.Next());
  Arena::Fill(storage, room, bytes);
  const Arg prio = PickPriority(ctx);
  bool may_block;
  const Arg picked = PickTimeout(ctx, &may_block);
  const Arg timeout = SafeTimeout(ctx, fd, picked, may_block);
  ctx.Arg(fd_label);
  ctx.Arg(PtrKindName(kind));
  ctx.Arg(len);
  ctx.Arg(prio.label);
  ctx.Arg(timeout.label);
  if (glibc) {
    ctx.Call([&] {
      return static_cast<long>(
          mq_timedsend(static_cast<mqd_t>(fd), reinterpret_cast<const char*>(msg), len,
                       static_cast<unsigned>(prio.value),
                       reinterpret_cast<const struct timespec*>(timeout.value)));
    });
  } else {
    ctx.Syscall(SYS_mq_timedsend, fd, msg, len, prio.value, timeout.value);
  }
  ctx.End();
}

void MqTimedReceiveStep(Context& ctx) {
  const bool glibc = ctx.rng.Percent(15);
  ctx.Begin(glibc ? "glibc mq_timedreceive" : "mq_timedreceive");
  std::string fd_label;
  const uint64_t fd = ctx.PickFd(&fd_label, 85);
  const uint64_t len = PickLength(ctx.rng, true);
  const PtrKind buf_kind = PickOutKind(ctx);
  uint8_t* buf_storage;
  size_t buf_room;
  const uint64_t buf =
      ctx.arena.Pointer(buf_kind, len, kRoMessage, true, &buf_storage, &buf_room, ctx.rng);
  uint64_t prio = 0;
  std::string prio_label = "NULL";
  uint8_t* prio_storage = nullptr;
  if (ctx.rng.Percent(70)) {
    PtrKind k = PickOutKind(ctx);
    if (k == PtrKind::kStraddle && ctx.Gap("prio-straddle")) k = PtrKind::kValid;
    size_t room;
    prio = ctx.arena.Pointer(k, sizeof(unsigned), kRoMessage, false, &prio_storage, &room,
                             ctx.rng);
    if (room < sizeof(unsigned)) prio_storage = nullptr;
    prio_label = PtrKindName(k);
  }
  bool may_block;
  const Arg picked = PickTimeout(ctx, &may_block);
  const Arg timeout = SafeTimeout(ctx, fd, picked, may_block);
  ctx.Arg(fd_label);
  ctx.Arg(PtrKindName(buf_kind));
  ctx.Arg(len);
  ctx.Arg(prio_label);
  ctx.Arg(timeout.label);
  long n;
  if (glibc) {
    n = ctx.Call([&] {
      return static_cast<long>(
          mq_timedreceive(static_cast<mqd_t>(fd), reinterpret_cast<char*>(buf), len,
                          reinterpret_cast<unsigned*>(prio),
                          reinterpret_cast<const struct timespec*>(timeout.value)));
    });
  } else {
    n = ctx.Syscall(SYS_mq_timedreceive, fd, buf, len, prio, timeout.value);
  }
  if (n >= 0 && prio_storage != nullptr) {
    unsigned p;
    memcpy(&p, prio_storage, sizeof(p));
    ctx.Out("prio=", p);
  }
  if (n > 0 && buf_storage != nullptr) {
    ctx.Out(absl::StrFormat("msg=%016x", Hash(buf_storage, std::min<uint64_t>(n, buf_room))));
  }
  ctx.End();
}

}  // namespace mqsentry::fuzz
