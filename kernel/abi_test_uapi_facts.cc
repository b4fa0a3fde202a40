// Reads the kernel's uapi headers into UapiFacts. No GoogleTest and no glibc signal or
// mqueue headers here: they define the same types as the uapi headers.
#include "kernel/abi_test_uapi_facts.h"

#include <asm/fcntl.h>
#include <asm/siginfo.h>
#include <linux/mqueue.h>
#include <linux/time_types.h>

#include <cstddef>

namespace mqsentry::kernel::abi::testing {

UapiFacts KernelUapiFacts() {
  return UapiFacts{
      .mq_attr_size = sizeof(struct mq_attr),
      .mq_attr_flags = offsetof(struct mq_attr, mq_flags),
      .mq_attr_maxmsg = offsetof(struct mq_attr, mq_maxmsg),
      .mq_attr_msgsize = offsetof(struct mq_attr, mq_msgsize),
      .mq_attr_curmsgs = offsetof(struct mq_attr, mq_curmsgs),
      .mq_attr_reserved = offsetof(struct mq_attr, __reserved),
      .mq_attr_field_size = sizeof(__kernel_long_t),
      .mq_prio_max = MQ_PRIO_MAX,
      .mq_bytes_max = MQ_BYTES_MAX,
      .notify_cookie_len = NOTIFY_COOKIE_LEN,
      .notify_none = NOTIFY_NONE,
      .notify_wokenup = NOTIFY_WOKENUP,
      .notify_removed = NOTIFY_REMOVED,
      .sigevent_size = sizeof(sigevent_t),
      .sigev_max_size = SIGEV_MAX_SIZE,
      .sigev_preamble_size = __ARCH_SIGEV_PREAMBLE_SIZE,
      .sigev_value = offsetof(sigevent_t, sigev_value),
      .sigev_signo = offsetof(sigevent_t, sigev_signo),
      .sigev_notify = offsetof(sigevent_t, sigev_notify),
      .sigev_function = offsetof(sigevent_t, sigev_notify_function),
      .sigev_attributes = offsetof(sigevent_t, sigev_notify_attributes),
      .sigev_tid = offsetof(sigevent_t, sigev_notify_thread_id),
      .sigev_signal = SIGEV_SIGNAL,
      .sigev_none = SIGEV_NONE,
      .sigev_thread = SIGEV_THREAD,
      .sigev_thread_id = SIGEV_THREAD_ID,
      .si_max_size = SI_MAX_SIZE,
      .siginfo_size = sizeof(siginfo_t),
      .siginfo_pid = offsetof(siginfo_t, si_pid),
      .siginfo_uid = offsetof(siginfo_t, si_uid),
      .siginfo_value = offsetof(siginfo_t, si_value),
      .si_mesgq = SI_MESGQ,
      .timespec_size = sizeof(struct __kernel_timespec),
      .timespec_sec = offsetof(struct __kernel_timespec, tv_sec),
      .timespec_nsec = offsetof(struct __kernel_timespec, tv_nsec),
      .o_largefile = O_LARGEFILE,
      .o_nonblock = O_NONBLOCK,
      .o_cloexec = O_CLOEXEC,
      .o_direct = O_DIRECT,
      .o_path = O_PATH,
  };
}

}  // namespace mqsentry::kernel::abi::testing
