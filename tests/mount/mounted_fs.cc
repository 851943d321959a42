#include "tests/mount/mounted_fs.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/test_env.h"

// The build's programs, for runs of the binary outside `meson test`.
#ifndef PINFS_MOUNT_TEST_PINFSD
#define PINFS_MOUNT_TEST_PINFSD "pinfsd"
#endif
#ifndef PINFS_MOUNT_TEST_PINFS
#define PINFS_MOUNT_TEST_PINFS "pinfs"
#endif
#ifndef PINFS_MOUNT_TEST_FSX
#define PINFS_MOUNT_TEST_FSX "fsx"
#endif

namespace pinfs::mount_test {
namespace {

using namespace std::chrono_literals;
using pinfs::testing::env_or_empty;
using pinfs::testing::in_vm;

std::string env_or(const char* name, const char* fallback) {
  std::string v = env_or_empty(name);
  return v.empty() ? std::string(fallback) : v;
}

std::string make_temp_dir(const std::string& parent) {
  std::string templ = parent + "/pinfs-mount-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp under " << parent << ": " << strerror(errno);
    return {};
  }
  // Other users (the permission tests run as 65534) must reach the mount.
  chmod(templ.c_str(), 0755);
  return templ;
}

bool is_fuse_mount(const std::string& path) {
  struct statfs sfs {};
  return statfs(path.c_str(), &sfs) == 0 && sfs.f_type == kFuseSuperMagic;
}

// Is anything mounted at `path`? From the mount table, not statfs: a dead
// FUSE mount answers statfs with ENOTCONN but still holds the mount point.
bool is_mount_point(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // "36 35 98:0 /mnt1 /mnt2 rw,noatime ...": the fifth field is the mount
    // point (octal escapes for spaces, which our paths never contain).
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    if (fields >> id >> parent >> dev >> root >> mount_point && mount_point == path) return true;
  }
  return false;
}

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Programs Programs::from_environment() {
  return Programs{
      .pinfsd = env_or("PINFS_TEST_PINFSD", PINFS_MOUNT_TEST_PINFSD),
      .pinfs = env_or("PINFS_TEST_PINFS", PINFS_MOUNT_TEST_PINFS),
      .fsx = env_or("PINFS_TEST_FSX", PINFS_MOUNT_TEST_FSX),
  };
}

std::chrono::milliseconds daemon_timeout() { return in_vm() ? 180s : 30s; }

MountedFs::MountedFs(Programs programs, MountConfig config)
    : programs_(std::move(programs)), config_(std::move(config)) {}

MountedFs::~MountedFs() {
  if (mounted_ || is_mount_point(mountpoint_)) {
    run({"fusermount3", "-u", "-z", mountpoint_}, 30s);
  }
  if (daemon_.started() && daemon_.alive()) {
    daemon_.send_signal(SIGTERM);
    daemon_.wait_for(5s);
  }
  // ~Process kills what is still running.
  const bool keep = env_or_empty("PINFS_TEST_KEEP") == "1";
  std::error_code ec;
  if (!base_dir_.empty() && !is_mount_point(mountpoint_) && !keep) {
    std::filesystem::remove_all(base_dir_, ec);
  }
  if (!pool_dir_.empty()) {
    if (keep) {
      fmt::print(stderr, "PINFS_TEST_KEEP=1: kept {} and {}\n", pool_dir_, base_dir_);
    } else {
      std::filesystem::remove_all(pool_dir_, ec);
    }
  }
}

void MountedFs::create() {
  base_dir_ = make_temp_dir("/tmp");
  ASSERT_FALSE(base_dir_.empty());
  mountpoint_ = base_dir_ + "/mnt";
  scratch_dir_ = base_dir_ + "/scratch";
  daemon_log_ = base_dir_ + "/pinfsd.log";
  ASSERT_EQ(mkdir(mountpoint_.c_str(), 0755), 0) << mountpoint_ << ": " << strerror(errno);
  ASSERT_EQ(mkdir(scratch_dir_.c_str(), 0755), 0) << scratch_dir_ << ": " << strerror(errno);

  const std::string dax = env_or_empty("PINFS_TEST_DAX");
  if (in_vm() && dax.empty()) {
    FAIL() << "the VM must provide PINFS_TEST_DAX (a device-DAX device for the mount tests)";
  }
  std::vector<std::string> mkfs = {programs_.pinfs, "mkfs"};
  if (config_.inode_count != 0) {
    mkfs.insert(mkfs.end(), {"--inodes", std::to_string(config_.inode_count)});
  }
  if (!dax.empty() && !config_.force_pool) {
    on_device_ = true;
    target_ = dax;
    mkfs.insert(mkfs.end(), {"--force", target_});
  } else {
    pool_dir_ = make_temp_dir(env_or("PINFS_TEST_POOL_DIR", "/dev/shm"));
    ASSERT_FALSE(pool_dir_.empty());
    target_ = pool_dir_ + "/pool";
    if (config_.inode_count == 0) return;  // pinfsd --pool creates and formats it
    mkfs.insert(mkfs.end(), {"--size", std::to_string(config_.pool_size_bytes), target_});
  }
  Output out = run(mkfs, daemon_timeout());
  ASSERT_TRUE(out.status.success()) << describe_run(mkfs, out);
}

