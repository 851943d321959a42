// MountedFs: one pinfs file system served by a real pinfsd at a real FUSE
// mount point, for the tests of tests/mount.
//
// Where the file system lives:
//   - natively, a pool file in PINFS_TEST_POOL_DIR (default /dev/shm: tmpfs,
//     so the daemon's msync persists cost little), created and formatted by
//     `pinfsd --pool FILE --pool-size N`, or by `pinfs mkfs --size N` when
//     the test asks for a fixed inode count;
//   - in the VM (PINFS_TEST_DAX=/dev/daxX.Y), the device itself, formatted
//     with `pinfs mkfs --force` and served with `pinfsd DEVICE MNT`, unless
//     the test asks for a small pool (the ENOSPC tests: filling 2 GiB under
//     TCG takes minutes and proves nothing more).
//
// Lifecycle: start() runs `pinfsd -f --allow-other` as a child and waits
// until statfs on the mount point reports FUSE_SUPER_MAGIC; stop() runs
// `fusermount3 -u`, waits for the daemon to exit 0 and then requires
// `pinfs check` to be clean. kill_daemon() is the crash path: SIGKILL, then
// the dead mount is detached. Every helper reports through gtest assertions;
// callers wrap them in ASSERT_NO_FATAL_FAILURE.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/mount/subprocess.h"

namespace pinfs::mount_test {

inline constexpr long kFuseSuperMagic = 0x65735546;  // FUSE_SUPER_MAGIC, <linux/magic.h>

// The programs under test. Their paths come from the environment (meson's
// test() sets them) or, when the binary is run by hand, from the build.
struct Programs {
  std::string pinfsd;
  std::string pinfs;  // the admin CLI
  std::string fsx;
  static Programs from_environment();
};

struct MountConfig {
  // Size of the pool file (sparse). 4 GiB, the daemon's default.
  std::uint64_t pool_size_bytes = 4ull << 30;
  // Use a pool file even in the VM (see above).
  bool force_pool = false;
  // 0: the default of mkfs; otherwise `pinfs mkfs --inodes N`.
  std::uint64_t inode_count = 0;
  // Extra pinfsd arguments (before the mount point).
  std::vector<std::string> daemon_args;
};

// How long the daemon may take to mount, unmount or exit: generous in the
// VM, where everything runs under TCG.
std::chrono::milliseconds daemon_timeout();

class MountedFs {
 public:
  MountedFs(Programs programs, MountConfig config);
  ~MountedFs();  // best effort: unmounts lazily and kills a daemon left running
  MountedFs(const MountedFs&) = delete;
  MountedFs& operator=(const MountedFs&) = delete;

  // Makes the scratch directories and a fresh, empty file system.
  void create();
  // Starts the daemon on the existing file system and waits for the mount.
  // use_target_form: `pinfsd TARGET MNT` instead of `pinfsd --pool FILE MNT`
  // (a pool is also a valid TARGET once it exists).
  void start(bool use_target_form = false);
  // Unmounts, requires the daemon to exit 0 and `pinfs check` to be clean.
  void stop();
  // Sends SIGTERM (what systemd and ^C do): the daemon must unmount, exit 0
  // and leave a clean file system.
  void terminate();
  // SIGKILLs the daemon and detaches its dead mount (fusermount3 -u, then
  // umount -l). The file system is left as the crash left it.
  void kill_daemon();
  // Runs `pinfs check TARGET` and requires exit 0 (clean).
  void check();

  bool mounted() const { return mounted_; }
  bool daemon_alive() { return daemon_.alive(); }
  pid_t daemon_pid() const { return daemon_.pid(); }
  // Everything the daemon printed on stderr (all of its runs).
  std::string daemon_log() const;

  const std::string& mountpoint() const { return mountpoint_; }
  // The pool file or the device.
  const std::string& target() const { return target_; }
  bool on_device() const { return on_device_; }
  // A scratch directory outside the mount (same file system as /tmp), for
  // reference copies and logs. World-searchable, like the mount point.
  const std::string& scratch_dir() const { return scratch_dir_; }
  const Programs& programs() const { return programs_; }

 private:
  void wait_until_mounted();
  void detach_mount();

  Programs programs_;
  MountConfig config_;
  bool on_device_ = false;
  std::string base_dir_;      // /tmp/pinfs-mount-XXXXXX (0755)
  std::string mountpoint_;    // base/mnt
  std::string scratch_dir_;   // base/scratch
  std::string daemon_log_;    // base/pinfsd.log
  std::string pool_dir_;      // PINFS_TEST_POOL_DIR/pinfs-mount-XXXXXX
  std::string target_;
  Process daemon_;
  bool mounted_ = false;
};

}  // namespace pinfs::mount_test
