// mq_getsetattr(2): mq_flags validation and the O_NONBLOCK update (spec §7).
#include "ipc/getsetattr.h"

#include <cerrno>
#include <cstdint>

namespace mqsentry::ipc {

kernel::SyscallResult ValidateNewAttr(const kernel::abi::MqAttr& new_attr) {
  // Spec §7 step 2: "newattr->mq_flags & ~O_NONBLOCK" on the whole long -> EINVAL.
  if ((new_attr.mq_flags & ~int64_t{kernel::abi::kONonblock}) != 0) {
    return kernel::SyscallResult::Error(EINVAL);
  }
  return kernel::SyscallResult::Ok();
}

kernel::abi::MqAttr GetSetAttr(const Queue& queue, int* file_flags,
                               const kernel::abi::MqAttr* new_attr) {
  // The old attributes are taken before the change (spec §7 step 4).
  const kernel::abi::MqAttr old_attr = queue.Attributes(*file_flags);
  if (new_attr != nullptr) {
    if (new_attr->mq_flags & kernel::abi::kONonblock) {
      *file_flags |= kernel::abi::kONonblock;
    } else {
      *file_flags &= ~kernel::abi::kONonblock;
    }
  }
  return old_attr;
}

}  // namespace mqsentry::ipc
