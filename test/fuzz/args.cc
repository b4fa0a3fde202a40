// Argument generators (see args.h).
#include "test/fuzz/args.h"

#include <fcntl.h>
#include <time.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <string_view>

#include "absl/strings/str_format.h"

namespace mqsentry::fuzz {
namespace {

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    }
  }
  return out + "\"";
}

// The bytes of a name and its label.
struct NameText {
  std::string bytes;
  std::string label;
};

NameText PickNameText(Rng& rng) {
  const unsigned r = rng.Below(100);
  if (r < 70) {
    // The pool: four short names and one of exactly NAME_MAX bytes.
    if (rng.Percent(6)) return {std::string(255, 'L'), "L*255"};
    std::string n = absl::StrCat("q", rng.Below(4));
    return {n, Quote(n)};
  }
  switch (rng.Below(17)) {
    case 0: return {"", "\"\""};
    case 1: return {"/", Quote("/")};
    case 2: return {"//x", Quote("//x")};
    case 3: return {".", Quote(".")};
    case 4: return {"..", Quote("..")};
    case 5: return {"a/b", Quote("a/b")};
    case 6: return {"...", Quote("...")};
    case 7: return {" ", Quote(" ")};
    case 8: return {"\xff", Quote("\xff")};
    case 9: return {"a\nb", Quote("a\nb")};
    case 10: return {"/q0", Quote("/q0")};
    case 11: return {std::string(256, 'L'), "L*256"};
    case 12: return {std::string(4095, 'L'), "L*4095"};
    case 13: return {std::string(4096, 'L'), "L*4096"};
    case 14: return {std::string(254, 'L') + "/", "L*254+\"/\""};
    case 15: return {std::string(300, 'L') + "/x", "L*300+\"/x\""};
    default: return {"q0\x01", Quote("q0\x01")};
  }
}

}  // namespace

PtrKind PickInKind(Context& ctx) {
  const unsigned r = ctx.rng.Below(100);
  if (r < 75) return PtrKind::kValid;
  if (r < 79) return PtrKind::kUnaligned;
  if (r < 83) return PtrKind::kPageEnd;
  if (r < 87) return PtrKind::kReadOnly;
  return ctx.rng.Pick({PtrKind::kStraddle, PtrKind::kStraddle, PtrKind::kProtNone,
                       PtrKind::kLowUnmapped, PtrKind::kUserLimit, PtrKind::kKernel,
                       PtrKind::kNonCanonical, PtrKind::kMinusOne});
}

PtrKind PickOutKind(Context& ctx) {
  const unsigned r = ctx.rng.Below(100);
  if (r < 70) return PtrKind::kValid;
  if (r < 74) return PtrKind::kUnaligned;
  if (r < 78) return PtrKind::kPageEnd;
  return ctx.rng.Pick({PtrKind::kReadOnly, PtrKind::kReadOnly, PtrKind::kStraddle,
                       PtrKind::kStraddle, PtrKind::kProtNone, PtrKind::kLowUnmapped,
                       PtrKind::kUserLimit, PtrKind::kKernel, PtrKind::kNonCanonical,
                       PtrKind::kMinusOne});
}

