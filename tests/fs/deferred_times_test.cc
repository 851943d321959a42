// In-place overwrites: no journal commit, times held in memory until written
// back (fs/deferred_times.h), data never torn for a reader.
#include <linux/falloc.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "fs/pmem_filesystem.h"
#include "tests/fs/fs_test_env.h"

namespace pinfs::fs::testing {
namespace {

class DeferredTimesTest : public FsTest {
 protected:
  std::uint64_t commits() { return dynamic_cast<PmemFileSystem&>(*fs_).commits(); }
  Timespec mtime(InodeNumber ino) { return fs_->getattr(ino)->mtime; }
  Timespec ctime(InodeNumber ino) { return fs_->getattr(ino)->ctime; }
};

bool after(const Timespec& a, const Timespec& b) {
  return a.sec > b.sec || (a.sec == b.sec && a.nsec > b.nsec);
}

TEST_F(DeferredTimesTest, AnOverwriteCommitsNothingYetEveryGetattrSeesItsTime) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(8192, 'a'));
  const Timespec written = mtime(f);
  const std::uint64_t before = commits();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  write_string(f, 4096, std::string(100, 'b'));
  EXPECT_EQ(commits(), before) << "an overwrite of mapped blocks committed a txn";
  const Timespec overwritten = mtime(f);
  EXPECT_TRUE(after(overwritten, written));
  EXPECT_EQ(ctime(f), overwritten);

  ASSERT_OK(fs_->write_back_times());
  EXPECT_EQ(commits(), before + 1);
  ASSERT_OK(fs_->write_back_times());
  EXPECT_EQ(commits(), before + 1) << "nothing left to write back";
  EXPECT_EQ(read_string(f, 4096, 100), std::string(100, 'b'));
  remount();
  EXPECT_EQ(mtime(f), overwritten);
}

TEST_F(DeferredTimesTest, UnmountAndFsyncWriteTheTimesBack) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(4096, 'a'));
  write_string(f, 0, "b");
  const Timespec t1 = mtime(f);
  remount();  // a clean unmount
  EXPECT_EQ(mtime(f), t1);

  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  write_string(f, 1, "c");
  const Timespec t2 = mtime(f);
  ASSERT_TRUE(after(t2, t1));
  const std::uint64_t before = commits();
  ASSERT_OK(fs_->fsync(f));
  EXPECT_EQ(commits(), before + 1);
}

TEST_F(DeferredTimesTest, WritesThatChangeMetadataStillCommit) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(4096, 'a'));
  std::uint64_t before = commits();
  write_string(f, 4000, std::string(200, 'b'));  // past EOF: the size grows
  EXPECT_EQ(commits(), before + 1);
  before = commits();
  write_string(f, 64 * 1024, "hole");  // a new block
  EXPECT_EQ(commits(), before + 1);
  before = commits();
  ASSERT_OK(fs_->fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096, caller_));
  before = commits();
  write_string(f, 0, "x");  // into the punched hole: allocates
  EXPECT_EQ(commits(), before + 1);
}

TEST_F(DeferredTimesTest, AnExplicitMtimeIsNotOverriddenByAnEarlierOverwrite) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(4096, 'a'));
  write_string(f, 0, "b");  // deferred: now
  SetAttr set;
  set.mtime = Timespec{1000, 5};
  ASSERT_OK(fs_->setattr(f, set, caller_));
  EXPECT_EQ(mtime(f), (Timespec{1000, 5}));
  ASSERT_OK(fs_->write_back_times());
  remount();
  EXPECT_EQ(mtime(f), (Timespec{1000, 5}));
}

TEST_F(DeferredTimesTest, TimesOfAFileFreedSinceAreDropped) {
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(4096, 'a'));
  write_string(f, 0, "b");
  ASSERT_OK(fs_->unlink(kRootInode, "f", caller_));
  // Likely the same inode number again, with a new generation.
  InodeNumber g = create(kRootInode, "g");
  const Attr before = *fs_->getattr(g);
  ASSERT_OK(fs_->write_back_times());
  EXPECT_EQ(fs_->getattr(g)->mtime, before.mtime);
  EXPECT_EQ(fs_->getattr(g)->ctime, before.ctime);
  // The teardown's check finds no damage (no times written to a free slot).
}

TEST_F(DeferredTimesTest, ReadersNeverSeeHalfAnOverwrite) {
  // Overwrites run under the shared lock; each file's data stripe keeps a
  // read from seeing part of one.
  constexpr std::size_t kBytes = 256 * 1024;
  InodeNumber f = create(kRootInode, "f");
  write_string(f, 0, std::string(kBytes, 'a'));
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::atomic<int> reads{0};
  std::thread writer([&] {
    const std::string a(kBytes, 'a'), b(kBytes, 'b');
    for (int i = 0; i < 400 && !stop; ++i) {
      if (!fs_->write(f, 0, as_bytes(i % 2 ? a : b), caller_).ok()) ++torn;
    }
    stop = true;
  });
  std::thread reader([&] {
    std::string buf(kBytes, '\0');
    while (!stop) {
      auto n = fs_->read(f, 0, std::as_writable_bytes(std::span(buf.data(), buf.size())));
      if (!n.ok() || *n != kBytes) { ++torn; continue; }
      if (buf.find_first_not_of(buf[0]) != std::string::npos) ++torn;
      ++reads;
    }
  });
  writer.join();
  reader.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 0);
}

}  // namespace
}  // namespace pinfs::fs::testing
