// File data: write, read, holes, truncate, space accounting, ENOSPC, open
// unlinked files, setattr.
#include <linux/falloc.h>
#include <sys/stat.h>

#include <chrono>

#include <fmt/format.h>

#include "tests/fs/fs_test_env.h"

namespace pinfs::fs::testing {
namespace {

using DataTest = FsTest;
constexpr std::uint64_t kUnit = 2ull << 20;

std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>('a' + (x >> 24) % 26);
  }
  return s;
}

TEST_F(DataTest, WrittenDataReadsBackAndOverwritesInPlace) {
  InodeNumber f = create(kRootInode, "f");
  std::string data = pattern(10000, 1);
  write_string(f, 0, data);
  EXPECT_EQ(read_string(f, 0, 20000), data);
  write_string(f, 5000, "OVERWRITE");
  data.replace(5000, 9, "OVERWRITE");
  EXPECT_EQ(read_string(f, 0, 20000), data);
  EXPECT_EQ(fs_->getattr(f)->size, 10000u);
}

TEST_F(DataTest, HolesReadAsZeros) {
  InodeNumber f = create(kRootInode, "sparse");
  write_string(f, 0, "head");
  write_string(f, 1 << 20, "tail");
  std::string all = read_string(f, 0, (1 << 20) + 4);
  ASSERT_EQ(all.size(), (1u << 20) + 4);
  EXPECT_EQ(all.substr(0, 4), "head");
  EXPECT_EQ(all.substr(4, (1 << 20) - 4), std::string((1 << 20) - 4, '\0'));
  EXPECT_EQ(all.substr(1 << 20), "tail");
  auto ext = fs_->extents(f, 0, kToEnd);
  ASSERT_OK(ext);
  EXPECT_EQ(ext->size(), 2u);
  EXPECT_LT(fs_->getattr(f)->blocks_512, (1u << 20) / 512);
}

TEST_F(DataTest, AWriteFarBeyondEndOfFileAllocatesOnlyAroundIt) {
  InodeNumber f = create(kRootInode, "far");
  write_string(f, 40ull << 30, "x");
  EXPECT_EQ(fs_->getattr(f)->size, (40ull << 30) + 1);
  EXPECT_EQ(fs_->getattr(f)->blocks_512, kUnit / 512);
  EXPECT_EQ(read_string(f, (40ull << 30) - 3, 10), std::string(3, '\0') + "x");
}

TEST_F(DataTest, ReadPastTheEndReturnsOnlyWhatExists) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, "12345");
  EXPECT_EQ(read_string(f, 3, 100), "45");
  EXPECT_EQ(read_string(f, 5, 100), "");
  EXPECT_EQ(read_string(f, 1000, 100), "");
}

TEST_F(DataTest, ReadAndWriteOfADirectoryFailWithEisdir) {
  InodeNumber d = make_dir(kRootInode, "d");
  std::byte buf[4];
  EXPECT_ERRNO(fs_->read(d, 0, buf), EISDIR);
  EXPECT_ERRNO(fs_->write(d, 0, as_bytes("x"), caller_), EISDIR);
}

TEST_F(DataTest, WritesBeyondTheLargestFileFailWithEfbig) {
  InodeNumber f = create(kRootInode, "f");
  EXPECT_ERRNO(fs_->write(f, UINT64_MAX - 2, as_bytes("xyz"), caller_), EFBIG);
  SetAttr s;
  s.size = UINT64_MAX / 2;
  EXPECT_ERRNO(fs_->setattr(f, s, caller_), EFBIG);
}

TEST_F(DataTest, DataSurvivesRemount) {
  InodeNumber f = create(kRootInode, "f");
  std::string data = pattern(3 * kUnit + 12345, 2);
  write_string(f, 0, data);
  remount();
  EXPECT_EQ(read_string(f, 0, data.size() + 10), data);
}

