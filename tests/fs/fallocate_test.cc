// fallocate: allocate, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE, COLLAPSE_RANGE and
// INSERT_RANGE with the kernel's rules.
#include <linux/falloc.h>
#include <sys/stat.h>

#include "tests/fs/fs_test_env.h"

namespace pinfs::fs::testing {
namespace {

using FallocateTest = FsTest;
constexpr std::uint64_t kBlock = 4096;
constexpr std::uint64_t kUnit = 2ull << 20;

// Blocks 'A', 'B', 'C', ... each kBlock long.
std::string lettered_blocks(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += std::string(kBlock, static_cast<char>('A' + i));
  return s;
}

TEST_F(FallocateTest, AllocateExtendsTheFileWithZeros) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, "abc");
  ASSERT_OK(fs_->fallocate(f, 0, 0, 100000, caller_));
  auto a = fs_->getattr(f);
  EXPECT_EQ(a->size, 100000u);
  EXPECT_GE(a->blocks_512, 100000u / 512);
  EXPECT_EQ(read_string(f, 0, 100000), "abc" + std::string(100000 - 3, '\0'));
}

TEST_F(FallocateTest, KeepSizeAllocatesWithoutChangingTheSize) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, "abc");
  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_KEEP_SIZE, 0, 3 * kUnit, caller_));
  auto a = fs_->getattr(f);
  EXPECT_EQ(a->size, 3u);
  EXPECT_GE(a->blocks_512, 3 * kUnit / 512);
  // Growing into the preallocated space reads zeros.
  SetAttr s;
  s.size = kUnit;
  ASSERT_OK(fs_->setattr(f, s, caller_));
  EXPECT_EQ(read_string(f, 0, kUnit), "abc" + std::string(kUnit - 3, '\0'));
}

TEST_F(FallocateTest, PunchHoleFreesWholeBlocksAndZeroesTheEdges) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(10 * kBlock, 'x'));
  std::uint64_t free_before = free_blocks();
  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, kBlock + 100, 4 * kBlock,
                           caller_));
  EXPECT_EQ(free_blocks(), free_before + 3);
  std::string expect = std::string(10 * kBlock, 'x');
  std::fill(expect.begin() + kBlock + 100, expect.begin() + 5 * kBlock + 100, '\0');
  EXPECT_EQ(read_string(f, 0, 10 * kBlock), expect);
  EXPECT_EQ(fs_->getattr(f)->size, 10 * kBlock);
}

TEST_F(FallocateTest, PunchHoleInsideAnAlignedUnitZeroesWithoutFreeing) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(3 * kUnit, 'x'));
  std::uint64_t free_before = free_blocks();
  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, kUnit + kBlock,
                           kBlock, caller_));
  EXPECT_EQ(free_blocks(), free_before);
  EXPECT_EQ(read_string(f, kUnit + kBlock, kBlock), std::string(kBlock, '\0'));
  // A whole unit is freed.
  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * kUnit, kUnit,
                           caller_));
  EXPECT_EQ(free_blocks(), free_before + kUnit / kBlock);
}

TEST_F(FallocateTest, PunchHoleWithoutKeepSizeFailsWithEopnotsupp) {
  InodeNumber f = create(kRootInode, "f");
  EXPECT_ERRNO(fs_->fallocate(f, FALLOC_FL_PUNCH_HOLE, 0, kBlock, caller_), EOPNOTSUPP);
}

TEST_F(FallocateTest, UnknownModesFailWithEopnotsupp) {
  InodeNumber f = create(kRootInode, "f");
  EXPECT_ERRNO(fs_->fallocate(f, 0x1000, 0, kBlock, caller_), EOPNOTSUPP);
  EXPECT_ERRNO(fs_->fallocate(f, 0, 0, 0, caller_), EINVAL);
}

TEST_F(FallocateTest, ZeroRangeZeroesAllocatedBlocksAndAllocatesHoles) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(4 * kBlock, 'x'));
  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_ZERO_RANGE, 2 * kBlock + 7, 4 * kBlock, caller_));
  EXPECT_EQ(fs_->getattr(f)->size, 6 * kBlock + 7);
  EXPECT_EQ(read_string(f, 0, 7 * kBlock),
            std::string(2 * kBlock + 7, 'x') + std::string(4 * kBlock, '\0'));
  EXPECT_GE(fs_->getattr(f)->blocks_512, 7 * kBlock / 512);
  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 100 * kBlock, caller_));
  EXPECT_EQ(fs_->getattr(f)->size, 6 * kBlock + 7);
  EXPECT_EQ(read_string(f, 0, kBlock), std::string(kBlock, '\0'));
}

