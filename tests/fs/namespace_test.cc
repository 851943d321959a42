// Names: create, lookup, link, unlink, mkdir, rmdir, symlink, readdir.
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "tests/fs/fs_test_env.h"

namespace pinfs::fs::testing {
namespace {

using NamespaceTest = FsTest;

TEST_F(NamespaceTest, CreatedFileIsFoundByLookupWithItsAttributes) {
  auto a = fs_->mknod(kRootInode, "f", S_IFREG | 0640, 0, caller_);
  ASSERT_OK(a);
  auto b = fs_->lookup(kRootInode, "f");
  ASSERT_OK(b);
  EXPECT_EQ(b->ino, a->ino);
  EXPECT_EQ(b->mode, S_IFREG | 0640u);
  EXPECT_EQ(b->uid, caller_.uid);
  EXPECT_EQ(b->gid, caller_.gid);
  EXPECT_EQ(b->nlink, 1u);
  EXPECT_EQ(b->size, 0u);
  EXPECT_EQ(b->atime, b->btime);
  EXPECT_EQ(b->mtime, b->btime);
  EXPECT_NE(b->btime.sec, 0);
}

TEST_F(NamespaceTest, CreatingAnExistingNameFailsWithEexist) {
  create(kRootInode, "f");
  EXPECT_ERRNO(fs_->mknod(kRootInode, "f", S_IFREG | 0644, 0, caller_), EEXIST);
  EXPECT_ERRNO(fs_->mkdir(kRootInode, "f", 0755, caller_), EEXIST);
  EXPECT_ERRNO(fs_->symlink(kRootInode, "f", "x", caller_), EEXIST);
}

TEST_F(NamespaceTest, LookupOfAMissingNameFailsWithEnoent) {
  EXPECT_ERRNO(fs_->lookup(kRootInode, "nope"), ENOENT);
  auto e = fs_->lookup(kRootInode, "nope");
  EXPECT_EQ(e.error().op(), "lookup");
  EXPECT_NE(e.error().message().find("nope"), std::string::npos);
}

TEST_F(NamespaceTest, NameOfExactly255BytesWorksAnd256FailsWithEnametoolong) {
  std::string ok(255, 'a');
  std::string too_long(256, 'b');
  InodeNumber f = create(kRootInode, ok);
  EXPECT_NE(f, 0u);
  ASSERT_OK(fs_->lookup(kRootInode, ok));
  EXPECT_ERRNO(fs_->mknod(kRootInode, too_long, S_IFREG | 0644, 0, caller_), ENAMETOOLONG);
  EXPECT_ERRNO(fs_->lookup(kRootInode, too_long), ENAMETOOLONG);
  EXPECT_ERRNO(fs_->mkdir(kRootInode, too_long, 0755, caller_), ENAMETOOLONG);
  auto names = list(kRootInode);
  EXPECT_NE(std::find(names.begin(), names.end(), ok), names.end());
}

TEST_F(NamespaceTest, DotAndDotDotCannotBeCreatedOrRemoved) {
  EXPECT_ERRNO(fs_->mknod(kRootInode, ".", S_IFREG | 0644, 0, caller_), EINVAL);
  EXPECT_ERRNO(fs_->mkdir(kRootInode, "..", 0755, caller_), EINVAL);
  EXPECT_ERRNO(fs_->unlink(kRootInode, ".", caller_), EINVAL);
  EXPECT_ERRNO(fs_->rmdir(kRootInode, "..", caller_), EINVAL);
  EXPECT_ERRNO(fs_->mknod(kRootInode, "a/b", S_IFREG | 0644, 0, caller_), EINVAL);
}

TEST_F(NamespaceTest, LookupOfDotAndDotDotGivesTheDirectoryAndItsParent) {
  InodeNumber d = make_dir(kRootInode, "d");
  EXPECT_EQ(fs_->lookup(d, ".")->ino, d);
  EXPECT_EQ(fs_->lookup(d, "..")->ino, kRootInode);
  EXPECT_EQ(fs_->lookup(kRootInode, "..")->ino, kRootInode);
}

TEST_F(NamespaceTest, MkdirCountsLinksAsExt4Does) {
  InodeNumber d = make_dir(kRootInode, "d");
  EXPECT_EQ(fs_->getattr(d)->nlink, 2u);
  EXPECT_EQ(fs_->getattr(kRootInode)->nlink, 3u);
  make_dir(d, "sub");
  EXPECT_EQ(fs_->getattr(d)->nlink, 3u);
  ASSERT_OK(fs_->rmdir(d, "sub", caller_));
  EXPECT_EQ(fs_->getattr(d)->nlink, 2u);
}

TEST_F(NamespaceTest, RmdirOfANonEmptyDirectoryFailsWithEnotempty) {
  InodeNumber d = make_dir(kRootInode, "d");
  create(d, "f");
  EXPECT_ERRNO(fs_->rmdir(kRootInode, "d", caller_), ENOTEMPTY);
  ASSERT_OK(fs_->unlink(d, "f", caller_));
  ASSERT_OK(fs_->rmdir(kRootInode, "d", caller_));
  EXPECT_ERRNO(fs_->lookup(kRootInode, "d"), ENOENT);
  EXPECT_ERRNO(fs_->getattr(d), ENOENT);
}

TEST_F(NamespaceTest, UnlinkAndRmdirRefuseTheWrongType) {
  make_dir(kRootInode, "d");
  create(kRootInode, "f");
  EXPECT_ERRNO(fs_->unlink(kRootInode, "d", caller_), EISDIR);
  EXPECT_ERRNO(fs_->rmdir(kRootInode, "f", caller_), ENOTDIR);
  EXPECT_ERRNO(fs_->unlink(kRootInode, "missing", caller_), ENOENT);
}

TEST_F(NamespaceTest, OperationsInAFileAsDirectoryFailWithEnotdir) {
  InodeNumber f = create(kRootInode, "f");
  EXPECT_ERRNO(fs_->lookup(f, "x"), ENOTDIR);
  EXPECT_ERRNO(fs_->mknod(f, "x", S_IFREG | 0644, 0, caller_), ENOTDIR);
  EXPECT_ERRNO(fs_->readdir(f, 0, [](const DirEntry&) { return true; }), ENOTDIR);
}

TEST_F(NamespaceTest, HardLinksShareOneInode) {
  InodeNumber f = create(kRootInode, "a");
  write_string(f, 0, "shared");
  InodeNumber d = make_dir(kRootInode, "d");
  auto l = fs_->link(f, d, "b", caller_);
  ASSERT_OK(l);
  EXPECT_EQ(l->ino, f);
  EXPECT_EQ(l->nlink, 2u);
  EXPECT_EQ(fs_->lookup(d, "b")->ino, f);
  ASSERT_OK(fs_->unlink(kRootInode, "a", caller_));
  EXPECT_EQ(fs_->getattr(f)->nlink, 1u);
  EXPECT_EQ(read_string(f, 0, 10), "shared");
}

TEST_F(NamespaceTest, LinkToADirectoryFailsWithEperm) {
  InodeNumber d = make_dir(kRootInode, "d");
  EXPECT_ERRNO(fs_->link(d, kRootInode, "d2", caller_), EPERM);
}

TEST_F(NamespaceTest, LinkUpdatesCtime) {
  InodeNumber f = create(kRootInode, "a");
  Timespec before = fs_->getattr(f)->ctime;
  ::usleep(2000);
  ASSERT_OK(fs_->link(f, kRootInode, "b", caller_));
  Timespec after = fs_->getattr(f)->ctime;
  EXPECT_TRUE(after.sec > before.sec || (after.sec == before.sec && after.nsec > before.nsec));
}

TEST_F(NamespaceTest, DirectoryChangesUpdateItsMtimeAndCtime) {
  InodeNumber d = make_dir(kRootInode, "d");
  Attr before = *fs_->getattr(d);
  ::usleep(2000);
  create(d, "f");
  Attr after = *fs_->getattr(d);
  EXPECT_NE(after.mtime, before.mtime);
  EXPECT_NE(after.ctime, before.ctime);
  ::usleep(2000);
  ASSERT_OK(fs_->unlink(d, "f", caller_));
  EXPECT_NE(fs_->getattr(d)->mtime, after.mtime);
}

TEST_F(NamespaceTest, SymlinksOfEveryLengthReadBack) {
  for (std::size_t len : {1u, 48u, 49u, 200u, 4095u}) {
    std::string target(len, 't');
    target[0] = '/';
    std::string name = "link" + std::to_string(len);
    auto a = fs_->symlink(kRootInode, name, target, caller_);
    ASSERT_OK(a);
    EXPECT_EQ(a->mode & S_IFMT, static_cast<std::uint32_t>(S_IFLNK));
    EXPECT_EQ(a->size, len);
    auto r = fs_->readlink(a->ino);
    ASSERT_OK(r);
    EXPECT_EQ(*r, target);
  }
  EXPECT_ERRNO(fs_->symlink(kRootInode, "toolong", std::string(4096, 'x'), caller_), ENAMETOOLONG);
  remount();
  EXPECT_EQ(fs_->readlink(fs_->lookup(kRootInode, "link4095")->ino)->size(), 4095u);
  ASSERT_OK(fs_->unlink(kRootInode, "link4095", caller_));
}

TEST_F(NamespaceTest, ReadlinkOfAFileFailsWithEinval) {
  InodeNumber f = create(kRootInode, "f");
  EXPECT_ERRNO(fs_->readlink(f), EINVAL);
}

TEST_F(NamespaceTest, MknodMakesDevicesFifosAndSockets) {
  auto c = fs_->mknod(kRootInode, "chr", S_IFCHR | 0600, 0x0501, caller_);
  ASSERT_OK(c);
  EXPECT_EQ(c->rdev, 0x0501u);
  ASSERT_OK(fs_->mknod(kRootInode, "blk", S_IFBLK | 0600, 0x0802, caller_));
  ASSERT_OK(fs_->mknod(kRootInode, "fifo", S_IFIFO | 0600, 0, caller_));
  ASSERT_OK(fs_->mknod(kRootInode, "sock", S_IFSOCK | 0600, 0, caller_));
  EXPECT_ERRNO(fs_->mknod(kRootInode, "dir", S_IFDIR | 0700, 0, caller_), EINVAL);
  std::set<std::uint32_t> types;
  ASSERT_OK(fs_->readdir(kRootInode, 2, [&](const DirEntry& e) {
    types.insert(e.mode & S_IFMT);
    return true;
  }));
  EXPECT_EQ(types, (std::set<std::uint32_t>{S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK}));
  remount();
  EXPECT_EQ(fs_->lookup(kRootInode, "blk")->rdev, 0x0802u);
}

TEST_F(NamespaceTest, ReaddirListsDotAndDotDotFirstThenEveryEntry) {
  InodeNumber d = make_dir(kRootInode, "d");
  for (int i = 0; i < 40; ++i) create(d, "f" + std::to_string(i));
  std::vector<DirEntry> entries;
  ASSERT_OK(fs_->readdir(d, 0, [&](const DirEntry& e) {
    entries.push_back(e);
    return true;
  }));
  ASSERT_EQ(entries.size(), 42u);
  EXPECT_EQ(entries[0].name, ".");
  EXPECT_EQ(entries[0].next_cookie, 1u);
  EXPECT_EQ(entries[0].ino, d);
  EXPECT_EQ(entries[1].name, "..");
  EXPECT_EQ(entries[1].next_cookie, 2u);
  EXPECT_EQ(entries[1].ino, kRootInode);
  std::set<std::string> names;
  for (std::size_t i = 2; i < entries.size(); ++i) names.insert(entries[i].name);
  EXPECT_EQ(names.size(), 40u);
}

TEST_F(NamespaceTest, ReaddirCookiesStayValidAcrossInsertsAndRemovals) {
  InodeNumber d = make_dir(kRootInode, "d");
  for (int i = 0; i < 30; ++i) create(d, "f" + std::to_string(i));
  // Read the first half, change the directory, continue from the cookie.
  std::vector<std::string> seen;
  std::uint64_t cookie = 0;
  ASSERT_OK(fs_->readdir(d, 0, [&](const DirEntry& e) {
    seen.push_back(e.name);
    cookie = e.next_cookie;
    return seen.size() < 17;
  }));
  std::string last_seen = seen.back();
  // Remove entries already seen and entries not yet seen, add new ones.
  ASSERT_OK(fs_->unlink(d, seen[5], caller_));
  std::set<std::string> all;
  for (int i = 0; i < 30; ++i) all.insert("f" + std::to_string(i));
  std::vector<std::string> unseen;
  for (const auto& n : all)
    if (std::find(seen.begin(), seen.end(), n) == seen.end()) unseen.push_back(n);
  ASSERT_OK(fs_->unlink(d, unseen.front(), caller_));
  create(d, "new1");
  create(d, "new2");
  ASSERT_OK(fs_->readdir(d, cookie, [&](const DirEntry& e) {
    seen.push_back(e.name);
    return true;
  }));
  // Every entry present throughout appears exactly once.
  for (std::size_t i = 1; i < unseen.size(); ++i)
    EXPECT_EQ(std::count(seen.begin(), seen.end(), unseen[i]), 1) << unseen[i];
  EXPECT_EQ(std::count(seen.begin(), seen.end(), last_seen), 1);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), unseen.front()), 0);
}

