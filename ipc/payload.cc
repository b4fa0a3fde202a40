// Payload: one allocation holding the count, the size and the bytes.
#include "ipc/payload.h"

#include <cstring>
#include <new>

namespace mqsentry::ipc {

Payload Payload::Uninitialized(size_t size) {
  Payload p;
  if (size == 0) return p;  // empty payloads share nothing and allocate nothing
  void* block = ::operator new(sizeof(Rep) + size);
  p.rep_ = new (block) Rep{{1}, size};
  return p;
}

Payload::Payload(std::string_view bytes) {
  if (bytes.empty()) return;
  Payload p = Uninitialized(bytes.size());
  std::memcpy(p.mutable_data(), bytes.data(), bytes.size());
  Swap(p);
}

void Payload::Release() noexcept {
  if (rep_ == nullptr) return;
  // A sole owner frees without a locked instruction (the common case: a received message);
  // no other thread can add a reference, as only owners copy. Otherwise acq_rel: the last
  // owner sees every other owner's reads done before it frees.
  if (rep_->refs.load(std::memory_order_acquire) == 1 ||
      rep_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    rep_->~Rep();
    ::operator delete(rep_);
  }
  rep_ = nullptr;
}

}  // namespace mqsentry::ipc
