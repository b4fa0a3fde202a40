// UserNamespace and IdMap: id-map validation as kernel/user_namespace.c map_write() does it,
// id translation (map_id_down/map_id_up), and the parent chain of user namespaces.
#include "kernel/user_namespace.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "kernel/ids.h"

namespace mqsentry::kernel {
namespace {

// create_user_ns() refuses a child of a namespace whose level is above 32
// ("if (parent_ns->level > 32) return -ENOSPC"), so the deepest namespace has level 33.
// We model the host's namespaces, so we accept every depth the host kernel can produce.
constexpr int kMaxParentLevel = 32;

// One past the last id of a range, in 64 bits so that it cannot wrap.
uint64_t End(uint32_t first, uint32_t count) { return uint64_t{first} + count; }

bool RangesOverlap(uint32_t a_first, uint32_t a_count, uint32_t b_first, uint32_t b_count) {
  return uint64_t{a_first} < End(b_first, b_count) && uint64_t{b_first} < End(a_first, a_count);
}

// True if every id in [first, first+count) is a lower (kernel) id of some extent of `map`.
// A range may be covered by several adjacent extents, so checking its endpoints is not enough.
bool CoversKernelRange(const IdMap& map, uint32_t first, uint32_t count) {
  uint64_t next = first;
  const uint64_t end = End(first, count);
  while (next < end) {
    const IdMapExtent* covering = nullptr;
    for (const IdMapExtent& e : map.extents()) {
      if (next >= e.lower_first && next < End(e.lower_first, e.count)) {
        covering = &e;
        break;
      }
    }
    if (covering == nullptr) return false;
    next = End(covering->lower_first, covering->count);
  }
  return true;
}

absl::Status CheckCoveredByParent(const IdMap& child, const IdMap& parent, const char* what) {
  for (const IdMapExtent& e : child.extents()) {
    if (!CoversKernelRange(parent, e.lower_first, e.count)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " extent ", e.first, " ", e.lower_first, " ", e.count,
                       " maps ids that the parent namespace does not map"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<IdMap> IdMap::Create(std::vector<IdMapExtent> extents) {
  // An empty map is what a namespace has before uid_map is written (everything unmapped);
  // /proc then reads as empty text, so it is a legitimate state to model.
  if (extents.size() > kMaxExtents) {
    return absl::InvalidArgumentError(
        absl::StrCat("id map has ", extents.size(), " extents; the kernel allows ", kMaxExtents));
  }
  for (size_t i = 0; i < extents.size(); ++i) {
    const IdMapExtent& e = extents[i];
    if (e.count == 0) {
      return absl::InvalidArgumentError(absl::StrCat("id map extent ", i, " has count 0"));
    }
    // map_write(): "(extent.first + extent.count) <= extent.first" in u32 rejects wrapping.
    if (End(e.first, e.count) > kNoId || End(e.lower_first, e.count) > kNoId) {
      return absl::InvalidArgumentError(absl::StrCat("id map extent ", i, " overflows 32 bits"));
    }
    // mappings_overlap(): neither the inside nor the outside ranges may intersect.
    for (size_t j = 0; j < i; ++j) {
      const IdMapExtent& prev = extents[j];
      if (RangesOverlap(e.first, e.count, prev.first, prev.count) ||
          RangesOverlap(e.lower_first, e.count, prev.lower_first, prev.count)) {
        return absl::InvalidArgumentError(
            absl::StrCat("id map extents ", j, " and ", i, " overlap"));
      }
    }
  }
  return IdMap(std::move(extents));
}

IdMap IdMap::Identity() {
  // The initial namespace maps every id except (uid_t)-1, which means "no id".
  return IdMap({IdMapExtent{.first = 0, .lower_first = 0, .count = kNoId}});
}

absl::StatusOr<IdMap> IdMap::Parse(const std::string& text) {
  std::vector<IdMapExtent> extents;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.empty()) continue;  // the trailing newline, or a blank line
    IdMapExtent e;
    if (fields.size() != 3 || !absl::SimpleAtoi(fields[0], &e.first) ||
        !absl::SimpleAtoi(fields[1], &e.lower_first) || !absl::SimpleAtoi(fields[2], &e.count)) {
      return absl::InvalidArgumentError(
          absl::StrCat("id map line ", line_number, " is not \"first lower count\": ", line));
    }
    extents.push_back(e);
  }
  return Create(std::move(extents));
}

std::optional<uint32_t> IdMap::ToKernel(uint32_t ns_id) const {
  for (const IdMapExtent& e : extents_) {
    if (ns_id >= e.first && ns_id < End(e.first, e.count)) {
      return e.lower_first + (ns_id - e.first);
    }
  }
  return std::nullopt;
}

std::optional<uint32_t> IdMap::FromKernel(uint32_t kernel_id) const {
  for (const IdMapExtent& e : extents_) {
    if (kernel_id >= e.lower_first && kernel_id < End(e.lower_first, e.count)) {
      return e.first + (kernel_id - e.lower_first);
    }
  }
  return std::nullopt;
}

std::shared_ptr<const UserNamespace> UserNamespace::Initial() {
  // Leaked on purpose: a process-wide singleton that credentials may reference until exit.
  static const auto* const kInitial = [] {
    auto ns = std::shared_ptr<UserNamespace>(new UserNamespace());
    ns->uid_map_ = IdMap::Identity();
    ns->gid_map_ = IdMap::Identity();
    // fork_init() records init_task's RLIMIT_MSGQUEUE, MQ_BYTES_MAX.
    ns->rlimit_msgqueue_ = 819200;
    return new std::shared_ptr<const UserNamespace>(std::move(ns));
  }();
  return *kInitial;
}

absl::StatusOr<std::shared_ptr<const UserNamespace>> UserNamespace::Create(
    std::shared_ptr<const UserNamespace> parent, KUid owner, KGid group, IdMap uid_map,
    IdMap gid_map, uint64_t rlimit_msgqueue) {
  if (parent == nullptr) {
    return absl::InvalidArgumentError("a user namespace needs a parent");
  }
  if (parent->level() > kMaxParentLevel) {
    return absl::FailedPreconditionError(
        absl::StrCat("user namespaces nest at most ", kMaxParentLevel + 1, " levels deep"));
  }
  // create_user_ns(): "The creator needs a mapping in the parent user namespace".
  if (!parent->HasMapping(owner) || !parent->HasMapping(group)) {
    return absl::InvalidArgumentError(absl::StrCat("namespace owner ", owner.value(), ":",
                                                   group.value(), " is unmapped in the parent"));
  }
  // map_write() translates each extent through the parent's map and fails if any id of it
  // is unmapped there.
  if (absl::Status s = CheckCoveredByParent(uid_map, parent->uid_map(), "uid_map"); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckCoveredByParent(gid_map, parent->gid_map(), "gid_map"); !s.ok()) {
    return s;
  }
  auto ns = std::shared_ptr<UserNamespace>(new UserNamespace());
  ns->level_ = parent->level() + 1;
  ns->parent_ = std::move(parent);
  ns->owner_ = owner;
  ns->group_ = group;
  ns->rlimit_msgqueue_ = rlimit_msgqueue;
  ns->uid_map_ = std::move(uid_map);
  ns->gid_map_ = std::move(gid_map);
  return std::shared_ptr<const UserNamespace>(std::move(ns));
}

KUid UserNamespace::ToKernel(NsUid uid) const {
  std::optional<uint32_t> k = uid_map_.ToKernel(uid.value());
  return k ? KUid(*k) : KUid();
}

KGid UserNamespace::ToKernel(NsGid gid) const {
  std::optional<uint32_t> k = gid_map_.ToKernel(gid.value());
  return k ? KGid(*k) : KGid();
}

std::optional<NsUid> UserNamespace::FromKernel(KUid uid) const {
  std::optional<uint32_t> id = uid_map_.FromKernel(uid.value());
  if (!id) return std::nullopt;
  return NsUid(*id);
}

std::optional<NsGid> UserNamespace::FromKernel(KGid gid) const {
  std::optional<uint32_t> id = gid_map_.FromKernel(gid.value());
  if (!id) return std::nullopt;
  return NsGid(*id);
}

NsUid UserNamespace::FromKernelOrOverflow(KUid uid) const {
  return FromKernel(uid).value_or(NsUid(kOverflowId));
}

NsGid UserNamespace::FromKernelOrOverflow(KGid gid) const {
  return FromKernel(gid).value_or(NsGid(kOverflowId));
}

bool UserNamespace::IsSameOrAncestorOf(const UserNamespace& other) const {
  for (const UserNamespace* ns = &other; ns != nullptr; ns = ns->parent_.get()) {
    if (ns == this) return true;
  }
  return false;
}

}  // namespace mqsentry::kernel
