// The syscall table and the filter rules generated from it (spec §1.1).
#include "sentry/syscall_table.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cstddef>
#include <unistd.h>

#include <cerrno>

#include <asm/unistd_64.h>

#include <set>
#include <string>
#include <tuple>

#include <gtest/gtest.h>

namespace mqsentry::sentry {
namespace {

TEST(SyscallTableTest, NativeNumbersMatchTheHeaders_Spec1_1) {
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, __NR_mq_open)->call, MqCall::kOpen);
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, __NR_mq_unlink)->call, MqCall::kUnlink);
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, __NR_mq_timedsend)->call, MqCall::kTimedSend);
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, __NR_mq_timedreceive)->call, MqCall::kTimedReceive);
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, __NR_mq_notify)->call, MqCall::kNotify);
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, __NR_mq_getsetattr)->call, MqCall::kGetSetAttr);
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, 0), nullptr);
}

TEST(SyscallTableTest, X32UsesCompatSigeventOnlyForNotify_Spec1_1) {
  const SyscallEntry* notify = LookupSyscall(Arch::kX32, 0x40000000 + 527);
  ASSERT_NE(notify, nullptr);
  EXPECT_EQ(notify->call, MqCall::kNotify);
  EXPECT_TRUE(notify->compat_sigevent);
  EXPECT_EQ(LookupSyscall(Arch::kX32, 0x40000000 + 244), nullptr)
      << "x32 has no native mq_notify";
  const SyscallEntry* open = LookupSyscall(Arch::kX32, 0x40000000 + 240);
  ASSERT_NE(open, nullptr);
  EXPECT_FALSE(open->compat_attr);
}

TEST(SyscallTableTest, I386IsAllCompat_Spec1_1) {
  for (int nr : {277, 278, 279, 280, 281, 282, 418, 419}) {
    const SyscallEntry* e = LookupSyscall(Arch::kI386, nr);
    ASSERT_NE(e, nullptr) << nr;
    EXPECT_TRUE(e->compat_attr && e->compat_sigevent && e->compat_sizes) << nr;
  }
  EXPECT_TRUE(LookupSyscall(Arch::kI386, 279)->time32);
  EXPECT_TRUE(LookupSyscall(Arch::kI386, 280)->time32);
  EXPECT_FALSE(LookupSyscall(Arch::kI386, 418)->time32);
  EXPECT_FALSE(LookupSyscall(Arch::kI386, 419)->time32);
}

TEST(SyscallTableTest, MountGuardsOnEveryAbi) {
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, __NR_mount)->call, MqCall::kMount);
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, __NR_fsopen)->call, MqCall::kFsopen);
  EXPECT_EQ(LookupSyscall(Arch::kX32, 0x40000000 + 165)->call, MqCall::kMount);
  EXPECT_EQ(LookupSyscall(Arch::kX32, 0x40000000 + 430)->call, MqCall::kFsopen);
  EXPECT_EQ(LookupSyscall(Arch::kI386, 21)->call, MqCall::kMount);
  EXPECT_EQ(LookupSyscall(Arch::kI386, 430)->call, MqCall::kFsopen);
}

TEST(SyscallTableTest, FilterTrapsExactlyTheTable) {
  std::set<std::pair<int, int>> numbers;
  size_t conditional = 0;
  for (const FilterRule& r : FilterRules()) {
    const SyscallEntry* e = LookupSyscall(r.arch, r.nr);
    ASSERT_NE(e, nullptr);
    if (r.when.empty()) {
      EXPECT_TRUE(numbers.emplace(static_cast<int>(r.arch), r.nr).second) << "duplicate rule";
      EXPECT_TRUE(e->trap_when.empty());
    } else {
      ++conditional;
      numbers.emplace(static_cast<int>(r.arch), r.nr);
      EXPECT_TRUE(e->call == MqCall::kFcntl || e->call == MqCall::kMmap ||
                  e->call == MqCall::kLinkat || e->call == MqCall::kNameToHandleAt ||
                  e->call == MqCall::kUserfaultfd || e->call == MqCall::kPidfdSendSignal)
          << e->name;
    }
  }
  EXPECT_EQ(numbers.size(), SyscallTable().size());
  EXPECT_EQ(numbers.size(),
            6u + 6u + 8u + 3u * 2u + 4u + 3u + 1u + 3u * 6u + 2u + 3u * 2u + 3u * 6u)
      << "mq calls, then mount/fsopen per ABI, fcntl per ABI and i386 fcntl64, fstatfs per "
         "ABI and i386 fstatfs64, "
         "the six file calls per ABI and i386's old mmap and 32-bit sendfile, userfaultfd "
         "and ioctl per ABI, the six signal-sending calls per ABI";
  EXPECT_EQ(conditional, 4u * 2u + 3u * 3u + 3u * 2u + 3u * 3u)
      << "F_GETFL, and F_SETFL with O_DIRECT; private file mmap, linkat and "
         "name_to_handle_at with AT_EMPTY_PATH; userfaultfd and USERFAULTFD_IOC_NEW without "
         "UFFD_USER_MODE_ONLY; pidfd_send_signal unless its flags are exactly "
         "PIDFD_SIGNAL_THREAD_GROUP";
}

// Without x32 (the kernel lacks it), no rule names an x32 number: the kernel answers them.
TEST(SyscallTableTest, NoX32RulesWhenTheKernelLacksX32_Spec1_1) {
  size_t x32 = 0;
  for (const FilterRule& r : FilterRules(/*x32=*/false)) {
    EXPECT_NE(r.arch, Arch::kX32);
    EXPECT_EQ(r.nr & 0x40000000, 0);
  }
  for (const FilterRule& r : FilterRules(/*x32=*/true)) x32 += r.arch == Arch::kX32;
  EXPECT_GT(x32, 6u);
}

