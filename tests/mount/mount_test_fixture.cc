#include "tests/mount/mount_test_fixture.h"

#include <unistd.h>

#include "tests/test_env.h"

namespace pinfs::mount_test {

void MountTest::SetUp() {
  // FUSE is promised natively (DESIGN.md §6) and in the VM; a machine
  // without it skips here with the reason rather than failing every test.
  PINFS_REQUIRE(access("/dev/fuse", R_OK | W_OK) == 0, "/dev/fuse");
  PINFS_REQUIRE(geteuid() == 0, "root (allow_other and the other-user tests)");
  fs_ = std::make_unique<MountedFs>(Programs::from_environment(), config());
  ASSERT_NO_FATAL_FAILURE(fs_->create());
  ASSERT_NO_FATAL_FAILURE(fs_->start());
}

void MountTest::TearDown() {
  if (!fs_) return;
  if (fs_->mounted()) {
    // The daemon must have survived whatever the test asked of it.
    EXPECT_TRUE(fs_->daemon_alive()) << "pinfsd died during the test ("
                                     << fs_->daemon_log() << ")";
    EXPECT_NO_FATAL_FAILURE(fs_->stop());
  }
  fs_.reset();
}

std::string MountTest::path(std::string_view relative) const {
  if (relative.empty()) return fs_->mountpoint();
  return fs_->mountpoint() + "/" + std::string(relative);
}

std::string MountTest::scratch(std::string_view relative) const {
  if (relative.empty()) return fs_->scratch_dir();
  return fs_->scratch_dir() + "/" + std::string(relative);
}

}  // namespace pinfs::mount_test
