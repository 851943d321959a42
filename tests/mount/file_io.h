// Small file helpers for the mount tests: whole-file reads and writes,
// deterministic data, and errno capture for one-line assertions such as
//   EXPECT_EQ(errno_of(mkdir(p.c_str(), 0755)), EEXIST);
#pragma once

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>

namespace pinfs::mount_test {

// An open descriptor that closes itself, so that a failed assertion never
// leaves a file open on the mount (which would make the unmount EBUSY).
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  ~UniqueFd() { reset(); }
  // Reads as the descriptor in system calls: fallocate(fd, ...).
  operator int() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_;
};

// 0 when a system call succeeded (rc >= 0), else the errno it set. Read
// errno right after the call: the argument is evaluated first.
inline int errno_of(long rc) { return rc < 0 ? errno : 0; }

// Deterministic bytes: the same (length, seed) always gives the same data,
// with no zero bytes (so a hole or a lost write is never mistaken for data).
std::string pattern(std::size_t length, std::uint64_t seed);

// Writes all of `data` (O_CREAT|O_TRUNC, mode 0644 before umask) and
// returns 0 or the errno of the first failing call. fsync when asked.
int write_file(const std::string& path, const std::string& data, bool fsync_file = false);
// Writes `data` at `offset` (no truncation); 0 or errno.
int write_at(const std::string& path, std::uint64_t offset, const std::string& data);
// The whole file, or nullopt (errno set) if it cannot be read.
std::optional<std::string> read_file(const std::string& path);
// [offset, offset + length) of a file, short at end of file.
std::optional<std::string> read_range(const std::string& path, std::uint64_t offset,
                                      std::size_t length);

// lstat that gives a zeroed struct on failure (the test asserts on fields).
struct stat lstat_of(const std::string& path);
struct stat stat_of(const std::string& path);

// "offset 4096: expected 0x00, got 0xab (and 17 more)" or "" when equal.
std::string first_difference(const std::string& expected, const std::string& got);

// "" when the file at `path` holds exactly `want`, else what differs (or
// why it could not be read). Keeps assertion messages short for big files.
std::string contents_difference(const std::string& path, const std::string& want);

// The time of day, for comparisons with file times.
struct timespec now_realtime();
// a - b in nanoseconds.
long long diff_ns(const struct timespec& a, const struct timespec& b);

}  // namespace pinfs::mount_test
