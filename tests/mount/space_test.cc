// A file system that fills up: writes, preallocation and creates fail with
// ENOSPC, nothing already written is damaged, a failed write does not
// change the size, and deleting files gives the space back. On a 64 MiB
// pool (also in the VM: filling a 2 GiB device under TCG takes minutes and
// proves nothing more).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/mount/file_io.h"
#include "tests/mount/mount_test_fixture.h"

namespace pinfs::mount_test {
namespace {

constexpr std::uint64_t kMiB = 1 << 20;
constexpr std::uint64_t kPoolBytes = 64 * kMiB;

struct statvfs statvfs_of(const std::string& p) {
  struct statvfs sv {};
  EXPECT_EQ(statvfs(p.c_str(), &sv), 0) << strerror(errno);
  return sv;
}

// statvfs of `p` once `ready` holds for it, or the last one after 5 s.
// Space and inodes of a deleted file come back when the kernel forgets the
// inode (FUSE FORGET, queued asynchronously after the unlink), which may be
// a moment after unlink() has returned.
template <typename Ready>
struct statvfs statvfs_when(const std::string& p, Ready ready) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  struct statvfs sv = statvfs_of(p);
  while (!ready(sv) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    sv = statvfs_of(p);
  }
  return sv;
}

class FullFileSystemTest : public MountTest {
 protected:
  MountConfig config() const override {
    MountConfig c;
    c.pool_size_bytes = kPoolBytes;
    c.force_pool = true;
    return c;
  }
};

// One file of the fill: what was acknowledged, chunk by chunk.
struct FillFile {
  std::string name;
  std::uint64_t seed = 0;
  std::string data;  // exactly the acknowledged bytes
};

constexpr std::size_t kChunk = kMiB;
constexpr std::size_t kChunksPerFile = 4;

// Writes 4 MiB files until the file system refuses. Returns the errno that
// stopped it (0 if `limit_bytes` was reached first).
int fill(const std::string& dir, std::vector<FillFile>& files, std::uint64_t limit_bytes,
         std::uint64_t seed_base) {
  std::uint64_t total = 0;
  for (int i = 0;; ++i) {
    FillFile f{fmt::format("{}/fill-{}-{:03d}", dir, seed_base, i), seed_base + i, {}};
    UniqueFd fd(open(f.name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd < 0) return errno;
    for (std::size_t c = 0; c < kChunksPerFile; ++c) {
      const std::string chunk = pattern(kChunk, f.seed * 100 + c);
      ssize_t n = write(fd, chunk.data(), chunk.size());
      if (n < 0) {
        int e = errno;
        files.push_back(std::move(f));
        return e;
      }
      f.data.append(chunk, 0, static_cast<std::size_t>(n));
      total += static_cast<std::uint64_t>(n);
      if (total >= limit_bytes) {
        files.push_back(std::move(f));
        return 0;
      }
    }
    files.push_back(std::move(f));
  }
}

// Every file holds exactly what was acknowledged, at exactly that size.
void expect_intact(const std::vector<FillFile>& files) {
  for (const auto& f : files) {
    EXPECT_EQ(stat_of(f.name).st_size, static_cast<off_t>(f.data.size()))
        << f.name << ": a write that failed changed the size";
    EXPECT_EQ(contents_difference(f.name, f.data), "");
  }
}

TEST_F(FullFileSystemTest, WritesFailWithEnospcWhenFullAndSucceedAgainAfterDeletes) {
  const struct statvfs empty = statvfs_of(path());
  const std::uint64_t empty_free = empty.f_bavail * empty.f_frsize;
  ASSERT_GT(empty_free, 32 * kMiB) << "a 64 MiB pool offers only " << empty_free << " bytes";
  ASSERT_LE(empty.f_blocks * empty.f_frsize, kPoolBytes);

  std::vector<FillFile> files;
  int stop = fill(path(), files, 2 * kPoolBytes, 1);
  ASSERT_EQ(stop, ENOSPC) << "filling stopped with " << strerror(stop)
                          << (stop == 0 ? ": wrote twice the pool's size without ENOSPC" : "");
  std::uint64_t written = 0;
  for (const auto& f : files) written += f.data.size();
  EXPECT_GE(written, empty_free * 3 / 4)
      << "ENOSPC after " << written << " of " << empty_free << " free bytes";
  EXPECT_LE(written, empty_free);
  const struct statvfs full = statvfs_of(path());
  EXPECT_LT(full.f_bavail * full.f_frsize, 4 * kMiB) << "ENOSPC while statfs reports space";
  expect_intact(files);

  // Preallocation is refused the same way, and leaves the size alone.
  {
    UniqueFd fd(open(files.front().name.c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_GE(fd, 0);
    EXPECT_EQ(errno_of(fallocate(fd, 0, 0, static_cast<off_t>(2 * kPoolBytes))), ENOSPC);
  }
  // So are writes into a hole (what is left after the fill may take a short
  // write or two first).
  {
    const std::string hole = path("sparse");
    UniqueFd fd(open(hole.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_GE(fd, 0);
    ASSERT_EQ(errno_of(ftruncate(fd, static_cast<off_t>(kPoolBytes))), 0);
    int e = 0;
    const std::string chunk = pattern(kChunk, 5);
    for (int i = 0; i < 8 && e == 0; ++i) {
      e = errno_of(pwrite(fd, chunk.data(), chunk.size(), static_cast<off_t>(i * kChunk)));
    }
    EXPECT_EQ(e, ENOSPC) << "8 MiB written into a hole of a full file system";
    fd.reset();
    ASSERT_EQ(errno_of(unlink(hole.c_str())), 0);
  }
  expect_intact(files);

  // Delete every other file: the space comes back and writes work again.
  std::uint64_t deleted = 0;
  std::vector<FillFile> kept;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (i % 2 == 0) {
      ASSERT_EQ(errno_of(unlink(files[i].name.c_str())), 0) << files[i].name;
      deleted += files[i].data.size();
    } else {
      kept.push_back(files[i]);
    }
  }
  const struct statvfs after_delete = statvfs_when(path(), [&](const struct statvfs& sv) {
    return (sv.f_bavail - full.f_bavail) * sv.f_frsize >= deleted * 9 / 10;
  });
  EXPECT_GE((after_delete.f_bavail - full.f_bavail) * after_delete.f_frsize, deleted * 9 / 10)
      << "deleting " << deleted << " bytes freed only "
      << (after_delete.f_bavail - full.f_bavail) * after_delete.f_frsize;
  const std::string again = pattern(8 * kMiB, 77);
  ASSERT_EQ(write_file(path("after-delete"), again), 0) << "writes still fail after deletes";
  EXPECT_EQ(contents_difference(path("after-delete"), again), "");
  expect_intact(kept);

  // Fill again, then delete everything: all the space is back, no leak.
  std::vector<FillFile> second;
  EXPECT_EQ(fill(path(), second, 2 * kPoolBytes, 2), ENOSPC);
  expect_intact(kept);
  expect_intact(second);
  ASSERT_EQ(errno_of(unlink(path("after-delete").c_str())), 0);
  for (const auto* list : {&kept, &second}) {
    for (const auto& f : *list) ASSERT_EQ(errno_of(unlink(f.name.c_str())), 0) << f.name;
  }
  const struct statvfs emptied =
      statvfs_when(path(), [&](const struct statvfs& sv) { return sv.f_bavail + 16 >= empty.f_bavail; });
  EXPECT_GE(emptied.f_bavail + 16, empty.f_bavail)
      << "after deleting everything " << (empty.f_bavail - emptied.f_bavail)
      << " blocks are still missing";
  const std::string big = pattern(empty_free * 3 / 4, 78);
  EXPECT_EQ(write_file(path("big"), big), 0);
  EXPECT_EQ(contents_difference(path("big"), big), "");
}

class InodeExhaustionTest : public MountTest {
 protected:
  static constexpr std::uint64_t kInodes = 1024;
  MountConfig config() const override {
    MountConfig c;
    c.pool_size_bytes = kPoolBytes;
    c.force_pool = true;
    c.inode_count = kInodes;
    return c;
  }
};

TEST_F(InodeExhaustionTest, CreatingFilesUntilInodesRunOutFailsWithEnospcAndRecovers) {
  const struct statvfs start = statvfs_of(path());
  ASSERT_GT(start.f_ffree, 0u);
  ASSERT_LE(start.f_files, kInodes) << "mkfs --inodes " << kInodes << " made more inodes";
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);

  std::uint64_t created = 0;
  int stop = 0;
  for (; created < 4 * kInodes; ++created) {
    int fd = open(path(fmt::format("d/{:05d}", created)).c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      stop = errno;
      break;
    }
    close(fd);
  }
  ASSERT_EQ(stop, ENOSPC) << "after " << created << " creates";
  // statfs promised f_ffree inodes; the directory took one of them.
  EXPECT_EQ(created + 1, start.f_ffree) << "statfs said " << start.f_ffree << " inodes were free";
  EXPECT_EQ(statvfs_of(path()).f_ffree, 0u);
  EXPECT_EQ(errno_of(mkdir(path("d2").c_str(), 0755)), ENOSPC);
  EXPECT_EQ(errno_of(symlink("x", path("s").c_str())), ENOSPC);

  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(errno_of(unlink(path(fmt::format("d/{:05d}", i)).c_str())), 0);
  }
  EXPECT_EQ(statvfs_when(path(), [](const struct statvfs& sv) { return sv.f_ffree >= 10; }).f_ffree,
            10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(write_file(path(fmt::format("d/new-{}", i)), "again"), 0);
  }
}

}  // namespace
}  // namespace pinfs::mount_test
