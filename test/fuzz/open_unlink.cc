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
