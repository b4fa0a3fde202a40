// What the kernel's uapi headers say about the mq ABI, read in a translation unit of its
// own (abi_test_uapi_facts.cc): <linux/mqueue.h> and <asm/siginfo.h> redefine the types of
// glibc's <mqueue.h> and <signal.h>, which GoogleTest pulls in.
#ifndef MQSENTRY_KERNEL_ABI_TEST_UAPI_FACTS_H_
#define MQSENTRY_KERNEL_ABI_TEST_UAPI_FACTS_H_

#include <cstddef>

namespace mqsentry::kernel::abi::testing {

struct UapiFacts {
  // <linux/mqueue.h>
  size_t mq_attr_size, mq_attr_flags, mq_attr_maxmsg, mq_attr_msgsize, mq_attr_curmsgs,
      mq_attr_reserved, mq_attr_field_size;
  long mq_prio_max, mq_bytes_max, notify_cookie_len, notify_none, notify_wokenup, notify_removed;
  // <asm/siginfo.h>: struct sigevent
  size_t sigevent_size, sigev_max_size, sigev_preamble_size, sigev_value, sigev_signo, sigev_notify,
      sigev_function, sigev_attributes, sigev_tid;
  int sigev_signal, sigev_none, sigev_thread, sigev_thread_id;
  // <asm/siginfo.h>: siginfo_t
  size_t si_max_size, siginfo_size, siginfo_pid, siginfo_uid, siginfo_value;
  int si_mesgq;
  // <linux/time_types.h>
  size_t timespec_size, timespec_sec, timespec_nsec;
  // <asm/fcntl.h>
  int o_largefile, o_nonblock, o_cloexec, o_direct, o_path;
};

UapiFacts KernelUapiFacts();

}  // namespace mqsentry::kernel::abi::testing

#endif  // MQSENTRY_KERNEL_ABI_TEST_UAPI_FACTS_H_
