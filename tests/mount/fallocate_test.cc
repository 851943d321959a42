// fallocate(2) through the mount. The kernel's FUSE forwards allocate,
// KEEP_SIZE, PUNCH_HOLE and ZERO_RANGE to pinfsd and answers COLLAPSE_RANGE
// and INSERT_RANGE itself with EOPNOTSUPP (DESIGN.md §4: those two are
// offered through the API only).
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/mount/file_io.h"
#include "tests/mount/mount_test_fixture.h"
#include "tests/mount/subprocess.h"

namespace pinfs::mount_test {
namespace {

constexpr off_t kMiB = 1 << 20;

class FallocateTest : public MountTest {
 protected:
  // Creates `name` holding `data` and opens it read-write.
  UniqueFd create(const std::string& name, const std::string& data) {
    EXPECT_EQ(write_file(path(name), data), 0);
    UniqueFd fd(open(path(name).c_str(), O_RDWR | O_CLOEXEC));
    EXPECT_GE(fd, 0) << strerror(errno);
    return fd;
  }
  struct stat fstat_of(int fd) {
    struct stat st {};
    EXPECT_EQ(fstat(fd, &st), 0) << strerror(errno);
    return st;
  }
};

// The model of a file after zeroing [offset, offset + length).
std::string zeroed(std::string data, std::size_t offset, std::size_t length) {
  for (std::size_t i = offset; i < offset + length && i < data.size(); ++i) data[i] = '\0';
  return data;
}

TEST_F(FallocateTest, PunchHoleReadsZerosKeepsSizeAndFreesBlocks) {
  const std::string data = pattern(8 * kMiB, 1);
  UniqueFd fd = create("f", data);
  ASSERT_GE(fd, 0);
  const blkcnt_t blocks_before = fstat_of(fd).st_blocks;
  ASSERT_GE(blocks_before * 512, 8 * kMiB);

  // 4 MiB of whole blocks and whole 2 MiB units: whatever the layout, this
  // much must come back.
  ASSERT_EQ(errno_of(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * kMiB, 4 * kMiB)),
            0);
  struct stat st = fstat_of(fd);
  EXPECT_EQ(st.st_size, 8 * kMiB);
  EXPECT_LE(st.st_blocks, blocks_before - 4 * kMiB / 512)
      << "st_blocks " << blocks_before << " -> " << st.st_blocks << " after punching 4 MiB";
  auto got = read_file(path("f"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(first_difference(zeroed(data, 2 * kMiB, 4 * kMiB), *got), "");
}

TEST_F(FallocateTest, PunchHoleOverAnUnalignedRangeZerosExactlyThoseBytes) {
  const std::string data = pattern(64 * 1024, 2);
  UniqueFd fd = create("f", data);
  ASSERT_GE(fd, 0);
  // Reads first, so that the kernel's cached pages must be dropped too.
  ASSERT_EQ(contents_difference(path("f"), data), "");
  ASSERT_EQ(errno_of(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 5000, 10000)), 0);
  EXPECT_EQ(contents_difference(path("f"), zeroed(data, 5000, 10000)), "");
  EXPECT_EQ(fstat_of(fd).st_size, 64 * 1024);
}

TEST_F(FallocateTest, PunchHoleBeyondEndOfFileChangesNothing) {
  const std::string data = pattern(10000, 3);
  UniqueFd fd = create("f", data);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(errno_of(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 20000, kMiB)), 0);
  EXPECT_EQ(fstat_of(fd).st_size, 10000);
  EXPECT_EQ(contents_difference(path("f"), data), "");
}

TEST_F(FallocateTest, WritingIntoAPunchedHoleAllocatesAgain) {
  const std::string data = pattern(4 * kMiB, 4);
  UniqueFd fd = create("f", data);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(errno_of(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4 * kMiB)), 0);
  const blkcnt_t empty_blocks = fstat_of(fd).st_blocks;
  EXPECT_EQ(empty_blocks, 0) << "a file that is all hole still has blocks";
  const std::string patch = pattern(300000, 5);
  ASSERT_EQ(write_at(path("f"), kMiB + 7, patch), 0);
  std::string want(4 * kMiB, '\0');
  want.replace(kMiB + 7, patch.size(), patch);
  EXPECT_EQ(contents_difference(path("f"), want), "");
  EXPECT_GT(fstat_of(fd).st_blocks, empty_blocks);
}

TEST_F(FallocateTest, PunchHoleWithoutKeepSizeIsRefusedWithEopnotsupp) {
  UniqueFd fd = create("f", pattern(8192, 6));
  ASSERT_GE(fd, 0);
  EXPECT_EQ(errno_of(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096)), EOPNOTSUPP);
}