TEST_F(DataTest, TruncateDownThenUpExposesZerosNotOldData) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(8000, 'x'));
  SetAttr down;
  down.size = 100;
  ASSERT_OK(fs_->setattr(f, down, caller_));
  SetAttr up;
  up.size = 8000;
  ASSERT_OK(fs_->setattr(f, up, caller_));
  EXPECT_EQ(read_string(f, 0, 8000), std::string(100, 'x') + std::string(7900, '\0'));
}

TEST_F(DataTest, TruncateOfALargeFileInsideAnAlignedUnitKeepsZerosBeyondTheEnd) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(3 * kUnit, 'y'));
  SetAttr s;
  s.size = kUnit + 4096 + 10;
  ASSERT_OK(fs_->setattr(f, s, caller_));
  SetAttr up;
  up.size = 3 * kUnit;
  ASSERT_OK(fs_->setattr(f, up, caller_));
  std::string all = read_string(f, 0, 3 * kUnit);
  EXPECT_EQ(all.find_first_not_of('y'), kUnit + 4096 + 10);
  EXPECT_EQ(all.find_first_not_of('\0', kUnit + 4096 + 10), std::string::npos);
}

// A shrinking truncate leaves the rest of its last block as it was (zeroing
// it before the size changes would show a half-done truncate after a power
// failure); every way of growing the file again must expose zeros.
TEST_F(DataTest, AWritePastTheEndAfterAShrinkExposesZerosInTheGap) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(8000, 'x'));
  SetAttr down;
  down.size = 100;
  ASSERT_OK(fs_->setattr(f, down, caller_));
  write_string(f, 6000, "end");
  EXPECT_EQ(read_string(f, 0, 6003), std::string(100, 'x') + std::string(5900, '\0') + "end");
}

TEST_F(DataTest, FallocateGrowingTheFileAfterAShrinkExposesZeros) {
  for (int mode : {0, FALLOC_FL_ZERO_RANGE}) {
    InodeNumber f = create(kRootInode, fmt::format("f{}", mode));
    write_string(f, 0, std::string(8000, 'x'));
    SetAttr down;
    down.size = 100;
    ASSERT_OK(fs_->setattr(f, down, caller_));
    // Starts past the old end, so the bytes in between are exposed too.
    ASSERT_OK(fs_->fallocate(f, mode, 5000, 3000, caller_));
    EXPECT_EQ(read_string(f, 0, 8000), std::string(100, 'x') + std::string(7900, '\0'))
        << "mode " << mode;
  }
}

TEST_F(DataTest, TruncateToZeroFreesEveryBlock) {
  InodeNumber f = create(kRootInode, "f");
  std::uint64_t free_before = free_blocks();
  write_string(f, 0, std::string(5 * kUnit + 100, 'z'));
  EXPECT_LT(free_blocks(), free_before);
  SetAttr s;
  s.size = 0;
  ASSERT_OK(fs_->setattr(f, s, caller_));
  EXPECT_EQ(free_blocks(), free_before);
  EXPECT_EQ(fs_->getattr(f)->blocks_512, 0u);
}

TEST_F(DataTest, SmallFilesUseSmallBlocksAndLargeFilesAlignedUnits) {
  std::uint64_t free_before = free_blocks();
  for (int i = 0; i < 100; ++i) write_string(create(kRootInode, "s" + std::to_string(i)), 0, "tiny");
  // 100 blocks plus a directory block or two, not 100 units.
  EXPECT_LT(free_before - free_blocks(), 120u);
  InodeNumber big = create(kRootInode, "big");
  write_string(big, 0, pattern(5 * kUnit, 3));
  auto ext = fs_->extents(big, 0, kToEnd);
  ASSERT_OK(ext);
  for (const Extent& e : *ext) {
    if (e.file_offset >= kUnit) {
      EXPECT_EQ(e.media_offset % kUnit, 0u);
      EXPECT_EQ(e.length % kUnit, 0u);
    }
  }
  EXPECT_EQ(read_string(big, 0, 5 * kUnit), pattern(5 * kUnit, 3));
}

