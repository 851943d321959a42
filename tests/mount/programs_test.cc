// Real programs on the mount: cp -a, diff -r, tar, dd, cmp. What a user
// does first with a new file system.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/mount/file_io.h"
#include "tests/mount/mount_test_fixture.h"
#include "tests/mount/sample_tree.h"
#include "tests/mount/subprocess.h"
#include "tests/mount/tree_digest.h"
#include "tests/test_env.h"

namespace pinfs::mount_test {
namespace {

// A real source tree: the kernel's UAPI headers (about 800 files, 6.5 MiB),
// present wherever the build is (linux-libc-dev). In the VM, where every
// file comes over 9p and every syscall is emulated (copying all of them
// takes minutes), its netfilter/ part (96 entries, a subdirectory).
struct SourceTree {
  std::string parent;
  std::string name;
  std::string path() const { return parent + "/" + name; }
};
SourceTree source_tree() {
  if (pinfs::testing::in_vm()) return {"/usr/include/linux", "netfilter"};
  return {"/usr/include", "linux"};
}

using StandardProgramsTest = MountTest;

// Runs argv and asserts that it succeeded.
void run_ok(const std::vector<std::string>& argv) {
  Output out = run(argv);
  ASSERT_TRUE(out.status.success()) << describe_run(argv, out);
}

TEST_F(StandardProgramsTest, CpArchiveOfASourceTreeIsIdenticalToTheOriginal) {
  const SourceTree src = source_tree();
  ASSERT_EQ(access(src.path().c_str(), R_OK), 0) << src.path() << " is needed (linux-libc-dev)";
  ASSERT_NO_FATAL_FAILURE(run_ok({"cp", "-a", src.path(), path("copy")}));
  ASSERT_NO_FATAL_FAILURE(run_ok({"diff", "-r", "--no-dereference", src.path(), path("copy")}));
  // diff compares data only; cp -a also keeps modes, owners and times.
  auto lines = compare(digest_tree(src.path()), digest_tree(path("copy")), kCopyFields);
  EXPECT_TRUE(lines.empty()) << join_lines(lines);
}

TEST_F(StandardProgramsTest, CpArchivePreservesLinksSpecialFilesModesTimesAndXattrs) {
  // The source is built on the mount itself: /tmp may not keep xattrs
  // (tmpfs in the VM), and this way pinfs is also what made the source.
  ASSERT_EQ(mkdir(path("src").c_str(), 0755), 0) << strerror(errno);
  ASSERT_EQ(build_sample_tree(path("src"), 17), "");
  ASSERT_NO_FATAL_FAILURE(run_ok({"cp", "-a", path("src"), path("copy")}));
  // diff cannot compare a FIFO or a device (the digest below does).
  ASSERT_NO_FATAL_FAILURE(run_ok({"diff", "-r", "--no-dereference", "-x", "fifo", "-x", "null-dev",
                                  path("src"), path("copy")}));
  auto lines = compare(digest_tree(path("src")), digest_tree(path("copy")), kCopyFields);
  EXPECT_TRUE(lines.empty()) << join_lines(lines);
  // And the copy made the same link group, not three files.
  EXPECT_EQ(stat_of(path("copy/a/linked")).st_ino, stat_of(path("copy/a/b/c/linked3")).st_ino);
  EXPECT_EQ(stat_of(path("copy/a/linked")).st_nlink, 3u);
}

TEST_F(StandardProgramsTest, TarCreatedAndExtractedOnTheMountMatchesTheOriginal) {
  const SourceTree src = source_tree();
  ASSERT_EQ(access(src.path().c_str(), R_OK), 0) << src.path() << " is needed (linux-libc-dev)";
  // The same archive made on the mount and outside it is the same bytes.
  ASSERT_NO_FATAL_FAILURE(run_ok({"tar", "-C", src.parent, "-cf", path("src.tar"), src.name}));
  ASSERT_NO_FATAL_FAILURE(run_ok({"tar", "-C", src.parent, "-cf", scratch("src.tar"), src.name}));
  ASSERT_NO_FATAL_FAILURE(run_ok({"cmp", scratch("src.tar"), path("src.tar")}));

  ASSERT_EQ(mkdir(path("x").c_str(), 0755), 0) << strerror(errno);
  ASSERT_NO_FATAL_FAILURE(run_ok({"tar", "-C", path("x"), "-xpf", path("src.tar")}));
  // tar --compare checks data, mode, owner, size and mtime of every member.
  ASSERT_NO_FATAL_FAILURE(run_ok({"tar", "-C", path("x"), "--compare", "-f", path("src.tar")}));
  ASSERT_NO_FATAL_FAILURE(run_ok({"diff", "-r", src.path(), path("x/" + src.name)}));

  // A second round trip entirely on the mount: archive the extracted tree
  // and extract it again.
  ASSERT_NO_FATAL_FAILURE(run_ok({"tar", "-C", path("x"), "-cf", path("again.tar"), src.name}));
  ASSERT_EQ(mkdir(path("y").c_str(), 0755), 0) << strerror(errno);
  ASSERT_NO_FATAL_FAILURE(run_ok({"tar", "-C", path("y"), "-xpf", path("again.tar")}));
  auto lines = compare(digest_tree(src.path()), digest_tree(path("y/" + src.name)), kCopyFields);
  EXPECT_TRUE(lines.empty()) << join_lines(lines);
}

TEST_F(StandardProgramsTest, DdOfAMultiMebibyteFileWithFsyncReadsBackIdentical) {
  // Across several 2 MiB units; smaller under TCG.
  const std::size_t kSize = (pinfs::testing::in_vm() ? (8u << 20) : (24u << 20)) + 12345;
  ASSERT_EQ(write_file(scratch("source"), pattern(kSize, 99)), 0);

  ASSERT_NO_FATAL_FAILURE(run_ok({"dd", "if=" + scratch("source"), "of=" + path("big"), "bs=1M",
                                  "conv=fsync", "status=none"}));
  ASSERT_NO_FATAL_FAILURE(run_ok({"cmp", scratch("source"), path("big")}));
  EXPECT_EQ(stat_of(path("big")).st_size, static_cast<off_t>(kSize));
  EXPECT_GE(stat_of(path("big")).st_blocks * 512, static_cast<off_t>(kSize))
      << "st_blocks does not cover the data";

  // Odd block sizes make every write straddle a page and a block.
  ASSERT_NO_FATAL_FAILURE(run_ok({"dd", "if=" + scratch("source"), "of=" + path("odd"), "bs=4097",
                                  "conv=fsync", "status=none"}));
  ASSERT_NO_FATAL_FAILURE(run_ok({"cmp", scratch("source"), path("odd")}));

  // Write and read around the page cache too (O_DIRECT goes straight to
  // pinfsd).
  ASSERT_NO_FATAL_FAILURE(run_ok({"dd", "if=" + scratch("source"), "of=" + path("direct"),
                                  "bs=1M", "oflag=direct", "status=none"}));
  ASSERT_NO_FATAL_FAILURE(run_ok({"cmp", scratch("source"), path("direct")}));
  ASSERT_NO_FATAL_FAILURE(run_ok({"dd", "if=" + path("big"), "of=" + scratch("back"), "bs=1M",
                                  "iflag=direct", "status=none"}));
  ASSERT_NO_FATAL_FAILURE(run_ok({"cmp", scratch("source"), scratch("back")}));

  // Overwrite the middle in place without truncating.
  ASSERT_EQ(write_file(scratch("patch"), pattern(3 << 20, 7)), 0);
  ASSERT_NO_FATAL_FAILURE(run_ok({"dd", "if=" + scratch("patch"), "of=" + path("big"), "bs=64K",
                                  "seek=100", "conv=notrunc,fsync", "status=none"}));
  ASSERT_NO_FATAL_FAILURE(run_ok({"dd", "if=" + scratch("patch"), "of=" + scratch("source"),
                                  "bs=64K", "seek=100", "conv=notrunc", "status=none"}));
  ASSERT_NO_FATAL_FAILURE(run_ok({"cmp", scratch("source"), path("big")}));
}

}  // namespace
}  // namespace pinfs::mount_test
