// The fuzzer's only source of randomness: SplitMix64 from the seed, so a seed names one
// exact call sequence on every machine and under every runner.
#ifndef MQSENTRY_TEST_FUZZ_RNG_H_
#define MQSENTRY_TEST_FUZZ_RNG_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace mqsentry::fuzz {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // A value in [0, n); n > 0. The modulo bias is irrelevant here.
  uint64_t Below(uint64_t n) { return Next() % n; }

  // True with the given percentage.
  bool Percent(unsigned p) { return Below(100) < p; }

  template <typename T>
  T Pick(std::initializer_list<T> values) {
    return values.begin()[Below(values.size())];
  }

 private:
  uint64_t state_;
};

}  // namespace mqsentry::fuzz

#endif  // MQSENTRY_TEST_FUZZ_RNG_H_