// The probe agrees with the kernel: an x32 getpid either works or is ENOSYS.
TEST(SyscallTableTest, X32ProbeMatchesARawX32Call_Spec1_1) {
  errno = 0;
  const long r = syscall(0x40000000 | SYS_getpid);
  EXPECT_EQ(KernelRunsX32(), !(r == -1 && errno == ENOSYS));
}

// Under a filter that kills x32 callers (as some service managers install), the probe
// survives and reports no x32: the sandbox inherits the filter, so there is nothing to trap.
TEST(SyscallTableTest, X32ProbeSurvivesAFilterThatKillsX32_Spec1_1) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40000000 | SYS_getpid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof(code) / sizeof(code[0])), code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
      _exit(2);
    }
    _exit(KernelRunsX32() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// Private file mappings only (MAP_SHARED is FUSE's ENODEV already), on every ABI, with
// i386's old mmap (arguments in memory) always.
TEST(SyscallTableTest, FileCallsOnEveryAbi_Spec8_3) {
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, __NR_mmap)->call, MqCall::kMmap);
  EXPECT_EQ(LookupSyscall(Arch::kI386, 192)->call, MqCall::kMmap);
  EXPECT_TRUE(LookupSyscall(Arch::kI386, 90)->old_mmap);
  EXPECT_EQ(LookupSyscall(Arch::kX32, 0x40000000 + 9)->call, MqCall::kMmap);
  EXPECT_TRUE(LookupSyscall(Arch::kI386, 187)->off32);
  EXPECT_EQ(LookupSyscall(Arch::kI386, 239)->call, MqCall::kSendfile);
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, __NR_splice)->call, MqCall::kSplice);
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, __NR_linkat)->call, MqCall::kLinkat);
  EXPECT_EQ(LookupSyscall(Arch::kI386, 341)->call, MqCall::kNameToHandleAt);
  EXPECT_EQ(LookupSyscall(Arch::kI386, 342)->call, MqCall::kOpenByHandleAt);
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, __NR_open_by_handle_at)->call, MqCall::kOpenByHandleAt);
}

TEST(SyscallTableTest, SignalSendingCallsOnEveryAbi) {
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, 62)->call, MqCall::kKill);
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, 234)->call, MqCall::kTgkill);
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, 297)->call, MqCall::kRtTgsigqueueinfo);
  EXPECT_EQ(LookupSyscall(Arch::kX32, 0x40000000 + 524)->call, MqCall::kRtSigqueueinfo);
  EXPECT_EQ(LookupSyscall(Arch::kI386, 37)->call, MqCall::kKill);
  EXPECT_EQ(LookupSyscall(Arch::kI386, 238)->call, MqCall::kTkill);
  EXPECT_EQ(LookupSyscall(Arch::kI386, 424)->call, MqCall::kPidfdSendSignal);
}

// fcntl is trapped only for F_GETFL and for F_SETFL with O_DIRECT, on every ABI.
TEST(SyscallTableTest, FcntlOnEveryAbi_Spec7) {
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, __NR_fcntl)->call, MqCall::kFcntl);
  EXPECT_EQ(LookupSyscall(Arch::kX32, 0x40000000 + 72)->call, MqCall::kFcntl);
  EXPECT_EQ(LookupSyscall(Arch::kI386, 55)->call, MqCall::kFcntl);
  EXPECT_EQ(LookupSyscall(Arch::kI386, 221)->call, MqCall::kFcntl);
  EXPECT_TRUE(LookupSyscall(Arch::kI386, 221)->compat_sizes);
}

TEST(SyscallTableTest, FstatfsOn64BitLayoutsOnly_Spec8_3) {
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, __NR_fstatfs)->call, MqCall::kFstatfs);
  EXPECT_EQ(LookupSyscall(Arch::kX32, 0x40000000 + 138)->call, MqCall::kFstatfs);
  EXPECT_EQ(LookupSyscall(Arch::kI386, 100)->call, MqCall::kFstatfsCompat);
  EXPECT_TRUE(LookupSyscall(Arch::kI386, 269)->statfs64);
}

// Only full userfaultfds are trapped (and refused): the flag is a register argument.
TEST(SyscallTableTest, UserfaultfdWithoutUserModeOnlyOnEveryAbi) {
  for (const auto& [arch, create, ioctl] :
       {std::tuple(Arch::kX86_64, 323, 16), std::tuple(Arch::kX32, 0x40000000 + 323, 0x40000000 + 514),
        std::tuple(Arch::kI386, 374, 54)}) {
    const SyscallEntry* c = LookupSyscall(arch, create);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->call, MqCall::kUserfaultfd);
    ASSERT_EQ(c->trap_when.size(), 1u);
    ASSERT_EQ(c->trap_when[0].size(), 1u);
    EXPECT_EQ(c->trap_when[0][0].arg, 0);
    EXPECT_EQ(c->trap_when[0][0].mask, 1u);  // UFFD_USER_MODE_ONLY
    EXPECT_EQ(c->trap_when[0][0].value, 0u);
    const SyscallEntry* i = LookupSyscall(arch, ioctl);
    ASSERT_NE(i, nullptr);
    EXPECT_EQ(i->call, MqCall::kUserfaultfd);
    ASSERT_EQ(i->trap_when.size(), 1u);
    ASSERT_EQ(i->trap_when[0].size(), 2u);
    EXPECT_EQ(i->trap_when[0][0].value, 0xAA00u);  // USERFAULTFD_IOC_NEW
    EXPECT_EQ(i->trap_when[0][1].arg, 2);
    EXPECT_EQ(i->trap_when[0][1].value, 0u);
  }
}

}  // namespace
}  // namespace mqsentry::sentry
