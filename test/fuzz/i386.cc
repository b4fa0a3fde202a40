// i386 steps: the six calls through `int $0x80` from this 64-bit program, with the compat
// layouts (spec §1.1): a 32-byte mq_attr of ints, old_timespec32 for the time32 send and
// receive (the time64 ones take the 64-bit timespec), a compat sigevent whose SIGEV_THREAD
// cookie pointer is sival_int, 32-bit lengths, and an attr mq_open reads only with
// O_CREAT. Registers are 32 bits: a 64-bit pointer or length is truncated, the same
// natively and sandboxed. The arena lies below 2 GiB, so its pointers fit.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/str_format.h"
#include "test/fuzz/args.h"
#include "test/fuzz/ops.h"

namespace mqsentry::fuzz {
namespace {

// i386 system call numbers (spec §1.1).
constexpr long kMqOpen = 277, kMqUnlink = 278, kMqTimedSend = 279, kMqTimedReceive = 280,
               kMqNotify = 281, kMqGetSetAttr = 282, kMqTimedSendTime64 = 418,
               kMqTimedReceiveTime64 = 419;

struct CompatAttr {
  int32_t flags, maxmsg, msgsize, curmsgs, pad[4];
};
static_assert(sizeof(CompatAttr) == 32);

struct CompatSigevent {
  int32_t value;  // sival_int, or the SIGEV_THREAD cookie's address
  int32_t signo;
  int32_t notify;
  uint8_t rest[52];
};
static_assert(sizeof(CompatSigevent) == 64);

uint32_t Low(uint64_t v) { return static_cast<uint32_t>(v); }

long Int80(long nr, uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e) {
  long ret;
  // The kernel clears r8-r11 on the way back from a compat call.
  asm volatile("int $0x80"
               : "=a"(ret)
               : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
               : "memory", "cc", "r8", "r9", "r10", "r11");
  return static_cast<int32_t>(ret);
}

// The step's call under test, as an i386 call: -1 and errno for -4095..-1.
long Call32(Context& ctx, long nr, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0,
            uint64_t d = 0, uint64_t e = 0) {
  return ctx.Call([&]() -> long {
    const long r = Int80(nr, Low(a), Low(b), Low(c), Low(d), Low(e));
    if (r < 0 && r > -4096) {
      errno = static_cast<int>(-r);
      return -1;
    }
    return r;
  });
}

// A compat mq_attr pointer: NULL, a valid struct with good or bad values, or bad pointer.
Arg PickCompatAttr(Context& ctx) {
  Rng& rng = ctx.rng;
  if (rng.Percent(40)) return {0, "NULL"};
  CompatAttr a{};
  a.flags = rng.Percent(80) ? 0 : static_cast<int32_t>(rng.Next());
  if (rng.Percent(85)) {
    a.maxmsg = rng.Pick<int32_t>({1, 2, 3, 5, 10});
    a.msgsize = rng.Pick<int32_t>({1, 16, 64, 128, 1024, 8192});
  } else {
    a.maxmsg = rng.Pick<int32_t>({0, -1, 11, 65536, INT32_MAX, INT32_MIN, 1});
    a.msgsize = rng.Pick<int32_t>({0, -1, 8193, 1 << 24, INT32_MAX, 1, 8192});
  }
  a.curmsgs = rng.Percent(80) ? 0 : static_cast<int32_t>(rng.Next());
  for (int32_t& p : a.pad) p = rng.Percent(90) ? 0 : static_cast<int32_t>(rng.Next());
  const PtrKind kind = PickInKind(ctx);
  uint8_t* storage;
  size_t room;
  const uint64_t p = ctx.arena.Pointer(kind, sizeof(a), kRoAttr, false, &storage, &room, rng);
  Arena::Fill(storage, room, std::string_view(reinterpret_cast<const char*>(&a), sizeof(a)));
  if (storage == nullptr) return {p, PtrKindName(kind)};
  return {p, absl::StrFormat("%s:{%d,%d,%d,%d}", PtrKindName(kind), a.flags, a.maxmsg,
                             a.msgsize, a.curmsgs)};
}

std::string CompatAttrText(const uint8_t* p) {
  CompatAttr a;
  memcpy(&a, p, sizeof(a));
  return absl::StrFormat("old={%d,%d,%d,%d,%d,%d,%d,%d}", a.flags, a.maxmsg, a.msgsize,
                         a.curmsgs, a.pad[0], a.pad[1], a.pad[2], a.pad[3]);
}

// The deadline to use: `picked`, unless it could make the call on `fd` wait.
Arg SafeTimeout(Context& ctx, uint64_t fd, const Arg& picked, bool may_block) {
  // A pointer whose low half is 0 is NULL here: wait forever.
  if (!may_block && Low(picked.value) != 0) return picked;
  errno = 0;
  const int flags = fcntl(static_cast<int>(fd), F_GETFL);
  if ((flags == -1 && errno != 0) || (flags & O_NONBLOCK) != 0) return picked;
  return ExpiredTimeout(ctx);  // {0, 0} as 64-bit, and as old_timespec32 too
}

uint64_t PickLength32(Rng& rng, bool receive) {
  if (rng.Percent(15)) return rng.Below(200);
  if (receive && rng.Percent(60)) return rng.Pick<uint64_t>({8192, 12288, 16384, 0xffffffff});
  return rng.Pick<uint64_t>({0, 1, 16, 64, 128, 1024, 8192, 8193, 0x80000000, 0xffffffff});
}

void Open(Context& ctx) {
  ctx.SetCall("i386 mq_open");
  const NameArg name = PickName(ctx);
  const uint64_t oflag = PickOflag(ctx);
  const uint64_t mode = PickMode(ctx.rng);
  const Arg attr = PickCompatAttr(ctx);
  ctx.Arg(name.label);
  ctx.Arg(absl::StrFormat("%#x", Low(oflag)), ", ", absl::StrFormat("%#o", Low(mode)), ", ",
          attr.label);
  const long fd = Call32(ctx, kMqOpen, name.value, oflag, mode, attr.value);
  if (fd >= 0) ctx.Remember(static_cast<int>(fd));
  ctx.End();
  TrimStep(ctx);
}

void Unlink(Context& ctx) {
  ctx.SetCall("i386 mq_unlink");
  const NameArg name = PickName(ctx);
  ctx.Arg(name.label);
  Call32(ctx, kMqUnlink, name.value);
  ctx.End();
}

void Send(Context& ctx) {
  const bool time64 = ctx.rng.Percent(50);
  ctx.SetCall(time64 ? "i386 mq_timedsend_time64" : "i386 mq_timedsend");
  std::string fd_label;
  const uint64_t fd = ctx.PickFd(&fd_label, 85);
  const uint64_t len = PickLength32(ctx.rng, false);
  const PtrKind kind = PickInKind(ctx);
  uint8_t* storage;
  size_t room;
  const uint64_t msg = ctx.arena.Pointer(kind, len, kRoMessage, true, &storage, &room, ctx.rng);
  std::string bytes(std::min<uint64_t>({len, room, 16384}), '\0');
  for (char& c : bytes) c = static_cast<char>(ctx.rng.Next());
  Arena::Fill(storage, room, bytes);
  const Arg prio = PickPriority(ctx);
  bool may_block;
  const Arg picked = PickTimeout(ctx, &may_block, !time64);
  const Arg timeout = SafeTimeout(ctx, fd, picked, may_block);
  ctx.Arg(fd_label);
  ctx.Arg(PtrKindName(kind));
  ctx.Arg(len);
  ctx.Arg(prio.label);
  ctx.Arg(timeout.label);
  Call32(ctx, time64 ? kMqTimedSendTime64 : kMqTimedSend, fd, msg, len, prio.value,
         timeout.value);
  ctx.End();
}

void Receive(Context& ctx) {
  const bool time64 = ctx.rng.Percent(50);
  ctx.SetCall(time64 ? "i386 mq_timedreceive_time64" : "i386 mq_timedreceive");
  std::string fd_label;
  const uint64_t fd = ctx.PickFd(&fd_label, 85);
  const uint64_t len = PickLength32(ctx.rng, true);
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
  const Arg picked = PickTimeout(ctx, &may_block, !time64);
  const Arg timeout = SafeTimeout(ctx, fd, picked, may_block);
  ctx.Arg(fd_label);
  ctx.Arg(PtrKindName(buf_kind));
  ctx.Arg(len);
  ctx.Arg(prio_label);
  ctx.Arg(timeout.label);
  const long n = Call32(ctx, time64 ? kMqTimedReceiveTime64 : kMqTimedReceive, fd, buf, len,
                        prio, timeout.value);
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

void Notify(Context& ctx) {
  ctx.SetCall("i386 mq_notify");
  Rng& rng = ctx.rng;
  std::string fd_label;
  const uint64_t fd = ctx.PickFd(&fd_label, 80);
  uint64_t sevp = 0;
  std::string label = "NULL";
  int notify = -1, signo = 0;
  if (rng.Percent(80)) {
    CompatSigevent sev{};
    const unsigned r = rng.Below(100);
    notify = r < 45 ? 0 : r < 65 ? 1 : r < 83 ? 2 : rng.Pick({3, 4, 99, -1});
    std::string value;
    if (notify == 2) {
      signo = rng.Percent(70) ? ctx.fixed.netlink
                              : rng.Pick({ctx.fixed.unix_dgram, ctx.fixed.dev_null, 999});
      const PtrKind ck = PickInKind(ctx);
      uint8_t* storage;
      size_t room;
      sev.value = static_cast<int32_t>(
          Low(ctx.arena.Pointer(ck, 32, kRoCookie, true, &storage, &room, rng)));
      std::string cookie(32, '\0');
      for (char& c : cookie) c = static_cast<char>(rng.Next());
      Arena::Fill(storage, room, cookie);
      value = absl::StrCat("cookie=", PtrKindName(ck));
    } else {
      signo = notify == 0 ? rng.Pick({0, SIGUSR1, SIGUSR2, SIGRTMIN, 40, SIGRTMAX, 65, -1,
                                      SIGKILL, SIGCHLD})
                          : static_cast<int>(rng.Next());
      sev.value = static_cast<int32_t>(rng.Next());
      value = absl::StrFormat("value=%#x", static_cast<uint32_t>(sev.value));
    }
    sev.signo = signo;
    sev.notify = notify;
    for (uint8_t& b : sev.rest) b = rng.Percent(50) ? 0 : static_cast<uint8_t>(rng.Next());
    const PtrKind kind = rng.Percent(88) ? PtrKind::kValid : PickInKind(ctx);
    uint8_t* storage;
    size_t room;
    sevp = ctx.arena.Pointer(kind, sizeof(sev), kRoSigevent, false, &storage, &room, rng);
    Arena::Fill(storage, room,
                std::string_view(reinterpret_cast<const char*>(&sev), sizeof(sev)));
    // The compat call reads only the first 16 bytes (MqAbi.I386NotifyReadsOnlyTheSigevents
    // First16Bytes): a sigevent that straddles after them is read, SIGKILL included.
    if (storage != nullptr && room >= 16) {
      label = absl::StrFormat("%s:{notify=%d, signo=%d, %s}", PtrKindName(kind), notify,
                              signo, value);
    } else {
      label = PtrKindName(kind);
      notify = -1;
    }
  }
  ctx.Arg(fd_label);
  ctx.Arg(label);
  const long ret = Call32(ctx, kMqNotify, fd, sevp);
  ctx.End();
  if (ret == 0 && (notify == 2 || sevp == 0)) ++ctx.cookies_since_drain;
  if (ret == 0 && notify == 0 && signo == SIGKILL) {
    // A queue that fires SIGKILL would end the run: unregister now.
    ctx.Begin("i386 mq_notify");
    ctx.Arg(fd_label, ", NULL (drop SIGKILL)");
    Call32(ctx, kMqNotify, fd, 0);
    ctx.End();
  }
}

void GetSetAttr(Context& ctx) {
  ctx.SetCall("i386 mq_getsetattr");
  Rng& rng = ctx.rng;
  std::string fd_label;
  const uint64_t fd = ctx.PickFd(&fd_label);
  uint64_t newattr = 0;
  std::string new_label = "NULL";
  if (rng.Percent(60)) {
    CompatAttr a{};
    a.flags = rng.Pick<int32_t>({0, 0, O_NONBLOCK, O_NONBLOCK, O_NONBLOCK | O_APPEND, -1,
                                 INT32_MIN | O_NONBLOCK});
    a.maxmsg = rng.Percent(70) ? 0 : static_cast<int32_t>(rng.Next());
    const PtrKind kind = PickInKind(ctx);
    uint8_t* storage;
    size_t room;
    newattr = ctx.arena.Pointer(kind, sizeof(a), kRoAttr, false, &storage, &room, rng);
    Arena::Fill(storage, room, std::string_view(reinterpret_cast<const char*>(&a), sizeof(a)));
    new_label = storage != nullptr
                    ? absl::StrFormat("%s:{flags=%#x}", PtrKindName(kind), a.flags)
                    : PtrKindName(kind);
  }
  uint64_t oldattr = 0;
  std::string old_label = "NULL";
  uint8_t* old_storage = nullptr;
  if (rng.Percent(70)) {
    const PtrKind kind = PickOutKind(ctx);
    size_t room;
    oldattr = ctx.arena.Pointer(kind, sizeof(CompatAttr), kRoAttr, false, &old_storage, &room,
                                rng);
    if (room < sizeof(CompatAttr)) old_storage = nullptr;
    old_label = PtrKindName(kind);
  }
  ctx.Arg(fd_label);
  ctx.Arg(new_label);
  ctx.Arg(old_label);
  const long ret = Call32(ctx, kMqGetSetAttr, fd, newattr, oldattr);
  if (ret == 0 && old_storage != nullptr) ctx.Out(CompatAttrText(old_storage));
  ctx.End();
}

}  // namespace

bool I386Available() {
  constexpr long kGetpid = 20;
  return Int80(kGetpid, 0, 0, 0, 0, 0) == getpid();
}

void I386Step(Context& ctx) {
  ctx.Begin("i386");
  switch (ctx.rng.Below(14)) {
    case 0: case 1: case 2: Open(ctx); break;
    case 3: Unlink(ctx); break;
    case 4: case 5: case 6: Send(ctx); break;
    case 7: case 8: case 9: Receive(ctx); break;
    case 10: case 11: Notify(ctx); break;
    default: GetSetAttr(ctx); break;
  }
}

}  // namespace mqsentry::fuzz
