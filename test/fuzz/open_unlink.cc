// mq_open and mq_unlink steps (spec §3, §4): raw syscalls with every name, flag, mode and
// attribute edge, and glibc's wrappers (which add their own '/' check and EPERM->EACCES).
#include <fcntl.h>
#include <mqueue.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>

#include "absl/strings/str_format.h"
#include "test/fuzz/args.h"
#include "test/fuzz/ops.h"

namespace mqsentry::fuzz {
namespace {

uint64_t PickOflag(Context& ctx) {
  Rng& rng = ctx.rng;
  const uint64_t no_path = ctx.Gap("opath") ? ~uint64_t{O_PATH} : ~uint64_t{0};
  if (rng.Percent(2)) return rng.Next() & no_path;  // any bits at all, upper half included
  uint64_t flags = rng.Pick<uint64_t>({O_RDONLY, O_WRONLY, O_RDWR, O_RDWR, O_RDWR, 3});
  if (rng.Percent(60)) flags |= O_CREAT;
  if (rng.Percent(15)) flags |= O_EXCL;
  if (rng.Percent(70)) flags |= O_NONBLOCK;
  if (rng.Percent(25)) flags |= O_CLOEXEC;
  if (rng.Percent(3)) flags |= O_DIRECT;
  if (rng.Percent(3)) flags |= O_PATH;
  if (rng.Percent(8)) {
    flags |= rng.Pick<uint64_t>({O_APPEND, O_TRUNC, O_NOCTTY, O_SYNC, O_NOATIME, O_ASYNC,
                                 O_DIRECTORY, O_NOFOLLOW, O_TMPFILE, 1u << 30, O_LARGEFILE,
                                 O_DSYNC});
  }
  return flags & no_path;
}

uint64_t PickMode(Rng& rng) {
  return rng.Pick<uint64_t>({0600, 0600, 0644, 0666, 0, 0400, 0200, 07777, 0xffffffff,
                             0170644, 0xffffffff00000600ULL, 01777});
}

}  // namespace

void MqOpenStep(Context& ctx) {
  ctx.Begin("mq_open");
  const NameArg name = PickName(ctx);
  const uint64_t oflag = PickOflag(ctx);
  const uint64_t mode = PickMode(ctx.rng);
  const Arg attr = PickAttrIn(ctx);
  long fd;
  if (name.glibc_ok && ctx.rng.Percent(20)) {
    // glibc reads mode and attr only with O_CREAT (spec §1.6) and rejects a name without a
    // leading '/' itself.
    ctx.SetCall("glibc mq_open");
    ctx.Arg(absl::StrFormat("\"%s\"", ctx.Normalize(name.glibc_name)));
    ctx.Arg(absl::StrFormat("%#x", oflag), ", ", absl::StrFormat("%#o", mode), ", ", attr.label);
    fd = ctx.Call([&] {
      return static_cast<long>(mq_open(name.glibc_name.c_str(), static_cast<int>(oflag),
                                       static_cast<mode_t>(mode),
                                       reinterpret_cast<struct mq_attr*>(attr.value)));
    });
  } else {
    ctx.Arg(name.label);
    ctx.Arg(absl::StrFormat("%#x", oflag), ", ", absl::StrFormat("%#o", mode), ", ", attr.label);
    fd = ctx.Syscall(SYS_mq_open, name.value, oflag, mode, attr.value);
  }
  if (fd >= 0) ctx.Remember(static_cast<int>(fd));
  ctx.End();
  TrimStep(ctx);
}

void MqUnlinkStep(Context& ctx) {
  ctx.Begin("mq_unlink");
  const NameArg name = PickName(ctx);
  if (name.glibc_ok && ctx.rng.Percent(20)) {
    ctx.SetCall("glibc mq_unlink");
    ctx.Arg(absl::StrFormat("\"%s\"", ctx.Normalize(name.glibc_name)));
    ctx.Call([&] { return static_cast<long>(mq_unlink(name.glibc_name.c_str())); });
  } else {
    ctx.Arg(name.label);
    ctx.Syscall(SYS_mq_unlink, name.value);
  }
  ctx.End();
}

}  // namespace mqsentry::fuzz
