// UniqueFd: owns one file descriptor and closes it when destroyed.
#ifndef MQSENTRY_SENTRY_UNIQUE_FD_H_
#define MQSENTRY_SENTRY_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace mqsentry::sentry {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  // Gives up ownership without closing.
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    // close(2) on Linux releases the descriptor even when it reports EINTR: never retry.
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace mqsentry::sentry

#endif  // MQSENTRY_SENTRY_UNIQUE_FD_H_