TEST_F(FallocateTest, FallocateCommandPunchesAHole) {
  const std::string data = pattern(100000, 7);
  ASSERT_EQ(write_file(path("f"), data), 0);
  std::vector<std::string> argv = {"fallocate", "-p", "-o", "4096", "-l", "8192", path("f")};
  Output out = run(argv);
  ASSERT_TRUE(out.status.success()) << describe_run(argv, out);
  EXPECT_EQ(contents_difference(path("f"), zeroed(data, 4096, 8192)), "");
  EXPECT_EQ(stat_of(path("f")).st_size, 100000);
}

TEST_F(FallocateTest, ZeroRangeReadsZerosAndKeepsTheSize) {
  const std::string data = pattern(3 * kMiB, 8);
  UniqueFd fd = create("f", data);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(contents_difference(path("f"), data), "");  // cached pages must not survive it
  ASSERT_EQ(errno_of(fallocate(fd, FALLOC_FL_ZERO_RANGE, 12345, 2 * kMiB)), 0);
  EXPECT_EQ(fstat_of(fd).st_size, 3 * kMiB);
  EXPECT_EQ(contents_difference(path("f"), zeroed(data, 12345, 2 * kMiB)),
            "");
}

TEST_F(FallocateTest, ZeroRangePastTheEndExtendsTheSizeUnlessKeepSize) {
  const std::string data = pattern(10000, 9);
  UniqueFd fd = create("f", data);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(errno_of(fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 5000, 20000)), 0);
  EXPECT_EQ(fstat_of(fd).st_size, 10000);
  EXPECT_EQ(contents_difference(path("f"), zeroed(data, 5000, 5000)), "");

  ASSERT_EQ(errno_of(fallocate(fd, FALLOC_FL_ZERO_RANGE, 8000, 30000)), 0);
  EXPECT_EQ(fstat_of(fd).st_size, 38000);
  std::string want = zeroed(data, 5000, 5000);
  want.resize(38000, '\0');
  EXPECT_EQ(contents_difference(path("f"), want), "");
}

TEST_F(FallocateTest, FallocateCommandZeroesARange) {
  const std::string data = pattern(100000, 10);
  ASSERT_EQ(write_file(path("f"), data), 0);
  std::vector<std::string> argv = {"fallocate", "-z", "-o", "1000", "-l", "50000", path("f")};
  Output out = run(argv);
  ASSERT_TRUE(out.status.success()) << describe_run(argv, out);
  EXPECT_EQ(contents_difference(path("f"), zeroed(data, 1000, 50000)), "");
  EXPECT_EQ(stat_of(path("f")).st_size, 100000);
}

TEST_F(FallocateTest, PreallocationExtendsTheSizeAndAllocatesBlocks) {
  UniqueFd fd = create("f", "");
  ASSERT_GE(fd, 0);
  ASSERT_EQ(errno_of(fallocate(fd, 0, 0, 3 * kMiB)), 0);
  struct stat st = fstat_of(fd);
  EXPECT_EQ(st.st_size, 3 * kMiB);
  EXPECT_GE(st.st_blocks * 512, 3 * kMiB);
  EXPECT_EQ(contents_difference(path("f"), std::string(3 * kMiB, '\0')), "");

  ASSERT_EQ(errno_of(fallocate(fd, FALLOC_FL_KEEP_SIZE, 3 * kMiB, 2 * kMiB)), 0);
  struct stat kept = fstat_of(fd);
  EXPECT_EQ(kept.st_size, 3 * kMiB) << "KEEP_SIZE changed the size";
  EXPECT_GE(kept.st_blocks * 512, 5 * kMiB) << "KEEP_SIZE allocated nothing past the end";
  // Writing into preallocated space past the end works and extends.
  ASSERT_EQ(write_at(path("f"), 4 * kMiB, "tail"), 0);
  EXPECT_EQ(fstat_of(fd).st_size, 4 * kMiB + 4);
}

TEST_F(FallocateTest, CollapseRangeIsAnsweredWithEopnotsupp) {
  const std::string data = pattern(kMiB, 11);
  UniqueFd fd = create("f", data);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(errno_of(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 64 * 1024)), EOPNOTSUPP);
  EXPECT_EQ(contents_difference(path("f"), data), "");
  std::vector<std::string> argv = {"fallocate", "-c", "-o", "0", "-l", "65536", path("f")};
  Output out = run(argv);
  EXPECT_EQ(out.status.code, 1) << describe_run(argv, out);
}

TEST_F(FallocateTest, InsertRangeIsAnsweredWithEopnotsupp) {
  const std::string data = pattern(kMiB, 12);
  UniqueFd fd = create("f", data);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(errno_of(fallocate(fd, FALLOC_FL_INSERT_RANGE, 0, 64 * 1024)), EOPNOTSUPP);
  EXPECT_EQ(contents_difference(path("f"), data), "");
  EXPECT_EQ(fstat_of(fd).st_size, kMiB);
  std::vector<std::string> argv = {"fallocate", "-i", "-o", "0", "-l", "65536", path("f")};
  Output out = run(argv);
  EXPECT_EQ(out.status.code, 1) << describe_run(argv, out);
}

}  // namespace
}  // namespace pinfs::mount_test
