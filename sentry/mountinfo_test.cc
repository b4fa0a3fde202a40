#include "sentry/mountinfo.h"

#include "gtest/gtest.h"

namespace mqsentry::sentry {
namespace {

TEST(MountInfoTest, ParsesFieldsAndOptionalFields) {
  absl::StatusOr<std::vector<MountInfo>> m = ParseMountInfo(
      "26 1 254:0 / / rw,relatime shared:1 master:2 - ext4 /dev/vda rw,discard\n"
      "41 23 0:19 / /dev/mqueue rw,nosuid,nodev,noexec,relatime - mqueue mqueue rw\n");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].mount_id, 26);
  EXPECT_EQ((*m)[0].parent_id, 1);
  EXPECT_EQ((*m)[0].major, 254u);
  EXPECT_EQ((*m)[0].minor, 0u);
  EXPECT_EQ((*m)[0].mount_point, "/");
  EXPECT_EQ((*m)[0].fs_type, "ext4");
  EXPECT_EQ((*m)[0].source, "/dev/vda");
  EXPECT_EQ((*m)[1].mount_point, "/dev/mqueue");
  EXPECT_EQ((*m)[1].fs_type, "mqueue");
  EXPECT_EQ((*m)[1].minor, 19u);
}

TEST(MountInfoTest, UnescapesOctal) {
  absl::StatusOr<std::vector<MountInfo>> m = ParseMountInfo(
      "50 26 0:44 / /tmp/a\\040b\\011c\\012d\\134e rw - mqueue no\\040ne rw\n");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].mount_point, "/tmp/a b\tc\nd\\e");
  EXPECT_EQ((*m)[0].source, "no ne");
}

TEST(MountInfoTest, RejectsGarbage) {
  EXPECT_FALSE(ParseMountInfo("26 1 254:0 / / rw\n").ok());
  EXPECT_FALSE(ParseMountInfo("x 1 254:0 / / rw - ext4 /dev/vda rw\n").ok());
  EXPECT_FALSE(ParseMountInfo("26 1 2540 / / rw - ext4 /dev/vda rw\n").ok());
}

TEST(MountInfoTest, ReadsOwnMountInfo) {
  absl::StatusOr<std::vector<MountInfo>> m = ReadSelfMountInfo();
  ASSERT_TRUE(m.ok()) << m.status();
  bool root = false;
  for (const MountInfo& i : *m) root |= i.mount_point == "/";
  EXPECT_TRUE(root);
}

}  // namespace
}  // namespace mqsentry::sentry
