// The notify filter traps exactly the rules' (ABI, number) pairs, on all three x86 ABIs:
// x86-64 through syscall(2), i386 through `int $0x80` (which a 64-bit process may execute:
// the kernel takes it as the i386 ABI), x32 through the syscall instruction with the x32
// bit (seccomp sees it even on kernels built without x32 support, before the dispatcher
// would answer ENOSYS).
#include "sentry/seccomp_filter.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "kernel/abi.h"
#include "kernel/syscall_result.h"
#include "sentry/arch.h"
#include "sentry/platform.h"
#include "sentry/seccomp_platform.h"
#include "sentry/test_support.h"

namespace mqsentry::sentry {
namespace {

using kernel::SyscallResult;
using testing::AllMqRules;
using testing::ForkFilteredChild;
using testing::MqNumbers;
using testing::ReceiveWithin;
using testing::WaitForExit;

// i386 ABI from 64-bit code: eax = number, ebx, ecx, edx, esi, edi. The kernel returns in
// eax; r8-r11 are not preserved by the compat entry.
long Int80(long nr, long a0 = 0, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0) {
  long ret;
  asm volatile("int $0x80"
               : "=a"(ret)
               : "0"(nr), "b"(a0), "c"(a1), "d"(a2), "S"(a3), "D"(a4)
               : "memory", "r8", "r9", "r10", "r11");
  return static_cast<int>(ret);  // a 32-bit result
}

// The syscall instruction with a raw number (x32 numbers carry the x32 bit).
long RawSyscall(long nr, long a0 = 0, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0,
                long a5 = 0) {
  long ret;
  register long r10 asm("r10") = a3;
  register long r8 asm("r8") = a4;
  register long r9 asm("r9") = a5;
  asm volatile("syscall"
               : "=a"(ret)
               : "0"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return ret;
}

// Whether this machine runs `int $0x80` from 64-bit code (IA32 emulation enabled, and a
// CPU/hypervisor that routes vector 0x80; some do not and raise #GP).
bool Int80Works() {
  static const bool works = [] {
    const pid_t pid = fork();
    if (pid == 0) _exit(Int80(20) == getpid() ? 0 : 1);
    int status;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
  }();
  return works;
}

// A classic-BPF interpreter for seccomp programs, so that every (ABI, number) pair can be
// run through the exact program the filter loads, including the ABIs this machine cannot
// enter.
absl::StatusOr<uint32_t> RunFilter(const std::vector<sock_filter>& program,
                                   const seccomp_data& data) {
  uint32_t a = 0, x = 0;
  uint32_t mem[BPF_MEMWORDS] = {};
  size_t pc = 0;
  auto bad = [&](const char* why) {
    return absl::InternalError(std::string(why) + " at " + std::to_string(pc - 1));
  };
  while (pc < program.size()) {
    const sock_filter& i = program[pc++];
    const uint32_t src = BPF_SRC(i.code) == BPF_X ? x : i.k;
    switch (BPF_CLASS(i.code)) {
      case BPF_LD:
        if (BPF_MODE(i.code) == BPF_ABS && BPF_SIZE(i.code) == BPF_W) {
          if (i.k % 4 != 0 || i.k + 4 > sizeof(data)) return bad("bad load");
          std::memcpy(&a, reinterpret_cast<const char*>(&data) + i.k, 4);
        } else if (BPF_MODE(i.code) == BPF_IMM) {
          a = i.k;
        } else if (BPF_MODE(i.code) == BPF_MEM && i.k < BPF_MEMWORDS) {
          a = mem[i.k];
        } else {
          return bad("unsupported load");
        }
        break;
      case BPF_LDX:
        if (BPF_MODE(i.code) == BPF_IMM) {
          x = i.k;
        } else if (BPF_MODE(i.code) == BPF_MEM && i.k < BPF_MEMWORDS) {
          x = mem[i.k];
        } else {
          return bad("unsupported ldx");
        }
        break;
      case BPF_ST:
      case BPF_STX:
        if (i.k >= BPF_MEMWORDS) return bad("bad store");
        mem[i.k] = BPF_CLASS(i.code) == BPF_ST ? a : x;
        break;
      case BPF_ALU:
        switch (BPF_OP(i.code)) {
          case BPF_ADD: a += src; break;
          case BPF_SUB: a -= src; break;
          case BPF_MUL: a *= src; break;
          case BPF_AND: a &= src; break;
          case BPF_OR: a |= src; break;
          case BPF_XOR: a ^= src; break;
          case BPF_LSH: a <<= (src & 31); break;
          case BPF_RSH: a >>= (src & 31); break;
          case BPF_NEG: a = -a; break;
          default: return bad("unsupported alu");
        }
        break;
      case BPF_JMP: {
        if (BPF_OP(i.code) == BPF_JA) {
          pc += i.k;
          break;
        }
        bool taken;
        switch (BPF_OP(i.code)) {
          case BPF_JEQ: taken = a == src; break;
          case BPF_JGT: taken = a > src; break;
          case BPF_JGE: taken = a >= src; break;
          case BPF_JSET: taken = (a & src) != 0; break;
          default: return bad("unsupported jump");
        }
        pc += taken ? i.jt : i.jf;
        break;
      }
      case BPF_RET:
        return BPF_RVAL(i.code) == BPF_A ? a : i.k;
      case BPF_MISC:
        if (BPF_MISCOP(i.code) == BPF_TAX) {
          x = a;
        } else {
          a = x;
        }
        break;
      default:
        return bad("unsupported class");
    }
  }
  return absl::InternalError("fell off the end of the program");
}

long Invoke(Arch arch, long nr, long a0, long a1, long a2) {
  return arch == Arch::kI386 ? Int80(nr, a0, a1, a2) : RawSyscall(nr, a0, a1, a2);
}

TEST(SeccompFilterTest, RejectsEmptyAndUnknownRules) {
  EXPECT_EQ(InstallNotifyFilter({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(DescribeNotifyFilter({{Arch::kX32, 240}}).ok());  // x32 bit missing
  EXPECT_FALSE(DescribeNotifyFilter({{Arch::kX86_64, kX32SyscallBit | 240}}).ok());
  EXPECT_FALSE(DescribeNotifyFilter({{Arch::kI386, 3000}}).ok());
  EXPECT_FALSE(DescribeNotifyFilter({{Arch::kI386, -5}}).ok());
}

// libseccomp translates rule numbers by name from the native ABI; the filter must still
// compare each ABI against its own numbers.
TEST(SeccompFilterTest, EachAbiComparesItsOwnNumbers) {
  absl::StatusOr<std::string> pfc = DescribeNotifyFilter(AllMqRules());
  ASSERT_TRUE(pfc.ok()) << pfc.status();
  const size_t x86 = pfc->find("filter for arch x86 ");
  const size_t x32 = pfc->find("filter for arch x32 ");
  ASSERT_NE(x86, std::string::npos) << *pfc;
  ASSERT_NE(x32, std::string::npos) << *pfc;
  const std::string x86_part = pfc->substr(x86, x32 > x86 ? x32 - x86 : std::string::npos);
  for (int nr : MqNumbers(Arch::kI386)) {
    EXPECT_NE(x86_part.find("($syscall == " + std::to_string(nr) + ")"), std::string::npos)
        << nr << "\n" << *pfc;
  }
  EXPECT_EQ(x86_part.find("($syscall == 240)"), std::string::npos) << *pfc;
  EXPECT_NE(pfc->find("($syscall == " + std::to_string(kX32SyscallBit | 527) + ")"),
            std::string::npos)
      << *pfc;
}

// Every (ABI, number) pair, through the loaded program: USER_NOTIF exactly for the rules,
// ALLOW for everything else of the three ABIs.
TEST(SeccompFilterTest, ProgramNotifiesExactlyTheRules) {
  const std::vector<FilterRule> rules = AllMqRules();
  absl::StatusOr<std::vector<sock_filter>> program = BuildNotifyFilter(rules);
  ASSERT_TRUE(program.ok()) << program.status();
  std::set<std::pair<Arch, int>> trapped;
  for (const FilterRule& r : rules) trapped.insert({r.arch, r.nr});
  ASSERT_EQ(trapped.size(), 6u + 8u + 6u);
  int notified = 0;
  for (Arch arch : {Arch::kX86_64, Arch::kI386, Arch::kX32}) {
    for (int base = 0; base < 1024; ++base) {
      const int nr = arch == Arch::kX32 ? (kX32SyscallBit | base) : base;
      seccomp_data data{};
      data.nr = nr;
      data.arch = arch == Arch::kI386 ? AUDIT_ARCH_I386 : AUDIT_ARCH_X86_64;
      data.args[0] = 0x1234;
      absl::StatusOr<uint32_t> action = RunFilter(*program, data);
      ASSERT_TRUE(action.ok()) << action.status();
      const uint32_t expected =
          trapped.count({arch, nr}) != 0 ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW;
      EXPECT_EQ(*action & SECCOMP_RET_ACTION_FULL, expected) << ArchName(arch) << " " << nr;
      notified += expected == SECCOMP_RET_USER_NOTIF;
    }
  }
  EXPECT_EQ(notified, 20);
  // Spot checks of what the translation bug would have produced: i386 277 is mq_open, not
  // x86-64's sync_file_range; x86-64 277 (sync_file_range) is not trapped.
  seccomp_data data{};
  data.arch = AUDIT_ARCH_I386;
  data.nr = 314;  // i386 sync_file_range
  EXPECT_EQ(*RunFilter(*program, data) & SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW);
  data.arch = AUDIT_ARCH_AARCH64;  // never an x86 process: not ALLOWed
  data.nr = 180;
  EXPECT_NE(*RunFilter(*program, data) & SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW);
}

// Conditional rules: fcntl trapped only for F_GETFL (whatever the upper half of the
// 64-bit register holds: the kernel reads an unsigned int) or for F_SETFL with O_DIRECT.
TEST(SeccompFilterTest, ConditionsSelectTheArguments) {
  const std::vector<FilterRule> rules = {
      {Arch::kX86_64, 72, {{.arg = 1, .mask = 0xffffffff, .value = F_GETFL}}},
      {Arch::kX86_64, 72,
       {{.arg = 1, .mask = 0xffffffff, .value = F_SETFL},
        {.arg = 2, .mask = O_DIRECT, .value = O_DIRECT}}},
      {Arch::kX86_64, 240},  // mq_open, unconditional
  };
  absl::StatusOr<std::vector<sock_filter>> program = BuildNotifyFilter(rules);
  ASSERT_TRUE(program.ok()) << program.status();
  auto action = [&](int nr, uint64_t a1, uint64_t a2) {
    seccomp_data data{};
    data.arch = AUDIT_ARCH_X86_64;
    data.nr = nr;
    data.args[1] = a1;
    data.args[2] = a2;
    absl::StatusOr<uint32_t> a = RunFilter(*program, data);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? (*a & SECCOMP_RET_ACTION_FULL) : 0u;
  };
  EXPECT_EQ(action(72, F_GETFL, 0), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(action(72, (uint64_t{0xdead} << 32) | F_GETFL, 0), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(action(72, F_GETFD, 0), SECCOMP_RET_ALLOW);
  EXPECT_EQ(action(72, F_SETFL, O_NONBLOCK), SECCOMP_RET_ALLOW);
  EXPECT_EQ(action(72, F_SETFL, O_NONBLOCK | O_DIRECT), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(action(72, F_GETFD, O_DIRECT), SECCOMP_RET_ALLOW);
  EXPECT_EQ(action(240, 0, 0), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(action(73, F_GETFL, 0), SECCOMP_RET_ALLOW);

  // An unconditional rule for the same number wins over conditional ones.
  absl::StatusOr<std::vector<sock_filter>> both = BuildNotifyFilter(
      {{Arch::kX86_64, 72, {{.arg = 1, .value = F_GETFL}}}, {Arch::kX86_64, 72}});
  ASSERT_TRUE(both.ok()) << both.status();
  seccomp_data data{};
  data.arch = AUDIT_ARCH_X86_64;
  data.nr = 72;
  data.args[1] = F_GETFD;
  EXPECT_EQ(*RunFilter(*both, data) & SECCOMP_RET_ACTION_FULL, SECCOMP_RET_USER_NOTIF);

  // Conditions that could never hold are refused.
  EXPECT_FALSE(BuildNotifyFilter({{Arch::kX86_64, 72, {{.arg = 6, .value = 1}}}}).ok());
  EXPECT_FALSE(BuildNotifyFilter({{Arch::kX86_64, 72, {{.arg = 1, .mask = 0}}}}).ok());
  EXPECT_FALSE(
      BuildNotifyFilter({{Arch::kI386, 55, {{.arg = 1, .mask = uint64_t{1} << 40}}}}).ok());
}

// The child makes every mq call of one ABI; each must arrive with that ABI, number and
// arguments, and return what the parent answers.
void ExpectAllTrapped(Arch arch) {
  const std::vector<int> numbers = MqNumbers(arch);
  absl::StatusOr<testing::FilteredChild> child = ForkFilteredChild(AllMqRules(), [&] {
    for (size_t i = 0; i < numbers.size(); ++i) {
      const long r = Invoke(arch, numbers[i], 0x1234, 0x55, 0x66);
      if (r != static_cast<long>(1000 + i)) return static_cast<int>(10 + i);
    }
    // An errno answer reaches the caller as -errno in the return register.
    if (Invoke(arch, numbers[0], 0, 0, 0) != -EACCES) return 1;
    return 0;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<std::unique_ptr<Platform>> platform =
      CreateSeccompPlatform(child->listener.release());
  ASSERT_TRUE(platform.ok()) << platform.status();
  for (size_t i = 0; i < numbers.size(); ++i) {
    absl::StatusOr<TrappedCall> call = ReceiveWithin(**platform);
    ASSERT_TRUE(call.ok()) << call.status() << " waiting for " << ArchName(arch) << " "
                           << numbers[i];
    EXPECT_EQ(call->arch, arch);
    EXPECT_EQ(call->nr, numbers[i]);
    EXPECT_EQ(call->tid, child->pid);
    EXPECT_EQ(call->args[0], 0x1234u);
    EXPECT_EQ(call->args[1], 0x55u);
    EXPECT_EQ(call->args[2], 0x66u);
    EXPECT_TRUE((*platform)->StillValid(call->id));
    absl::StatusOr<bool> sent =
        (*platform)->Answer(*call, SyscallResult::Value(static_cast<int64_t>(1000 + i)));
    ASSERT_TRUE(sent.ok()) << sent.status();
    EXPECT_TRUE(*sent);
    EXPECT_FALSE((*platform)->StillValid(call->id));
  }
  absl::StatusOr<TrappedCall> call = ReceiveWithin(**platform);
  ASSERT_TRUE(call.ok()) << call.status();
  ASSERT_TRUE((*platform)->Answer(*call, SyscallResult::Error(EACCES)).ok());
  EXPECT_EQ(WaitForExit(child->pid), 0);
}

TEST(SeccompFilterTest, TrapsX86_64) { ExpectAllTrapped(Arch::kX86_64); }
TEST(SeccompFilterTest, TrapsI386) {
  if (!Int80Works()) {
    GTEST_SKIP() << "int $0x80 raises #GP on this machine (no IA32 entry); "
                    "ProgramNotifiesExactlyTheRules covers the i386 rules";
  }
  ExpectAllTrapped(Arch::kI386);
}
TEST(SeccompFilterTest, TrapsX32) { ExpectAllTrapped(Arch::kX32); }

// glibc's own wrappers go through the same numbers.
TEST(SeccompFilterTest, TrapsLibcMqOpen) {
  absl::StatusOr<testing::FilteredChild> child = ForkFilteredChild(AllMqRules(), [] {
    const long r = syscall(SYS_mq_open, "/mqsentry-filter-test", O_RDONLY, 0, nullptr);
    return r == -1 && errno == ENOSYS ? 0 : 1;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<std::unique_ptr<Platform>> platform =
      CreateSeccompPlatform(child->listener.release());
  ASSERT_TRUE(platform.ok());
  absl::StatusOr<TrappedCall> call = ReceiveWithin(**platform);
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->arch, Arch::kX86_64);
  EXPECT_EQ(call->nr, SYS_mq_open);
  std::string name;
  EXPECT_EQ((*platform)->memory().ReadName(*call, call->args[0], &name), 0);
  EXPECT_EQ(name, "/mqsentry-filter-test");  // raw syscall: no glibc slash stripping
  EXPECT_EQ(call->args[1], static_cast<uint64_t>(O_RDONLY));
  ASSERT_TRUE((*platform)->Answer(*call, SyscallResult::Error(ENOSYS)).ok());
  EXPECT_EQ(WaitForExit(child->pid), 0);
}

// Other calls of every ABI, and mq calls whose ABI has no rule, run untouched: if one were
// trapped, the child would block and the listener would become readable.
TEST(SeccompFilterTest, EverythingElseIsAllowed) {
  const pid_t parent = getpid();
  const bool int80 = Int80Works();
  absl::StatusOr<testing::FilteredChild> child =
      ForkFilteredChild({{Arch::kX86_64, 241}}, [parent, int80] {
        const pid_t self = getpid();
        if (getppid() != parent) return 1;
        if (int80 && Int80(20) != self) return 2;  // i386 getpid
        // x32 getpid: the pid where the kernel has x32, ENOSYS where it has not.
        const long x32 = RawSyscall(kX32SyscallBit | 39);
        if (x32 != self && x32 != -ENOSYS) return 3;
        // i386 mq_unlink has no rule here: the host kernel answers it.
        if (int80 && Int80(278, 0) != -EFAULT) return 4;
        if (RawSyscall(SYS_mq_open, 0, 0) != -EFAULT) return 5;
        return 0;
      });
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(WaitForExit(child->pid), 0);
  pollfd p{child->listener.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents & POLLIN, 0);
  EXPECT_NE(p.revents & POLLHUP, 0);  // no process is left under the filter
}

}  // namespace
}  // namespace mqsentry::sentry