NameArg PickName(Context& ctx) {
  NameArg arg;
  const NameText text = PickNameText(ctx.rng);
  const bool big = text.bytes.size() > 200;
  PtrKind kind = PtrKind::kValid;
  bool terminated = true;
  const unsigned r = ctx.rng.Below(100);
  if (r < 6) {
    kind = PtrKind::kPageEnd;  // ends with its NUL at the page end: valid
  } else if (r < 10) {
    kind = PtrKind::kPageEnd;  // ends without NUL at the page end: the kernel faults
    terminated = false;
  } else if (r < 14) {
    kind = ctx.rng.Pick({PtrKind::kNull, PtrKind::kProtNone, PtrKind::kKernel,
                         PtrKind::kStraddle, PtrKind::kLowUnmapped, PtrKind::kMinusOne});
  } else if (r < 17) {
    kind = PtrKind::kReadOnly;  // the preset "q0"
  } else if (r < 22) {
    kind = PtrKind::kUnaligned;
  }
  std::string bytes = text.bytes;
  if (terminated) bytes.push_back('\0');
  uint8_t* storage;
  size_t room;
  arg.value = ctx.arena.Pointer(kind, bytes.size(), kRoName, big, &storage, &room, ctx.rng);
  Arena::Fill(storage, room, bytes);
  if (kind == PtrKind::kReadOnly) {
    arg.label = "ro:\"q0\"";
  } else if (storage != nullptr) {
    arg.label = absl::StrCat(PtrKindName(kind), terminated ? ":" : ":unterminated:",
                             text.label);
  } else {
    arg.label = PtrKindName(kind);
  }
  // glibc reads the name itself: only a valid, terminated string may go that way.
  if (storage != nullptr && terminated && kind != PtrKind::kStraddle) {
    arg.glibc_ok = true;
    arg.glibc_name = ctx.rng.Percent(90) ? "/" + text.bytes : text.bytes;
  }
  return arg;
}

Arg PickAttrIn(Context& ctx) {
  Arg arg;
  Rng& rng = ctx.rng;
  if (rng.Percent(40)) return {0, "NULL"};
  int64_t attr[8];
  attr[0] = rng.Percent(80) ? 0 : static_cast<int64_t>(rng.Next());  // ignored
  if (rng.Percent(85)) {
    attr[1] = rng.Pick<int64_t>({1, 2, 3, 5, 10});
    attr[2] = rng.Pick<int64_t>({1, 16, 64, 128, 1024, 8192});
  } else {
    attr[1] = rng.Pick<int64_t>({0, -1, 11, 65536, 65537, (int64_t{1} << 32) + 1, LONG_MAX,
                                 LONG_MIN, 1, 10});
    attr[2] = rng.Pick<int64_t>({0, -1, 8193, 1 << 24, int64_t{1} << 40, LONG_MIN, 1, 8192});
  }
  attr[3] = rng.Percent(80) ? 0 : static_cast<int64_t>(rng.Next());  // ignored
  for (int i = 4; i < 8; ++i) attr[i] = rng.Percent(90) ? 0 : static_cast<int64_t>(rng.Next());
  const PtrKind kind = PickInKind(ctx);
  uint8_t* storage;
  size_t room;
  arg.value = ctx.arena.Pointer(kind, sizeof(attr), kRoAttr, false, &storage, &room, ctx.rng);
  Arena::Fill(storage, room,
              std::string_view(reinterpret_cast<const char*>(attr), sizeof(attr)));
  if (kind == PtrKind::kReadOnly) {
    arg.label = "ro:{0,2,64,0}";
  } else if (storage != nullptr) {
    arg.label = absl::StrFormat("%s:{%d,%d,%d,%d,pad=%s}", PtrKindName(kind), attr[0],
                                attr[1], attr[2], attr[3],
                                attr[4] | attr[5] | attr[6] | attr[7] ? "junk" : "0");
  } else {
    arg.label = PtrKindName(kind);
  }
  return arg;
}

Arg PickOutPointer(Context& ctx, size_t size, bool big) {
  const PtrKind kind = PickOutKind(ctx);
  uint8_t* storage;
  size_t room;
  // Read-only outputs point at the preset message bytes (any preset would do).
  const uint64_t p = ctx.arena.Pointer(kind, size, kRoMessage, big, &storage, &room, ctx.rng);
  return {p, PtrKindName(kind)};
}

