// check() and mount against damaged images: each kind of damage is named,
// nothing crashes, and a refused mount writes nothing.
#include <sys/stat.h>

#include <algorithm>
#include <random>

#include "fs/crc.h"
#include "fs/format.h"
#include "fs/geometry.h"
#include "fs/le.h"
#include "fs/superblock.h"
#include "tests/fs/fs_test_env.h"

namespace pinfs::fs::testing {
namespace {

// Edits an unmounted image behind the file system's back, re-sealing records
// when a test wants damage that checksums cannot see.
class ImageEditor {
 public:
  explicit ImageEditor(Media& media) : media_(media) {
    auto sbs = read_superblocks(media);
    auto g = geometry_from_superblock(*sbs.primary, media.size_bytes());
    EXPECT_TRUE(g.ok());
    g_ = *g;
  }
  const Geometry& geometry() const { return g_; }
  format::Inode inode(InodeNumber ino) const {
    return load_as<format::Inode>(media_.data() + g_.inode_offset(ino));
  }
  void put_inode(format::Inode n) {
    std::uint64_t off = g_.inode_offset(n.ino);
    seal_record(std::as_writable_bytes(std::span(&n, 1)), format::kKindInode, off, g_.seed);
    media_.store(off, &n, sizeof n);
  }
  void flip(std::uint64_t offset) {
    std::byte b = media_.data()[offset] ^ std::byte{0x5A};
    media_.store(offset, &b, 1);
  }
  // Re-seals the block-sized record at `offset` after a change.
  void reseal(std::uint64_t offset, std::size_t length, std::uint32_t kind) {
    std::vector<std::byte> rec(media_.data() + offset, media_.data() + offset + length);
    seal_record(rec, kind, offset, g_.seed);
    media_.store(offset, rec.data(), rec.size());
  }

 private:
  Media& media_;
  Geometry g_;
};

class CheckTest : public FsTest {
 protected:
  std::uint64_t media_bytes() const override { return 16ull << 20; }
  MkfsOptions mkfs_options() const override {
    MkfsOptions o;
    o.aligned_unit_bytes = 256 << 10;
    return o;
  }
  std::vector<std::byte> image() const {
    return std::vector<std::byte>(media_->data(), media_->data() + media_->size_bytes());
  }
  // Mounts the edited media; the image must be byte-for-byte unchanged when
  // the mount is refused.
  Result<std::unique_ptr<FileSystem>> mount_edited() {
    std::vector<std::byte> before = image();
    auto copy = Media::from_image(before, media_->map_alignment_bytes());
    // Mount the edited media itself: a refused mount must not have written.
    auto fs = FileSystem::mount(std::move(media_));
    if (!fs.ok()) {
      media_ = std::move(copy);
      auto reopened = Media::open(path_);
      EXPECT_TRUE(reopened.ok());
      if (reopened.ok()) {
        EXPECT_TRUE(std::equal(before.begin(), before.end(), (*reopened)->data()))
            << "a refused mount wrote to the image";
        media_ = std::move(*reopened);
      }
    } else {
      media_ = std::move(copy);
    }
    return fs;
  }
};

TEST_F(CheckTest, AFreshFileSystemChecksClean) {
  unmount_for_editing();
  auto r = check();
  EXPECT_TRUE(r.clean()) << describe(r);
  EXPECT_EQ(r.inodes_checked, 1u);
}

TEST_F(CheckTest, ADamagedInodeRecordIsNamed) {
  InodeNumber f = create(kRootInode, "f");
  unmount_for_editing();
  ImageEditor ed(*media_);
  ed.flip(ed.geometry().inode_offset(f) + 100);
  auto r = check();
  EXPECT_TRUE(mentions(r, "inode " + std::to_string(f), "checksum")) << describe(r);
  EXPECT_TRUE(mentions(r, "entry 'f'", "damaged")) << describe(r);
  auto fs = mount_edited();
  ASSERT_OK(fs);  // only the root is read at mount; the damage shows on use
  auto a = (*fs)->lookup(kRootInode, "f");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().errnum(), EUCLEAN);
  EXPECT_NE(a.error().message().find("inode " + std::to_string(f)), std::string::npos) << a.error().message();
  // After corruption is found, nothing more is written.
  EXPECT_ERRNO((*fs)->mknod(kRootInode, "g", S_IFREG | 0644, 0, caller_), EUCLEAN);
}

TEST_F(CheckTest, ALinkCountThatDisagreesWithTheEntriesIsReported) {
  InodeNumber f = create(kRootInode, "f");
  unmount_for_editing();
  ImageEditor ed(*media_);
  format::Inode n = ed.inode(f);
  n.nlink = 3;
  ed.put_inode(n);
  auto r = check();
  EXPECT_TRUE(mentions(r, "inode " + std::to_string(f), "link count 3 but 1 entries")) << describe(r);
}

TEST_F(CheckTest, AWrongDotDotIsReported) {
  InodeNumber a = make_dir(kRootInode, "a");
  InodeNumber b = make_dir(kRootInode, "b");
  unmount_for_editing();
  ImageEditor ed(*media_);
  format::Inode n = ed.inode(b);
  n.parent = a;
  ed.put_inode(n);
  auto r = check();
  EXPECT_TRUE(mentions(r, "inode " + std::to_string(b), "'..' is inode")) << describe(r);
}

TEST_F(CheckTest, TwoFilesSharingABlockAreReported) {
  InodeNumber f = create(kRootInode, "f");
  InodeNumber g = create(kRootInode, "g");
  write_string(f, 0, "f data");
  unmount_for_editing();
  ImageEditor ed(*media_);
  format::Inode nf = ed.inode(f);
  format::Inode ng = ed.inode(g);
  std::memcpy(ng.inline_area, nf.inline_area, sizeof(format::ExtentRecord));
  ng.data_blocks = 1;
  ng.size = 6;
  ed.put_inode(ng);
  auto r = check();
  EXPECT_TRUE(mentions(r, "block", "used by both")) << describe(r);
}

TEST_F(CheckTest, ALeakedBlockIsReported) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, "x");
  auto ext = fs_->extents(f, 0, kToEnd);
  ASSERT_OK(ext);
  std::uint64_t block = (*ext)[0].media_offset / 4096;
  unmount_for_editing();
  ImageEditor ed(*media_);
  const Geometry& g = ed.geometry();
  std::uint64_t unit = block / g.blocks_per_unit();
  std::uint64_t rec = g.bitmap_record_offset(unit);
  std::uint64_t leak = (block + 100) % g.blocks_per_unit();
  std::byte bits = media_->data()[rec + 16 + leak / 8] | std::byte(1u << (leak % 8));
  media_->store(rec + 16 + leak / 8, &bits, 1);
  ed.reseal(rec, g.bitmap_record_bytes, format::kKindBlockBitmap);
  auto r = check();
  EXPECT_TRUE(mentions(r, "block", "nothing owns them")) << describe(r);
}

