// mkfs and mount: refusing what they must, cost on a huge device, remount.
#include <sys/resource.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "tests/fs/fs_test_env.h"

namespace pinfs::fs::testing {
namespace {

using MkfsMountTest = FsTest;

TEST_F(MkfsMountTest, MkfsRefusesAnExistingPinfsWithoutForce) {
  ASSERT_OK(fs_->unmount());
  fs_.reset();
  auto media = Media::open(path_);
  ASSERT_OK(media);
  auto refused = FileSystem::mkfs(**media, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errnum(), EEXIST);
  EXPECT_NE(refused.error().detail().find("force"), std::string::npos);
  MkfsOptions force;
  force.force = true;
  ASSERT_OK(FileSystem::mkfs(**media, force));
  auto fs = FileSystem::mount(std::move(*media));
  ASSERT_OK(fs);
  fs_ = std::move(*fs);
}

TEST_F(MkfsMountTest, ForcedMkfsLeavesNoTraceOfTheOldFileSystem) {
  // Fill the old file system so that its records cover the inode table,
  // bitmaps and directory blocks, then reformat without erasing them.
  InodeNumber d = make_dir(kRootInode, "old");
  for (int i = 0; i < 300; ++i) write_string(create(d, "f" + std::to_string(i)), 0, "old data");
  ASSERT_OK(fs_->unmount());
  fs_.reset();
  auto media = Media::open(path_);
  ASSERT_OK(media);
  MkfsOptions force;
  force.force = true;
  ASSERT_OK(FileSystem::mkfs(**media, force));
  auto fs = FileSystem::mount(std::move(*media));
  ASSERT_OK(fs);
  fs_ = std::move(*fs);
  EXPECT_EQ(list(kRootInode).size(), 2u);
  expect_clean("after mkfs over an old file system");
  // New inodes land on slots holding old records: they must not be mistaken
  // for live ones.
  for (int i = 0; i < 300; ++i) write_string(create(kRootInode, "n" + std::to_string(i)), 0, "new");
  EXPECT_EQ(fs_->statfs()->free_inodes, fs_->statfs()->total_inodes - 301);
}

TEST_F(MkfsMountTest, MkfsOverRandomGarbageGivesACleanFileSystem) {
  ASSERT_OK(fs_->unmount());
  fs_.reset();
  auto media = Media::open(path_);
  ASSERT_OK(media);
  std::vector<std::byte> junk(1 << 20);
  std::uint32_t x = 12345;
  for (auto& b : junk) b = std::byte((x = x * 1103515245u + 12345u) >> 24);
  for (std::uint64_t off = 0; off < (*media)->size_bytes(); off += junk.size()) (*media)->store(off, junk.data(), junk.size());
  MkfsOptions force;
  force.force = true;
  ASSERT_OK(FileSystem::mkfs(**media, force));
  auto fs = FileSystem::mount(std::move(*media));
  ASSERT_OK(fs);
  fs_ = std::move(*fs);
  for (int i = 0; i < 100; ++i) write_string(create(kRootInode, "g" + std::to_string(i)), 0, std::string(5000, 'g'));
}

TEST_F(MkfsMountTest, MountOfMediaWithoutAFileSystemFailsWithEinval) {
  ScratchDir dir;
  auto media = Media::open(dir.path() + "/blank", {.create_size_bytes = 8 << 20});
  ASSERT_OK(media);
  auto fs = FileSystem::mount(std::move(*media));
  ASSERT_FALSE(fs.ok());
  EXPECT_EQ(fs.error().errnum(), EINVAL);
}

TEST_F(MkfsMountTest, MkfsRefusesAUnitThatIsNotAPowerOfTwoOrTooSmallMedia) {
  ScratchDir dir;
  auto media = Media::open(dir.path() + "/m", {.create_size_bytes = 16 << 20});
  ASSERT_OK(media);
  MkfsOptions odd;
  odd.aligned_unit_bytes = 3 << 20;
  EXPECT_ERRNO(FileSystem::mkfs(**media, odd), EINVAL);
  MkfsOptions huge;
  huge.aligned_unit_bytes = 16 << 20;  // one unit: no room for metadata and data
  EXPECT_ERRNO(FileSystem::mkfs(**media, huge), ENOSPC);
  MkfsOptions small_unit;
  small_unit.aligned_unit_bytes = 64 << 10;
  ASSERT_OK(FileSystem::mkfs(**media, small_unit));
  auto fs = FileSystem::mount(std::move(*media));
  ASSERT_OK(fs);
  EXPECT_EQ((*fs)->statfs()->aligned_unit_bytes, 64u << 10);
  ASSERT_OK((*fs)->unmount());
}

TEST_F(MkfsMountTest, RemountPreservesEverything) {
  InodeNumber d = make_dir(kRootInode, "dir");
  InodeNumber f = create(d, "file", 0640);
  write_string(f, 0, std::string(300000, 'r'));
  write_string(f, 5ull << 20, "tail");
  ASSERT_OK(fs_->link(f, kRootInode, "hard", caller_));
  ASSERT_OK(fs_->symlink(d, "sym", "../hard", caller_));
  ASSERT_OK(fs_->setxattr(f, "user.k", as_bytes("value"), 0, caller_));
  ASSERT_OK(fs_->setxattr(d, "user.pinfs.layout", as_bytes("aligned"), 0, caller_));
  ASSERT_OK(fs_->mknod(d, "fifo", S_IFIFO | 0600, 0, caller_));
  Attr before = *fs_->getattr(f);
  FsStat stat_before = *fs_->statfs();
  remount();
  Attr after = *fs_->getattr(f);
  EXPECT_EQ(after.size, before.size);
  EXPECT_EQ(after.mode, before.mode);
  EXPECT_EQ(after.nlink, 2u);
  EXPECT_EQ(after.mtime, before.mtime);
  EXPECT_EQ(after.btime, before.btime);
  EXPECT_EQ(after.generation, before.generation);
  EXPECT_EQ(after.blocks_512, before.blocks_512);
  EXPECT_EQ(read_string(f, 0, 300000), std::string(300000, 'r'));
  EXPECT_EQ(read_string(f, 5ull << 20, 10), "tail");
  EXPECT_EQ(*fs_->readlink(fs_->lookup(d, "sym")->ino), "../hard");
  auto v = fs_->getxattr(f, "user.k");
  ASSERT_OK(v);
  EXPECT_EQ(v->size(), 5u);
  EXPECT_TRUE(fs_->getattr(d)->aligned_policy);
  EXPECT_EQ(fs_->lookup(d, "fifo")->mode & S_IFMT, static_cast<std::uint32_t>(S_IFIFO));
  FsStat stat_after = *fs_->statfs();
  EXPECT_EQ(stat_after.free_blocks, stat_before.free_blocks);
  EXPECT_EQ(stat_after.free_inodes, stat_before.free_inodes);
}

// A 2 GiB device holds a source tree of 10,000 small files.
class SmallFilesTest : public FsTest {
 protected:
  std::uint64_t media_bytes() const override { return 2ull << 30; }
};

TEST_F(SmallFilesTest, TenThousandSmallFilesFitOnATwoGibDevice) {
  FsStat before = *fs_->statfs();
  std::string body(3000, 's');
  for (int dir = 0; dir < 100; ++dir) {
    InodeNumber d = make_dir(kRootInode, "dir" + std::to_string(dir));
    for (int i = 0; i < 100; ++i) write_string(create(d, "file" + std::to_string(i) + ".c"), 0, body);
  }
  FsStat after = *fs_->statfs();
  std::uint64_t used_bytes = (before.free_blocks - after.free_blocks) * after.block_size;
  std::printf("10,000 files of 3000 bytes use %.1f MiB of %.1f MiB\n", used_bytes / 1048576.0,
              before.total_blocks * after.block_size / 1048576.0);
  EXPECT_LT(used_bytes, 100ull << 20);
  EXPECT_EQ(before.free_inodes - after.free_inodes, 10100u);
}

// mkfs and mount of a 1 TiB sparse pool file touch only what they must.
std::uint64_t peak_rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}
void reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
}

