// A Platform for unit tests of the sentry core: trapped calls are queued by the test,
// answers, continues and installed descriptors are recorded, and the caller's memory is a
// buffer of the test's. Runs without root, namespaces, seccomp or FUSE.
#ifndef MQSENTRY_SENTRY_FAKE_PLATFORM_H_
#define MQSENTRY_SENTRY_FAKE_PLATFORM_H_

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kernel/syscall_result.h"
#include "sentry/platform.h"

namespace mqsentry::sentry {

// The memory of every fake caller: `size` bytes at `base`; anything else faults.
class FakeTraceeMemory : public TraceeMemory {
 public:
  FakeTraceeMemory(uint64_t base, size_t size) : base_(base), bytes_(size) {}

  bool Read(const TrappedCall&, uint64_t addr, void* out, size_t size) override {
    if (!Inside(addr, size)) return false;
    std::memcpy(out, bytes_.data() + (addr - base_), size);
    return true;
  }
  WriteOutcome WriteAll(const TrappedCall&, std::span<const MemoryWrite> writes) override {
    for (const MemoryWrite& w : writes) {
      if (!Inside(w.addr, w.size)) return WriteOutcome::kFault;
      std::memcpy(bytes_.data() + (w.addr - base_), w.data, w.size);
    }
    return WriteOutcome::kDone;
  }
  int ReadName(const TrappedCall&, uint64_t addr, std::string* out) override {
    out->clear();
    for (size_t i = 0; i < 4096; ++i) {
      if (!Inside(addr + i, 1)) return EFAULT;
      const char c = static_cast<char>(bytes_[addr + i - base_]);
      if (c == '\0') return 0;
      out->push_back(c);
    }
    return ENAMETOOLONG;
  }
  uint8_t* at(uint64_t addr) { return bytes_.data() + (addr - base_); }

 private:
  bool Inside(uint64_t addr, size_t size) const {
    return addr >= base_ && addr - base_ <= bytes_.size() && size <= bytes_.size() - (addr - base_);
  }
  uint64_t base_;
  std::vector<uint8_t> bytes_;
};

class FakePlatform : public Platform {
 public:
  // What the supervisor did with one call.
  struct Outcome {
    enum class Kind { kAnswer, kContinue, kNewFd } kind;
    uint64_t id = 0;
    kernel::SyscallResult result = kernel::SyscallResult::Ok();
  };

  FakePlatform() : memory_(kMemoryBase, kMemorySize) {
    if (pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) pipe_[0] = pipe_[1] = -1;
  }
  ~FakePlatform() override {
    CloseQueue();
    if (pipe_[0] >= 0) close(pipe_[0]);
  }

  static constexpr uint64_t kMemoryBase = 0x10000;
  static constexpr size_t kMemorySize = 1 << 16;

  // Queues a trapped call; its id is returned.
  uint64_t Trap(Arch arch, int nr, std::initializer_list<uint64_t> args, int32_t tid) {
    TrappedCall c{};
    c.id = next_id_++;
    c.tid = tid;
    c.arch = arch;
    c.nr = nr;
    int i = 0;
    for (uint64_t a : args) c.args[i++] = a;
    {
      absl::MutexLock lock(&mu_);
      calls_.push_back(c);
    }
    (void)!write(pipe_[1], "x", 1);
    return c.id;
  }
  // No more calls: once they are taken, the sentry sees "no process left" (POLLHUP).
  void CloseQueue() {
    if (pipe_[1] >= 0) close(pipe_[1]);
    pipe_[1] = -1;
  }

  // The next Answer fails as an internal failure of the platform would.
  void FailAnswersWith(absl::Status s) { answer_failure_ = std::move(s); }
  // Answers and continues report the caller gone (interrupted) instead of delivering.
  void SetCallersGone(bool gone) { gone_ = gone; }

  std::vector<Outcome> outcomes() {
    absl::MutexLock lock(&mu_);
    return outcomes_;
  }

  int poll_fd() const override { return pipe_[0]; }
  absl::StatusOr<std::optional<TrappedCall>> Receive() override {
    char b;
    if (read(pipe_[0], &b, 1) != 1) return std::optional<TrappedCall>();
    absl::MutexLock lock(&mu_);
    if (calls_.empty()) return std::optional<TrappedCall>();
    TrappedCall c = calls_.front();
    calls_.pop_front();
    return std::optional<TrappedCall>(c);
  }
  bool StillValid(uint64_t) override { return !gone_; }
  absl::StatusOr<bool> Answer(const TrappedCall& call, kernel::SyscallResult result) override {
    if (!answer_failure_.ok()) return answer_failure_;
    if (gone_) return false;
    Record({Outcome::Kind::kAnswer, call.id, result});
    return true;
  }
  absl::StatusOr<bool> Continue(const TrappedCall& call) override {
    if (gone_) return false;
    Record({Outcome::Kind::kContinue, call.id});
    return true;
  }
  absl::StatusOr<std::optional<kernel::SyscallResult>> AnswerWithNewFd(const TrappedCall& call,
                                                                       int, bool) override {
    if (gone_) return std::optional<kernel::SyscallResult>();
    const kernel::SyscallResult r = kernel::SyscallResult::Value(next_fd_++);
    Record({Outcome::Kind::kNewFd, call.id, r});
    return std::optional<kernel::SyscallResult>(r);
  }
  int GetFd(int32_t, int) override {
    errno = EBADF;
    return -1;
  }
  TraceeMemory& memory() override { return memory_; }
  FakeTraceeMemory& fake_memory() { return memory_; }

 private:
  void Record(Outcome o) {
    absl::MutexLock lock(&mu_);
    outcomes_.push_back(o);
  }

  int pipe_[2] = {-1, -1};
  uint64_t next_id_ = 1;
  int next_fd_ = 3;
  bool gone_ = false;
  absl::Status answer_failure_;
  FakeTraceeMemory memory_;
  absl::Mutex mu_;
  std::deque<TrappedCall> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<Outcome> outcomes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_FAKE_PLATFORM_H_
