// x32 steps: the six calls with __X32_SYSCALL_BIT (mq_notify is x32's 527, spec §1.1), on
// a kernel without x32, where Linux answers ENOSYS to each and an emulating supervisor
// must not answer them instead (issue 7 finding 7). Arguments are real ones (a live mq
// descriptor, a valid name, buffers) so that an answered call would show. Only where the
// kernel lacks x32: with x32, a receive could wait.
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "test/fuzz/args.h"
#include "test/fuzz/ops.h"

namespace mqsentry::fuzz {
namespace {

constexpr long kX32Bit = 0x40000000;

struct X32Call {
  const char* name;
  long nr;
};
constexpr X32Call kCalls[] = {
    {"mq_open", 240},      {"mq_unlink", 241}, {"mq_timedsend", 242},
    {"mq_timedreceive", 243}, {"mq_notify", 527}, {"mq_getsetattr", 245},
};

}  // namespace

bool KernelLacksX32() {
  errno = 0;
  return syscall(kX32Bit | SYS_getpid) == -1 && errno == ENOSYS;
}

void X32Step(Context& ctx) {
  const X32Call& c = kCalls[ctx.rng.Below(std::size(kCalls))];
  ctx.Begin(absl::StrCat("x32 ", c.name));
  uint64_t a[5] = {};
  std::string fd_label;
  if (c.nr == 240 || c.nr == 241) {
    const NameArg name = PickName(ctx);
    a[0] = name.value;
    a[1] = PickOflag(ctx);
    a[2] = PickMode(ctx.rng);
    a[3] = PickAttrIn(ctx).value;
    ctx.Arg(name.label);
  } else {
    a[0] = ctx.PickFd(&fd_label, 85);
    uint8_t* storage;
    size_t room;
    a[1] = ctx.arena.Pointer(PtrKind::kValid, 8192, kRoMessage, true, &storage, &room, ctx.rng);
    a[2] = c.nr == 245 ? 0 : 8192;  // getsetattr: newattr NULL, oldattr below
    if (c.nr == 245) {
      a[1] = 0;
      a[2] = ctx.arena.Pointer(PtrKind::kValid, 64, kRoAttr, false, &storage, &room, ctx.rng);
    }
    if (c.nr == 527) a[1] = 0;  // unregister: harmless if it were answered
    ctx.Arg(fd_label);
  }
  ctx.Syscall(kX32Bit | c.nr, a[0], a[1], a[2], a[3], a[4]);
  ctx.End();
}

}  // namespace mqsentry::fuzz
