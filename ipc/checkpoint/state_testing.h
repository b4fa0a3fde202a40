// Test helpers for checkpoint state: a field-by-field comparison of state structs that names
// the first difference, builders for small valid states, and an oracle for the charge
// formula and the accounting sums written from the spec (§3.5), independently of codec.cc.
#ifndef MQSENTRY_IPC_CHECKPOINT_STATE_TESTING_H_
#define MQSENTRY_IPC_CHECKPOINT_STATE_TESTING_H_

#include <cstdint>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "ipc/state.h"
#include "kernel/user_namespace.h"

namespace mqsentry::ipc::checkpoint_testing {

// Empty if the two are equal field for field; otherwise the path of the first difference
// and both values, e.g. "ipc_namespaces[0].queues[1].mode: 0644 vs 0600".
std::string FirstDifference(const state::SandboxState& a, const state::SandboxState& b);
std::string FirstDifference(const kernel::IdMapExtent& a, const kernel::IdMapExtent& b);
std::string FirstDifference(const state::UserNamespaceState& a, const state::UserNamespaceState& b);
std::string FirstDifference(const state::SysctlsState& a, const state::SysctlsState& b);
std::string FirstDifference(const state::MessageState& a, const state::MessageState& b);
std::string FirstDifference(const state::NotificationState& a, const state::NotificationState& b);
std::string FirstDifference(const state::ChargeState& a, const state::ChargeState& b);
std::string FirstDifference(const state::QueueState& a, const state::QueueState& b);
std::string FirstDifference(const state::IpcNamespaceState& a, const state::IpcNamespaceState& b);
std::string FirstDifference(const state::AccountingEntry& a, const state::AccountingEntry& b);

// For EXPECT_TRUE(StatesEqual(a, b)): fails with FirstDifference().
template <typename T>
::testing::AssertionResult StatesEqual(const T& a, const T& b) {
  std::string diff = FirstDifference(a, b);
  if (diff.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "states differ at " << diff;
}

// Spec §3.5, x86-64: maxmsg*48 + min(maxmsg, 32768)*48 + maxmsg*msgsize.
uint64_t ExpectedCharge(int64_t maxmsg, int64_t msgsize);

// Replaces s.accounting with the counters the queues' charges add up to (ancestor
// namespaces' owners included), sorted by (user_ns, uid), zero entries omitted.
void RecomputeAccounting(state::SandboxState& s);

// The initial user namespace as the model exports it: parent -1, identity maps, owner 0:0,
// RLIMIT_MSGQUEUE 819200.
state::UserNamespaceState InitialUserNamespace();
// A child of `parent` owned by `owner` (uid and gid) with one-extent uid and gid maps.
state::UserNamespaceState ChildUserNamespace(int32_t parent, uint32_t owner,
                                             kernel::IdMapExtent map);

// A queue with default owner 1000:1000, mode 0600 and the charge for its attributes,
// charged to (charge_user_ns, ruid).
state::QueueState MakeQueue(std::optional<std::string> name, uint64_t id, int64_t maxmsg,
                            int64_t msgsize, int32_t charge_user_ns = 0, uint32_t ruid = 1000);

// An IPC namespace with default sysctls and no queues.
state::IpcNamespaceState MakeIpcNamespace(uint64_t id, int32_t owner_user_ns = 0);

// One initial user namespace, one IPC namespace without queues, no accounting.
state::SandboxState MinimalState();

// A state that exercises every kind of field, valid:
//   user_namespaces: [0] initial; [1] child of 0 owned by 1000 mapping 0..65535 to
//     100000..165535; [2] child of 1 owned by 100000 mapping 0..999 to 100000..100999.
//   ipc_namespaces[0] (id 1, owner ns 0, root 0:0):
//     queues[0] "alpha" id 10: maxmsg 10, msgsize 8192, messages prio 5, 5, 1,
//       SIGEV_SIGNAL notification (signo 10); charged to (0, 1000).
//     queues[1] unlinked id 11: maxmsg 3, msgsize 100, one message; charged to (2, 100500).
//     queues[2] "beta" id 12: maxmsg 1, msgsize 1, SIGEV_THREAD notification;
//       charged to (0, 1000).
//   ipc_namespaces[1] (id 2, owner ns 1, root 100000:100000):
//     queues[0] "alpha" id 20: maxmsg 5, msgsize 128, SIGEV_NONE notification from ns 1;
//       charged to (1, 100001).
//   accounting: recomputed.
state::SandboxState RichState();

}  // namespace mqsentry::ipc::checkpoint_testing

#endif  // MQSENTRY_IPC_CHECKPOINT_STATE_TESTING_H_
