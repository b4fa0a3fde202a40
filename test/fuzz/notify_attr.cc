// mq_notify and mq_getsetattr steps (spec §6.1, §7), and draining the SIGEV_THREAD socket
// (spec §6.3: a 32-byte cookie, byte 31 NOTIFY_WOKENUP or NOTIFY_REMOVED).
#include <mqueue.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "test/fuzz/args.h"
#include "test/fuzz/ops.h"

namespace mqsentry::fuzz {
namespace {

constexpr int kSigevSignal = 0, kSigevNone = 1, kSigevThread = 2;

// Registrations (and removals) between two drains of the netlink socket; well below the
// ~256 cookies after which a SIGEV_THREAD registration would block (spec §6.1 3.3).
constexpr int kCookiesBeforeDrain = 32;

struct Sigevent {
  uint64_t value;
  int32_t signo;
  int32_t notify;
  uint8_t rest[48];
};
static_assert(sizeof(Sigevent) == 64);

int PickNotify(Rng& rng) {
  const unsigned r = rng.Below(100);
  if (r < 45) return kSigevSignal;
  if (r < 65) return kSigevNone;
  if (r < 83) return kSigevThread;
  return rng.Pick({3, 4 /* SIGEV_THREAD_ID */, 99, -1, 0x10000, INT_MIN});
}

int PickSigno(Context& ctx, int notify, std::string* label) {
  Rng& rng = ctx.rng;
  if (notify == kSigevThread) {
    const unsigned r = rng.Below(100);
    int fd;
    if (r < 70) {
      fd = ctx.fixed.netlink;
    } else {
      fd = rng.Pick({ctx.fixed.unix_dgram, ctx.fixed.dev_null, ctx.fixed.path_root, 999, -1,
                     ctx.mq_fds.empty() ? 999 : ctx.mq_fds[0]});
    }
    *label = absl::StrCat("fd ", fd);
    return fd;
  }
  int signo;
  if (notify == kSigevSignal) {
    signo = rng.Pick({0, SIGUSR1, SIGUSR1, SIGUSR2, SIGRTMIN, SIGRTMIN, 40, SIGRTMAX, 65, -1,
                      SIGKILL, SIGSTOP, SIGCHLD, SIGALRM, SIGSEGV, 1000});
  } else {
    signo = static_cast<int>(rng.Next());  // ignored by the kernel
  }
  *label = absl::StrCat(signo);
  return signo;
}

std::string AttrText(const uint8_t* p) {
  int64_t a[8];
  memcpy(a, p, sizeof(a));
  return absl::StrFormat("old={%d,%d,%d,%d,%d,%d,%d,%d}", a[0], a[1], a[2], a[3], a[4], a[5],
                         a[6], a[7]);
}

}  // namespace

void MqNotifyStep(Context& ctx) {
  ctx.Begin("mq_notify");
  std::string fd_label;
  const uint64_t fd = ctx.PickFd(&fd_label, 80);
  Rng& rng = ctx.rng;
  uint64_t sevp = 0;
  std::string sev_label = "NULL";
  int notify = -1, signo = 0;
  int field = -1;        // sigev_notify as written, even where the kernel cannot read it
  bool readable = true;  // glibc reads sigev_notify itself
  if (rng.Percent(80)) {
    PtrKind kind = rng.Percent(88) ? PtrKind::kValid : PickInKind(ctx);
    Sigevent sev;
    notify = PickNotify(rng);
    std::string signo_label;
    signo = PickSigno(ctx, notify, &signo_label);
    sev.notify = notify;
    sev.signo = signo;
    field = kind == PtrKind::kReadOnly ? kSigevNone : notify;
    std::string value_label;
    if (notify == kSigevThread) {
      // sival_ptr: the 32-byte cookie the kernel copies at registration.
      const PtrKind ck = PickInKind(ctx);
      uint8_t* storage;
      size_t room;
      // In the big region, apart from the sigevent (which holds its address).
      sev.value = ctx.arena.Pointer(ck, 32, kRoCookie, true, &storage, &room, rng);
      std::string cookie(32, '\0');
      for (char& c : cookie) c = static_cast<char>(rng.Next());
      Arena::Fill(storage, room, cookie);
      value_label = absl::StrCat("cookie=", PtrKindName(ck));
    } else {
      sev.value = rng.Next();
      value_label = absl::StrFormat("value=%#x", sev.value);
    }
    for (uint8_t& b : sev.rest) b = rng.Percent(50) ? 0 : static_cast<uint8_t>(rng.Next());
    uint8_t* storage;
    size_t room;
    sevp = ctx.arena.Pointer(kind, sizeof(sev), kRoSigevent, false, &storage, &room, rng);
    Arena::Fill(storage, room, std::string_view(reinterpret_cast<const char*>(&sev), sizeof(sev)));
    if (kind == PtrKind::kReadOnly) {
      sev_label = "ro:{SIGEV_NONE}";
      notify = kSigevNone;
    } else if (storage != nullptr && room >= sizeof(sev)) {
      sev_label = absl::StrFormat("%s:{notify=%d, signo=%s, %s}", PtrKindName(kind), notify,
                                  signo_label, value_label);
    } else {
      sev_label = PtrKindName(kind);
      readable = storage != nullptr && room >= 16;
      notify = -1;
    }
  }
  ctx.Arg(fd_label);
  ctx.Arg(sev_label);
  // glibc handles SIGEV_THREAD itself (its own socket and helper thread): raw only.
  long ret;
  if (readable && field != kSigevThread && rng.Percent(15)) {
    ctx.SetCall("glibc mq_notify");
    ret = ctx.Call([&] {
      return static_cast<long>(mq_notify(static_cast<mqd_t>(fd),
                                         reinterpret_cast<const struct sigevent*>(sevp)));
    });
  } else {
    ret = ctx.Syscall(SYS_mq_notify, fd, sevp);
  }
  ctx.End();
  if (ret == 0 && (notify == kSigevThread || sevp == 0)) ++ctx.cookies_since_drain;
  if (ret == 0 && notify == kSigevSignal && (signo == SIGKILL || signo == SIGSTOP)) {
    // A queue that fires SIGKILL or SIGSTOP would end or stop the run: unregister now.
    ctx.Begin("mq_notify");
    ctx.Arg(fd_label, ", NULL (drop SIGKILL/SIGSTOP)");
    ctx.Syscall(SYS_mq_notify, fd, 0);
    ctx.End();
  }
  if (ctx.cookies_since_drain > kCookiesBeforeDrain) DrainCookiesStep(ctx);
}

void MqGetSetAttrStep(Context& ctx) {
  ctx.Begin("mq_getsetattr");
  Rng& rng = ctx.rng;
  std::string fd_label;
  const uint64_t fd = ctx.PickFd(&fd_label);
  uint64_t newattr = 0;
  std::string new_label = "NULL";
  if (rng.Percent(60)) {
    const PtrKind kind = PickInKind(ctx);
    int64_t a[8];
    a[0] = rng.Pick<int64_t>({0, 0, O_NONBLOCK, O_NONBLOCK, O_NONBLOCK | O_APPEND,
                              int64_t{1} << 40, -1, O_APPEND,
                              O_NONBLOCK | static_cast<int64_t>(uint64_t{1} << 63)});
    for (int i = 1; i < 8; ++i) a[i] = rng.Percent(70) ? 0 : static_cast<int64_t>(rng.Next());
    uint8_t* storage;
    size_t room;
    newattr = ctx.arena.Pointer(kind, sizeof(a), kRoAttr, false, &storage, &room, rng);
    Arena::Fill(storage, room, std::string_view(reinterpret_cast<const char*>(a), sizeof(a)));
    if (kind == PtrKind::kReadOnly) {
      new_label = "ro:{flags=0}";
    } else if (storage != nullptr) {
      new_label = absl::StrFormat("%s:{flags=%#x}", PtrKindName(kind), a[0]);
    } else {
      new_label = PtrKindName(kind);
    }
  }
  uint64_t oldattr = 0;
  std::string old_label = "NULL";
  uint8_t* old_storage = nullptr;
  if (rng.Percent(70)) {
    const PtrKind kind = PickOutKind(ctx);
    size_t room;
    oldattr = ctx.arena.Pointer(kind, 64, kRoAttr, false, &old_storage, &room, rng);
    if (room < 64) old_storage = nullptr;
    old_label = PtrKindName(kind);
  }
  ctx.Arg(fd_label);
  ctx.Arg(new_label);
  ctx.Arg(old_label);
  long ret;
  if (rng.Percent(15)) {
    ctx.SetCall(newattr == 0 ? "glibc mq_getattr" : "glibc mq_setattr");
    ret = ctx.Call([&] {
      auto* o = reinterpret_cast<struct mq_attr*>(oldattr);
      return static_cast<long>(
          newattr == 0 ? mq_getattr(static_cast<mqd_t>(fd), o)
                       : mq_setattr(static_cast<mqd_t>(fd),
                                    reinterpret_cast<const struct mq_attr*>(newattr), o));
    });
  } else {
    ret = ctx.Syscall(SYS_mq_getsetattr, fd, newattr, oldattr);
  }
  if (ret == 0 && old_storage != nullptr) ctx.Out(AttrText(old_storage));
  ctx.End();
}

void DrainCookiesStep(Context& ctx) {
  ctx.Begin("recv");
  ctx.Arg(ctx.fixed.netlink, "(netlink), MSG_DONTWAIT, until EAGAIN");
  std::vector<std::string> got;
  ctx.Call([&] {
    uint8_t buf[64];
    long n;
    while ((n = recv(ctx.fixed.netlink, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
      got.push_back(absl::BytesToHexString(
          absl::string_view(reinterpret_cast<const char*>(buf), static_cast<size_t>(n))));
    }
    return n;
  });
  // A cookie is queued inside the call that sends it (spec §6.3), so it is here by now.
  ctx.Out("cookies=", got.size(), " ", absl::StrJoin(got, " "));
  ctx.End();
  ctx.cookies_since_drain = 0;
}

}  // namespace mqsentry::fuzz
