// Recovery: crashes (no unmount), orphans, read-only mounts, and replay at
// every persist point of an operation.
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/stat.h>

#include <random>

#include "fs/durability_tracker.h"
#include "tests/fs/fs_test_env.h"

namespace pinfs::fs::testing {
namespace {

class RecoveryTest : public FsTest {
 protected:
  // Drops the file system without unmounting, as a daemon crash would (a
  // process crash loses no stores), and mounts again.
  void crash_and_mount() {
    fs_.reset();
    auto media = Media::open(path_);
    ASSERT_OK(media);
    auto fs = FileSystem::mount(std::move(*media));
    ASSERT_TRUE(fs.ok()) << fs.error().message();
    fs_ = std::move(*fs);
  }
};

TEST_F(RecoveryTest, ACrashLosesNothingThatReturned) {
  InodeNumber d = make_dir(kRootInode, "d");
  InodeNumber f = create(d, "f");
  write_string(f, 0, std::string(50000, 'c'));
  ASSERT_OK(fs_->rename(d, "f", kRootInode, "moved", 0, caller_));
  crash_and_mount();
  EXPECT_EQ(fs_->lookup(kRootInode, "moved")->ino, f);
  EXPECT_EQ(read_string(f, 0, 50000), std::string(50000, 'c'));
}

TEST_F(RecoveryTest, AnOrphanLeftByACrashIsReclaimedAtMount) {
  InodeNumber f = create(kRootInode, "f");
  std::uint64_t free_empty = free_blocks();
  write_string(f, 0, std::string(3 << 20, 'o'));
  ASSERT_OK(fs_->acquire(f));
  ASSERT_OK(fs_->unlink(kRootInode, "f", caller_));
  EXPECT_LT(free_blocks(), free_empty);
  crash_and_mount();
  EXPECT_ERRNO(fs_->getattr(f), ENOENT);
  EXPECT_EQ(free_blocks(), free_empty);
}

TEST_F(RecoveryTest, ReadOnlyMountOfAnUncleanFileSystemFailsWithErofs) {
  create(kRootInode, "f");
  fs_.reset();
  auto media = Media::open(path_);
  ASSERT_OK(media);
  auto ro = FileSystem::mount(std::move(*media), {.read_only = true});
  ASSERT_FALSE(ro.ok());
  EXPECT_EQ(ro.error().errnum(), EROFS);
  crash_and_mount();
}

TEST_F(RecoveryTest, ReadOnlyMountServesReadsAndRefusesChanges) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, "read me");
  ASSERT_OK(fs_->unmount());
  fs_.reset();
  auto media = Media::open(path_, {.read_only = true});
  ASSERT_OK(media);
  auto ro = FileSystem::mount(std::move(*media), {.read_only = true});
  ASSERT_OK(ro);
  fs_ = std::move(*ro);
  EXPECT_EQ(read_string(f, 0, 100), "read me");
  EXPECT_ERRNO(fs_->mknod(kRootInode, "g", S_IFREG | 0644, 0, caller_), EROFS);
  EXPECT_ERRNO(fs_->write(f, 0, as_bytes("x"), caller_), EROFS);
  check_at_teardown_ = true;
}

