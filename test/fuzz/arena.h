// Guarded memory for the fuzzer's arguments: pages laid out so that one choice of pointer
// kind yields a valid object, one that runs into a PROT_NONE page, a read-only one, or an
// address no process can use. Before each call the writable pages are reset to a fixed
// pattern; after it, Writes() reports exactly which bytes the call changed, so what the
// kernel (or the supervisor) wrote into the program is part of the transcript.
#ifndef MQSENTRY_TEST_FUZZ_ARENA_H_
#define MQSENTRY_TEST_FUZZ_ARENA_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "test/fuzz/rng.h"

namespace mqsentry::fuzz {

inline constexpr size_t kPage = 4096;

// Where an argument pointer points.
enum class PtrKind {
  kNull,
  kValid,         // inside a writable page, far from any edge
  kUnaligned,     // valid, at an odd address
  kPageEnd,       // valid, ending exactly where a PROT_NONE page begins
  kStraddle,      // starts in a writable page, runs into a PROT_NONE page
  kProtNone,      // a PROT_NONE page
  kReadOnly,      // a read-only page holding a valid preset object
  kLowUnmapped,   // 0x1000: below mmap_min_addr, never mapped
  kUserLimit,     // the first address past user space
  kKernel,        // kernel text / direct map
  kNonCanonical,  // not a canonical x86-64 address
  kMinusOne,      // (void*)-1
};

const char* PtrKindName(PtrKind kind);

// Preset objects on the read-only page (offsets into it), written once at start.
inline constexpr size_t kRoName = 0;         // "q0"
inline constexpr size_t kRoAttr = 64;        // {0, 2, 64, 0}
inline constexpr size_t kRoTimespec = 128;   // {0, 0}: expired
inline constexpr size_t kRoSigevent = 192;   // SIGEV_NONE
inline constexpr size_t kRoCookie = 256;     // 32 bytes
inline constexpr size_t kRoMessage = 512;    // message bytes up to the end of the page

class Arena {
 public:
  // Maps the pages; aborts the program if it cannot (the fuzzer has no use without them).
  Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Resets every writable page to the fill pattern and frees every object. Call before
  // building a step's inputs.
  void Reset();
  // Snapshots the writable pages; call after the inputs are written, right before the call.
  void Snapshot();
  // The bytes the call changed since Snapshot(): "-" or "big+OFF..END n=N h=HASH" per region.
  std::string Writes() const;

  // A pointer of `kind` for an object of `size` bytes. For the writable kinds the object's
  // storage is returned in `storage` (the bytes that fit; may be shorter than `size` for
  // kStraddle), so inputs can be written there; nullptr otherwise. `ro_offset` names the
  // preset object kReadOnly points at. `big` places valid objects in the 4-page region
  // (message buffers); otherwise in the small page.
  uint64_t Pointer(PtrKind kind, size_t size, size_t ro_offset, bool big,
                   uint8_t** storage, size_t* room, Rng& rng);

  // Writes `bytes` at a pointer Pointer() returned, as far as it is writable.
  static void Fill(uint8_t* storage, size_t room, std::string_view bytes);

  uint8_t* big() const { return big_; }

 private:
  uint8_t* base_ = nullptr;
  uint8_t* big_ = nullptr;    // 4 pages RW
  uint8_t* none1_ = nullptr;  // PROT_NONE
  uint8_t* ro_ = nullptr;     // read-only presets
  uint8_t* small_ = nullptr;  // 1 page RW
  uint8_t* none2_ = nullptr;  // PROT_NONE
  size_t small_next_ = 0;  // valid small objects of one step never overlap
  std::vector<uint8_t> before_big_;
  std::vector<uint8_t> before_small_;
};

// 64-bit FNV-1a.
uint64_t Hash(const void* data, size_t size);

}  // namespace mqsentry::fuzz

#endif  // MQSENTRY_TEST_FUZZ_ARENA_H_