TEST_F(NamespaceTest, DirectoriesTwoHundredLevelsDeepWork) {
  InodeNumber d = kRootInode;
  std::vector<InodeNumber> chain;
  for (int i = 0; i < 200; ++i) {
    d = make_dir(d, "level" + std::to_string(i));
    ASSERT_NE(d, 0u);
    chain.push_back(d);
  }
  InodeNumber f = create(d, "leaf");
  write_string(f, 0, "deep");
  remount();
  InodeNumber cur = kRootInode;
  for (int i = 0; i < 200; ++i) {
    auto a = fs_->lookup(cur, "level" + std::to_string(i));
    ASSERT_OK(a);
    cur = a->ino;
  }
  EXPECT_EQ(read_string(fs_->lookup(cur, "leaf")->ino, 0, 10), "deep");
  // Moving the top directory below its own bottom is refused.
  EXPECT_ERRNO(fs_->rename(kRootInode, "level0", cur, "loop", 0, caller_), EINVAL);
}

TEST_F(NamespaceTest, NewInodesInheritTheGroupOfASetGidDirectory) {
  InodeNumber d = make_dir(kRootInode, "d");
  SetAttr s;
  s.mode = 02775;
  s.gid = 777;
  ASSERT_OK(fs_->setattr(d, s, caller_));
  auto f = fs_->mknod(d, "f", S_IFREG | 0644, 0, caller_);
  ASSERT_OK(f);
  EXPECT_EQ(f->gid, 777u);
  auto sub = fs_->mkdir(d, "sub", 0755, caller_);
  ASSERT_OK(sub);
  EXPECT_EQ(sub->gid, 777u);
  EXPECT_NE(sub->mode & S_ISGID, 0u);
}

TEST_F(NamespaceTest, InodeNumbersAreReusedWithANewGeneration) {
  auto a = fs_->mknod(kRootInode, "f", S_IFREG | 0644, 0, caller_);
  ASSERT_OK(a);
  ASSERT_OK(fs_->unlink(kRootInode, "f", caller_));
  auto b = fs_->mknod(kRootInode, "g", S_IFREG | 0644, 0, caller_);
  ASSERT_OK(b);
  if (b->ino == a->ino) {
    EXPECT_GT(b->generation, a->generation);
  }
}

TEST_F(NamespaceTest, CreatingInARemovedButOpenDirectoryFailsWithEnoent) {
  InodeNumber d = make_dir(kRootInode, "d");
  ASSERT_OK(fs_->acquire(d));
  ASSERT_OK(fs_->rmdir(kRootInode, "d", caller_));
  EXPECT_ERRNO(fs_->mknod(d, "f", S_IFREG | 0644, 0, caller_), ENOENT);
  EXPECT_EQ(list(d).size(), 2u);
  fs_->release(d);
  EXPECT_ERRNO(fs_->getattr(d), ENOENT);
}

}  // namespace
}  // namespace pinfs::fs::testing
