#include "ipc/payload.h"

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace mqsentry::ipc {
namespace {

TEST(PayloadTest, EmptyAllocatesNothing) {
  Payload p;
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.size(), 0u);
  EXPECT_EQ(p.use_count(), 0u);
  EXPECT_EQ(p.view(), "");
  EXPECT_EQ(Payload(std::string()).use_count(), 0u);
}

TEST(PayloadTest, HoldsItsBytesIncludingNul) {
  const std::string bytes("a\0b\xff", 4);
  Payload p(bytes);
  EXPECT_EQ(p.size(), 4u);
  EXPECT_EQ(p, bytes);
  EXPECT_EQ(p.str(), bytes);
}

TEST(PayloadTest, CopiesShareTheBytes) {
  Payload a("hello");
  Payload b = a;
  EXPECT_EQ(a.data(), b.data());
  EXPECT_EQ(a.use_count(), 2u);
  {
    Payload c = b;
    EXPECT_EQ(a.use_count(), 3u);
  }
  EXPECT_EQ(a.use_count(), 2u);
  Payload d = std::move(b);
  EXPECT_EQ(b.use_count(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(a.use_count(), 2u);
  a = Payload("x");
  EXPECT_EQ(d.use_count(), 1u);
  EXPECT_EQ(d, "hello");
  EXPECT_EQ(a, "x");
  a = a;  // self-assignment keeps the bytes
  EXPECT_EQ(a, "x");
}

TEST(PayloadTest, UninitializedIsFilledThenShared) {
  Payload p = Payload::Uninitialized(3);
  ASSERT_EQ(p.size(), 3u);
  p.mutable_data()[0] = 'x';
  p.mutable_data()[1] = 'y';
  p.mutable_data()[2] = 'z';
  Payload q = p;
  EXPECT_EQ(q, "xyz");
}

// Copies dropped on several threads at once free the bytes exactly once (also meant for
// bazel test --copt=-fsanitize=thread --linkopt=-fsanitize=thread //ipc:payload_test).
TEST(PayloadTest, ConcurrentCopiesAndReleases) {
  Payload p(std::string(4096, 'm'));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([p] {
      for (int i = 0; i < 10000; ++i) {
        Payload c = p;
        ASSERT_EQ(c.size(), 4096u);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(p.use_count(), 1u);
}

}  // namespace
}  // namespace mqsentry::ipc
