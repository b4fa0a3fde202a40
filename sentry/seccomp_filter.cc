// Builds the notify filter with libseccomp and loads it with a new listener.
//
// One libseccomp context per ABI, merged: seccomp_rule_add_exact refuses contexts with
// more than one architecture (EOPNOTSUPP in libseccomp 2.5), and "exact" is what makes a
// rule's number mean what that ABI means instead of being translated by name from the
// native ABI. The merged program is exported and loaded with seccomp(2) directly, not
// with seccomp_load: libseccomp 2.5 keeps the listener in process-global state and
// requests NEW_LISTENER only once per process, which a forked child inherits.
#include "sentry/seccomp_filter.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sentry/unique_fd.h"

namespace mqsentry::sentry {
namespace {

// libseccomp reports errors as negative errno values.
absl::Status SeccompError(int rc, absl::string_view what) {
  return absl::ErrnoToStatus(-rc, absl::StrCat("libseccomp ", what));
}

class ScmpContext {
 public:
  ScmpContext() : ctx_(seccomp_init(SCMP_ACT_ALLOW)) {}
  ~ScmpContext() {
    if (ctx_ != nullptr) seccomp_release(ctx_);
  }
  ScmpContext(const ScmpContext&) = delete;
  ScmpContext& operator=(const ScmpContext&) = delete;
  scmp_filter_ctx get() const { return ctx_; }
  // After a successful seccomp_merge the source context belongs to the destination.
  void Release() { ctx_ = nullptr; }