TEST_F(DataTest, FillingTheDeviceFailsWithEnospcAndDeletingGivesTheSpaceBack) {
  std::uint64_t free_before = free_blocks();
  std::string chunk(256 * 1024, 'f');
  int files = 0;
  bool full = false;
  for (; files < 1000 && !full; ++files) {
    InodeNumber f = create(kRootInode, "fill" + std::to_string(files));
    for (int i = 0; i < 8; ++i) {
      auto n = fs_->write(f, static_cast<std::uint64_t>(i) * chunk.size(), as_bytes(chunk), caller_);
      if (!n.ok()) {
        EXPECT_EQ(n.error().errnum(), ENOSPC) << n.error().message();
        full = true;
        break;
      }
    }
  }
  ASSERT_TRUE(full);
  expect_clean("when full");
  // Small files still fit in what is left, or fail cleanly.
  for (int i = 0; i < 50; ++i) {
    auto a = fs_->mknod(kRootInode, "small" + std::to_string(i), S_IFREG | 0644, 0, caller_);
    if (!a.ok()) {
      EXPECT_EQ(a.error().errnum(), ENOSPC);
      break;
    }
    auto n = fs_->write(a->ino, 0, as_bytes("s"), caller_);
    if (!n.ok()) {
      EXPECT_EQ(n.error().errnum(), ENOSPC);
    }
  }
  expect_clean("after small files on a full device");
  // What frees space works on a full device: punching holes in the middle of
  // extents needs new extent records (the allocator's reserve).
  InodeNumber first = fs_->lookup(kRootInode, "fill0")->ino;
  for (int i = 0; i < 8; ++i)
    ASSERT_OK(fs_->fallocate(first, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                             static_cast<std::uint64_t>(i) * 32768 + 8192, 4096, caller_));
  expect_clean("after punching a full device");
  for (int i = 0; i < files; ++i) ASSERT_OK(fs_->unlink(kRootInode, "fill" + std::to_string(i), caller_));
  for (int i = 0; i < 50; ++i) (void)fs_->unlink(kRootInode, "small" + std::to_string(i), caller_);
  // All comes back but the root directory's own (grown) blocks.
  EXPECT_EQ(free_blocks() + fs_->getattr(kRootInode)->blocks_512 / 8, free_before);
  InodeNumber f = create(kRootInode, "again");
  write_string(f, 0, std::string(4 * kUnit, 'a'));
}

TEST_F(DataTest, AnUnlinkedFileKeepsItsDataUntilTheLastRelease) {
  InodeNumber f = create(kRootInode, "open");
  std::uint64_t free_before = free_blocks();
  write_string(f, 0, pattern(3 * kUnit, 4));
  std::uint64_t free_written = free_blocks();
  ASSERT_OK(fs_->acquire(f));
  ASSERT_OK(fs_->acquire(f));
  ASSERT_OK(fs_->unlink(kRootInode, "open", caller_));
  EXPECT_ERRNO(fs_->lookup(kRootInode, "open"), ENOENT);
  EXPECT_EQ(fs_->getattr(f)->nlink, 0u);
  EXPECT_EQ(read_string(f, 0, 3 * kUnit), pattern(3 * kUnit, 4));
  write_string(f, 100, "still writable");
  EXPECT_EQ(free_blocks(), free_written);
  expect_clean("with an open unlinked file");
  fs_->release(f);
  EXPECT_OK(fs_->getattr(f));
  fs_->release(f);
  EXPECT_ERRNO(fs_->getattr(f), ENOENT);
  EXPECT_EQ(free_blocks(), free_before);
}

TEST_F(DataTest, ChmodChangesCtimeButNotMtime) {
  InodeNumber f = create(kRootInode, "f");
  Attr before = *fs_->getattr(f);
  ::usleep(2000);
  SetAttr s;
  s.mode = 0600;
  auto a = fs_->setattr(f, s, caller_);
  ASSERT_OK(a);
  EXPECT_EQ(a->mode, S_IFREG | 0600u);
  EXPECT_EQ(a->mtime, before.mtime);
  EXPECT_NE(a->ctime, before.ctime);
}

