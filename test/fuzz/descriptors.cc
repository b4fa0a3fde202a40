// Steps on mq descriptors as files (spec §8): close and dup (which also remove the
// caller's notification, spec §6.2), read of the status line, lseek, write, poll, fstat
// and fcntl. None of them can block: reads only ever target mq descriptors, closed numbers
// or /dev/null, never the pipe or the sockets.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "absl/strings/str_format.h"
#include "test/fuzz/args.h"
#include "test/fuzz/ops.h"

namespace mqsentry::fuzz {
namespace {

// Most descriptors a run keeps open: bounds the queues (and RLIMIT_MSGQUEUE bytes) that
// unlinked-but-open queues hold.
constexpr size_t kMaxMqFds = 10;

// A descriptor for a call that must not touch the fixed ones: mostly a live mq
// descriptor, else a closed number or one never opened. /dev/null when `dev_null`.
int PickOwnFd(Context& ctx, bool dev_null, std::string* label) {
  const unsigned r = ctx.rng.Below(100);
  int fd;
  if (r < 80 && !ctx.mq_fds.empty()) {
    fd = ctx.mq_fds[ctx.rng.Below(ctx.mq_fds.size())];
    *label = absl::StrCat(fd);
    return fd;
  }
  if (r < 88 && dev_null) {
    *label = absl::StrCat(ctx.fixed.dev_null, "(not mq)");
    return ctx.fixed.dev_null;
  }
  if (!ctx.closed_fds.empty() && ctx.rng.Percent(70)) {
    fd = ctx.closed_fds[ctx.rng.Below(ctx.closed_fds.size())];
  } else {
    fd = ctx.rng.Pick({999, -1, 40});
  }
  *label = absl::StrCat(fd, "(closed)");
  return fd;
}

// The bytes read() returned, with our pid in the NOTIFY_PID field replaced (spec §8.1:
// "%-6d", so the replacement keeps every offset). `full` is the whole status line and
// `pos` the position the read started at (-1 when unknown).
std::string ReadText(Context& ctx, const std::string& got, const std::string& full, long pos) {
  if (pos >= 0 && static_cast<size_t>(pos) <= full.size() &&
      full.compare(static_cast<size_t>(pos), got.size(), got) == 0) {
    const std::string mine = absl::StrFormat("NOTIFY_PID:%-6d", ctx.self);
    std::string canonical = full;
    const size_t at = canonical.find(mine);
    if (at != std::string::npos) canonical.replace(at, mine.size(), "NOTIFY_PID:<self>");
    return canonical.substr(static_cast<size_t>(pos), got.size());
  }
  return got;
}

}  // namespace

void TrimStep(Context& ctx) {
  if (ctx.mq_fds.size() <= kMaxMqFds) return;
  const int fd = ctx.mq_fds.front();
  ctx.Begin("close");
  ctx.Arg(fd, "(trim)");
  ctx.Syscall(SYS_close, fd);
  ctx.Forget(fd);
  ctx.End();
}

void CloseStep(Context& ctx) {
  ctx.Begin("close");
  std::string label;
  const int fd = PickOwnFd(ctx, false, &label);
  ctx.Arg(label);
  if (ctx.Syscall(SYS_close, static_cast<uint32_t>(fd)) == 0) ctx.Forget(fd);
  ctx.End();
}

void DupStep(Context& ctx) {
  ctx.Begin("dup");
  std::string label;
  const int fd = PickOwnFd(ctx, false, &label);
  Rng& rng = ctx.rng;
  // A target: another mq descriptor (replaced, which closes it), a free number, itself.
  auto target = [&](std::string* t) {
    int n;
    if (!ctx.mq_fds.empty() && rng.Percent(40)) {
      n = ctx.mq_fds[rng.Below(ctx.mq_fds.size())];
    } else if (rng.Percent(85)) {
      n = 10 + static_cast<int>(rng.Below(20));
    } else {
      n = fd;
    }
    *t = absl::StrCat(n);
    return n;
  };
  long ret;
  int replaced = -1;
  std::string t;
  switch (rng.Below(4)) {
    case 0:
      ctx.Arg(label);
      ret = ctx.Syscall(SYS_dup, static_cast<uint32_t>(fd));
      break;
    case 1:
      ctx.SetCall("dup2");
      replaced = target(&t);
      ctx.Arg(label, ", ", t);
      ret = ctx.Syscall(SYS_dup2, static_cast<uint32_t>(fd), static_cast<uint32_t>(replaced));
      break;
    case 2: {
      ctx.SetCall("dup3");
      replaced = target(&t);
      const uint64_t flags = rng.Pick<uint64_t>({O_CLOEXEC, 0, 1});
      ctx.Arg(label, ", ", t, ", ", absl::StrFormat("%#o", flags));
      ret = ctx.Syscall(SYS_dup3, static_cast<uint32_t>(fd), static_cast<uint32_t>(replaced),
                        flags);
      break;
    }
    default: {
      ctx.SetCall("fcntl F_DUPFD_CLOEXEC");
      const int min = 10 + static_cast<int>(rng.Below(20));
      ctx.Arg(label, ", ", min);
      ret = ctx.Syscall(SYS_fcntl, static_cast<uint32_t>(fd), F_DUPFD_CLOEXEC, min);
      break;
    }
  }
  if (ret >= 0 && ctx.IsMq(fd)) ctx.Remember(static_cast<int>(ret));
  ctx.End();
  TrimStep(ctx);
}

void ReadStep(Context& ctx) {
  ctx.Begin("read");
  std::string label;
  const int fd = PickOwnFd(ctx, true, &label);
  const uint64_t n = ctx.rng.Pick<uint64_t>({0, 1, 10, 59, 60, 61, 80, 100, 4096, 4096});
  PtrKind kind = PickOutKind(ctx);
  if (ctx.Gap("read-bad-buffer")) kind = PtrKind::kValid;
  uint8_t* storage;
  size_t room;
  const uint64_t buf = ctx.arena.Pointer(kind, n, kRoMessage, true, &storage, &room, ctx.rng);
  // Where the read starts and the whole line, to recognise our pid in what it returns
  // (neither changes the file position).
  const long pos = lseek(fd, 0, SEEK_CUR);
  char line[128];
  const long full = pread(fd, line, sizeof(line), 0);
  const std::string full_text = full > 0 ? std::string(line, static_cast<size_t>(full)) : "";
  ctx.Arg(label, ", ", PtrKindName(kind), ", ", n);
  const long ret = ctx.Syscall(SYS_read, static_cast<uint32_t>(fd), buf, n);
  if (ret > 0 && storage != nullptr) {
    const std::string got(reinterpret_cast<char*>(storage),
                          std::min<size_t>(static_cast<size_t>(ret), room));
    const std::string text = ReadText(ctx, got, full_text, pos);
    ctx.Out("text=\"", ctx.Normalize(text), "\"");
    // The same text in memory, so the record of written bytes holds no pid either.
    memcpy(storage, text.data(), got.size());
  }
  ctx.End();
}

void LseekStep(Context& ctx) {
  ctx.Begin("lseek");
  std::string label;
  const int fd = PickOwnFd(ctx, true, &label);
  const int64_t off = ctx.rng.Pick<int64_t>({0, 0, 10, 59, 60, 61, 80, 81, 100, -1, -80,
                                             int64_t{1} << 40});
  int whence = ctx.rng.Pick({SEEK_SET, SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA,
                             SEEK_HOLE, 5});
  if (ctx.Gap("lseek-hole") && (whence == SEEK_DATA || whence == SEEK_HOLE)) whence = SEEK_SET;
  ctx.Arg(label, ", ", off, ", ", whence);
  ctx.Syscall(SYS_lseek, static_cast<uint32_t>(fd), static_cast<uint64_t>(off), whence);
  ctx.End();
}

void WriteStep(Context& ctx) {
  ctx.Begin("write");
  std::string label;
  const int fd = PickOwnFd(ctx, true, &label);
  uint64_t n = ctx.rng.Pick<uint64_t>({0, 1, 5, 100});
  if (n == 0 && ctx.Gap("write-zero") && ctx.IsMq(fd)) n = 1;
  uint8_t* storage;
  size_t room;
  const uint64_t buf =
      ctx.arena.Pointer(PtrKind::kValid, n, kRoMessage, false, &storage, &room, ctx.rng);
  ctx.Arg(label, ", ok, ", n);
  ctx.Syscall(SYS_write, static_cast<uint32_t>(fd), buf, n);
  ctx.End();
}

void PollStep(Context& ctx) {
  ctx.Begin("poll");
  std::string label;
  const uint64_t fd = ctx.PickFd(&label);
  struct pollfd p;
  p.fd = static_cast<int>(fd);
  p.events = static_cast<short>(ctx.rng.Pick<int>(
      {POLLIN | POLLOUT, POLLIN, POLLOUT, 0x7fff,
       POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM | POLLPRI}));
  p.revents = 0;
  ctx.Arg(label, ", ", absl::StrFormat("%#x", p.events), ", 0");
  if (ctx.Call([&] { return static_cast<long>(poll(&p, 1, 0)); }) >= 0) {
    ctx.Out(absl::StrFormat("revents=%#x", p.revents));
  }
  ctx.End();
}

void FstatStep(Context& ctx) {
  ctx.Begin("fstat");
  std::string label;
  const int fd = PickOwnFd(ctx, false, &label);
  struct stat st;
  ctx.Arg(label);
  if (ctx.Call([&] { return static_cast<long>(fstat(fd, &st)); }) == 0) {
    ctx.Out(absl::StrFormat("mode=%#o nlink=%d uid=%s gid=%s size=%d blksize=%d blocks=%d",
                            st.st_mode, st.st_nlink, ctx.UidText(st.st_uid),
                            ctx.GidText(st.st_gid), st.st_size, st.st_blksize, st.st_blocks));
  }
  ctx.End();
}

void FcntlStep(Context& ctx) {
  ctx.Begin("fcntl");
  std::string label;
  const int fd = PickOwnFd(ctx, true, &label);
  Rng& rng = ctx.rng;
  switch (rng.Below(4)) {
    case 0:
      ctx.SetCall("fcntl F_GETFL");
      ctx.Arg(label);
      ctx.Syscall(SYS_fcntl, static_cast<uint32_t>(fd), F_GETFL);
      break;
    case 1:
      ctx.SetCall("fcntl F_GETFD");
      ctx.Arg(label);
      ctx.Syscall(SYS_fcntl, static_cast<uint32_t>(fd), F_GETFD);
      break;
    case 2: {
      ctx.SetCall("fcntl F_SETFL");
      const uint64_t flags = rng.Pick<uint64_t>(
          {0, O_NONBLOCK, O_NONBLOCK, O_NONBLOCK | O_APPEND, O_APPEND, O_DIRECT,
           O_NONBLOCK | O_DIRECT, O_ASYNC, O_NOATIME, 0xffffffff});
      ctx.Arg(label, ", ", absl::StrFormat("%#o", flags));
      ctx.Syscall(SYS_fcntl, static_cast<uint32_t>(fd), F_SETFL, flags);
      break;
    }
    default: {
      ctx.SetCall("fcntl F_SETFD");
      const uint64_t flags = rng.Pick<uint64_t>({0, FD_CLOEXEC});
      ctx.Arg(label, ", ", flags);
      ctx.Syscall(SYS_fcntl, static_cast<uint32_t>(fd), F_SETFD, flags);
      break;
    }
  }
  ctx.End();
}

}  // namespace mqsentry::fuzz