TEST(HugeMediaTest, MkfsAndMountOfAOneTebibyteSparseFileAreFastAndSmall) {
  ScratchDir dir(std::filesystem::exists("/var/tmp") ? "/var/tmp" : "/tmp");
  std::string path = dir.path() + "/huge";
  auto media = Media::open(path, {.create_size_bytes = 1ull << 40});
  if (!media.ok() && (media.error().errnum() == EFBIG || media.error().errnum() == ENOSPC))
    GTEST_SKIP() << "the scratch file system cannot hold a 1 TiB sparse file: " << media.error().message();
  ASSERT_OK(media);
  reset_peak_rss();
  std::uint64_t rss_base = peak_rss_kib();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_OK(FileSystem::mkfs(**media, {}));
  double mkfs_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::uint64_t mkfs_rss = peak_rss_kib();
  t0 = std::chrono::steady_clock::now();
  auto fs = FileSystem::mount(std::move(*media));
  double mount_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_OK(fs);
  std::uint64_t mount_rss = peak_rss_kib();
  Caller caller{1, 0, 0};
  auto f = (*fs)->mknod(kRootInode, "big", S_IFREG | 0644, 0, caller);
  ASSERT_OK(f);
  ASSERT_OK((*fs)->write(f->ino, 900ull << 30, as_bytes("far out"), caller));
  ASSERT_OK((*fs)->unmount());
  t0 = std::chrono::steady_clock::now();
  auto report = FileSystem::check((*fs)->media());
  double check_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean()) << describe(*report);
  struct stat st {};
  ::stat(path.c_str(), &st);
  std::printf("1 TiB pool: mkfs %.3f s, mount %.3f s, check %.3f s; peak RSS over the test's "
              "baseline: mkfs +%llu KiB, mount +%llu KiB; %llu KiB of the file written\n",
              mkfs_s, mount_s, check_s, static_cast<unsigned long long>(mkfs_rss - rss_base),
              static_cast<unsigned long long>(mount_rss - rss_base),
              static_cast<unsigned long long>(st.st_blocks / 2));
  EXPECT_LT(mkfs_s, 2.0);
  EXPECT_LT(mount_s, 2.0);
  EXPECT_LT(mount_rss - rss_base, 64u * 1024);
}

}  // namespace
}  // namespace pinfs::fs::testing
