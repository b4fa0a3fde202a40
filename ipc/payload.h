// Payload: the immutable bytes of one message, shared by reference count.
//
// Why: a live checkpoint pauses the program's mq calls while it captures the queues; with
// shared payloads the capture takes references only, and the bytes are encoded after the
// calls resume. The buffer is one allocation (count, size and bytes together), so a message
// costs no more allocations than a std::string payload did. The count is atomic: the
// checkpoint writer drops its references on another thread than the queue's.
#ifndef MQSENTRY_IPC_PAYLOAD_H_
#define MQSENTRY_IPC_PAYLOAD_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mqsentry::ipc {

class Payload {
 public:
  Payload() = default;  // empty, allocates nothing
  // Copies `bytes` (restore, tests).
  Payload(std::string_view bytes);  // NOLINT(runtime/explicit): a payload is its bytes
  Payload(const std::string& bytes) : Payload(std::string_view(bytes)) {}  // NOLINT
  Payload(const char* bytes) : Payload(std::string_view(bytes)) {}         // NOLINT
  // `size` uninitialized bytes, to be filled through mutable_data() before the payload is
  // copied (shared).
  static Payload Uninitialized(size_t size);

  Payload(const Payload& other) noexcept : rep_(other.rep_) {
    if (rep_ != nullptr) rep_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  Payload(Payload&& other) noexcept : rep_(other.rep_) { other.rep_ = nullptr; }
  Payload& operator=(const Payload& other) noexcept {
    Payload copy(other);
    Swap(copy);
    return *this;
  }
  Payload& operator=(Payload&& other) noexcept {
    Payload moved(std::move(other));
    Swap(moved);
    return *this;
  }
  ~Payload() { Release(); }

  size_t size() const { return rep_ == nullptr ? 0 : rep_->size; }
  bool empty() const { return size() == 0; }
  const char* data() const { return rep_ == nullptr ? "" : Bytes(rep_); }
  // Only while this is the sole reference (just made by Uninitialized).
  char* mutable_data() { return rep_ == nullptr ? nullptr : Bytes(rep_); }
  std::string_view view() const { return std::string_view(data(), size()); }
  operator std::string_view() const { return view(); }  // NOLINT: reads like a string
  std::string str() const { return std::string(view()); }
  // How many Payloads share these bytes (tests).
  uint32_t use_count() const {
    return rep_ == nullptr ? 0 : rep_->refs.load(std::memory_order_relaxed);
  }

  friend bool operator==(const Payload& a, const Payload& b) { return a.view() == b.view(); }
  friend bool operator==(const Payload& a, std::string_view b) { return a.view() == b; }
  friend bool operator==(const Payload& a, const std::string& b) { return a.view() == b; }
  friend bool operator==(const Payload& a, const char* b) { return a.view() == b; }

 private:
  struct Rep {
    std::atomic<uint32_t> refs;
    size_t size;
  };
  static char* Bytes(Rep* rep) { return reinterpret_cast<char*>(rep + 1); }
  void Swap(Payload& other) noexcept {
    Rep* t = rep_;
    rep_ = other.rep_;
    other.rep_ = t;
  }
  void Release() noexcept;

  Rep* rep_ = nullptr;
};

}  // namespace mqsentry::ipc

#endif  // MQSENTRY_IPC_PAYLOAD_H_
