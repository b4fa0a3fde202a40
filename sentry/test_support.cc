#include "sentry/test_support.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "kernel/abi.h"
#include "sentry/fd_passing.h"

namespace mqsentry::sentry::testing {
namespace {

void Add(std::vector<int>* out, const kernel::abi::MqSyscallNumbers& n) {
  for (int nr : {n.mq_open, n.mq_unlink, n.mq_timedsend, n.mq_timedreceive, n.mq_notify,
                 n.mq_getsetattr, n.mq_timedsend_time64, n.mq_timedreceive_time64}) {
    if (nr >= 0) out->push_back(nr);
  }
}

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

std::vector<int> MqNumbers(Arch arch) {
  std::vector<int> out;
  switch (arch) {
    case Arch::kX86_64:
      Add(&out, kernel::abi::kX86_64Syscalls);
      break;
    case Arch::kI386:
      Add(&out, kernel::abi::kI386Syscalls);
      break;
    case Arch::kX32:
      Add(&out, kernel::abi::kX32Syscalls);
      break;
  }
  return out;
}

std::vector<FilterRule> AllMqRules() {
  std::vector<FilterRule> rules;
  for (Arch arch : {Arch::kX86_64, Arch::kI386, Arch::kX32}) {
    for (int nr : MqNumbers(arch)) rules.push_back({arch, nr});
  }
  return rules;
}

absl::StatusOr<FilteredChild> ForkFilteredChild(const std::vector<FilterRule>& rules,
                                                const std::function<int()>& body) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return absl::ErrnoToStatus(errno, "socketpair");
  }
  const pid_t pid = fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    close(sv[0]);
    absl::StatusOr<int> listener = InstallNotifyFilter(rules);
    if (!listener.ok()) {
      (void)SendMessage(sv[1], absl::StrCat("E", listener.status().ToString()));
      _exit(99);
    }
    if (!SendMessage(sv[1], "R", *listener).ok()) _exit(99);
    close(*listener);
    close(sv[1]);
    _exit(body());
  }
  close(sv[1]);
  UniqueFd ours(sv[0]);
  absl::StatusOr<ReceivedMessage> m = ReceiveMessage(ours.get(), 4096);
  if (!m.ok() || m->eof || m->data != "R" || !m->fd.valid()) {
    std::string why = m.ok() ? m->data : m.status().ToString();
    kill(pid, SIGKILL);
    WaitForExit(pid);
    return absl::InternalError(absl::StrCat("filtered child failed: ", why));
  }
  FilteredChild child;
  child.pid = pid;
  child.listener = std::move(m->fd);
  return child;
}

int WaitForExit(pid_t pid, int timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  while (true) {
    int status;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      continue;
    }
    if (r < 0 && errno != EINTR) return -1;
    if (NowMs() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    usleep(2000);
  }
}

absl::StatusOr<TrappedCall> ReceiveWithin(Platform& platform, int timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  while (true) {
    const int64_t left = deadline - NowMs();
    if (left <= 0) return absl::DeadlineExceededError("no trapped call arrived");
    pollfd p{platform.poll_fd(), POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno != EINTR) return absl::ErrnoToStatus(errno, "poll");
    if (r <= 0) continue;
    if ((p.revents & POLLIN) == 0) {
      return absl::UnavailableError(absl::StrCat("listener revents 0x", absl::Hex(p.revents)));
    }
    absl::StatusOr<std::optional<TrappedCall>> call = platform.Receive();
    if (!call.ok()) return call.status();
    if (call->has_value()) return **call;
  }
}

}  // namespace mqsentry::sentry::testing