TEST_F(CheckTest, ADamagedPrimarySuperblockRefusesMountAndTheBackupIsNamed) {
  unmount_for_editing();
  ImageEditor ed(*media_);
  ed.flip(format::kSuperblockOffset + 100);  // geometry: no journal record covers it
  auto fs = mount_edited();
  ASSERT_FALSE(fs.ok());
  EXPECT_EQ(fs.error().errnum(), EUCLEAN);
  EXPECT_NE(fs.error().message().find("backup"), std::string::npos) << fs.error().message();
  auto r = check();
  EXPECT_TRUE(mentions(r, "superblock", "primary")) << describe(r);
}

TEST_F(CheckTest, ADamagedUnitTableRefusesMountWithoutWriting) {
  unmount_for_editing();
  ImageEditor ed(*media_);
  ed.flip(ed.geometry().unit_table_offset + 20);
  auto fs = mount_edited();
  ASSERT_FALSE(fs.ok());
  EXPECT_EQ(fs.error().errnum(), EUCLEAN);
  EXPECT_NE(fs.error().message().find("unit-table"), std::string::npos) << fs.error().message();
  EXPECT_TRUE(mentions(check(), "unit-table chunk 0", "checksum"));
}

TEST_F(CheckTest, RegionsNameEveryKindOfMetadata) {
  InodeNumber d = make_dir(kRootInode, "d");
  InodeNumber f = create(d, "f");
  // A fragmented file has an extent chain.
  for (int i = 0; i < 10; ++i) write_string(f, static_cast<std::uint64_t>(i) * 8192, "x");
  ASSERT_OK(fs_->setxattr(f, "user.x", as_bytes("v"), 0, caller_));
  unmount_for_editing();
  auto regions = FileSystem::regions(*media_);
  ASSERT_OK(regions);
  std::set<std::string> names;
  for (const auto& r : *regions) names.insert(r.name);
  for (const char* want : {"superblock", "journal", "inode-table", "inode-bitmap", "unit-table",
                           "block-bitmap", "quarantine", "directory", "extent", "inode", "xattr"})
    EXPECT_TRUE(names.count(want)) << want;
}

// Random damage anywhere in the metadata never crashes mount or check.
TEST_F(CheckTest, RandomDamageToMetadataNeverCrashesMountOrCheck) {
  InodeNumber d = make_dir(kRootInode, "d");
  for (int i = 0; i < 40; ++i) {
    InodeNumber f = create(d, "f" + std::to_string(i));
    write_string(f, static_cast<std::uint64_t>(i) * 5000, std::string(3000, 'd'));
  }
  ASSERT_OK(fs_->symlink(d, "s", std::string(300, 'l'), caller_));
  unmount_for_editing();
  auto regions = FileSystem::regions(*media_);
  ASSERT_OK(regions);
  std::vector<std::byte> pristine = image();
  std::mt19937_64 rng(99);
  for (int round = 0; round < 60; ++round) {
    std::vector<std::byte> img = pristine;
    const MediaRegion& r = (*regions)[rng() % regions->size()];
    for (int k = 0; k < 4; ++k) img[r.offset + rng() % r.length] ^= std::byte(1 + rng() % 255);
    auto media = Media::from_image(img, 4096);
    auto report = FileSystem::check(*media);
    auto fs = FileSystem::mount(std::move(media));
    if (fs.ok()) {
      // Use it: walk the tree.
      (void)(*fs)->readdir(kRootInode, 0, [](const DirEntry&) { return true; });
      auto dd = (*fs)->lookup(kRootInode, "d");
      if (dd.ok()) {
        (void)(*fs)->readdir(dd->ino, 0, [&](const DirEntry& e) {
          std::byte buf[64];
          (void)(*fs)->read(e.ino, 0, buf);
          return true;
        });
        (void)(*fs)->mknod(dd->ino, "new", S_IFREG | 0644, 0, caller_);
        (void)(*fs)->unlink(dd->ino, "f3", caller_);
      }
      (void)(*fs)->unmount();
    } else {
      EXPECT_TRUE(fs.error().errnum() == EUCLEAN || fs.error().errnum() == EINVAL ||
                  fs.error().errnum() == EIO)
          << fs.error().message();
    }
  }
}

}  // namespace
}  // namespace pinfs::fs::testing
