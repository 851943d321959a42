// Extended attributes.
#include <sys/stat.h>
#include <sys/xattr.h>

#include "tests/fs/fs_test_env.h"

namespace pinfs::fs::testing {
namespace {

using XattrTest = FsTest;

std::string str(const std::vector<std::byte>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

TEST_F(XattrTest, SetGetListAndRemove) {
  InodeNumber f = create(kRootInode, "f");
  ASSERT_OK(fs_->setxattr(f, "user.a", as_bytes("1"), 0, caller_));
  ASSERT_OK(fs_->setxattr(f, "trusted.b", as_bytes("22"), 0, caller_));
  ASSERT_OK(fs_->setxattr(f, "user.empty", as_bytes(""), 0, caller_));
  EXPECT_EQ(str(*fs_->getxattr(f, "user.a")), "1");
  EXPECT_EQ(str(*fs_->getxattr(f, "trusted.b")), "22");
  EXPECT_EQ(str(*fs_->getxattr(f, "user.empty")), "");
  auto names = fs_->listxattr(f);
  ASSERT_OK(names);
  EXPECT_EQ(names->size(), 3u);
  ASSERT_OK(fs_->removexattr(f, "user.a", caller_));
  EXPECT_ERRNO(fs_->getxattr(f, "user.a"), ENODATA);
  EXPECT_ERRNO(fs_->removexattr(f, "user.a", caller_), ENODATA);
  remount();
  EXPECT_EQ(str(*fs_->getxattr(f, "trusted.b")), "22");
  EXPECT_EQ(fs_->listxattr(f)->size(), 2u);
}

// The FUSE front end asks the kernel to leave privilege removal to the file
// system (FUSE_HANDLE_KILLPRIV_V2), so these are the file system's, as in
// Linux's file_remove_privs: security.capability goes on write, truncate and
// chown, whoever makes them; set-user-ID (and group-executable
// set-group-ID) on write and truncate unless root makes them.
TEST_F(XattrTest, WriteTruncateAndChownRemoveTheCapabilityAndKeepOtherXattrs) {
  InodeNumber f = create(kRootInode, "f");
  const Caller root{1, 0, 0};
  auto set_cap = [&] { return fs_->setxattr(f, "security.capability", as_bytes("cap"), 0, root); };
  ASSERT_OK(fs_->setxattr(f, "user.keep", as_bytes("k"), 0, root));

  ASSERT_OK(set_cap());
  ASSERT_OK(fs_->write(f, 0, as_bytes("x"), root));
  EXPECT_ERRNO(fs_->getxattr(f, "security.capability"), ENODATA);  // write

  ASSERT_OK(set_cap());
  SetAttr truncate;
  truncate.size = 0;
  ASSERT_OK(fs_->setattr(f, truncate, root));
  EXPECT_ERRNO(fs_->getxattr(f, "security.capability"), ENODATA);  // truncate

  ASSERT_OK(set_cap());
  SetAttr chown;
  chown.uid = 1000;
  ASSERT_OK(fs_->setattr(f, chown, root));
  EXPECT_ERRNO(fs_->getxattr(f, "security.capability"), ENODATA);  // chown

  ASSERT_OK(set_cap());
  SetAttr chmod;
  chmod.mode = 0600;
  ASSERT_OK(fs_->setattr(f, chmod, root));
  EXPECT_EQ(str(*fs_->getxattr(f, "security.capability")), "cap") << "chmod is no change of content";
  EXPECT_EQ(str(*fs_->getxattr(f, "user.keep")), "k");
}

TEST_F(XattrTest, TruncateByAnotherUserDropsSetIdBitsAndRootsKeepsThem) {
  InodeNumber f = create(kRootInode, "f");
  ASSERT_OK(fs_->write(f, 0, as_bytes("contents"), caller_));
  SetAttr setid;
  setid.mode = 06755;
  ASSERT_OK(fs_->setattr(f, setid, caller_));
  SetAttr truncate;
  truncate.size = 4;
  ASSERT_OK(fs_->setattr(f, truncate, Caller{1, 0, 0}));
  EXPECT_EQ(fs_->getattr(f)->mode & 07777, 06755u) << "root's truncate";
  ASSERT_OK(fs_->setattr(f, truncate, caller_));  // the same size: still a truncate
  EXPECT_EQ(fs_->getattr(f)->mode & 07777, 0755u);
}

// pinfs has no POSIX ACLs: accepting system.posix_acl_access as plain bytes
// would make cp -a skip its chmod and leave the modes it created with.
TEST_F(XattrTest, PosixAclNamesAreRefusedWithEopnotsupp) {
  InodeNumber f = create(kRootInode, "f");
  for (const char* name : {"system.posix_acl_access", "system.posix_acl_default", "system.x"}) {
    EXPECT_ERRNO(fs_->setxattr(f, name, as_bytes("acl"), 0, caller_), EOPNOTSUPP);
    EXPECT_ERRNO(fs_->getxattr(f, name), EOPNOTSUPP);
    EXPECT_ERRNO(fs_->removexattr(f, name, caller_), EOPNOTSUPP);
  }
  EXPECT_TRUE(fs_->listxattr(f)->empty());
}

TEST_F(XattrTest, CreateAndReplaceFlagsAreHonoured) {
  InodeNumber f = create(kRootInode, "f");
  EXPECT_ERRNO(fs_->setxattr(f, "user.x", as_bytes("v"), XATTR_REPLACE, caller_), ENODATA);
  ASSERT_OK(fs_->setxattr(f, "user.x", as_bytes("v"), XATTR_CREATE, caller_));
  EXPECT_ERRNO(fs_->setxattr(f, "user.x", as_bytes("w"), XATTR_CREATE, caller_), EEXIST);
  ASSERT_OK(fs_->setxattr(f, "user.x", as_bytes("w"), XATTR_REPLACE, caller_));
  EXPECT_EQ(str(*fs_->getxattr(f, "user.x")), "w");
}

TEST_F(XattrTest, NamesAndValuesAreBounded) {
  InodeNumber f = create(kRootInode, "f");
  EXPECT_ERRNO(fs_->setxattr(f, "nonamespace", as_bytes("v"), 0, caller_), EOPNOTSUPP);
  EXPECT_ERRNO(fs_->setxattr(f, "user." + std::string(251, 'n'), as_bytes("v"), 0, caller_), ERANGE);
  ASSERT_OK(fs_->setxattr(f, "user." + std::string(250, 'n'), as_bytes("v"), 0, caller_));
  std::string big(kXattrValueMaxBytes, 'v');
  ASSERT_OK(fs_->setxattr(f, "user.big", as_bytes(big), 0, caller_));
  EXPECT_EQ(fs_->getxattr(f, "user.big")->size(), big.size());
  EXPECT_ERRNO(fs_->setxattr(f, "user.bigger", as_bytes(big + "v"), 0, caller_), E2BIG);
  // The inode's total is bounded too.
  Status last = ok_status();
  for (int i = 0; i < 10 && last.ok(); ++i)
    last = fs_->setxattr(f, "user.big" + std::to_string(i), as_bytes(big), 0, caller_);
  ASSERT_FALSE(last.ok());
  EXPECT_EQ(last.error().errnum(), ENOSPC);
}

TEST_F(XattrTest, ManyXattrsOnDirectoriesAndSymlinks) {
  InodeNumber d = make_dir(kRootInode, "d");
  auto l = fs_->symlink(kRootInode, "l", "target", caller_);
  ASSERT_OK(l);
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK(fs_->setxattr(d, "user.k" + std::to_string(i), as_bytes(std::to_string(i)), 0, caller_));
  }
  ASSERT_OK(fs_->setxattr(l->ino, "trusted.t", as_bytes("x"), 0, caller_));
  EXPECT_EQ(fs_->listxattr(d)->size(), 200u);
  EXPECT_EQ(str(*fs_->getxattr(d, "user.k123")), "123");
  EXPECT_EQ(str(*fs_->getxattr(l->ino, "trusted.t")), "x");
}

TEST_F(XattrTest, XattrSpaceIsFreedWithTheInode) {
  InodeNumber f = create(kRootInode, "f");
  std::uint64_t free_before = free_blocks();
  ASSERT_OK(fs_->setxattr(f, "user.v", as_bytes(std::string(20000, 'v')), 0, caller_));
  EXPECT_LT(free_blocks(), free_before);
  ASSERT_OK(fs_->unlink(kRootInode, "f", caller_));
  EXPECT_EQ(free_blocks(), free_before);
}

TEST_F(XattrTest, SetxattrUpdatesCtime) {
  InodeNumber f = create(kRootInode, "f");
  Timespec before = fs_->getattr(f)->ctime;
  ::usleep(2000);
  ASSERT_OK(fs_->setxattr(f, "user.a", as_bytes("1"), 0, caller_));
  EXPECT_NE(fs_->getattr(f)->ctime, before);
}

}  // namespace
}  // namespace pinfs::fs::testing