// Mounts a copy of the media at each persist point of one operation, as a
// power failure there would leave it (what was persisted, plus a random
// subset of the lines in flight), and checks the recovered image.
class PersistPointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Small, so that copying an image per persist point stays cheap.
    auto media = Media::open(scratch_.path() + "/pool",
                             {.create_size_bytes = 12ull << 20, .track_durability = true});
    ASSERT_OK(media);
    media_ = (*media).get();
    MkfsOptions o;
    o.aligned_unit_bytes = 256 << 10;
    o.inode_count = 1000;
    ASSERT_OK(FileSystem::mkfs(*media_, o));
    auto fs = FileSystem::mount(std::move(*media));
    ASSERT_OK(fs);
    fs_ = std::move(*fs);
  }
  void TearDown() override {
    if (fs_) {
      media_->tracker()->set_persist_hook(nullptr);
      EXPECT_OK(fs_->unmount());
    }
  }
  // Runs op with every persist point replayed; verify sees each recovered fs.
  void replay_each_point(const std::function<void()>& op,
                         const std::function<void(FileSystem&)>& verify) {
    std::mt19937_64 rng(7);
    int points = 0;
    media_->tracker()->set_persist_hook([&](std::uint64_t) {
      ++points;
      for (int variant = 0; variant < 3; ++variant) {
        std::vector<std::byte> image = variant == 0 ? media_->tracker()->persisted_image()
                                                    : media_->tracker()->crash_image(rng);
        auto copy = Media::from_image(std::move(image), media_->map_alignment_bytes());
        auto fs = FileSystem::mount(std::move(copy));
        ASSERT_TRUE(fs.ok()) << "mount at persist point " << points << ": " << fs.error().message();
        verify(**fs);
        auto report = FileSystem::check((*fs)->media());
        ASSERT_OK(report);
        EXPECT_TRUE(report->clean()) << "at persist point " << points << ":\n" << describe(*report);
      }
    });
    op();
    media_->tracker()->set_persist_hook(nullptr);
    EXPECT_GT(points, 0);
  }
  std::uint64_t persists_of(const std::function<void()>& op) {
    std::uint64_t before = media_->tracker()->persist_points();
    op();
    return media_->tracker()->persist_points() - before;
  }

  ScratchDir scratch_;
  Media* media_ = nullptr;
  std::unique_ptr<FileSystem> fs_;
  Caller caller_{1, 1000, 1000};
};

TEST_F(PersistPointTest, ACreateIsWhollyThereOrWhollyAbsentAtEveryPersistPoint) {
  for (int i = 0; i < 20; ++i) ASSERT_OK(fs_->mknod(kRootInode, "pre" + std::to_string(i), S_IFREG | 0644, 0, caller_));
  replay_each_point(
      [&] { ASSERT_OK(fs_->mknod(kRootInode, "new", S_IFREG | 0644, 0, caller_)); },
      [&](FileSystem& recovered) {
        auto a = recovered.lookup(kRootInode, "new");
        if (a.ok()) {
          EXPECT_EQ(a->nlink, 1u);
        }
        EXPECT_OK(recovered.lookup(kRootInode, "pre19"));
      });
}

TEST_F(PersistPointTest, AWriteThatAllocatesNeverExposesOtherBytes) {
  auto f = fs_->mknod(kRootInode, "f", S_IFREG | 0644, 0, caller_);
  ASSERT_OK(f);
  std::string data(70000, 'w');
  replay_each_point(
      [&] { ASSERT_OK(fs_->write(f->ino, 1000, as_bytes(data), caller_)); },
      [&](FileSystem& recovered) {
        auto a = recovered.getattr(f->ino);
        ASSERT_OK(a);
        std::string got(a->size, '?');
        ASSERT_OK(recovered.read(f->ino, 0, std::as_writable_bytes(std::span(got.data(), got.size()))));
        for (std::size_t i = 0; i < got.size(); ++i) {
          char want_new = i >= 1000 ? 'w' : '\0';
          if (got[i] != '\0' && got[i] != want_new) {
            ADD_FAILURE() << "byte " << i << " is " << int(got[i]);
            break;
          }
        }
      });
}

