// UserNamespace: the model of a Linux user namespace: its parent chain, the kernel id of
// its owner (creator's euid), and uid/gid maps. Extents map namespace ids directly to
// kernel ids (the kernel stores them that way too; /proc/PID/uid_map read from the initial
// namespace shows exactly these triples).
#ifndef MQSENTRY_KERNEL_USER_NAMESPACE_H_
#define MQSENTRY_KERNEL_USER_NAMESPACE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernel/ids.h"

namespace mqsentry::kernel {

// One line of uid_map/gid_map: ids [first, first+count) inside map to
// [lower_first, lower_first+count) in the kernel (initial namespace).
struct IdMapExtent {
  uint32_t first = 0;
  uint32_t lower_first = 0;
  uint32_t count = 0;
  friend bool operator==(const IdMapExtent&, const IdMapExtent&) = default;
};

// An id map as the kernel validates it: at most 340 extents
// (user_namespaces(7)), no extent of count 0, no overflow of first+count or
// lower_first+count past 2^32, and no two extents overlapping on either side.
class IdMap {
 public:
  static constexpr size_t kMaxExtents = 340;
  IdMap() = default;  // maps nothing
  static absl::StatusOr<IdMap> Create(std::vector<IdMapExtent> extents);
  // The identity map of the initial user namespace: 0..4294967294.
  static IdMap Identity();
  // Parses the text of /proc/PID/uid_map ("first lower count" per line).
  static absl::StatusOr<IdMap> Parse(const std::string& text);

  std::optional<uint32_t> ToKernel(uint32_t ns_id) const;    // map_id_down
  std::optional<uint32_t> FromKernel(uint32_t kernel_id) const;  // map_id_up
  const std::vector<IdMapExtent>& extents() const { return extents_; }

 private:
  explicit IdMap(std::vector<IdMapExtent> e) : extents_(std::move(e)) {}
  std::vector<IdMapExtent> extents_;
};

class UserNamespace {
 public:
  // The initial user namespace: identity maps, level 0, no parent. One per process.
  static std::shared_ptr<const UserNamespace> Initial();

  // A child namespace created by a task whose euid/egid were `owner`/`group` (kernel ids).
  // `rlimit_msgqueue` is the creator's soft RLIMIT_MSGQUEUE at creation, which the kernel
  // records as this namespace's ceiling for ancestors' accounting (spec §3.5).
  // Fails if the maps send any id outside what the parent maps (the kernel refuses such
  // writes to uid_map) or nesting would exceed 32 levels.
  static absl::StatusOr<std::shared_ptr<const UserNamespace>> Create(
      std::shared_ptr<const UserNamespace> parent, KUid owner, KGid group, IdMap uid_map,
      IdMap gid_map, uint64_t rlimit_msgqueue);

  const std::shared_ptr<const UserNamespace>& parent() const { return parent_; }
  int level() const { return level_; }
  KUid owner() const { return owner_; }
  KGid group() const { return group_; }
  uint64_t rlimit_msgqueue() const { return rlimit_msgqueue_; }
  const IdMap& uid_map() const { return uid_map_; }
  const IdMap& gid_map() const { return gid_map_; }
  bool is_initial() const { return parent_ == nullptr; }

  // make_kuid()/make_kgid(): an id inside -> kernel id; invalid KUid if unmapped.
  KUid ToKernel(NsUid uid) const;
  KGid ToKernel(NsGid gid) const;
  // from_kuid()/from_kgid(): a kernel id -> id inside; nullopt if unmapped.
  std::optional<NsUid> FromKernel(KUid uid) const;
  std::optional<NsGid> FromKernel(KGid gid) const;
  // from_kuid_munged(): unmapped reads as overflow id 65534.
  NsUid FromKernelOrOverflow(KUid uid) const;
  NsGid FromKernelOrOverflow(KGid gid) const;
  bool HasMapping(KUid uid) const { return FromKernel(uid).has_value(); }
  bool HasMapping(KGid gid) const { return FromKernel(gid).has_value(); }

  // True if this namespace is `other` or one of its ancestors.
  bool IsSameOrAncestorOf(const UserNamespace& other) const;

 private:
  UserNamespace() = default;
  std::shared_ptr<const UserNamespace> parent_;
  int level_ = 0;
  KUid owner_{0};
  KGid group_{0};
  uint64_t rlimit_msgqueue_ = 0;
  IdMap uid_map_;
  IdMap gid_map_;
};

}  // namespace mqsentry::kernel

#endif  // MQSENTRY_KERNEL_USER_NAMESPACE_H_