TEST_F(DataTest, WriteUpdatesMtimeAndCtime) {
  InodeNumber f = create(kRootInode, "f");
  Attr before = *fs_->getattr(f);
  ::usleep(2000);
  write_string(f, 0, "x");
  Attr after = *fs_->getattr(f);
  EXPECT_NE(after.mtime, before.mtime);
  EXPECT_NE(after.ctime, before.ctime);
}

TEST_F(DataTest, ChownClearsSetUidAndGroupExecutableSetGid) {
  InodeNumber f = create(kRootInode, "f", 06755);
  SetAttr s;
  s.uid = 7;
  auto a = fs_->setattr(f, s, caller_);
  ASSERT_OK(a);
  EXPECT_EQ(a->uid, 7u);
  EXPECT_EQ(a->mode & 07777, 0755u);
  InodeNumber g = create(kRootInode, "g", 02745);  // set-gid without group exec: mandatory locking bit
  SetAttr t;
  t.gid = 9;
  a = fs_->setattr(g, t, caller_);
  ASSERT_OK(a);
  EXPECT_EQ(a->mode & 07777, 02745u);
}

TEST_F(DataTest, WriteByAnOrdinaryUserClearsSetUid) {
  InodeNumber f = create(kRootInode, "f", 04755);
  write_string(f, 0, "x");
  EXPECT_EQ(fs_->getattr(f)->mode & 07777, 0755u);
}

TEST_F(DataTest, SetattrSetsTimesExplicitlyOrToNow) {
  InodeNumber f = create(kRootInode, "f");
  SetAttr s;
  s.atime = Timespec{1000, 5};
  s.mtime = Timespec{2000, 6};
  auto a = fs_->setattr(f, s, caller_);
  ASSERT_OK(a);
  EXPECT_EQ(a->atime, (Timespec{1000, 5}));
  EXPECT_EQ(a->mtime, (Timespec{2000, 6}));
  SetAttr now;
  now.atime_now = true;
  now.mtime_now = true;
  a = fs_->setattr(f, now, caller_);
  ASSERT_OK(a);
  EXPECT_GT(a->atime.sec, 1000);
  EXPECT_GT(a->mtime.sec, 2000);
  remount();
  EXPECT_EQ(fs_->getattr(f)->mtime, a->mtime);
}

TEST_F(DataTest, ReadUpdatesAtimeLikeRelatime) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, "data");
  Attr written = *fs_->getattr(f);
  ::usleep(2000);
  EXPECT_EQ(read_string(f, 0, 4), "data");
  Attr first = *fs_->getattr(f);
  EXPECT_NE(first.atime, written.atime);
  EXPECT_EQ(first.mtime, written.mtime);
  ::usleep(2000);
  read_string(f, 0, 4);
  EXPECT_EQ(fs_->getattr(f)->atime, first.atime) << "atime newer than mtime: no update";
  ::usleep(2000);
  write_string(f, 0, "more");
  read_string(f, 0, 4);
  EXPECT_NE(fs_->getattr(f)->atime, first.atime);
}

TEST_F(DataTest, StatfsAccountsBlocksAndInodes) {
  auto before = fs_->statfs();
  ASSERT_OK(before);
  EXPECT_EQ(before->block_size, 4096u);
  EXPECT_EQ(before->aligned_unit_bytes, kUnit);
  EXPECT_EQ(before->name_max, 255u);
  EXPECT_GT(before->total_blocks, before->free_blocks - 1);
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(8192, 'x'));
  auto after = fs_->statfs();
  EXPECT_EQ(after->free_inodes, before->free_inodes - 1);
  EXPECT_LE(after->free_blocks, before->free_blocks - 2);
}

}  // namespace
}  // namespace pinfs::fs::testing