TEST_F(PersistPointTest, RenameOverAndUnlinkRecoverAtEveryPersistPoint) {
  auto a = fs_->mknod(kRootInode, "a", S_IFREG | 0644, 0, caller_);
  auto b = fs_->mknod(kRootInode, "b", S_IFREG | 0644, 0, caller_);
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_OK(fs_->write(b->ino, 0, as_bytes(std::string(20000, 'b')), caller_));
  replay_each_point([&] { ASSERT_OK(fs_->rename(kRootInode, "a", kRootInode, "b", 0, caller_)); },
                    [&](FileSystem& recovered) {
                      auto got = recovered.lookup(kRootInode, "b");
                      ASSERT_OK(got);
                      bool old_state = got->ino == b->ino && recovered.lookup(kRootInode, "a").ok();
                      bool new_state = got->ino == a->ino && !recovered.lookup(kRootInode, "a").ok();
                      EXPECT_TRUE(old_state || new_state);
                    });
  replay_each_point([&] { ASSERT_OK(fs_->unlink(kRootInode, "b", caller_)); },
                    [&](FileSystem& recovered) { (void)recovered; });
}

TEST_F(PersistPointTest, FallocateCollapseRecoversAtEveryPersistPoint) {
  auto f = fs_->mknod(kRootInode, "f", S_IFREG | 0644, 0, caller_);
  ASSERT_OK(f);
  ASSERT_OK(fs_->write(f->ino, 0, as_bytes(std::string(40960, 'x')), caller_));
  replay_each_point(
      [&] { ASSERT_OK(fs_->fallocate(f->ino, FALLOC_FL_COLLAPSE_RANGE, 4096, 8192, caller_)); },
      [&](FileSystem& recovered) {
        auto size = recovered.getattr(f->ino)->size;
        EXPECT_TRUE(size == 40960 || size == 32768) << size;
      });
}

TEST_F(PersistPointTest, MakeMappableRecoversAtEveryPersistPoint) {
  auto f = fs_->mknod(kRootInode, "f", S_IFREG | 0644, 0, caller_);
  ASSERT_OK(f);
  std::string data(200000, 'm');
  ASSERT_OK(fs_->write(f->ino, 0, as_bytes(data), caller_));
  replay_each_point([&] { ASSERT_OK(fs_->make_mappable(f->ino, caller_)); },
                    [&](FileSystem& recovered) {
                      std::string got(data.size(), '?');
                      ASSERT_OK(recovered.read(f->ino, 0, std::as_writable_bytes(std::span(got.data(), got.size()))));
                      EXPECT_EQ(got, data);
                    });
}

TEST_F(PersistPointTest, ADirectoryIndexRebuildRecoversAtEveryPersistPoint) {
  // The index of a new directory holds 256 positions, rebuilt when a create
  // would fill more than 3/4 of it: the 193rd create rebuilds it.
  auto d = fs_->mkdir(kRootInode, "d", 0755, caller_);
  ASSERT_OK(d);
  for (int i = 0; i < 192; ++i)
    ASSERT_OK(fs_->mknod(d->ino, "n" + std::to_string(i), S_IFREG | 0644, 0, caller_));
  replay_each_point(
      [&] { ASSERT_OK(fs_->mknod(d->ino, "n192", S_IFREG | 0644, 0, caller_)); },
      [&](FileSystem& recovered) {
        for (int i = 0; i < 192; i += 7) EXPECT_OK(recovered.lookup(d->ino, "n" + std::to_string(i)));
      });
  for (int i = 0; i < 150; ++i) ASSERT_OK(fs_->unlink(d->ino, "n" + std::to_string(i), caller_));
  // Removing down to under 1/8 shrinks it again.
  replay_each_point([&] { ASSERT_OK(fs_->unlink(d->ino, "n150", caller_)); },
                    [&](FileSystem& recovered) { EXPECT_OK(recovered.lookup(d->ino, "n151")); });
}

