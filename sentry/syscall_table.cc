// The syscall table: numbers from kernel/abi.h for the x86-64, x32 and i386 ABIs.
#include "sentry/syscall_table.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <tuple>
#include <utility>

#include "kernel/abi.h"

namespace mqsentry::sentry {
namespace {

namespace abi = kernel::abi;

// The file calls of MqCall::kMmap .. kOpenByHandleAt on every ABI. Each trap costs the calls it catches one
// round trip to the supervisor, mq descriptor or not: every private file mapping (the
// dynamic loader maps each library a few times), every sendfile and splice, and linkat
// and name_to_handle_at with AT_EMPTY_PATH; open_by_handle_at is rare.
void AddFileCalls(std::vector<SyscallEntry>& t) {
  // A file mapping of MAP_PRIVATE type. MAP_SHARED(_VALIDATE) mappings are not trapped:
  // FUSE refuses them with ENODEV itself (direct_io files), after the same checks.
  const std::vector<std::vector<ArgCondition>> private_file_map = {
      {{.arg = 3, .mask = MAP_TYPE | MAP_ANONYMOUS, .value = MAP_PRIVATE}}};
  const std::vector<std::vector<ArgCondition>> empty_path_flag_4 = {
      {{.arg = 4, .mask = AT_EMPTY_PATH, .value = AT_EMPTY_PATH}}};
  auto add = [&t, &private_file_map, &empty_path_flag_4](Arch arch,
                                                         const abi::GuardSyscallNumbers& n) {
    const bool i386 = arch == Arch::kI386;
    SyscallEntry mmap{i386 ? "mmap2" : "mmap", MqCall::kMmap, arch, n.mmap};
    mmap.trap_when = private_file_map;
    SyscallEntry linkat{"linkat", MqCall::kLinkat, arch, n.linkat};
    linkat.trap_when = empty_path_flag_4;
    SyscallEntry n2h{"name_to_handle_at", MqCall::kNameToHandleAt, arch, n.name_to_handle_at};
    n2h.trap_when = empty_path_flag_4;
    SyscallEntry sendfile{i386 ? "sendfile64" : "sendfile", MqCall::kSendfile, arch, n.sendfile};
    for (SyscallEntry e : {mmap, sendfile, SyscallEntry{"splice", MqCall::kSplice, arch, n.splice},
                           linkat, n2h,
                           SyscallEntry{"open_by_handle_at", MqCall::kOpenByHandleAt, arch,
                                        n.open_by_handle_at}}) {
      e.compat_sizes = i386;
      t.push_back(e);
    }
  };
  add(Arch::kX86_64, abi::kX86_64GuardSyscalls);
  add(Arch::kX32, abi::kX32GuardSyscalls);
  add(Arch::kI386, abi::kI386GuardSyscalls);
  // i386's old mmap(2) passes its arguments in memory, and sendfile(2) a 32-bit offset.
  SyscallEntry old_mmap{"mmap", MqCall::kMmap, Arch::kI386, abi::kI386GuardSyscalls.old_mmap};
  old_mmap.compat_sizes = old_mmap.old_mmap = true;
  t.push_back(old_mmap);
  SyscallEntry sendfile32{"sendfile", MqCall::kSendfile, Arch::kI386,
                          abi::kI386GuardSyscalls.sendfile32};
  sendfile32.compat_sizes = sendfile32.off32 = true;
  t.push_back(sendfile32);
}

std::vector<SyscallEntry> BuildTable() {
  std::vector<SyscallEntry> t;
  auto add_native = [&t](Arch arch, const abi::MqSyscallNumbers& n, bool compat_notify) {
    t.push_back({"mq_open", MqCall::kOpen, arch, n.mq_open});
    t.push_back({"mq_unlink", MqCall::kUnlink, arch, n.mq_unlink});
    t.push_back({"mq_timedsend", MqCall::kTimedSend, arch, n.mq_timedsend});
    t.push_back({"mq_timedreceive", MqCall::kTimedReceive, arch, n.mq_timedreceive});
    SyscallEntry notify{"mq_notify", MqCall::kNotify, arch, n.mq_notify};
    notify.compat_sigevent = compat_notify;
    t.push_back(notify);
    t.push_back({"mq_getsetattr", MqCall::kGetSetAttr, arch, n.mq_getsetattr});
  };
  add_native(Arch::kX86_64, abi::kX86_64Syscalls, false);
  // x32 uses the 64-bit layouts except for mq_notify's sigevent (spec §1.1).
  add_native(Arch::kX32, abi::kX32Syscalls, true);

  // i386: every layout is the compat one.
  const abi::MqSyscallNumbers& n = abi::kI386Syscalls;
  auto compat = [](SyscallEntry e, bool time32) {
    e.compat_attr = true;
    e.compat_sigevent = true;
    e.compat_sizes = true;
    e.time32 = time32;
    return e;
  };
  t.push_back(compat({"mq_open", MqCall::kOpen, Arch::kI386, n.mq_open}, false));
  t.push_back(compat({"mq_unlink", MqCall::kUnlink, Arch::kI386, n.mq_unlink}, false));
  t.push_back(compat({"mq_timedsend", MqCall::kTimedSend, Arch::kI386, n.mq_timedsend}, true));
  t.push_back(compat(
      {"mq_timedreceive", MqCall::kTimedReceive, Arch::kI386, n.mq_timedreceive}, true));
  t.push_back(compat({"mq_notify", MqCall::kNotify, Arch::kI386, n.mq_notify}, false));
  t.push_back(
      compat({"mq_getsetattr", MqCall::kGetSetAttr, Arch::kI386, n.mq_getsetattr}, false));
  t.push_back(compat({"mq_timedsend_time64", MqCall::kTimedSend, Arch::kI386,
                      n.mq_timedsend_time64},
                     false));
  t.push_back(compat({"mq_timedreceive_time64", MqCall::kTimedReceive, Arch::kI386,
                      n.mq_timedreceive_time64},
                     false));
  // Mount guards (see MqCall): mount(2) and fsopen(2) on every ABI.
  const abi::GuardSyscallNumbers& x64 = abi::kX86_64GuardSyscalls;
  const abi::GuardSyscallNumbers& x32 = abi::kX32GuardSyscalls;
  const abi::GuardSyscallNumbers& i386 = abi::kI386GuardSyscalls;
  t.push_back({"mount", MqCall::kMount, Arch::kX86_64, x64.mount});
  t.push_back({"fsopen", MqCall::kFsopen, Arch::kX86_64, x64.fsopen});
  t.push_back({"mount", MqCall::kMount, Arch::kX32, x32.mount});
  t.push_back({"fsopen", MqCall::kFsopen, Arch::kX32, x32.fsopen});
  t.push_back(compat({"mount", MqCall::kMount, Arch::kI386, i386.mount}, false));
  t.push_back(compat({"fsopen", MqCall::kFsopen, Arch::kI386, i386.fsopen}, false));
  // fcntl guards (see MqCall): fcntl on every ABI, and i386's fcntl64.
  const std::vector<std::vector<ArgCondition>> fcntl_when = {
      // cmd is an unsigned int: the upper half of a 64-bit register is ignored.
      {{.arg = 1, .mask = 0xffffffff, .value = F_GETFL}},
      {{.arg = 1, .mask = 0xffffffff, .value = F_SETFL},
       {.arg = 2, .mask = abi::kODirect, .value = abi::kODirect}},
  };
  auto fcntl_entry = [&](const char* name, Arch arch, int nr) {
    SyscallEntry e{name, MqCall::kFcntl, arch, nr};
    e.trap_when = fcntl_when;
    e.compat_sizes = arch == Arch::kI386;
    return e;
  };
  t.push_back(fcntl_entry("fcntl", Arch::kX86_64, x64.fcntl));
  t.push_back(fcntl_entry("fcntl", Arch::kX32, x32.fcntl));
  t.push_back(fcntl_entry("fcntl", Arch::kI386, i386.fcntl));
  t.push_back(fcntl_entry("fcntl64", Arch::kI386, i386.fcntl64));
  t.push_back({"fstatfs", MqCall::kFstatfs, Arch::kX86_64, x64.fstatfs});
  t.push_back({"fstatfs", MqCall::kFstatfs, Arch::kX32, x32.fstatfs});
  t.push_back(compat({"fstatfs", MqCall::kFstatfsCompat, Arch::kI386, i386.fstatfs}, false));
  SyscallEntry fstatfs64 =
      compat({"fstatfs64", MqCall::kFstatfsCompat, Arch::kI386, i386.fstatfs64}, false);
  fstatfs64.statfs64 = true;
  t.push_back(fstatfs64);
  AddFileCalls(t);
  // userfaultfd guards (see MqCall): the flags are in a register, so the condition on them
  // cannot race with the caller's other threads.
  auto uffd_entries = [&t](Arch arch, const abi::UffdSyscallNumbers& n) {
    SyscallEntry create{"userfaultfd", MqCall::kUserfaultfd, arch, n.userfaultfd};
    create.trap_when = {{{.arg = 0, .mask = abi::kUffdUserModeOnly, .value = 0}}};
    SyscallEntry ioctl{"ioctl", MqCall::kUserfaultfd, arch, n.ioctl};
    // cmd is an unsigned int: the upper half of a 64-bit register is ignored.
    ioctl.trap_when = {{{.arg = 1, .mask = 0xffffffff, .value = abi::kUserfaultfdIocNew},
                        {.arg = 2, .mask = abi::kUffdUserModeOnly, .value = 0}}};
    create.compat_sizes = ioctl.compat_sizes = arch == Arch::kI386;
    t.push_back(create);
    t.push_back(ioctl);
  };
  uffd_entries(Arch::kX86_64, abi::kX86_64UffdSyscalls);
  uffd_entries(Arch::kX32, abi::kX32UffdSyscalls);
  uffd_entries(Arch::kI386, abi::kI386UffdSyscalls);
  // Signal-sending calls (see MqCall) on every ABI. pidfd_send_signal is trapped unless
  // its flags are exactly PIDFD_SIGNAL_THREAD_GROUP (other bits with it: EINVAL, nothing
  // sent); flags is an unsigned int.
  const std::vector<std::vector<ArgCondition>> pidfd_when = {
      {{.arg = 3, .mask = abi::kPidfdSignalThreadGroup, .value = 0}},
      {{.arg = 3, .mask = 1, .value = 1}},
      {{.arg = 3, .mask = 4, .value = 4}},
  };
  const std::pair<Arch, const abi::GuardSyscallNumbers*> abis[] = {
      {Arch::kX86_64, &x64}, {Arch::kX32, &x32}, {Arch::kI386, &i386}};
  for (const auto& [arch, numbers] : abis) {
    const abi::GuardSyscallNumbers& n = *numbers;
    t.push_back({"kill", MqCall::kKill, arch, n.kill});
    t.push_back({"tkill", MqCall::kTkill, arch, n.tkill});
    t.push_back({"tgkill", MqCall::kTgkill, arch, n.tgkill});
    t.push_back({"rt_sigqueueinfo", MqCall::kRtSigqueueinfo, arch, n.rt_sigqueueinfo});
    t.push_back({"rt_tgsigqueueinfo", MqCall::kRtTgsigqueueinfo, arch, n.rt_tgsigqueueinfo});
    SyscallEntry pidfd{"pidfd_send_signal", MqCall::kPidfdSendSignal, arch, n.pidfd_send_signal};
    pidfd.trap_when = pidfd_when;
    pidfd.compat_sizes = arch == Arch::kI386;
    t.push_back(pidfd);
  }
  std::sort(t.begin(), t.end(), [](const SyscallEntry& a, const SyscallEntry& b) {
    return std::tuple(static_cast<int>(a.arch), a.nr) <
           std::tuple(static_cast<int>(b.arch), b.nr);
  });
  return t;
}

}  // namespace

const std::vector<SyscallEntry>& SyscallTable() {
  static const std::vector<SyscallEntry>* table = new std::vector<SyscallEntry>(BuildTable());
  return *table;
}

const SyscallEntry* LookupSyscall(Arch arch, int nr) {
  const auto& t = SyscallTable();
  auto it = std::lower_bound(t.begin(), t.end(), std::tuple(static_cast<int>(arch), nr),
                             [](const SyscallEntry& e, const std::tuple<int, int>& key) {
                               return std::tuple(static_cast<int>(e.arch), e.nr) < key;
                             });
  if (it == t.end() || it->arch != arch || it->nr != nr) return nullptr;
  return &*it;
}

std::vector<FilterRule> FilterRules(bool x32) {
  std::vector<FilterRule> rules;
  for (const SyscallEntry& e : SyscallTable()) {
    if (e.arch == Arch::kX32 && !x32) continue;
    if (e.trap_when.empty()) rules.push_back(FilterRule{e.arch, e.nr});
    for (const std::vector<ArgCondition>& when : e.trap_when) {
      rules.push_back(FilterRule{e.arch, e.nr, when});
    }
  }
  return rules;
}

bool KernelRunsX32() {
  // A kernel without x32 (CONFIG_X86_X32_ABI off, or syscall.x32=n) answers every x32
  // number with ENOSYS; getpid cannot fail otherwise. Probed in a child: a seccomp filter
  // that mqsentry itself runs under may kill a caller of x32 (the sandbox inherits that
  // filter, so its x32 calls never reach ours either way).
  const pid_t child = fork();
  if (child < 0) return true;  // trap x32: the safe side
  if (child == 0) {
    errno = 0;
    const long r = syscall(abi::kX32SyscallBit | SYS_getpid);
    _exit(r == -1 && errno == ENOSYS ? 1 : 0);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return true;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace mqsentry::sentry