TEST_F(FallocateTest, CollapseRangeShiftsTheRestOfTheFileDown) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, lettered_blocks(6));  // ABCDEF
  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_COLLAPSE_RANGE, kBlock, 2 * kBlock, caller_));
  EXPECT_EQ(fs_->getattr(f)->size, 4 * kBlock);
  std::string expect = std::string(kBlock, 'A') + std::string(kBlock, 'D') +
                       std::string(kBlock, 'E') + std::string(kBlock, 'F');
  EXPECT_EQ(read_string(f, 0, 10 * kBlock), expect);
  remount();
  EXPECT_EQ(read_string(f, 0, 10 * kBlock), expect);
}

TEST_F(FallocateTest, InsertRangeShiftsTheRestUpAndLeavesAHole) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, lettered_blocks(3));  // ABC
  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_INSERT_RANGE, kBlock, 2 * kBlock, caller_));
  EXPECT_EQ(fs_->getattr(f)->size, 5 * kBlock);
  std::string expect = std::string(kBlock, 'A') + std::string(2 * kBlock, '\0') +
                       std::string(kBlock, 'B') + std::string(kBlock, 'C');
  EXPECT_EQ(read_string(f, 0, 10 * kBlock), expect);
  // Inserting in the middle of an extent splits it.
  write_string(f, kBlock, std::string(2 * kBlock, 'Z'));
  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_INSERT_RANGE, 2 * kBlock, kBlock, caller_));
  EXPECT_EQ(read_string(f, 0, 10 * kBlock),
            std::string(kBlock, 'A') + std::string(kBlock, 'Z') + std::string(kBlock, '\0') +
                std::string(kBlock, 'Z') + std::string(kBlock, 'B') + std::string(kBlock, 'C'));
}

TEST_F(FallocateTest, CollapseAndInsertFollowTheKernelsAlignmentRules) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, lettered_blocks(4));
  EXPECT_ERRNO(fs_->fallocate(f, FALLOC_FL_COLLAPSE_RANGE, 100, kBlock, caller_), EINVAL);
  EXPECT_ERRNO(fs_->fallocate(f, FALLOC_FL_COLLAPSE_RANGE, 0, 100, caller_), EINVAL);
  // Collapse reaching the end of the file, insert at the end of the file.
  EXPECT_ERRNO(fs_->fallocate(f, FALLOC_FL_COLLAPSE_RANGE, kBlock, 3 * kBlock, caller_), EINVAL);
  EXPECT_ERRNO(fs_->fallocate(f, FALLOC_FL_INSERT_RANGE, 4 * kBlock, kBlock, caller_), EINVAL);
  EXPECT_ERRNO(fs_->fallocate(f, FALLOC_FL_INSERT_RANGE | FALLOC_FL_KEEP_SIZE, 0, kBlock, caller_),
               EINVAL);
  EXPECT_EQ(read_string(f, 0, 4 * kBlock), lettered_blocks(4));
}

TEST_F(FallocateTest, CollapseOfAFileWithAlignedUnitsNeedsWholeUnits) {
  InodeNumber f = create(kRootInode, "f");
  std::string data;
  for (int i = 0; i < 4; ++i) data += std::string(kUnit, static_cast<char>('a' + i));
  write_string(f, 0, data);
  EXPECT_ERRNO(fs_->fallocate(f, FALLOC_FL_COLLAPSE_RANGE, kUnit, kBlock, caller_), EINVAL);
  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_COLLAPSE_RANGE, kUnit, kUnit, caller_));
  EXPECT_EQ(read_string(f, 0, 4 * kUnit),
            std::string(kUnit, 'a') + std::string(kUnit, 'c') + std::string(kUnit, 'd'));
  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_INSERT_RANGE, 2 * kUnit, kUnit, caller_));
  EXPECT_EQ(read_string(f, 0, 4 * kUnit), std::string(kUnit, 'a') + std::string(kUnit, 'c') +
                                               std::string(kUnit, '\0') + std::string(kUnit, 'd'));
}

TEST_F(FallocateTest, FallocateOfADirectoryFailsWithEisdir) {
  InodeNumber d = make_dir(kRootInode, "d");
  EXPECT_ERRNO(fs_->fallocate(d, 0, 0, kBlock, caller_), EISDIR);
}

}  // namespace
}  // namespace pinfs::fs::testing
