// The fuzzer's step kinds. Each performs exactly one call under test (raw syscall or glibc)
// and records it as one transcript line; a few add a follow-up step that keeps the run
// safe (e.g. dropping a SIGKILL notification that would otherwise end the run).
#ifndef MQSENTRY_TEST_FUZZ_OPS_H_
#define MQSENTRY_TEST_FUZZ_OPS_H_

#include "test/fuzz/context.h"

namespace mqsentry::fuzz {

// open_unlink.cc
void MqOpenStep(Context& ctx);
void MqUnlinkStep(Context& ctx);
// send_receive.cc
void MqTimedSendStep(Context& ctx);
void MqTimedReceiveStep(Context& ctx);
// notify_attr.cc
void MqNotifyStep(Context& ctx);
void MqGetSetAttrStep(Context& ctx);
void DrainCookiesStep(Context& ctx);
// i386.cc: one of the six calls through int $0x80 with the compat layouts.
void I386Step(Context& ctx);
// Whether this kernel runs i386 calls of a 64-bit program (int $0x80).
bool I386Available();
// x32.cc: one of the six calls on the x32 ABI, where the kernel lacks x32 (ENOSYS).
void X32Step(Context& ctx);
bool KernelLacksX32();
// descriptors.cc
// Closes the oldest mq descriptor when too many are open (a step of its own).
void TrimStep(Context& ctx);
void CloseStep(Context& ctx);
void DupStep(Context& ctx);
void ReadStep(Context& ctx);
void LseekStep(Context& ctx);
void WriteStep(Context& ctx);
void PollStep(Context& ctx);
void FstatStep(Context& ctx);
void FcntlStep(Context& ctx);

}  // namespace mqsentry::fuzz

#endif  // MQSENTRY_TEST_FUZZ_OPS_H_
