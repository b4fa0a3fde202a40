// Strong types for user and group ids. A kernel ("host") id and an id as seen inside a
// user namespace are different types; conversions go through UserNamespace's maps
// (kernel/user_namespace.h), never through a cast.
#ifndef MQSENTRY_KERNEL_IDS_H_
#define MQSENTRY_KERNEL_IDS_H_

#include <cstdint>
#include <functional>
#include <ostream>

namespace mqsentry::kernel {

// (uid_t)-1: "no id", what the kernel's from_kuid() answers for an unmapped id.
inline constexpr uint32_t kNoId = 0xffffffffu;
// overflowuid/overflowgid: what an unmapped id reads as (fs/proc, siginfo si_uid).
inline constexpr uint32_t kOverflowId = 65534;

template <typename Tag>
class Id {
 public:
  constexpr Id() = default;
  constexpr explicit Id(uint32_t value) : value_(value) {}
  constexpr uint32_t value() const { return value_; }
  constexpr bool valid() const { return value_ != kNoId; }
  friend constexpr auto operator<=>(Id, Id) = default;
  template <typename H>
  friend H AbslHashValue(H h, Id id) {
    return H::combine(std::move(h), id.value_);
  }
  friend std::ostream& operator<<(std::ostream& os, Id id) { return os << id.value_; }

 private:
  uint32_t value_ = kNoId;
};

struct KUidTag;
struct KGidTag;
struct NsUidTag;
struct NsGidTag;

// KUid/KGid: ids in the initial user namespace (what the host kernel stores in inodes).
using KUid = Id<KUidTag>;
using KGid = Id<KGidTag>;
// NsUid/NsGid: ids as one particular user namespace sees them.
using NsUid = Id<NsUidTag>;
using NsGid = Id<NsGidTag>;

inline constexpr KUid kRootKUid{0};
inline constexpr KGid kRootKGid{0};

}  // namespace mqsentry::kernel

#endif  // MQSENTRY_KERNEL_IDS_H_