void MountedFs::start(bool use_target_form) {
  ASSERT_FALSE(mounted_) << "start() on a mounted file system";
  std::vector<std::string> argv = {programs_.pinfsd,  "-f", "--allow-other",
                                   "--socket",        base_dir_ + "/pinfsd.sock"};
  argv.insert(argv.end(), config_.daemon_args.begin(), config_.daemon_args.end());
  if (on_device_ || use_target_form) {
    argv.push_back(target_);
  } else {
    argv.insert(argv.end(),
                {"--pool", target_, "--pool-size", std::to_string(config_.pool_size_bytes)});
  }
  argv.push_back(mountpoint_);
  {
    std::ofstream log(daemon_log_, std::ios::app);
    log << "=== " << quote_command(argv) << "\n";
  }
  daemon_ = Process::spawn(argv, daemon_log_, daemon_log_);
  ASSERT_TRUE(daemon_.started()) << "fork for " << quote_command(argv) << ": " << strerror(errno);
  wait_until_mounted();
}

void MountedFs::wait_until_mounted() {
  const auto deadline = std::chrono::steady_clock::now() + daemon_timeout();
  while (std::chrono::steady_clock::now() < deadline) {
    if (!daemon_.alive()) {
      FAIL() << "pinfsd ended (" << daemon_.exit_status()->describe()
             << ") before " << mountpoint_ << " was mounted; its log:\n"
             << daemon_log();
    }
    if (is_fuse_mount(mountpoint_)) {
      mounted_ = true;
      return;
    }
    std::this_thread::sleep_for(10ms);
  }
  FAIL() << "no FUSE mount at " << mountpoint_ << " after "
         << std::chrono::duration_cast<std::chrono::seconds>(daemon_timeout()).count()
         << " s; pinfsd's log:\n"
         << daemon_log();
}

void MountedFs::stop() {
  if (!mounted_) return;
  std::vector<std::string> umount = {"fusermount3", "-u", mountpoint_};
  Output out;
  // A program the test ran may still be closing its last file: EBUSY for a
  // moment is not the daemon's fault.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  do {
    out = run(umount, daemon_timeout());
    if (out.status.success()) break;
    std::this_thread::sleep_for(100ms);
  } while (std::chrono::steady_clock::now() < deadline);
  mounted_ = false;
  if (!out.status.success()) {
    ADD_FAILURE() << "unmount failed: " << describe_run(umount, out);
    detach_mount();
  }
  auto status = daemon_.wait_for(daemon_timeout());
  ASSERT_TRUE(status.has_value()) << "pinfsd did not exit within "
                                  << daemon_timeout().count() << " ms of the unmount; its log:\n"
                                  << daemon_log();
  ASSERT_TRUE(status->success()) << "pinfsd ended with " << status->describe()
                                 << " after the unmount; its log:\n"
                                 << daemon_log();
  check();
}

void MountedFs::terminate() {
  ASSERT_TRUE(daemon_.alive()) << "pinfsd was already gone before SIGTERM; its log:\n"
                               << daemon_log();
  daemon_.send_signal(SIGTERM);
  auto status = daemon_.wait_for(daemon_timeout());
  ASSERT_TRUE(status.has_value()) << "pinfsd did not exit within " << daemon_timeout().count()
                                  << " ms of SIGTERM; its log:\n"
                                  << daemon_log();
  const bool still_mounted = is_mount_point(mountpoint_);
  if (still_mounted) detach_mount();
  mounted_ = false;
  ASSERT_TRUE(status->success()) << "pinfsd ended with " << status->describe()
                                 << " after SIGTERM; its log:\n"
                                 << daemon_log();
  ASSERT_FALSE(still_mounted) << "pinfsd exited on SIGTERM but left " << mountpoint_ << " mounted";
  check();
}

void MountedFs::kill_daemon() {
  ASSERT_TRUE(daemon_.alive()) << "pinfsd was already gone before the kill; its log:\n"
                               << daemon_log();
  daemon_.send_signal(SIGKILL);
  auto status = daemon_.wait_for(daemon_timeout());
  ASSERT_TRUE(status.has_value()) << "pinfsd survived SIGKILL";
  detach_mount();
  mounted_ = false;
}

void MountedFs::detach_mount() {
  // A dead FUSE connection still holds the mount point: fusermount3 -u
  // detaches it unless something has it open, then umount -l does.
  std::vector<std::string> umount = {"fusermount3", "-u", mountpoint_};
  Output out = run(umount, daemon_timeout());
  if (!is_mount_point(mountpoint_)) return;
  std::vector<std::string> lazy = {"umount", "-l", mountpoint_};
  Output lazy_out = run(lazy, daemon_timeout());
  ASSERT_FALSE(is_mount_point(mountpoint_))
      << "could not detach " << mountpoint_ << ": " << describe_run(umount, out) << "\n"
      << describe_run(lazy, lazy_out);
}

void MountedFs::check() {
  std::vector<std::string> argv = {programs_.pinfs, "check", target_};
  Output out = run(argv, daemon_timeout());
  ASSERT_TRUE(out.status.success()) << "pinfs check is not clean: " << describe_run(argv, out);
}

std::string MountedFs::daemon_log() const { return read_whole_file(daemon_log_); }

}  // namespace pinfs::mount_test