TEST_F(PersistPointTest, TruncatePunchXattrLinkAndRmdirRecoverAtEveryPersistPoint) {
  auto f = fs_->mknod(kRootInode, "f", S_IFREG | 0644, 0, caller_);
  ASSERT_OK(f);
  ASSERT_OK(fs_->write(f->ino, 0, as_bytes(std::string(600000, 't')), caller_));
  auto nothing = [](FileSystem&) {};
  replay_each_point([&] {
    ASSERT_OK(fs_->fallocate(f->ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 5000, 300000, caller_));
  }, nothing);
  replay_each_point([&] {
    SetAttr s;
    s.size = 70000;
    ASSERT_OK(fs_->setattr(f->ino, s, caller_));
  }, [&](FileSystem& recovered) {
    auto size = recovered.getattr(f->ino)->size;
    EXPECT_TRUE(size == 600000 || size == 70000) << size;
  });
  replay_each_point([&] { ASSERT_OK(fs_->setxattr(f->ino, "user.k", as_bytes(std::string(5000, 'x')), 0, caller_)); },
                    nothing);
  replay_each_point([&] { ASSERT_OK(fs_->link(f->ino, kRootInode, "g", caller_)); }, nothing);
  ASSERT_OK(fs_->mkdir(kRootInode, "d", 0755, caller_));
  replay_each_point([&] { ASSERT_OK(fs_->rmdir(kRootInode, "d", caller_)); }, nothing);
  ASSERT_OK(fs_->mkdir(kRootInode, "e", 0755, caller_));
  replay_each_point([&] { ASSERT_OK(fs_->rename(kRootInode, "g", kRootInode, "e", RENAME_EXCHANGE, caller_)); },
                    nothing);
}

TEST_F(PersistPointTest, ReleaseOfAnUnlinkedFileRecoversAtEveryPersistPoint) {
  auto f = fs_->mknod(kRootInode, "f", S_IFREG | 0644, 0, caller_);
  ASSERT_OK(f);
  ASSERT_OK(fs_->write(f->ino, 0, as_bytes(std::string(300000, 'r')), caller_));
  ASSERT_OK(fs_->acquire(f->ino));
  replay_each_point([&] { ASSERT_OK(fs_->unlink(kRootInode, "f", caller_)); }, [](FileSystem&) {});
  replay_each_point([&] { fs_->release(f->ino); }, [&](FileSystem& recovered) {
    EXPECT_ERRNO(recovered.getattr(f->ino), ENOENT);  // mount reclaims the orphan
  });
}

TEST_F(PersistPointTest, OperationsTakeFewPersists) {
  // The first entry of a directory also writes its first index block.
  std::uint64_t first_create = persists_of([&] { ASSERT_OK(fs_->mknod(kRootInode, "first", S_IFREG | 0644, 0, caller_)); });
  EXPECT_LE(first_create, 4u);
  std::uint64_t create = persists_of([&] { ASSERT_OK(fs_->mknod(kRootInode, "f", S_IFREG | 0644, 0, caller_)); });
  InodeNumber f = fs_->lookup(kRootInode, "f")->ino;
  std::uint64_t append = persists_of([&] { ASSERT_OK(fs_->write(f, 0, as_bytes(std::string(4096, 'a')), caller_)); });
  std::uint64_t overwrite = persists_of([&] { ASSERT_OK(fs_->write(f, 0, as_bytes("b"), caller_)); });
  std::uint64_t mkdir = persists_of([&] { ASSERT_OK(fs_->mkdir(kRootInode, "d", 0755, caller_)); });
  std::uint64_t rename = persists_of([&] { ASSERT_OK(fs_->rename(kRootInode, "f", kRootInode, "g", 0, caller_)); });
  std::uint64_t unlink = persists_of([&] { ASSERT_OK(fs_->unlink(kRootInode, "g", caller_)); });
  std::printf("persist points (drains) per operation: create %llu, append 4 KiB %llu, overwrite %llu, "
              "mkdir %llu, rename %llu, unlink %llu\n",
              (unsigned long long)create, (unsigned long long)append, (unsigned long long)overwrite,
              (unsigned long long)mkdir, (unsigned long long)rename, (unsigned long long)unlink);
  EXPECT_LE(create, 3u);
  EXPECT_LE(append, 4u);
  EXPECT_LE(overwrite, 4u);
  EXPECT_LE(rename, 3u);
  EXPECT_LE(unlink, 3u);
}

}  // namespace
}  // namespace pinfs::fs::testing
