// MountTest: the fixture of every test in tests/mount. Each test gets a
// fresh pinfs, mounted by a real pinfsd (mounted_fs.h says where it lives);
// at the end the daemon must still be alive (no request may kill it), must
// exit 0 after `fusermount3 -u`, and `pinfs check` must be clean.
//
// Derived fixtures change the file system by overriding config().
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "tests/mount/mounted_fs.h"

namespace pinfs::mount_test {

class MountTest : public ::testing::Test {
 protected:
  virtual MountConfig config() const { return {}; }

  void SetUp() override;
  void TearDown() override;

  MountedFs& fs() { return *fs_; }
  // A path inside the mount: path("a/b") is MNT/a/b; path() is MNT.
  std::string path(std::string_view relative = {}) const;
  // A path in the scratch directory outside the mount.
  std::string scratch(std::string_view relative = {}) const;

 private:
  std::unique_ptr<MountedFs> fs_;
};

}  // namespace pinfs::mount_test
