// Guarded memory for the fuzzer's arguments (see arena.h).
#include "test/fuzz/arena.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_format.h"

namespace mqsentry::fuzz {
namespace {

constexpr size_t kBigPages = 4;
// big (4 RW) | PROT_NONE | read-only | small (RW) | PROT_NONE
constexpr size_t kTotalPages = kBigPages + 4;

std::vector<uint8_t> Pattern(size_t size, size_t salt) {
  std::vector<uint8_t> p(size);
  for (size_t i = 0; i < size; ++i) p[i] = static_cast<uint8_t>((i + salt) * 131 + 17);
  return p;
}

const std::vector<uint8_t>& BigPattern() {
  static const auto* p = new std::vector<uint8_t>(Pattern(kBigPages * kPage, 0));
  return *p;
}

const std::vector<uint8_t>& SmallPattern() {
  static const auto* p = new std::vector<uint8_t>(Pattern(kPage, 7));
  return *p;
}

void Die(const char* what) {
  perror(what);
  exit(2);
}

// "NAME+FIRST..END n=CHANGED h=HASH" for the bytes of `now` that differ from `was`.
void AppendWrites(const char* name, const uint8_t* now, const std::vector<uint8_t>& was,
                  std::string* out) {
  size_t first = was.size(), last = 0, changed = 0;
  for (size_t i = 0; i < was.size(); ++i) {
    if (now[i] == was[i]) continue;
    if (first == was.size()) first = i;
    last = i;
    ++changed;
  }
  if (changed == 0) return;
  if (!out->empty()) out->append(" ");
  absl::StrAppendFormat(out, "%s+%zu..%zu n=%zu h=%016x", name, first, last + 1, changed,
                        Hash(now + first, last + 1 - first));
}

}  // namespace

const char* PtrKindName(PtrKind kind) {
  switch (kind) {
    case PtrKind::kNull: return "NULL";
    case PtrKind::kValid: return "ok";
    case PtrKind::kUnaligned: return "unaligned";
    case PtrKind::kPageEnd: return "page-end";
    case PtrKind::kStraddle: return "straddle";
    case PtrKind::kProtNone: return "prot-none";
    case PtrKind::kReadOnly: return "read-only";
    case PtrKind::kLowUnmapped: return "low-unmapped";
    case PtrKind::kUserLimit: return "user-limit";
    case PtrKind::kKernel: return "kernel";
    case PtrKind::kNonCanonical: return "non-canonical";
    case PtrKind::kMinusOne: return "-1";
  }
  return "?";
}

uint64_t Hash(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < size; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

Arena::Arena() {
  // Below 2 GiB, so that i386 calls (32-bit registers) can point into it too.
  void* m = mmap(nullptr, kTotalPages * kPage, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (m == MAP_FAILED) Die("mmap arena");
  base_ = static_cast<uint8_t*>(m);
  big_ = base_;
  none1_ = big_ + kBigPages * kPage;
  ro_ = none1_ + kPage;
  small_ = ro_ + kPage;
  none2_ = small_ + kPage;

  // Presets of the read-only page (offsets in arena.h).
  memset(ro_, 0x3c, kPage);
  memcpy(ro_ + kRoName, "q0", 3);
  const int64_t attr[8] = {0, 2, 64, 0, 0, 0, 0, 0};
  memcpy(ro_ + kRoAttr, attr, sizeof(attr));
  memset(ro_ + kRoTimespec, 0, 16);
  uint8_t sigevent[64] = {};
  sigevent[12] = 1;  // sigev_notify = SIGEV_NONE
  memcpy(ro_ + kRoSigevent, sigevent, sizeof(sigevent));
  for (int i = 0; i < 32; ++i) ro_[kRoCookie + i] = static_cast<uint8_t>(0xc0 + i);
  for (size_t i = kRoMessage; i < kPage; ++i) ro_[i] = static_cast<uint8_t>(i * 7);

  if (mprotect(none1_, kPage, PROT_NONE) != 0 || mprotect(ro_, kPage, PROT_READ) != 0 ||
      mprotect(none2_, kPage, PROT_NONE) != 0) {
    Die("mprotect arena");
  }
  Reset();
}

void Arena::Reset() {
  small_next_ = 0;
  memcpy(big_, BigPattern().data(), BigPattern().size());
  memcpy(small_, SmallPattern().data(), SmallPattern().size());
}

void Arena::Snapshot() {
  before_big_.assign(big_, big_ + kBigPages * kPage);
  before_small_.assign(small_, small_ + kPage);
}

std::string Arena::Writes() const {
  std::string out;
  AppendWrites("big", big_, before_big_, &out);
  AppendWrites("small", small_, before_small_, &out);
  return out.empty() ? "-" : out;
}

uint64_t Arena::Pointer(PtrKind kind, size_t size, size_t ro_offset, bool big,
                        uint8_t** storage, size_t* room, Rng& rng) {
  *storage = nullptr;
  *room = 0;
  uint8_t* region = big ? big_ : small_;
  const size_t region_size = big ? kBigPages * kPage : kPage;
  uint8_t* p = nullptr;
  switch (kind) {
    case PtrKind::kNull:
      return 0;
    case PtrKind::kValid:
    case PtrKind::kUnaligned: {
      // Small objects are allocated one after the other from the start of the page (a
      // step's objects stay apart); a big one starts near the start of the big region.
      size_t off = big ? 64 * rng.Below(4) : small_next_ + 8 * rng.Below(4);
      if (kind == PtrKind::kUnaligned) off += 1 + rng.Below(7);
      if (!big) small_next_ = (off + size + 64) / 64 * 64;
      p = region + off;
      break;
    }
    case PtrKind::kPageEnd:
      p = size <= region_size ? region + region_size - size : region;
      break;
    case PtrKind::kStraddle: {
      // At least one byte before the PROT_NONE page and at least one inside it.
      const size_t inside = size > 1 ? 1 + rng.Below(std::min(size - 1, region_size)) : 0;
      p = region + region_size - inside;
      break;
    }
    case PtrKind::kProtNone:
      return reinterpret_cast<uint64_t>(none1_ + 8 * rng.Below(64));
    case PtrKind::kReadOnly:
      return reinterpret_cast<uint64_t>(ro_ + ro_offset);
    case PtrKind::kLowUnmapped:
      return 0x1000;
    case PtrKind::kUserLimit:
      return 0x7ffffffff000ULL;
    case PtrKind::kKernel:
      return rng.Pick<uint64_t>({0xffffffff81000000ULL, 0xffff888000000000ULL});
    case PtrKind::kNonCanonical:
      // The low half is not 0: an i386 call (32-bit registers) sees an unmapped page,
      // not NULL.
      return rng.Pick<uint64_t>({0x0000800000001000ULL, 0x8000000000001000ULL});
    case PtrKind::kMinusOne:
      return ~0ULL;
  }
  *storage = p;
  *room = static_cast<size_t>(region + region_size - p);
  return reinterpret_cast<uint64_t>(p);
}

void Arena::Fill(uint8_t* storage, size_t room, std::string_view bytes) {
  if (storage == nullptr) return;
  memcpy(storage, bytes.data(), std::min(room, bytes.size()));
}

}  // namespace mqsentry::fuzz
