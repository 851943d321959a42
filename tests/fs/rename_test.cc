// rename: plain, over a target, RENAME_NOREPLACE, RENAME_EXCHANGE, and the
// rules that keep the tree a tree.
#include <linux/fs.h>
#include <sys/stat.h>

#include "tests/fs/fs_test_env.h"

namespace pinfs::fs::testing {
namespace {

using RenameTest = FsTest;

TEST_F(RenameTest, RenameMovesAnEntryWithinADirectory) {
  InodeNumber f = create(kRootInode, "a");
  ASSERT_OK(fs_->rename(kRootInode, "a", kRootInode, "b", 0, caller_));
  EXPECT_ERRNO(fs_->lookup(kRootInode, "a"), ENOENT);
  EXPECT_EQ(fs_->lookup(kRootInode, "b")->ino, f);
}

TEST_F(RenameTest, RenameOfADirectoryAcrossDirectoriesFixesDotDotAndLinkCounts) {
  InodeNumber a = make_dir(kRootInode, "a");
  InodeNumber b = make_dir(kRootInode, "b");
  InodeNumber d = make_dir(a, "d");
  ASSERT_OK(fs_->rename(a, "d", b, "d2", 0, caller_));
  EXPECT_EQ(fs_->lookup(d, "..")->ino, b);
  EXPECT_EQ(fs_->getattr(a)->nlink, 2u);
  EXPECT_EQ(fs_->getattr(b)->nlink, 3u);
  remount();
  EXPECT_EQ(fs_->lookup(b, "d2")->ino, d);
}

TEST_F(RenameTest, RenameUpdatesCtimeOfTheMovedInode) {
  InodeNumber f = create(kRootInode, "a");
  Timespec before = fs_->getattr(f)->ctime;
  ::usleep(2000);
  ASSERT_OK(fs_->rename(kRootInode, "a", kRootInode, "b", 0, caller_));
  EXPECT_NE(fs_->getattr(f)->ctime, before);
}

TEST_F(RenameTest, RenameOverAFileReplacesItAndFreesItsSpace) {
  InodeNumber a = create(kRootInode, "a");
  InodeNumber b = create(kRootInode, "b");
  write_string(a, 0, "new");
  write_string(b, 0, std::string(100000, 'x'));
  std::uint64_t free_before = free_blocks();
  ASSERT_OK(fs_->rename(kRootInode, "a", kRootInode, "b", 0, caller_));
  EXPECT_EQ(fs_->lookup(kRootInode, "b")->ino, a);
  EXPECT_ERRNO(fs_->getattr(b), ENOENT);
  EXPECT_GT(free_blocks(), free_before);
  EXPECT_EQ(read_string(a, 0, 10), "new");
}

TEST_F(RenameTest, RenameOverAnEmptyDirectoryReplacesIt) {
  InodeNumber a = make_dir(kRootInode, "a");
  InodeNumber b = make_dir(kRootInode, "b");
  ASSERT_OK(fs_->rename(kRootInode, "a", kRootInode, "b", 0, caller_));
  EXPECT_EQ(fs_->lookup(kRootInode, "b")->ino, a);
  EXPECT_ERRNO(fs_->getattr(b), ENOENT);
  EXPECT_EQ(fs_->getattr(kRootInode)->nlink, 3u);
}

TEST_F(RenameTest, RenameOverANonEmptyDirectoryFailsWithEnotempty) {
  make_dir(kRootInode, "a");
  InodeNumber b = make_dir(kRootInode, "b");
  create(b, "f");
  EXPECT_ERRNO(fs_->rename(kRootInode, "a", kRootInode, "b", 0, caller_), ENOTEMPTY);
}

TEST_F(RenameTest, RenameRefusesToMixFilesAndDirectories) {
  make_dir(kRootInode, "d");
  create(kRootInode, "f");
  EXPECT_ERRNO(fs_->rename(kRootInode, "d", kRootInode, "f", 0, caller_), ENOTDIR);
  EXPECT_ERRNO(fs_->rename(kRootInode, "f", kRootInode, "d", 0, caller_), EISDIR);
}

TEST_F(RenameTest, RenameOfADirectoryIntoItsOwnSubtreeFailsWithEinval) {
  InodeNumber a = make_dir(kRootInode, "a");
  InodeNumber b = make_dir(a, "b");
  InodeNumber c = make_dir(b, "c");
  EXPECT_ERRNO(fs_->rename(kRootInode, "a", c, "a", 0, caller_), EINVAL);
  EXPECT_ERRNO(fs_->rename(kRootInode, "a", a, "self", 0, caller_), EINVAL);
  EXPECT_ERRNO(fs_->rename(kRootInode, "a", c, "x", RENAME_EXCHANGE, caller_), ENOENT);
  create(c, "x");
  EXPECT_ERRNO(fs_->rename(kRootInode, "a", c, "x", RENAME_EXCHANGE, caller_), EINVAL);
}

TEST_F(RenameTest, RenameNoreplaceFailsWithEexistWhenTheTargetExists) {
  create(kRootInode, "a");
  create(kRootInode, "b");
  EXPECT_ERRNO(fs_->rename(kRootInode, "a", kRootInode, "b", RENAME_NOREPLACE, caller_), EEXIST);
  ASSERT_OK(fs_->rename(kRootInode, "a", kRootInode, "c", RENAME_NOREPLACE, caller_));
}

TEST_F(RenameTest, RenameExchangeSwapsAFileAndADirectoryAcrossDirectories) {
  InodeNumber p = make_dir(kRootInode, "p");
  InodeNumber q = make_dir(kRootInode, "q");
  InodeNumber f = create(p, "f");
  InodeNumber d = make_dir(q, "d");
  ASSERT_OK(fs_->rename(p, "f", q, "d", RENAME_EXCHANGE, caller_));
  EXPECT_EQ(fs_->lookup(p, "f")->ino, d);
  EXPECT_EQ(fs_->lookup(q, "d")->ino, f);
  EXPECT_EQ(fs_->lookup(d, "..")->ino, p);
  EXPECT_EQ(fs_->getattr(p)->nlink, 3u);
  EXPECT_EQ(fs_->getattr(q)->nlink, 2u);
}

TEST_F(RenameTest, RenameExchangeWithoutATargetFailsWithEnoent) {
  create(kRootInode, "a");
  EXPECT_ERRNO(fs_->rename(kRootInode, "a", kRootInode, "b", RENAME_EXCHANGE, caller_), ENOENT);
}

TEST_F(RenameTest, RenameWithBothFlagsFailsWithEinval) {
  create(kRootInode, "a");
  EXPECT_ERRNO(fs_->rename(kRootInode, "a", kRootInode, "b", RENAME_EXCHANGE | RENAME_NOREPLACE,
                           caller_),
               EINVAL);
}

TEST_F(RenameTest, RenameBetweenTwoLinksOfOneInodeDoesNothing) {
  InodeNumber f = create(kRootInode, "a");
  ASSERT_OK(fs_->link(f, kRootInode, "b", caller_));
  ASSERT_OK(fs_->rename(kRootInode, "a", kRootInode, "b", 0, caller_));
  EXPECT_EQ(fs_->lookup(kRootInode, "a")->ino, f);
  EXPECT_EQ(fs_->lookup(kRootInode, "b")->ino, f);
  EXPECT_EQ(fs_->getattr(f)->nlink, 2u);
}

TEST_F(RenameTest, RenameOverOneOfSeveralLinksKeepsTheInode) {
  InodeNumber target = create(kRootInode, "t");
  ASSERT_OK(fs_->link(target, kRootInode, "t2", caller_));
  create(kRootInode, "a");
  ASSERT_OK(fs_->rename(kRootInode, "a", kRootInode, "t", 0, caller_));
  EXPECT_EQ(fs_->getattr(target)->nlink, 1u);
}

TEST_F(RenameTest, RenameOfAMissingEntryFailsWithEnoent) {
  EXPECT_ERRNO(fs_->rename(kRootInode, "nope", kRootInode, "b", 0, caller_), ENOENT);
}

}  // namespace
}  // namespace pinfs::fs::testing
