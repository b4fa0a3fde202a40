#include "sentry/program_caps.h"

#include "gtest/gtest.h"
#include "kernel/capabilities.h"

namespace mqsentry::sentry {
namespace {

// Docker's CapBnd as /proc/<pid>/status shows it in a default container.
constexpr uint64_t kDockerDefaultBits = 0x00000000a80425fb;

uint64_t Resolve(CapabilityFlags flags) {
  absl::StatusOr<kernel::CapabilitySet> set = ResolveCapabilities(flags);
  EXPECT_TRUE(set.ok()) << set.status();
  return set.ok() ? set->bits() : ~uint64_t{0};
}

TEST(ProgramCaps, DockerDefault) {
  EXPECT_EQ(DockerDefaultCapabilities().bits(), kDockerDefaultBits);
  EXPECT_EQ(Resolve({}), kDockerDefaultBits);
}

TEST(ProgramCaps, NamesAsDockerTakesThem) {
  EXPECT_EQ(*ParseCapabilityName("SYS_ADMIN"), 21);
  EXPECT_EQ(*ParseCapabilityName("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(*ParseCapabilityName("cap_net_admin"), 12);
  EXPECT_EQ(*ParseCapabilityName("checkpoint_restore"), 40);
  EXPECT_EQ(*ParseCapabilityName("all"), -1);
  EXPECT_FALSE(ParseCapabilityName("SYS_EVERYTHING").ok());
  EXPECT_FALSE(ParseCapabilityName("").ok());
  EXPECT_FALSE(ResolveCapabilities({.add = {"NOPE"}}).ok());
}

TEST(ProgramCaps, AddAndDrop) {
  EXPECT_EQ(Resolve({.add = {"SYS_ADMIN"}}), kDockerDefaultBits | (uint64_t{1} << 21));
  EXPECT_EQ(Resolve({.drop = {"CAP_CHOWN", "kill"}}),
            kDockerDefaultBits & ~uint64_t{1} & ~(uint64_t{1} << 5));
  // Docker: an add wins over a drop of the same capability.
  EXPECT_EQ(Resolve({.add = {"CHOWN"}, .drop = {"CHOWN"}}), kDockerDefaultBits);
  EXPECT_EQ(Resolve({.drop = {"ALL"}}), 0u);
  EXPECT_EQ(Resolve({.add = {"NET_ADMIN"}, .drop = {"ALL"}}), uint64_t{1} << 12);
  EXPECT_EQ(Resolve({.add = {"ALL"}}), kernel::CapabilitySet::Full().bits());
  EXPECT_EQ(Resolve({.add = {"ALL"}, .drop = {"SYS_ADMIN"}}),
            kernel::CapabilitySet::Full().bits() & ~(uint64_t{1} << 21));
  EXPECT_EQ(Resolve({.drop = {"ALL"}, .privileged = true}), kernel::CapabilitySet::Full().bits());
}

}  // namespace
}  // namespace mqsentry::sentry
