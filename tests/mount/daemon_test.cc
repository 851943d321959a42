// The daemon as an administrator meets it: stopped with SIGTERM, started
// twice on one file system by mistake, pointed at something that is not a
// pinfs file system.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "tests/mount/file_io.h"
#include "tests/mount/mount_test_fixture.h"
#include "tests/mount/subprocess.h"

namespace pinfs::mount_test {
namespace {

using namespace std::chrono_literals;

bool is_fuse_mount(const std::string& p) {
  struct statfs sfs {};
  return statfs(p.c_str(), &sfs) == 0 && sfs.f_type == kFuseSuperMagic;
}

using DaemonTest = MountTest;

TEST_F(DaemonTest, SigtermUnmountsAndLeavesACleanFileSystem) {
  const std::string data = pattern(3 << 20, 1);
  ASSERT_EQ(write_file(path("f"), data), 0);
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);
  // terminate() requires exit 0, the mount gone and pinfs check clean.
  ASSERT_NO_FATAL_FAILURE(fs().terminate());
  ASSERT_NO_FATAL_FAILURE(fs().start(/*use_target_form=*/true));
  EXPECT_EQ(contents_difference(path("f"), data), "");
  EXPECT_TRUE(S_ISDIR(stat_of(path("d")).st_mode));
}

TEST_F(DaemonTest, ASecondDaemonOnTheSameFileSystemIsRefused) {
  ASSERT_EQ(write_file(path("f"), "first daemon's"), 0);
  const std::string second_mnt = scratch("second-mnt");
  ASSERT_EQ(mkdir(second_mnt.c_str(), 0755), 0);
  std::vector<std::string> argv = {fs().programs().pinfsd, "-f", "--socket",
                                   scratch("second.sock"), fs().target(), second_mnt};
  Process second = Process::spawn(argv, scratch("second.log"), scratch("second.log"));
  ASSERT_TRUE(second.started());
  // It must give up on its own; if it mounts instead, two daemons now write
  // one file system.
  std::optional<ExitStatus> status;
  bool mounted = false;
  const auto deadline = std::chrono::steady_clock::now() + daemon_timeout();
  while (!(status = second.wait_for(10ms)) && std::chrono::steady_clock::now() < deadline) {
    if ((mounted = is_fuse_mount(second_mnt))) break;
  }
  if (mounted) run({"fusermount3", "-u", second_mnt});
  if (!status) {
    second.send_signal(SIGTERM);
    second.wait_for(10s);
  }
  const std::string log = read_file(scratch("second.log")).value_or("");
  ASSERT_FALSE(mounted) << "a second pinfsd mounted " << fs().target()
                        << " while the first serves it; its log:\n"
                        << log;
  ASSERT_TRUE(status.has_value()) << "the second pinfsd kept running; its log:\n" << log;
  EXPECT_NE(status->code, 0) << "the second pinfsd exited 0; its log:\n" << log;
  EXPECT_NE(log.find(fs().target()), std::string::npos)
      << "the refusal does not name the file system:\n"
      << log;
  // The first daemon is unaffected.
  EXPECT_EQ(contents_difference(path("f"), "first daemon's"), "");
  EXPECT_EQ(write_file(path("g"), "still writable"), 0);
}

TEST_F(DaemonTest, MkfsOfAMountedFileSystemIsRefusedEvenWithForce) {
  // mkfs.ext4 refuses a mounted device; here --force would wipe a file
  // system that a daemon is serving.
  const std::string data = pattern(100000, 3);
  ASSERT_EQ(write_file(path("precious"), data), 0);
  std::vector<std::string> argv = {fs().programs().pinfs, "mkfs", "--force", fs().target()};
  Output out = run(argv, daemon_timeout());
  EXPECT_EQ(out.status.code, 2) << describe_run(argv, out);
  EXPECT_EQ(contents_difference(path("precious"), data), "");
}

TEST_F(DaemonTest, AMissingOrForeignTargetIsRefusedWithAClearMessageAndLeftAlone) {
  const std::string other_mnt = scratch("other-mnt");
  ASSERT_EQ(mkdir(other_mnt.c_str(), 0755), 0);

  const std::string missing = scratch("no-such-device");
  std::vector<std::string> argv = {fs().programs().pinfsd, "-f", "--socket",
                                   scratch("other.sock"), missing, other_mnt};
  Output out = run(argv, daemon_timeout());
  EXPECT_NE(out.status.code, 0) << describe_run(argv, out);
  EXPECT_NE(out.err.find(missing), std::string::npos) << describe_run(argv, out);
  EXPECT_FALSE(is_fuse_mount(other_mnt));

  std::vector<std::string> check_missing = {fs().programs().pinfs, "check", missing};
  out = run(check_missing);
  EXPECT_EQ(out.status.code, 2) << describe_run(check_missing, out);

  // A file full of something else: refused, and not a byte changed.
  const std::string foreign = scratch("foreign.img");
  const std::string contents = pattern(16 << 20, 9);
  ASSERT_EQ(write_file(foreign, contents), 0);
  argv = {fs().programs().pinfsd, "-f", "--socket", scratch("other.sock"), foreign, other_mnt};
  out = run(argv, daemon_timeout());
  const bool mounted = is_fuse_mount(other_mnt);
  if (mounted) run({"fusermount3", "-u", other_mnt});
  EXPECT_FALSE(mounted) << "pinfsd mounted a file that is not pinfs";
  EXPECT_NE(out.status.code, 0) << describe_run(argv, out);
  EXPECT_NE(out.err.find(foreign), std::string::npos) << describe_run(argv, out);
  EXPECT_EQ(contents_difference(foreign, contents), "") << "pinfsd changed a foreign file";

  std::vector<std::string> check_foreign = {fs().programs().pinfs, "check", foreign};
  out = run(check_foreign);
  EXPECT_TRUE(out.status.code == 1 || out.status.code == 2) << describe_run(check_foreign, out);
  EXPECT_EQ(contents_difference(foreign, contents), "") << "pinfs check changed a foreign file";
}

}  // namespace
}  // namespace pinfs::mount_test