Arg PickTimeout(Context& ctx, bool* may_block, bool time32) {
  Rng& rng = ctx.rng;
  *may_block = false;
  if (rng.Percent(25)) {
    *may_block = true;
    return {0, "NULL"};
  }
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  int64_t ts[2];
  std::string what;
  // Mostly valid and expired (the call goes on to its own checks), sometimes in the
  // future (the call must not block: see the callers), sometimes invalid (spec §5.1 1).
  const unsigned r = rng.Below(100);
  const unsigned pick = r < 65 ? rng.Below(4) : r < 78 ? 4 + rng.Below(2) : 6 + rng.Below(5);
  switch (pick) {
    case 0: ts[0] = 0; ts[1] = 0; what = "{0,0}"; break;
    case 1: ts[0] = 1; ts[1] = 999999999; what = "{1,999999999}"; break;
    case 2: ts[0] = now.tv_sec - 1; ts[1] = now.tv_nsec; what = "now-1s"; break;
    case 3: ts[0] = 0; ts[1] = 999999999; what = "{0,999999999}"; break;
    case 4: ts[0] = now.tv_sec + 3600; ts[1] = 0; what = "now+1h"; *may_block = true; break;
    case 5: ts[0] = LLONG_MAX; ts[1] = 999999999; what = "{max,999999999}"; *may_block = true; break;
    case 6: ts[0] = 0; ts[1] = 1000000000; what = "{0,1e9}"; break;
    case 7: ts[0] = 0; ts[1] = -1; what = "{0,-1}"; break;
    case 8: ts[0] = -1; ts[1] = 0; what = "{-1,0}"; break;
    case 9: ts[0] = LLONG_MIN; ts[1] = 0; what = "{min,0}"; break;
    default: ts[0] = now.tv_sec - 1; ts[1] = LLONG_MAX; what = "{now-1,max}"; break;
  }
  const PtrKind kind = PickInKind(ctx);
  uint8_t* storage;
  size_t room;
  // old_timespec32 (i386's time32 calls): the same values, clamped to 32 bits ({max,...}
  // is then 2038: still in the future).
  const int32_t ts32[2] = {static_cast<int32_t>(std::clamp<int64_t>(ts[0], INT32_MIN, INT32_MAX)),
                           static_cast<int32_t>(std::clamp<int64_t>(ts[1], INT32_MIN, INT32_MAX))};
  const std::string_view bytes =
      time32 ? std::string_view(reinterpret_cast<const char*>(ts32), sizeof(ts32))
             : std::string_view(reinterpret_cast<const char*>(ts), sizeof(ts));
  const uint64_t p =
      ctx.arena.Pointer(kind, bytes.size(), kRoTimespec, false, &storage, &room, ctx.rng);
  Arena::Fill(storage, room, bytes);
  if (kind == PtrKind::kReadOnly) {
    *may_block = false;
    return {p, "ro:{0,0}"};
  }
  if (storage == nullptr || kind == PtrKind::kStraddle) {
    *may_block = false;  // EFAULT before anything else
    return {p, PtrKindName(kind)};
  }
  return {p, absl::StrCat(PtrKindName(kind), ":", what)};
}

Arg ExpiredTimeout(Context& ctx) {
  const int64_t ts[2] = {0, 0};  // also a valid old_timespec32 {0, 0}
  uint8_t* storage;
  size_t room;
  const uint64_t p = ctx.arena.Pointer(PtrKind::kValid, sizeof(ts), kRoTimespec, false,
                                       &storage, &room, ctx.rng);
  Arena::Fill(storage, room, std::string_view(reinterpret_cast<const char*>(ts), sizeof(ts)));
  return {p, "ok:{0,0}(instead of a wait)"};
}

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

Arg PickPriority(Context& ctx) {
  Rng& rng = ctx.rng;
  uint64_t prio;
  if (rng.Percent(85)) {
    prio = rng.Pick<uint64_t>({0, 1, 5, 31, 32767}) + (rng.Percent(50) ? rng.Below(3) : 0);
    if (prio > 32767) prio = 32767;
  } else {
    // unsigned int: the upper half of the register is ignored.
    prio = rng.Pick<uint64_t>({32768, 0xffffffff, 0x80000000, (uint64_t{1} << 32) | 3});
  }
  return {prio, absl::StrFormat("%#x", prio)};
}

}  // namespace mqsentry::fuzz
