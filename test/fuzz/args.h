// Argument generators shared by the step kinds: queue names, attributes, timeouts and
// pointer kinds, each returning the raw register value plus a label for the transcript.
#ifndef MQSENTRY_TEST_FUZZ_ARGS_H_
#define MQSENTRY_TEST_FUZZ_ARGS_H_

#include <cstdint>
#include <string>

#include "test/fuzz/context.h"

namespace mqsentry::fuzz {

struct Arg {
  uint64_t value = 0;
  std::string label;
};

// A queue name as the kernel sees it (no leading '/'): a small pool of real names (so
// queues get created, reopened and unlinked), the spec §3.2 edge cases, and bad pointers.
// `glibc` is set when the name may be given to glibc instead (a valid, terminated string;
// glibc reads it itself); then `glibc_name` holds it with glibc's leading '/' (or without,
// sometimes, for glibc's own EINVAL).
struct NameArg : Arg {
  bool glibc_ok = false;
  std::string glibc_name;
};
NameArg PickName(Context& ctx);

// A struct mq_attr pointer: NULL, a valid struct with good or bad values, or a bad pointer.
Arg PickAttrIn(Context& ctx);
// A pointer the kernel writes a struct mq_attr (64 bytes) to.
Arg PickOutPointer(Context& ctx, size_t size, bool big);

// A struct timespec pointer for send/receive (old_timespec32 if `time32`). `may_block` is
// true when it is NULL or in the future (or saturates to forever): the caller then must
// make sure the call cannot block.
Arg PickTimeout(Context& ctx, bool* may_block, bool time32 = false);
// An expired deadline, replacing one that could block.
Arg ExpiredTimeout(Context& ctx);

// A pointer kind for an argument the kernel reads, weighted toward valid.
PtrKind PickInKind(Context& ctx);
// A pointer kind for an argument the kernel writes: valid, read-only, or bad.
PtrKind PickOutKind(Context& ctx);

// mq_open's oflag: an access mode (3 included) and any mix of flags, rarely any bits at
// all (spec §3.3).
uint64_t PickOflag(Context& ctx);
// mq_open's mode: usual modes, every bit, bits above umode_t's 16.
uint64_t PickMode(Rng& rng);

// A message priority: mostly valid, sometimes >= MQ_PRIO_MAX.
Arg PickPriority(Context& ctx);

}  // namespace mqsentry::fuzz

#endif  // MQSENTRY_TEST_FUZZ_ARGS_H_
