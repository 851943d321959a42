// Aligned units, make_mappable, the layout hooks and the quarantine.
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/stat.h>

#include "tests/fs/fault_injecting_layout_hooks.h"
#include "tests/fs/fs_test_env.h"

namespace pinfs::fs::testing {
namespace {

constexpr std::uint64_t kBlock = 4096;
constexpr std::uint64_t kUnit = 2ull << 20;

class LayoutTest : public FsTest {
 protected:
  void TearDown() override {
    if (fs_) fs_->set_layout_hooks(nullptr);
    FsTest::TearDown();
  }
  void expect_unit_aligned(InodeNumber ino) {
    auto ext = fs_->extents(ino, 0, kToEnd);
    ASSERT_OK(ext);
    for (const Extent& e : *ext) {
      EXPECT_EQ(e.media_offset % kUnit, 0u) << "extent at file offset " << e.file_offset;
      EXPECT_EQ(e.file_offset % kUnit, 0u);
      EXPECT_EQ(e.length % kUnit, 0u);
    }
  }
  std::string text(std::size_t n, char seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + (i * 7 + i / 4096) % 23);
    return s;
  }
  FaultInjectingLayoutHooks hooks_;
};

TEST_F(LayoutTest, MakeMappableMovesDataIntoAlignedUnitsWithIdenticalContent) {
  InodeNumber f = create(kRootInode, "f");
  // Small blocks in the first unit (with a hole), an aligned unit past it.
  std::string head = text(300000, 'a');
  std::string tail = text(5000, 'k');
  write_string(f, 0, head);
  write_string(f, 600000, head);
  write_string(f, kUnit + 10, tail);
  std::uint64_t size = fs_->getattr(f)->size;
  std::string before = read_string(f, 0, size);
  auto ext_before = fs_->extents(f, 0, kToEnd);
  ASSERT_OK(ext_before);
  EXPECT_NE((*ext_before)[0].media_offset % kUnit, 0u);  // small blocks first
  ASSERT_OK(fs_->make_mappable(f, caller_));
  expect_unit_aligned(f);
  EXPECT_EQ(read_string(f, 0, size), before);
  EXPECT_TRUE(fs_->getattr(f)->aligned_policy);
  // Writing into a former hole keeps it mappable.
  write_string(f, 400000, "filled");
  expect_unit_aligned(f);
  remount();
  expect_unit_aligned(f);
  before.replace(400000, 6, "filled");
  EXPECT_EQ(read_string(f, 0, size), before);
}

TEST_F(LayoutTest, MakeMappableOfAMappableFileChangesNothing) {
  InodeNumber f = create(kRootInode, "f");
  ASSERT_OK(fs_->make_mappable(f, caller_));
  write_string(f, 0, text(3 * kUnit, 'b'));
  auto ext = fs_->extents(f, 0, kToEnd);
  ASSERT_OK(fs_->make_mappable(f, caller_));
  EXPECT_EQ(*fs_->extents(f, 0, kToEnd), *ext);
  expect_unit_aligned(f);
}

TEST_F(LayoutTest, MakeMappableFreesTheOldSmallBlocks) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, text(100 * kBlock, 'c'));
  std::uint64_t free_small = free_blocks();
  ASSERT_OK(fs_->make_mappable(f, caller_));
  EXPECT_EQ(free_blocks(), free_small + 100 - kUnit / kBlock);
}

TEST_F(LayoutTest, AlignedPolicyOnADirectoryIsInheritedByNewFilesAndDirectories) {
  InodeNumber d = make_dir(kRootInode, "aligned");
  ASSERT_OK(fs_->setxattr(d, "user.pinfs.layout", as_bytes("aligned"), 0, caller_));
  EXPECT_TRUE(fs_->getattr(d)->aligned_policy);
  auto v = fs_->getxattr(d, "user.pinfs.layout");
  ASSERT_OK(v);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v->data()), v->size()), "aligned");
  InodeNumber f = create(d, "f");
  InodeNumber sub = make_dir(d, "sub");
  InodeNumber g = create(sub, "g");
  EXPECT_TRUE(fs_->getattr(f)->aligned_policy);
  EXPECT_TRUE(fs_->getattr(g)->aligned_policy);
  write_string(f, 0, "small data, aligned anyway");
  write_string(g, 5 * kBlock, "x");
  expect_unit_aligned(f);
  expect_unit_aligned(g);
  EXPECT_EQ(fs_->getattr(f)->blocks_512, kUnit / 512);
  // Files outside keep small blocks.
  InodeNumber h = create(kRootInode, "h");
  write_string(h, 0, "small");
  EXPECT_FALSE(fs_->getattr(h)->aligned_policy);
  EXPECT_EQ(fs_->getattr(h)->blocks_512, kBlock / 512);
}

