// The permission rule of the control server: the kernel's, against the
// peer's uid, gid and supplementary groups.
#include "tools/control/file_access.h"

#include <unistd.h>

#include <gtest/gtest.h>

namespace pinfs::control {
namespace {

fs::Attr file(std::uint32_t mode, uid_t uid, gid_t gid) {
  fs::Attr attr;
  attr.mode = 0100000 | mode;
  attr.uid = uid;
  attr.gid = gid;
  return attr;
}

PeerCredentials peer(uid_t uid, gid_t gid, std::vector<gid_t> groups = {}) {
  PeerCredentials p;
  p.uid = uid;
  p.gid = gid;
  p.groups = std::move(groups);
  return p;
}

TEST(FileAccessTest, OwnerBitsApplyToTheOwnerEvenWhenOthersMayMore) {
  const fs::Attr attr = file(0077, 1000, 1000);
  Status st = check_access(attr, peer(1000, 1000), R_OK, "take read lease", "/mnt/f");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().errnum(), EACCES);
  EXPECT_EQ(st.error().message(),
            "take read lease '/mnt/f': Permission denied (uid 1000 has no read permission on mode "
            "0077 owned by 1000:1000)");
}

TEST(FileAccessTest, GroupBitsApplyThroughSupplementaryGroups) {
  const fs::Attr attr = file(0640, 0, 4242);
  EXPECT_TRUE(check_access(attr, peer(65534, 65534, {4242}), R_OK, "pin", "f").ok());
  EXPECT_FALSE(check_access(attr, peer(65534, 65534, {4242}), W_OK, "allocate", "f").ok());
  EXPECT_FALSE(check_access(attr, peer(65534, 65534), R_OK, "pin", "f").ok());
}

TEST(FileAccessTest, OtherBitsApplyToEveryoneElse) {
  const fs::Attr attr = file(0604, 0, 0);
  EXPECT_TRUE(check_access(attr, peer(65534, 65534), R_OK, "pin", "f").ok());
  EXPECT_EQ(check_access(attr, peer(65534, 65534), W_OK, "take write lease", "f").error().errnum(), EACCES);
}

TEST(FileAccessTest, RootPassesReadAndWriteWhateverTheBits) {
  const fs::Attr attr = file(0000, 1000, 1000);
  EXPECT_TRUE(check_access(attr, peer(0, 0), R_OK | W_OK, "take write lease", "f").ok());
}

TEST(FileAccessTest, FormatsModesAsOctal) {
  EXPECT_EQ(format_mode(0100644), "0644");
  EXPECT_EQ(format_mode(04755), "4755");
}

}  // namespace
}  // namespace pinfs::control
