// Linux capability numbers and a capability set (include/uapi/linux/capability.h).
#ifndef MQSENTRY_KERNEL_CAPABILITIES_H_
#define MQSENTRY_KERNEL_CAPABILITIES_H_

#include <cstdint>
#include <initializer_list>

namespace mqsentry::kernel {

enum class Capability : int {
  kChown = 0,
  kDacOverride = 1,
  kDacReadSearch = 2,
  kFowner = 3,
  kFsetid = 4,
  kKill = 5,
  kSetgid = 6,
  kSetuid = 7,
  kSysAdmin = 21,
  kSysResource = 24,
  kLast = 40,  // CAP_CHECKPOINT_RESTORE, the highest on this kernel
};

class CapabilitySet {
 public:
  constexpr CapabilitySet() = default;
  constexpr explicit CapabilitySet(uint64_t bits) : bits_(bits) {}
  CapabilitySet(std::initializer_list<Capability> caps) {
    for (Capability c : caps) Add(c);
  }
  // Every capability up to kLast (what root holds by default).
  static constexpr CapabilitySet Full() {
    return CapabilitySet((uint64_t{1} << (static_cast<int>(Capability::kLast) + 1)) - 1);
  }
  constexpr bool Has(Capability c) const { return (bits_ >> static_cast<int>(c)) & 1; }
  constexpr void Add(Capability c) { bits_ |= uint64_t{1} << static_cast<int>(c); }
  constexpr void Remove(Capability c) { bits_ &= ~(uint64_t{1} << static_cast<int>(c)); }
  constexpr uint64_t bits() const { return bits_; }
  friend constexpr bool operator==(CapabilitySet, CapabilitySet) = default;

 private:
  uint64_t bits_ = 0;
};

}  // namespace mqsentry::kernel

#endif  // MQSENTRY_KERNEL_CAPABILITIES_H_