 private:
  scmp_filter_ctx ctx_;
};

uint32_t ScmpArch(Arch arch) {
  switch (arch) {
    case Arch::kX86_64:
      return SCMP_ARCH_X86_64;
    case Arch::kI386:
      return SCMP_ARCH_X86;
    case Arch::kX32:
      return SCMP_ARCH_X32;
  }
  return 0;
}

// Adds the notify rules of one ABI to `ctx`, which must hold that ABI only.
//
// libseccomp 2.5 reads the number given to seccomp_rule_add{,_exact} as a number of the
// *native* ABI and translates it by name to each architecture of the context (even in
// "exact" mode: arch_syscall_translate), so i386's 277 given as is would trap i386's
// sync_file_range. Each number is therefore turned into its name for its own ABI, then
// into the native number (or libseccomp's pseudo number for names x86-64 lacks, e.g.
// mq_timedsend_time64) that libseccomp translates back; the result is checked.
//
// A number's conditions: an empty list traps always; otherwise each entry is one
// alternative (the conjunction of its conditions).
using RuleSet = std::map<int, std::vector<std::vector<ArgCondition>>>;

absl::Status AddRules(scmp_filter_ctx ctx, Arch arch, const RuleSet& numbers) {
  const uint32_t token = ScmpArch(arch);
  for (const auto& [nr, alternatives] : numbers) {
    char* name = seccomp_syscall_resolve_num_arch(token, nr);
    if (name == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "seccomp filter: libseccomp knows no ", ArchName(arch), " system call ", nr));
    }
    const std::string n = name;
    std::free(name);
    if (seccomp_syscall_resolve_name_arch(token, n.c_str()) != nr) {
      return absl::InvalidArgumentError(absl::StrCat("seccomp filter: ", ArchName(arch), " ", nr,
                                                     " (", n, ") does not round-trip"));
    }
    const int native = seccomp_syscall_resolve_name(n.c_str());
    if (native == __NR_SCMP_ERROR) {
      return absl::InternalError(absl::StrCat("seccomp filter: cannot resolve ", n));
    }
    const bool always = std::any_of(alternatives.begin(), alternatives.end(),
                                    [](const auto& conditions) { return conditions.empty(); });
    if (always) {
      const int rc = seccomp_rule_add_exact(ctx, SCMP_ACT_NOTIFY, native, 0);
      if (rc != 0) {
        return SeccompError(rc,
                            absl::StrCat("rule_add_exact(", ArchName(arch), " ", nr, " ", n, ")"));
      }
      continue;
    }
    for (const std::vector<ArgCondition>& conditions : alternatives) {
      std::vector<scmp_arg_cmp> cmps;
      for (const ArgCondition& c : conditions) {
        cmps.push_back(SCMP_CMP64(static_cast<unsigned>(c.arg), SCMP_CMP_MASKED_EQ, c.mask,
                                  c.value & c.mask));
      }
      const int rc = seccomp_rule_add_exact_array(ctx, SCMP_ACT_NOTIFY, native,
                                                  static_cast<unsigned>(cmps.size()), cmps.data());
      if (rc != 0) {
        return SeccompError(rc, absl::StrCat("rule_add_exact_array(", ArchName(arch), " ", nr, " ",
                                             n, ")"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRule(const FilterRule& r) {
  const bool x32_bit = (r.nr & kX32SyscallBit) != 0;
  const int base = r.nr & ~kX32SyscallBit;
  if (r.nr < 0 || base > 4095 || (r.arch == Arch::kX32) != x32_bit) {
    return absl::InvalidArgumentError(
        absl::StrCat("seccomp filter: bad syscall number ", r.nr, " for ", ArchName(r.arch)));
  }
  for (const ArgCondition& c : r.when) {
    // i386 arguments are 32 bits wide: a condition on the upper half could never hold.
    const uint64_t width = r.arch == Arch::kI386 ? 0xffffffffu : ~uint64_t{0};
    if (c.arg < 0 || c.arg > 5 || c.mask == 0 || (c.mask & ~width) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("seccomp filter: bad condition on argument ",
                                                     c.arg, " of ", ArchName(r.arch), " ", r.nr));
    }
  }
  return absl::OkStatus();
}

// A merged context for all three ABIs, or an error. The caller releases it.
absl::StatusOr<scmp_filter_ctx> BuildFilter(const std::vector<FilterRule>& rules) {
  if (rules.empty()) {
    return absl::InvalidArgumentError("seccomp filter: no rules (nothing to notify about)");
  }
  RuleSet numbers[3];
  for (const FilterRule& r : rules) {
    if (absl::Status s = ValidateRule(r); !s.ok()) return s;
    numbers[static_cast<int>(r.arch)][r.nr].push_back(r.when);
  }
  ScmpContext merged;
  if (merged.get() == nullptr) return absl::InternalError("seccomp_init failed");
  // seccomp_init adds the native ABI, x86-64.
  if (absl::Status s = AddRules(merged.get(), Arch::kX86_64, numbers[0]); !s.ok()) return s;
  for (Arch arch : {Arch::kI386, Arch::kX32}) {
    ScmpContext one;
    if (one.get() == nullptr) return absl::InternalError("seccomp_init failed");
    if (int rc = seccomp_arch_remove(one.get(), SCMP_ARCH_NATIVE); rc != 0) {
      return SeccompError(rc, "arch_remove(native)");
    }
    if (int rc = seccomp_arch_add(one.get(), ScmpArch(arch)); rc != 0) {
      return SeccompError(rc, absl::StrCat("arch_add(", ArchName(arch), ")"));
    }
    if (absl::Status s = AddRules(one.get(), arch, numbers[static_cast<int>(arch)]); !s.ok()) {
      return s;
    }
    if (int rc = seccomp_merge(merged.get(), one.get()); rc != 0) {
      return SeccompError(rc, absl::StrCat("merge(", ArchName(arch), ")"));
    }
    one.Release();
  }
  scmp_filter_ctx out = merged.get();
  merged.Release();
  return out;
}

// Runs libseccomp's exporter `fn` into a memfd and returns what it wrote.
absl::StatusOr<std::string> Export(scmp_filter_ctx ctx, int (*fn)(const scmp_filter_ctx, int),
                                   absl::string_view what) {
  UniqueFd mem(static_cast<int>(syscall(SYS_memfd_create, "mqsentry-filter", MFD_CLOEXEC)));
  if (!mem.valid()) return absl::ErrnoToStatus(errno, "memfd_create");
  if (int rc = fn(ctx, mem.get()); rc != 0) return SeccompError(rc, what);
  struct stat st;
  if (fstat(mem.get(), &st) != 0) return absl::ErrnoToStatus(errno, "fstat(memfd)");
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = pread(mem.get(), bytes.data() + done, bytes.size() - done, done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::ErrnoToStatus(n < 0 ? errno : EIO, "pread(memfd)");
    done += static_cast<size_t>(n);
  }
  return bytes;
}

}  // namespace

absl::StatusOr<std::string> DescribeNotifyFilter(const std::vector<FilterRule>& rules) {
  absl::StatusOr<scmp_filter_ctx> ctx = BuildFilter(rules);
  if (!ctx.ok()) return ctx.status();
  absl::StatusOr<std::string> text = Export(*ctx, seccomp_export_pfc, "export_pfc");
  seccomp_release(*ctx);
  return text;
}

absl::StatusOr<std::vector<sock_filter>> BuildNotifyFilter(const std::vector<FilterRule>& rules) {
  absl::StatusOr<scmp_filter_ctx> ctx = BuildFilter(rules);
  if (!ctx.ok()) return ctx.status();
  absl::StatusOr<std::string> bpf = Export(*ctx, seccomp_export_bpf, "export_bpf");
  seccomp_release(*ctx);
  if (!bpf.ok()) return bpf.status();
  if (bpf->empty() || bpf->size() % sizeof(sock_filter) != 0 ||
      bpf->size() / sizeof(sock_filter) > BPF_MAXINSNS) {
    return absl::InternalError(absl::StrCat("libseccomp produced ", bpf->size(), " bytes of BPF"));
  }
  std::vector<sock_filter> program(bpf->size() / sizeof(sock_filter));
  std::memcpy(program.data(), bpf->data(), bpf->size());
  return program;
}

absl::StatusOr<int> InstallNotifyFilter(const std::vector<FilterRule>& rules) {
  absl::StatusOr<std::vector<sock_filter>> program = BuildNotifyFilter(rules);
  if (!program.ok()) return program.status();
  sock_fprog prog{static_cast<unsigned short>(program->size()), program->data()};

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return absl::ErrnoToStatus(errno, "prctl(PR_SET_NO_NEW_PRIVS)");
  }
  // WAIT_KILLABLE_RECV: once the supervisor has received a call, only a fatal signal
  // interrupts it. Without it a signal racing with our reply makes the caller drop a
  // reply the kernel reported as sent (seccomp_do_user_notification), which loses or
  // duplicates messages; interruption of blocked calls is the supervisor's job instead
  // (it answers -ERESTARTSYS when a signal is pending, see sentry/sentry.cc).
  long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                    SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
                    &prog);
  if (fd < 0 && errno == EINVAL) {
    // Kernels before 5.19 lack the flag.
    fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  }
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, "seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER)");
  }
  return static_cast<int>(fd);
}

}  // namespace mqsentry::sentry
