// mq_getsetattr(2) on a queue and an open description's flags (spec §7).
#ifndef MQSENTRY_IPC_GETSETATTR_H_
#define MQSENTRY_IPC_GETSETATTR_H_

#include "ipc/queue.h"
#include "kernel/abi.h"
#include "kernel/syscall_result.h"

namespace mqsentry::ipc {

// Spec §7 step 2, before the descriptor check: any mq_flags bit other than O_NONBLOCK
// (the full 64-bit long is tested, so 1<<40 counts) is EINVAL. Ok() otherwise.
kernel::SyscallResult ValidateNewAttr(const kernel::abi::MqAttr& new_attr);

// Spec §7 step 4: snapshots {f_flags & O_NONBLOCK, maxmsg, msgsize, curmsgs, 0} from
// `queue` and `*file_flags` first, then, if `new_attr` is non-null (already validated), sets
// or clears O_NONBLOCK in `*file_flags`; every other bit of *file_flags (O_APPEND, ...)
// and every other field of `new_attr` is left alone. Returns the snapshot (oldattr).
kernel::abi::MqAttr GetSetAttr(const Queue& queue, int* file_flags,
                               const kernel::abi::MqAttr* new_attr);

}  // namespace mqsentry::ipc

#endif  // MQSENTRY_IPC_GETSETATTR_H_