TEST_F(LayoutTest, LayoutXattrReadsSmallByDefaultAndIsListedOnlyWhenAligned) {
  InodeNumber f = create(kRootInode, "f");
  auto v = fs_->getxattr(f, "user.pinfs.layout");
  ASSERT_OK(v);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v->data()), v->size()), "small");
  EXPECT_TRUE(fs_->listxattr(f)->empty());
  ASSERT_OK(fs_->setxattr(f, "user.pinfs.layout", as_bytes("aligned\n"), 0, caller_));
  EXPECT_EQ(*fs_->listxattr(f), (std::vector<std::string>{"user.pinfs.layout"}));
  ASSERT_OK(fs_->setxattr(f, "user.pinfs.layout", as_bytes("small"), 0, caller_));
  EXPECT_FALSE(fs_->getattr(f)->aligned_policy);
  EXPECT_ERRNO(fs_->setxattr(f, "user.pinfs.layout", as_bytes("big"), 0, caller_), EINVAL);
  ASSERT_OK(fs_->setxattr(f, "user.pinfs.layout", as_bytes("aligned"), 0, caller_));
  ASSERT_OK(fs_->removexattr(f, "user.pinfs.layout", caller_));
  EXPECT_FALSE(fs_->getattr(f)->aligned_policy);
  EXPECT_ERRNO(fs_->removexattr(f, "user.pinfs.layout", caller_), ENODATA);
}

TEST_F(LayoutTest, AnAlignedUnitNeverHoldsTwoFiles) {
  InodeNumber d = make_dir(kRootInode, "d");
  ASSERT_OK(fs_->setxattr(d, "user.pinfs.layout", as_bytes("aligned"), 0, caller_));
  std::vector<std::uint64_t> units;
  for (int i = 0; i < 5; ++i) {
    InodeNumber f = create(d, "f" + std::to_string(i));
    write_string(f, 0, "tiny");
    auto ext = fs_->extents(f, 0, kToEnd);
    ASSERT_EQ(ext->size(), 1u);
    units.push_back((*ext)[0].media_offset / kUnit);
  }
  std::sort(units.begin(), units.end());
  EXPECT_EQ(std::unique(units.begin(), units.end()), units.end());
}

TEST_F(LayoutTest, LayoutChangingOperationsAskTheHooksFirstAndOthersNever) {
  fs_->set_layout_hooks(&hooks_);
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(6 * kBlock, 'x'));
  write_string(f, 6 * kBlock, "append");
  std::byte buf[16];
  ASSERT_OK(fs_->read(f, 0, buf));
  SetAttr chmod;
  chmod.mode = 0600;
  ASSERT_OK(fs_->setattr(f, chmod, caller_));
  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_ZERO_RANGE, 0, kBlock, caller_));
  ASSERT_OK(fs_->fallocate(f, 0, 0, 10 * kBlock, caller_));
  EXPECT_TRUE(hooks_.begun.empty()) << "no layout change yet, but hooks were asked";

  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, kBlock, caller_));
  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_COLLAPSE_RANGE, 0, kBlock, caller_));
  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_INSERT_RANGE, 0, kBlock, caller_));
  SetAttr shrink;
  shrink.size = kBlock;
  ASSERT_OK(fs_->setattr(f, shrink, caller_));
  SetAttr grow;
  grow.size = 10 * kBlock;
  ASSERT_OK(fs_->setattr(f, grow, caller_));
  ASSERT_OK(fs_->make_mappable(f, caller_));
  ASSERT_OK(fs_->link(f, kRootInode, "f2", caller_));
  ASSERT_OK(fs_->unlink(kRootInode, "f2", caller_));  // not the last link
  ASSERT_OK(fs_->unlink(kRootInode, "f", caller_));   // the last link
  make_dir(kRootInode, "d");
  ASSERT_OK(fs_->rmdir(kRootInode, "d", caller_));
  create(kRootInode, "a");
  create(kRootInode, "b");
  ASSERT_OK(fs_->rename(kRootInode, "a", kRootInode, "b", 0, caller_));

  std::vector<LayoutChangeKind> kinds;
  for (const auto& c : hooks_.begun) kinds.push_back(c.kind);
  EXPECT_EQ(kinds, (std::vector<LayoutChangeKind>{
                       LayoutChangeKind::punch_hole, LayoutChangeKind::collapse_range,
                       LayoutChangeKind::insert_range, LayoutChangeKind::truncate_down,
                       LayoutChangeKind::make_mappable, LayoutChangeKind::final_unlink,
                       LayoutChangeKind::final_unlink, LayoutChangeKind::final_unlink}));
  EXPECT_EQ(hooks_.ended.size(), hooks_.begun.size());
  EXPECT_EQ(hooks_.begun[0].ino, f);
  EXPECT_EQ(hooks_.begun[0].offset, 0u);
  EXPECT_EQ(hooks_.begun[0].length, kBlock);
  EXPECT_EQ(hooks_.begun[0].caller.pid, caller_.pid);
}

