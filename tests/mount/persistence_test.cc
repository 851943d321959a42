// What is on the mount stays there: across an unmount and remount, and (in
// the VM, on device-DAX) across a SIGKILL of the daemon, after which
// recovery must bring back everything that was returned before the kill.
#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/mount/file_io.h"
#include "tests/mount/mount_test_fixture.h"
#include "tests/mount/sample_tree.h"
#include "tests/mount/tree_digest.h"
#include "tests/test_env.h"

namespace pinfs::mount_test {
namespace {

using namespace std::chrono_literals;

using PersistenceTest = MountTest;

struct statvfs statvfs_of_mount(const std::string& p) {
  struct statvfs sv {};
  EXPECT_EQ(statvfs(p.c_str(), &sv), 0) << strerror(errno);
  return sv;
}

TEST_F(PersistenceTest, TreeAndDataAreIdenticalAfterUnmountAndRemount) {
  ASSERT_EQ(mkdir(path("tree").c_str(), 0755), 0);
  ASSERT_EQ(build_sample_tree(path("tree"), 5), "");
  const TreeDigest before = digest_tree(path());
  ASSERT_GT(before.size(), 150u);

  // stop() requires pinfs check to be clean; the restart uses the
  // `pinfsd TARGET MNT` form on the same pool.
  ASSERT_NO_FATAL_FAILURE(fs().stop());
  ASSERT_NO_FATAL_FAILURE(fs().start(/*use_target_form=*/true));
  auto lines = compare(before, digest_tree(path()), kAllFields);
  ASSERT_TRUE(lines.empty()) << "after the first remount:\n" << join_lines(lines);

  // Change it the way users do, and remount again.
  ASSERT_EQ(mutate_sample_tree(path("tree"), 6), "");
  const TreeDigest changed = digest_tree(path());
  ASSERT_NO_FATAL_FAILURE(fs().stop());
  ASSERT_NO_FATAL_FAILURE(fs().start());
  lines = compare(changed, digest_tree(path()), kAllFields);
  EXPECT_TRUE(lines.empty()) << "after the second remount:\n" << join_lines(lines);
}

TEST_F(PersistenceTest, MappedWritesHolesAndXattrsSurviveARemount) {
  const std::string p = path("mapped");
  std::string want = pattern(5 << 20, 8);
  ASSERT_EQ(write_file(p, want), 0);
  {
    UniqueFd fd(open(p.c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_GE(fd, 0);
    void* m = mmap(nullptr, 5 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(m, MAP_FAILED) << strerror(errno);
    const std::string patch = pattern(3 << 20, 9);
    memcpy(static_cast<char*>(m) + 1000001, patch.data(), patch.size());
    want.replace(1000001, patch.size(), patch);
    ASSERT_EQ(msync(m, 5 << 20, MS_SYNC), 0) << strerror(errno);
    munmap(m, 5 << 20);
    ASSERT_EQ(errno_of(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 << 20, 1 << 20)),
              0);
    want.replace(2 << 20, 1 << 20, std::string(1 << 20, '\0'));
    ASSERT_EQ(errno_of(fsetxattr(fd, "user.k", "v", 1, 0)), 0);
  }
  ASSERT_EQ(contents_difference(p, want), "");
  const blkcnt_t blocks = stat_of(p).st_blocks;
  ASSERT_NO_FATAL_FAILURE(fs().stop());
  ASSERT_NO_FATAL_FAILURE(fs().start());
  EXPECT_EQ(contents_difference(p, want), "");
  EXPECT_EQ(stat_of(p).st_blocks, blocks) << "the hole was filled or more was freed";
  char v[4];
  EXPECT_EQ(getxattr(p.c_str(), "user.k", v, sizeof v), 1);
}

// The files the crash writer publishes: name i holds pattern(size_of(i), i).
std::size_t published_size(int i) { return static_cast<std::size_t>(1 + (i * 7919) % 300000); }

// Runs in a forked child until an error (the daemon's death) ends it:
// writes tmp-i in two pieces, fsyncs it, renames it to file-i, then logs i
// (fsync'd, outside the mount). Everything logged was returned before the
// kill.
[[noreturn]] void publish_until_error(const std::string& dir, const std::string& log_path) {
  int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) _exit(2);
  for (int i = 0; i < 1000000; ++i) {
    const std::string tmp = fmt::format("{}/tmp-{}", dir, i);
    const std::string final_name = fmt::format("{}/file-{}", dir, i);
    const std::string data = pattern(published_size(i), static_cast<std::uint64_t>(i));
    const std::size_t half = data.size() / 2;
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) _exit(0);
    if (pwrite(fd, data.data(), half, 0) != static_cast<ssize_t>(half)) _exit(0);
    if (pwrite(fd, data.data() + half, data.size() - half, static_cast<off_t>(half)) !=
        static_cast<ssize_t>(data.size() - half)) {
      _exit(0);
    }
    if (fsync(fd) != 0) _exit(0);
    close(fd);
    if (rename(tmp.c_str(), final_name.c_str()) != 0) _exit(0);
    const std::string line = std::to_string(i) + "\n";
    if (write(log, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
    fdatasync(log);
  }
  _exit(0);
}

std::vector<int> read_log(const std::string& log_path) {
  std::ifstream in(log_path);
  std::vector<int> out;
  int i;
  while (in >> i) out.push_back(i);
  return out;
}

TEST_F(PersistenceTest, EverythingReturnedBeforeASigkillOfTheDaemonSurvivesRecovery) {
  PINFS_REQUIRE(fs().on_device(), "a device-DAX device (PINFS_TEST_DAX)");
  ASSERT_EQ(mkdir(path("tree").c_str(), 0755), 0);
  ASSERT_EQ(build_sample_tree(path("tree"), 7), "");
  const TreeDigest tree_before = digest_tree(path("tree"));
  ASSERT_EQ(mkdir(path("pub").c_str(), 0755), 0);

  // An unlinked file still open at the crash: recovery must free it.
  const std::string orphan = path("orphan");
  ASSERT_EQ(write_file(orphan, pattern(16 << 20, 3)), 0);
  const struct statvfs before_orphan = statvfs_of_mount(path());
  UniqueFd orphan_fd(open(orphan.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_GE(orphan_fd, 0);
  ASSERT_EQ(errno_of(unlink(orphan.c_str())), 0);

  const std::string log_path = scratch("published.log");
  pid_t writer = fork();
  ASSERT_GE(writer, 0) << strerror(errno);
  if (writer == 0) publish_until_error(path("pub"), log_path);

  // Let it publish a few dozen files, then kill the daemon at a moment
  // that falls anywhere in the writer's cycle.
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (read_log(log_path).size() < 30 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  std::mt19937 rng(static_cast<unsigned>(::testing::UnitTest::GetInstance()->random_seed()));
  std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 500));
  ASSERT_NO_FATAL_FAILURE(fs().kill_daemon());
  int wstatus = 0;
  ASSERT_EQ(waitpid(writer, &wstatus, 0), writer);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
      << "the writer failed outside the mount (status " << wstatus << ")";
  const std::vector<int> published = read_log(log_path);
  ASSERT_GE(published.size(), 30u) << "the writer published too little before the kill";

  orphan_fd.reset();

  // Recovery happens in this start.
  ASSERT_NO_FATAL_FAILURE(fs().start());
  std::uint64_t published_bytes = 0;
  for (int i : published) published_bytes += published_size(i) + 4096;
  const struct statvfs after = statvfs_of_mount(path());
  EXPECT_GE(after.f_bfree * after.f_frsize + published_bytes + (1 << 20),
            before_orphan.f_bfree * before_orphan.f_frsize + (16 << 20))
      << "the 16 MiB of the file unlinked while open at the crash were not freed";
  for (int i : published) {
    const std::string name = path(fmt::format("pub/file-{}", i));
    EXPECT_EQ(contents_difference(name, pattern(published_size(i), static_cast<std::uint64_t>(i))),
              "")
        << "file " << i << " was published before the kill";
  }
  // The file renamed but not yet logged must be whole too: its data was
  // fsync'd before the rename.
  const int next = published.empty() ? 0 : published.back() + 1;
  const std::string maybe = path(fmt::format("pub/file-{}", next));
  if (access(maybe.c_str(), F_OK) == 0) {
    EXPECT_EQ(contents_difference(maybe, pattern(published_size(next), static_cast<std::uint64_t>(next))),
              "");
  }
  auto lines = compare(tree_before, digest_tree(path("tree")), kAllFields);
  EXPECT_TRUE(lines.empty()) << "the untouched tree changed across the crash:\n"
                             << join_lines(lines);
  // The recovered file system takes writes, and unmounts clean (TearDown).
  EXPECT_EQ(write_file(path("after-recovery"), "ok", true), 0);
}

}  // namespace
}  // namespace pinfs::mount_test
