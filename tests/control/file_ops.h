// The other side of the control-plane tests: real system calls on the
// mount, each returning 0 or the errno it failed with, and a way to run one
// in the background (it may wait for a lease break) or in another process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <string>
#include <vector>

namespace pinfs::control_test {

// Writes `bytes` of a pattern derived from `seed` (and fsyncs).
int write_pattern(const std::string& path, std::uint64_t bytes, std::uint32_t seed);
// What write_pattern wrote at [offset, offset + length).
std::vector<unsigned char> expected_pattern(std::uint64_t offset, std::uint64_t length, std::uint32_t seed);
// Reads [offset, offset + length) through a fresh open (the mount drops its
// page cache at open, so this sees what clients wrote through mappings).
std::vector<unsigned char> read_range(const std::string& path, std::uint64_t offset, std::uint64_t length);

int punch_hole(const std::string& path, std::uint64_t offset, std::uint64_t length);
int truncate_to(const std::string& path, std::uint64_t size);
int unlink_file(const std::string& path);
// rename(2) of a fresh file over `path`: drops path's last link.
int rename_over(const std::string& path);
int write_at(const std::string& path, std::uint64_t offset, const std::string& bytes);
int append(const std::string& path, const std::string& bytes);
int change_mode(const std::string& path, mode_t mode);

// Free bytes of the mount (statfs f_bfree * f_bsize).
std::uint64_t free_bytes(const std::string& mountpoint);

// An operation running on its own thread; result() waits for its errno.
class Background {
 public:
  explicit Background(std::function<int()> op);
  // Whether it finished within `wait`.
  bool finished_within(std::chrono::milliseconds wait);
  int result();
  std::chrono::milliseconds elapsed() const;

 private:
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point ended_;
  std::future<int> future_;
};

// Runs `op` in a forked child process (a different pid: the lease manager's
// "another process"), returning its errno, or -1 if the child failed.
int in_child_process(const std::function<int()>& op);

}  // namespace pinfs::control_test
