// Names and links through the mount: rename (plain, over an existing name,
// RENAME_NOREPLACE, RENAME_EXCHANGE), hard links, symlinks, truncate, and
// the errno of every refusal a program relies on.
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <utility>
#include <vector>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/mount/file_io.h"
#include "tests/mount/mount_test_fixture.h"
#include "tests/test_env.h"

namespace pinfs::mount_test {
namespace {

using namespace std::chrono_literals;

int renameat2_of(const std::string& from, const std::string& to, unsigned flags) {
  return errno_of(renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags));
}

std::set<std::string> list_dir(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) names.insert(e->d_name);
  closedir(d);
  return names;
}

// ---------------------------------------------------------------- rename

using RenameTest = MountTest;

TEST_F(RenameTest, RenameMovesAFileAcrossDirectoriesWithItsInodeAndData) {
  ASSERT_EQ(mkdir(path("a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(path("b").c_str(), 0755), 0);
  const std::string data = pattern(100000, 1);
  ASSERT_EQ(write_file(path("a/f"), data), 0);
  const ino_t ino = stat_of(path("a/f")).st_ino;
  ASSERT_EQ(errno_of(rename(path("a/f").c_str(), path("b/g").c_str())), 0);
  EXPECT_EQ(errno_of(access(path("a/f").c_str(), F_OK)), ENOENT);
  EXPECT_EQ(stat_of(path("b/g")).st_ino, ino);
  EXPECT_EQ(contents_difference(path("b/g"), data), "");
  EXPECT_EQ(list_dir(path("a")), (std::set<std::string>{".", ".."}));
  EXPECT_EQ(list_dir(path("b")), (std::set<std::string>{".", "..", "g"}));
}

TEST_F(RenameTest, RenameOverAnExistingFileReplacesIt) {
  ASSERT_EQ(write_file(path("src"), "new contents"), 0);
  ASSERT_EQ(write_file(path("dst"), pattern(50000, 2)), 0);
  const ino_t src_ino = stat_of(path("src")).st_ino;
  ASSERT_EQ(errno_of(rename(path("src").c_str(), path("dst").c_str())), 0);
  EXPECT_EQ(stat_of(path("dst")).st_ino, src_ino);
  EXPECT_EQ(contents_difference(path("dst"), "new contents"), "");
  EXPECT_EQ(errno_of(access(path("src").c_str(), F_OK)), ENOENT);
  EXPECT_EQ(list_dir(path()), (std::set<std::string>{".", "..", "dst"}));
}

TEST_F(RenameTest, RenameOverAnOpenFileKeepsItsDataForTheOpenDescriptor) {
  const std::string old_data = pattern(300000, 3);
  ASSERT_EQ(write_file(path("victim"), old_data), 0);
  UniqueFd fd(open(path("victim").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write_file(path("new"), "replacement"), 0);
  ASSERT_EQ(errno_of(rename(path("new").c_str(), path("victim").c_str())), 0);
  // Also reuse the freed space at once: it must not be the victim's blocks.
  ASSERT_EQ(write_file(path("filler"), pattern(600000, 4)), 0);

  std::string got(old_data.size(), '\0');
  ASSERT_EQ(pread(fd, got.data(), got.size(), 0), static_cast<ssize_t>(got.size()));
  EXPECT_EQ(first_difference(old_data, got), "");
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_nlink, 0u) << "the replaced inode still has links";
  EXPECT_EQ(contents_difference(path("victim"), "replacement"), "");
}

TEST_F(RenameTest, RenameNoreplaceOverAnExistingNameFailsWithEexist) {
  ASSERT_EQ(write_file(path("a"), "A"), 0);
  ASSERT_EQ(write_file(path("b"), "B"), 0);
  EXPECT_EQ(renameat2_of(path("a"), path("b"), RENAME_NOREPLACE), EEXIST);
  EXPECT_EQ(contents_difference(path("a"), "A"), "");
  EXPECT_EQ(contents_difference(path("b"), "B"), "");
  // To a free name it is an ordinary rename.
  EXPECT_EQ(renameat2_of(path("a"), path("c"), RENAME_NOREPLACE), 0);
  EXPECT_EQ(contents_difference(path("c"), "A"), "");
  EXPECT_EQ(errno_of(access(path("a").c_str(), F_OK)), ENOENT);
}

TEST_F(RenameTest, RenameExchangeSwapsTwoFiles) {
  ASSERT_EQ(write_file(path("a"), "contents of a"), 0);
  ASSERT_EQ(write_file(path("b"), pattern(70000, 5)), 0);
  const ino_t ino_a = stat_of(path("a")).st_ino;
  const ino_t ino_b = stat_of(path("b")).st_ino;
  ASSERT_EQ(renameat2_of(path("a"), path("b"), RENAME_EXCHANGE), 0);
  EXPECT_EQ(stat_of(path("a")).st_ino, ino_b);
  EXPECT_EQ(stat_of(path("b")).st_ino, ino_a);
  EXPECT_EQ(contents_difference(path("a"), pattern(70000, 5)), "");
  EXPECT_EQ(contents_difference(path("b"), "contents of a"), "");
}

TEST_F(RenameTest, RenameExchangeOfADirectoryAndAFileAcrossDirectoriesFixesDotDot) {
  ASSERT_EQ(mkdir(path("p1").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(path("p2").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(path("p1/dir").c_str(), 0755), 0);
  ASSERT_EQ(write_file(path("p1/dir/inside"), "x"), 0);
  ASSERT_EQ(write_file(path("p2/file"), "y"), 0);
  const nlink_t p1_links = stat_of(path("p1")).st_nlink;
  const nlink_t p2_links = stat_of(path("p2")).st_nlink;
  ASSERT_EQ(renameat2_of(path("p1/dir"), path("p2/file"), RENAME_EXCHANGE), 0);
  EXPECT_TRUE(S_ISREG(lstat_of(path("p1/dir")).st_mode));
  EXPECT_TRUE(S_ISDIR(lstat_of(path("p2/file")).st_mode));
  EXPECT_EQ(contents_difference(path("p2/file/inside"), "x"), "");
  EXPECT_EQ(stat_of(path("p2/file/..")).st_ino, stat_of(path("p2")).st_ino)
      << "'..' of the moved directory still names its old parent";
  // The directory's '..' link moved from p1 to p2.
  EXPECT_EQ(stat_of(path("p1")).st_nlink, p1_links - 1);
  EXPECT_EQ(stat_of(path("p2")).st_nlink, p2_links + 1);
}

TEST_F(RenameTest, RenameExchangeWithAMissingNameFailsWithEnoent) {
  ASSERT_EQ(write_file(path("a"), "A"), 0);
  EXPECT_EQ(renameat2_of(path("a"), path("missing"), RENAME_EXCHANGE), ENOENT);
  EXPECT_EQ(contents_difference(path("a"), "A"), "");
}

TEST_F(RenameTest, RenameOfADirectoryMovesItsDotDotAndLinkCounts) {
  ASSERT_EQ(mkdir(path("from").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(path("to").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(path("from/d").c_str(), 0755), 0);
  ASSERT_EQ(write_file(path("from/d/f"), "data"), 0);
  EXPECT_EQ(stat_of(path("from")).st_nlink, 3u);
  EXPECT_EQ(stat_of(path("to")).st_nlink, 2u);
  ASSERT_EQ(errno_of(rename(path("from/d").c_str(), path("to/d").c_str())), 0);
  EXPECT_EQ(stat_of(path("from")).st_nlink, 2u);
  EXPECT_EQ(stat_of(path("to")).st_nlink, 3u);
  EXPECT_EQ(stat_of(path("to/d/..")).st_ino, stat_of(path("to")).st_ino);
  EXPECT_EQ(contents_difference(path("to/d/f"), "data"), "");
  // rmdir of the old parent now works: it is empty.
  EXPECT_EQ(errno_of(rmdir(path("from").c_str())), 0);
}

TEST_F(RenameTest, RenameOfADirectoryOverAnEmptyDirectoryReplacesIt) {
  ASSERT_EQ(mkdir(path("d1").c_str(), 0755), 0);
  ASSERT_EQ(write_file(path("d1/f"), "f"), 0);
  ASSERT_EQ(mkdir(path("d2").c_str(), 0755), 0);
  const nlink_t root_links = stat_of(path()).st_nlink;
  ASSERT_EQ(errno_of(rename(path("d1").c_str(), path("d2").c_str())), 0);
  EXPECT_EQ(contents_difference(path("d2/f"), "f"), "");
  EXPECT_EQ(errno_of(access(path("d1").c_str(), F_OK)), ENOENT);
  EXPECT_EQ(stat_of(path()).st_nlink, root_links - 1);
}

TEST_F(RenameTest, RenameOfADirectoryOverANonEmptyDirectoryFailsWithEnotempty) {
  ASSERT_EQ(mkdir(path("d1").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(path("d2").c_str(), 0755), 0);
  ASSERT_EQ(write_file(path("d2/keep"), "k"), 0);
  EXPECT_EQ(errno_of(rename(path("d1").c_str(), path("d2").c_str())), ENOTEMPTY);
  EXPECT_EQ(contents_difference(path("d2/keep"), "k"), "");
  EXPECT_TRUE(S_ISDIR(stat_of(path("d1")).st_mode));
}

TEST_F(RenameTest, RenameOfADirectoryIntoItselfFailsWithEinval) {
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(path("d/sub").c_str(), 0755), 0);
  EXPECT_EQ(errno_of(rename(path("d").c_str(), path("d/sub/d").c_str())), EINVAL);
  EXPECT_EQ(errno_of(rename(path("d").c_str(), path("d/inside").c_str())), EINVAL);
  EXPECT_TRUE(S_ISDIR(stat_of(path("d/sub")).st_mode));
}

TEST_F(RenameTest, RenameAcrossTheMountBoundaryFailsWithExdev) {
  ASSERT_EQ(write_file(path("f"), "stays"), 0);
  EXPECT_EQ(errno_of(rename(path("f").c_str(), scratch("f").c_str())), EXDEV);
  EXPECT_EQ(errno_of(link(path("f").c_str(), scratch("f").c_str())), EXDEV);
  ASSERT_EQ(write_file(scratch("outside"), "out"), 0);
  EXPECT_EQ(errno_of(rename(scratch("outside").c_str(), path("in").c_str())), EXDEV);
  EXPECT_EQ(contents_difference(path("f"), "stays"), "");
}

TEST_F(RenameTest, RenameOfAFileOverADirectoryFailsWithEisdirAndTheReverseWithEnotdir) {
  ASSERT_EQ(write_file(path("f"), "f"), 0);
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);
  EXPECT_EQ(errno_of(rename(path("f").c_str(), path("d").c_str())), EISDIR);
  EXPECT_EQ(errno_of(rename(path("d").c_str(), path("f").c_str())), ENOTDIR);
}

// ---------------------------------------------------------------- links

using HardLinkTest = MountTest;

TEST_F(HardLinkTest, HardLinksShareOneInodeItsDataAndItsAttributes) {
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);
  ASSERT_EQ(write_file(path("a"), "first"), 0);
  const struct stat before = stat_of(path("a"));
  std::this_thread::sleep_for(20ms);  // so that a new ctime is visibly newer
  ASSERT_EQ(errno_of(link(path("a").c_str(), path("d/b").c_str())), 0);
  const struct stat sa = stat_of(path("a"));
  const struct stat sb = stat_of(path("d/b"));
  EXPECT_EQ(sa.st_ino, sb.st_ino);
  EXPECT_EQ(sa.st_nlink, 2u);
  EXPECT_EQ(sb.st_nlink, 2u);
  EXPECT_GT(diff_ns(sb.st_ctim, before.st_ctim), 0) << "link did not change the ctime";

  // Data written through one name reads through the other.
  ASSERT_EQ(write_file(path("d/b"), pattern(20000, 6)), 0);
  EXPECT_EQ(contents_difference(path("a"), pattern(20000, 6)), "");

  // A chmod through one name shows through the other, with a new ctime.
  const struct stat before_chmod = stat_of(path("d/b"));
  std::this_thread::sleep_for(20ms);
  ASSERT_EQ(errno_of(chmod(path("a").c_str(), 0640)), 0);
  const struct stat after_chmod = stat_of(path("d/b"));
  EXPECT_EQ(after_chmod.st_mode & 07777, 0640u);
  EXPECT_GT(diff_ns(after_chmod.st_ctim, before_chmod.st_ctim), 0);

  ASSERT_EQ(errno_of(link(path("a").c_str(), path("c").c_str())), 0);
  EXPECT_EQ(stat_of(path("d/b")).st_nlink, 3u);
  ASSERT_EQ(errno_of(unlink(path("a").c_str())), 0);
  EXPECT_EQ(stat_of(path("d/b")).st_nlink, 2u);
  ASSERT_EQ(errno_of(unlink(path("c").c_str())), 0);
  EXPECT_EQ(stat_of(path("d/b")).st_nlink, 1u);
  EXPECT_EQ(contents_difference(path("d/b"), pattern(20000, 6)), "");
}

TEST_F(HardLinkTest, UnlinkedOpenFileKeepsItsDataUntilClosed) {
  const std::string data = pattern(400000, 7);
  ASSERT_EQ(write_file(path("f"), data), 0);
  UniqueFd fd(open(path("f").c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_GE(fd, 0);
  ASSERT_EQ(errno_of(unlink(path("f").c_str())), 0);
  EXPECT_EQ(errno_of(access(path("f").c_str(), F_OK)), ENOENT);
  ASSERT_EQ(write_file(path("filler"), pattern(800000, 8)), 0);
  // Still readable and writable through the descriptor.
  ASSERT_EQ(pwrite(fd, "tail", 4, static_cast<off_t>(data.size())), 4);
  std::string got(data.size() + 4, '\0');
  ASSERT_EQ(pread(fd, got.data(), got.size(), 0), static_cast<ssize_t>(got.size()));
  EXPECT_EQ(first_difference(data + "tail", got), "");
}

TEST_F(HardLinkTest, LinkToADirectoryFailsWithEperm) {
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);
  EXPECT_EQ(errno_of(link(path("d").c_str(), path("d2").c_str())), EPERM);
}

// ---------------------------------------------------------------- symlinks

using SymlinkTest = MountTest;

TEST_F(SymlinkTest, SymlinkReadsBackItsTargetAndLstatSeesALink) {
  ASSERT_EQ(mkdir(path("dir").c_str(), 0755), 0);
  ASSERT_EQ(write_file(path("dir/target"), "through the link"), 0);
  ASSERT_EQ(errno_of(symlink("dir/target", path("rel").c_str())), 0);
  ASSERT_EQ(errno_of(symlink(path("dir").c_str(), path("abs").c_str())), 0);

  char buf[PATH_MAX];
  ssize_t n = readlink(path("rel").c_str(), buf, sizeof buf);
  ASSERT_EQ(n, static_cast<ssize_t>(strlen("dir/target")));
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "dir/target");
  struct stat ls = lstat_of(path("rel"));
  EXPECT_TRUE(S_ISLNK(ls.st_mode));
  EXPECT_EQ(ls.st_size, static_cast<off_t>(strlen("dir/target")));
  EXPECT_EQ(stat_of(path("rel")).st_ino, stat_of(path("dir/target")).st_ino);
  EXPECT_EQ(contents_difference(path("rel"), "through the link"), "");
  EXPECT_EQ(contents_difference(path("abs/target"), "through the link"), "");
}

TEST_F(SymlinkTest, DanglingLongAndLoopingSymlinksBehave) {
  ASSERT_EQ(errno_of(symlink("nowhere", path("dangling").c_str())), 0);
  EXPECT_EQ(errno_of(access(path("dangling").c_str(), F_OK)), ENOENT);
  EXPECT_TRUE(S_ISLNK(lstat_of(path("dangling")).st_mode));

  // The longest target the kernel accepts: PATH_MAX - 1 bytes.
  const std::string longest(PATH_MAX - 1, 'y');
  ASSERT_EQ(errno_of(symlink(longest.c_str(), path("long").c_str())), 0);
  std::string buf(PATH_MAX + 1, '\0');
  ssize_t n = readlink(path("long").c_str(), buf.data(), buf.size());
  ASSERT_EQ(n, static_cast<ssize_t>(longest.size()));
  EXPECT_EQ(buf.substr(0, static_cast<size_t>(n)), longest);

  ASSERT_EQ(errno_of(symlink("loop2", path("loop1").c_str())), 0);
  ASSERT_EQ(errno_of(symlink("loop1", path("loop2").c_str())), 0);
  EXPECT_EQ(errno_of(open(path("loop1").c_str(), O_RDONLY)), ELOOP);

  ASSERT_EQ(write_file(path("plain"), "p"), 0);
  EXPECT_EQ(errno_of(readlink(path("plain").c_str(), buf.data(), buf.size())), EINVAL);
  EXPECT_EQ(errno_of(symlink("x", path("plain").c_str())), EEXIST);
}

// ---------------------------------------------------------------- truncate

using TruncateTest = MountTest;

TEST_F(TruncateTest, TruncateUpReadsZerosBeyondTheOldSize) {
  const std::string data = pattern(5000, 9);
  ASSERT_EQ(write_file(path("f"), data), 0);
  ASSERT_EQ(errno_of(truncate(path("f").c_str(), 3 << 20)), 0);
  EXPECT_EQ(stat_of(path("f")).st_size, 3 << 20);
  std::string want = data;
  want.resize(3 << 20, '\0');
  EXPECT_EQ(contents_difference(path("f"), want), "");
}

TEST_F(TruncateTest, TruncateDownDropsTheDataAndItsBlocks) {
  ASSERT_EQ(write_file(path("f"), pattern(4 << 20, 10)), 0);
  const blkcnt_t blocks = stat_of(path("f")).st_blocks;
  ASSERT_EQ(errno_of(truncate(path("f").c_str(), 10000)), 0);
  EXPECT_EQ(stat_of(path("f")).st_size, 10000);
  EXPECT_EQ(contents_difference(path("f"), pattern(4 << 20, 10).substr(0, 10000)), "");
  EXPECT_LE(stat_of(path("f")).st_blocks, blocks - (2 << 20) / 512)
      << "truncating 4 MiB to 10000 bytes freed less than 2 MiB";
  ASSERT_EQ(errno_of(truncate(path("f").c_str(), 0)), 0);
  EXPECT_EQ(stat_of(path("f")).st_blocks, 0);
  EXPECT_EQ(contents_difference(path("f"), ""), "");
}

TEST_F(TruncateTest, ExtendingAfterTruncateDownReadsZerosNotTheOldData) {
  // The tail of the last partial block must be cleared by the truncate, or
  // growing the file again shows the old bytes.
  const std::string data = pattern(10000, 11);
  ASSERT_EQ(write_file(path("f"), data), 0);
  ASSERT_EQ(errno_of(truncate(path("f").c_str(), 5000)), 0);
  ASSERT_EQ(errno_of(truncate(path("f").c_str(), 10000)), 0);
  std::string want = data.substr(0, 5000) + std::string(5000, '\0');
  EXPECT_EQ(contents_difference(path("f"), want), "");

  // The same when the file grows by a write past the end.
  ASSERT_EQ(errno_of(truncate(path("f").c_str(), 3000)), 0);
  ASSERT_EQ(write_at(path("f"), 20000, "end"), 0);
  want = data.substr(0, 3000) + std::string(17000, '\0') + "end";
  EXPECT_EQ(contents_difference(path("f"), want), "");
}

TEST_F(TruncateTest, OpenWithOTruncEmptiesTheFile) {
  ASSERT_EQ(write_file(path("f"), pattern(100000, 12)), 0);
  UniqueFd fd(open(path("f").c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(contents_difference(path("f"), ""), "");
}

TEST_F(TruncateTest, TruncateRefusesDirectoriesReadOnlyDescriptorsAndNegativeSizes) {
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);
  EXPECT_EQ(errno_of(truncate(path("d").c_str(), 0)), EISDIR);
  ASSERT_EQ(write_file(path("f"), "abc"), 0);
  UniqueFd fd(open(path("f").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_GE(fd, 0);
  EXPECT_EQ(errno_of(ftruncate(fd, 0)), EINVAL);
  EXPECT_EQ(errno_of(truncate(path("f").c_str(), -1)), EINVAL);
  EXPECT_EQ(contents_difference(path("f"), "abc"), "");
}

// ---------------------------------------------------------------- directories

using DirectoryTest = MountTest;

TEST_F(DirectoryTest, ALargeDirectoryListsEveryEntryExactlyOnce) {
  ASSERT_EQ(mkdir(path("big").c_str(), 0755), 0);
  // Enough for many readdir replies; fewer under TCG, where each create is slow.
  const int kEntries = pinfs::testing::in_vm() ? 600 : 3000;
  for (int i = 0; i < kEntries; ++i) {
    ASSERT_EQ(write_file(path("big/" + std::to_string(i) + std::string(i % 200, 'x')), ""), 0) << i;
  }
  std::multiset<std::string> listed;
  DIR* d = opendir(path("big").c_str());
  ASSERT_NE(d, nullptr) << strerror(errno);
  while (dirent* e = readdir(d)) listed.insert(e->d_name);
  closedir(d);
  EXPECT_EQ(listed.size(), static_cast<size_t>(kEntries + 2));
  for (int i = 0; i < kEntries; ++i) {
    EXPECT_EQ(listed.count(std::to_string(i) + std::string(i % 200, 'x')), 1u) << i;
  }
  EXPECT_EQ(stat_of(path("big")).st_nlink, 2u);
}

TEST_F(DirectoryTest, DeletingWhileListingStillListsEveryOtherEntryOnce) {
  // POSIX: an entry neither added nor removed during the listing is
  // returned exactly once, whatever happens to its neighbours (this is what
  // `rm -r` relies on). Each deleted entry was already listed.
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);
  const int kEntries = pinfs::testing::in_vm() ? 400 : 2000;
  for (int i = 0; i < kEntries; ++i) {
    ASSERT_EQ(write_file(path("d/e" + std::to_string(i)), ""), 0);
  }
  std::multiset<std::string> listed;
  std::set<std::string> deleted;
  DIR* d = opendir(path("d").c_str());
  ASSERT_NE(d, nullptr) << strerror(errno);
  int n = 0;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    listed.insert(name);
    if (name != "." && name != ".." && n++ % 2 == 0) {
      ASSERT_EQ(errno_of(unlink(path("d/" + name).c_str())), 0) << name;
      deleted.insert(name);
    }
  }
  closedir(d);
  for (int i = 0; i < kEntries; ++i) {
    const std::string name = "e" + std::to_string(i);
    EXPECT_EQ(listed.count(name), 1u) << name;
  }
  EXPECT_EQ(list_dir(path("d")).size(), static_cast<size_t>(kEntries) - deleted.size() + 2);
}

TEST_F(DirectoryTest, SeekdirToATelldirPositionResumesAtTheSameEntry) {
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);
  for (int i = 0; i < 500; ++i) ASSERT_EQ(write_file(path("d/f" + std::to_string(i)), ""), 0);
  DIR* d = opendir(path("d").c_str());
  ASSERT_NE(d, nullptr) << strerror(errno);
  std::vector<std::pair<long, std::string>> positions;  // telldir before each entry
  for (;;) {
    long pos = telldir(d);
    dirent* e = readdir(d);
    if (e == nullptr) break;
    positions.emplace_back(pos, e->d_name);
  }
  ASSERT_EQ(positions.size(), 502u);
  // Jump back to a few positions, also after a new entry was added
  // elsewhere in the directory: the same entry comes next each time.
  ASSERT_EQ(write_file(path("d/added-late"), ""), 0);
  for (std::size_t i : {std::size_t{0}, std::size_t{1}, std::size_t{137}, std::size_t{400},
                        std::size_t{501}}) {
    seekdir(d, positions[i].first);
    dirent* e = readdir(d);
    ASSERT_NE(e, nullptr) << "nothing after seekdir to entry " << i;
    EXPECT_EQ(std::string(e->d_name), positions[i].second) << "after seekdir to entry " << i;
  }
  closedir(d);
}

TEST_F(DirectoryTest, DirectoriesFsyncAndHoldSocketsFifosAndManyLinks) {
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);
  UniqueFd dir(open(path("d").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_GE(dir, 0);
  EXPECT_EQ(errno_of(fsync(dir)), 0);

  // A Unix socket bound on the mount: a socket inode made by mknod.
  UniqueFd server(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock = path("d/sock");
  ASSERT_LT(sock.size(), sizeof addr.sun_path);
  memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
  ASSERT_EQ(errno_of(bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr)), 0);
  ASSERT_EQ(errno_of(listen(server, 1)), 0);
  EXPECT_TRUE(S_ISSOCK(lstat_of(sock).st_mode));
  UniqueFd client(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(errno_of(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr)), 0);

  // A FIFO carries data between two descriptors.
  ASSERT_EQ(errno_of(mkfifo(path("d/fifo").c_str(), 0600)), 0);
  UniqueFd fifo(open(path("d/fifo").c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_GE(fifo, 0);
  ASSERT_EQ(write(fifo, "pipe", 4), 4);
  char buf[4];
  ASSERT_EQ(read(fifo, buf, 4), 4);
  EXPECT_EQ(std::string(buf, 4), "pipe");

  // A thousand names for one file.
  ASSERT_EQ(write_file(path("d/target"), "t"), 0);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(errno_of(link(path("d/target").c_str(), path("d/l" + std::to_string(i)).c_str())), 0)
        << i;
  }
  EXPECT_EQ(stat_of(path("d/target")).st_nlink, 1001u);
  EXPECT_EQ(errno_of(unlink(path("d/target").c_str())), 0);
  EXPECT_EQ(stat_of(path("d/l999")).st_nlink, 1000u);
}

TEST_F(DirectoryTest, AppendsGoToTheEndAndFarWritesLeaveAHole) {
  ASSERT_EQ(write_file(path("log"), "one\n"), 0);
  UniqueFd fd(open(path("log").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "two\n", 4, 0), 4);  // O_APPEND ignores the offset
  ASSERT_EQ(write(fd, "three\n", 6), 6);
  EXPECT_EQ(contents_difference(path("log"), "one\ntwo\nthree\n"), "");

  ASSERT_EQ(write_file(path("sparse"), "head"), 0);
  ASSERT_EQ(write_at(path("sparse"), 1ull << 30, "tail"), 0);  // 1 GiB out
  struct stat st = stat_of(path("sparse"));
  EXPECT_EQ(st.st_size, (1ll << 30) + 4);
  EXPECT_LT(st.st_blocks * 512, 16ll << 20) << "a 1 GiB hole was allocated";
  EXPECT_EQ(read_range(path("sparse"), (1ull << 30) - 3, 7), std::string(3, '\0') + "tail");
  EXPECT_EQ(read_range(path("sparse"), 512 << 20, 8), std::string(8, '\0'));
}

TEST_F(DirectoryTest, StatfsReportsTheNameLimitAndASaneSize) {
  struct statvfs sv {};
  ASSERT_EQ(statvfs(path().c_str(), &sv), 0) << strerror(errno);
  EXPECT_EQ(sv.f_namemax, 255u);
  EXPECT_GT(sv.f_bsize, 0u);
  EXPECT_LE(sv.f_bfree, sv.f_blocks);
  EXPECT_LE(sv.f_ffree, sv.f_files);
  if (!fs().on_device()) {
    const unsigned long long total = static_cast<unsigned long long>(sv.f_blocks) * sv.f_frsize;
    EXPECT_LE(total, 4ull << 30);
    EXPECT_GE(total, (4ull << 30) * 9 / 10) << "a 4 GiB pool offers " << total << " bytes";
  }
  // Writing 8 MiB takes 8 MiB from the free count.
  const unsigned long long before = sv.f_bfree;
  ASSERT_EQ(write_file(path("f"), pattern(8 << 20, 1)), 0);
  ASSERT_EQ(statvfs(path().c_str(), &sv), 0);
  EXPECT_GE((before - sv.f_bfree) * sv.f_frsize, 8ull << 20);
}

// ---------------------------------------------------------------- errno

using ErrnoTest = MountTest;

TEST_F(ErrnoTest, MissingNamesFailWithEnoent) {
  std::string missing = path("missing");
  EXPECT_EQ(errno_of(open(missing.c_str(), O_RDONLY)), ENOENT);
  EXPECT_EQ(errno_of(access(missing.c_str(), F_OK)), ENOENT);
  EXPECT_EQ(errno_of(unlink(missing.c_str())), ENOENT);
  EXPECT_EQ(errno_of(rmdir(missing.c_str())), ENOENT);
  EXPECT_EQ(errno_of(rename(missing.c_str(), path("x").c_str())), ENOENT);
  EXPECT_EQ(errno_of(link(missing.c_str(), path("x").c_str())), ENOENT);
  EXPECT_EQ(errno_of(truncate(missing.c_str(), 0)), ENOENT);
  EXPECT_EQ(errno_of(open(path("missing/child").c_str(), O_CREAT | O_WRONLY, 0644)), ENOENT);
  EXPECT_EQ(errno_of(mkdir(path("missing/child").c_str(), 0755)), ENOENT);
  // A name that existed is gone after unlink (no stale cache entry).
  ASSERT_EQ(write_file(path("was"), "w"), 0);
  ASSERT_EQ(errno_of(unlink(path("was").c_str())), 0);
  EXPECT_EQ(errno_of(open(path("was").c_str(), O_RDONLY)), ENOENT);
}

TEST_F(ErrnoTest, ExistingNamesFailWithEexist) {
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);
  ASSERT_EQ(write_file(path("f"), "f"), 0);
  EXPECT_EQ(errno_of(mkdir(path("d").c_str(), 0755)), EEXIST);
  EXPECT_EQ(errno_of(mkdir(path("f").c_str(), 0755)), EEXIST);
  EXPECT_EQ(errno_of(open(path("f").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644)), EEXIST);
  EXPECT_EQ(errno_of(link(path("f").c_str(), path("d").c_str())), EEXIST);
  EXPECT_EQ(errno_of(symlink("t", path("f").c_str())), EEXIST);
  EXPECT_EQ(errno_of(mkfifo(path("d").c_str(), 0644)), EEXIST);
  EXPECT_EQ(contents_difference(path("f"), "f"), "");
}

TEST_F(ErrnoTest, RemovingANonEmptyDirectoryFailsWithEnotempty) {
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(path("d/sub").c_str(), 0755), 0);
  EXPECT_EQ(errno_of(rmdir(path("d").c_str())), ENOTEMPTY);
  ASSERT_EQ(errno_of(rmdir(path("d/sub").c_str())), 0);
  ASSERT_EQ(write_file(path("d/f"), ""), 0);
  EXPECT_EQ(errno_of(rmdir(path("d").c_str())), ENOTEMPTY);
  ASSERT_EQ(errno_of(unlink(path("d/f").c_str())), 0);
  EXPECT_EQ(errno_of(rmdir(path("d").c_str())), 0);
}

TEST_F(ErrnoTest, DirectoriesRefuseFileOperationsWithEisdir) {
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);
  EXPECT_EQ(errno_of(open(path("d").c_str(), O_WRONLY)), EISDIR);
  EXPECT_EQ(errno_of(open(path("d").c_str(), O_RDWR)), EISDIR);
  EXPECT_EQ(errno_of(unlink(path("d").c_str())), EISDIR);
  UniqueFd fd(open(path("d").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_GE(fd, 0);
  char c;
  EXPECT_EQ(errno_of(read(fd, &c, 1)), EISDIR);
}

TEST_F(ErrnoTest, FilesWhereDirectoriesAreNeededFailWithEnotdir) {
  ASSERT_EQ(write_file(path("f"), "f"), 0);
  EXPECT_EQ(errno_of(access(path("f/x").c_str(), F_OK)), ENOTDIR);
  EXPECT_EQ(errno_of(mkdir(path("f/x").c_str(), 0755)), ENOTDIR);
  EXPECT_EQ(errno_of(rmdir(path("f").c_str())), ENOTDIR);
  EXPECT_EQ(errno_of(open(path("f").c_str(), O_RDONLY | O_DIRECTORY)), ENOTDIR);
  EXPECT_EQ(errno_of(open(path("f/").c_str(), O_RDONLY)), ENOTDIR);
}

TEST_F(ErrnoTest, NamesLongerThan255BytesFailWithEnametoolong) {
  const std::string longest(255, 'a');
  const std::string too_long(256, 'b');
  ASSERT_EQ(write_file(path("f"), "f"), 0);
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);

  EXPECT_EQ(errno_of(open(path(too_long).c_str(), O_CREAT | O_WRONLY, 0644)), ENAMETOOLONG);
  EXPECT_EQ(errno_of(mkdir(path(too_long).c_str(), 0755)), ENAMETOOLONG);
  EXPECT_EQ(errno_of(access(path(too_long).c_str(), F_OK)), ENAMETOOLONG);
  EXPECT_EQ(errno_of(symlink("t", path(too_long).c_str())), ENAMETOOLONG);
  EXPECT_EQ(errno_of(link(path("f").c_str(), path(too_long).c_str())), ENAMETOOLONG);
  EXPECT_EQ(errno_of(rename(path("f").c_str(), path(too_long).c_str())), ENAMETOOLONG);
  EXPECT_EQ(errno_of(rename(path("d").c_str(), path("d/../" + too_long).c_str())), ENAMETOOLONG);

  // 255 bytes is allowed everywhere.
  ASSERT_EQ(write_file(path(longest), "longest"), 0);
  EXPECT_EQ(contents_difference(path(longest), "longest"), "");
  EXPECT_TRUE(list_dir(path()).count(longest));
  ASSERT_EQ(errno_of(rename(path(longest).c_str(), path("d/" + longest).c_str())), 0);
  EXPECT_EQ(errno_of(unlink(path("d/" + longest).c_str())), 0);
  EXPECT_EQ(list_dir(path()), (std::set<std::string>{".", "..", "f", "d"}));
}

TEST_F(ErrnoTest, RenamingADirectoryIntoItselfFailsWithEinvalAndAcrossTheMountWithExdev) {
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);
  EXPECT_EQ(errno_of(rename(path("d").c_str(), path("d/d").c_str())), EINVAL);
  EXPECT_EQ(errno_of(rename(path("d").c_str(), scratch("d").c_str())), EXDEV);
  EXPECT_TRUE(S_ISDIR(stat_of(path("d")).st_mode));
}

}  // namespace
}  // namespace pinfs::mount_test