TEST_F(LayoutTest, ARefusedLayoutChangeChangesNothing) {
  fs_->set_layout_hooks(&hooks_);
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(4 * kBlock, 'x'));
  hooks_.refuse_errno = ETXTBSY;
  EXPECT_ERRNO(fs_->fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, kBlock, caller_),
               ETXTBSY);
  SetAttr shrink;
  shrink.size = 0;
  EXPECT_ERRNO(fs_->setattr(f, shrink, caller_), ETXTBSY);
  EXPECT_ERRNO(fs_->unlink(kRootInode, "f", caller_), ETXTBSY);
  EXPECT_ERRNO(fs_->make_mappable(f, caller_), ETXTBSY);
  EXPECT_EQ(read_string(f, 0, 4 * kBlock), std::string(4 * kBlock, 'x'));
  EXPECT_EQ(fs_->lookup(kRootInode, "f")->ino, f);
  EXPECT_TRUE(hooks_.ended.empty());
  hooks_.refuse_errno = 0;
}

TEST_F(LayoutTest, APunchedPinnedExtentStaysOutOfTheFreePoolUntilReleased) {
  fs_->set_layout_hooks(&hooks_);
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(3 * kUnit, 'p'));
  auto ext = fs_->extents(f, kUnit, kUnit);
  ASSERT_OK(ext);
  ASSERT_EQ(ext->size(), 1u);
  const Extent pinned = (*ext)[0];
  hooks_.pin(pinned.media_offset, kUnit);
  std::uint64_t free_before = free_blocks();
  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, kUnit, kUnit, caller_));
  EXPECT_EQ(free_blocks(), free_before);
  EXPECT_EQ(fs_->statfs()->quarantined_bytes, kUnit);
  EXPECT_EQ(read_string(f, kUnit, 10), std::string(10, '\0'));
  expect_clean("with a quarantined extent");
  // The quarantine is on the media: a crash (no unmount) keeps it.
  fs_.reset();
  {
    auto media = Media::open(path_);
    ASSERT_OK(media);
    auto fs = FileSystem::mount(std::move(*media));
    ASSERT_OK(fs);
    fs_ = std::move(*fs);
  }
  fs_->set_layout_hooks(&hooks_);
  EXPECT_EQ(fs_->statfs()->quarantined_bytes, kUnit);
  EXPECT_EQ(free_blocks(), free_before);
  // Still pinned: releasing does nothing.
  ASSERT_OK(fs_->release_quarantined(pinned.media_offset, kUnit));
  EXPECT_EQ(free_blocks(), free_before);
  hooks_.unpin_all();
  ASSERT_OK(fs_->release_quarantined(pinned.media_offset, kUnit));
  EXPECT_EQ(fs_->statfs()->quarantined_bytes, 0u);
  EXPECT_EQ(free_blocks(), free_before + kUnit / kBlock);
}

TEST_F(LayoutTest, UnlinkOfAPinnedFileQuarantinesEveryPinnedExtent) {
  fs_->set_layout_hooks(&hooks_);
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(2 * kUnit + 5 * kBlock, 'q'));
  std::uint64_t free_with_file = free_blocks();
  hooks_.pin_everything = true;
  ASSERT_OK(fs_->unlink(kRootInode, "f", caller_));
  EXPECT_EQ(free_blocks(), free_with_file);
  EXPECT_GE(fs_->statfs()->quarantined_bytes, 2 * kUnit);
  expect_clean("with a pinned file unlinked");
  hooks_.unpin_all();
  ASSERT_OK(fs_->release_quarantined(0, kToEnd));
  EXPECT_EQ(fs_->statfs()->quarantined_bytes, 0u);
}

TEST_F(LayoutTest, MakeMappableQuarantinesPinnedOldBlocks) {
  fs_->set_layout_hooks(&hooks_);
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(5 * kBlock, 'm'));
  hooks_.pin_everything = true;
  ASSERT_OK(fs_->make_mappable(f, caller_));
  EXPECT_EQ(fs_->statfs()->quarantined_bytes, 5 * kBlock);
  expect_unit_aligned(f);
  hooks_.unpin_all();
  ASSERT_OK(fs_->release_quarantined(0, kToEnd));
}

}  // namespace
}  // namespace pinfs::fs::testing
