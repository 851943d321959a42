#include "tests/control/file_ops.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace pinfs::control_test {
namespace {

int errno_of(int rc) { return rc == 0 ? 0 : errno; }

unsigned char pattern_byte(std::uint64_t offset, std::uint32_t seed) {
  std::uint64_t x = (offset >> 3) * 0x9e3779b97f4a7c15ull + seed;
  x ^= x >> 29;
  return static_cast<unsigned char>(x >> ((offset & 7) * 8));
}

}  // namespace

std::vector<unsigned char> expected_pattern(std::uint64_t offset, std::uint64_t length, std::uint32_t seed) {
  std::vector<unsigned char> out(length);
  for (std::uint64_t i = 0; i < length; ++i) out[i] = pattern_byte(offset + i, seed);
  return out;
}

int write_pattern(const std::string& path, std::uint64_t bytes, std::uint32_t seed) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  constexpr std::uint64_t kChunk = 1 << 20;
  for (std::uint64_t at = 0; at < bytes; at += kChunk) {
    const std::uint64_t n = std::min(kChunk, bytes - at);
    std::vector<unsigned char> chunk = expected_pattern(at, n, seed);
    if (::pwrite(fd, chunk.data(), n, static_cast<off_t>(at)) != static_cast<ssize_t>(n)) {
      int e = errno;
      ::close(fd);
      return e != 0 ? e : EIO;
    }
  }
  int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

std::vector<unsigned char> read_range(const std::string& path, std::uint64_t offset, std::uint64_t length) {
  std::vector<unsigned char> out(length);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  ssize_t n = ::pread(fd, out.data(), length, static_cast<off_t>(offset));
  ::close(fd);
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

int punch_hole(const std::string& path, std::uint64_t offset, std::uint64_t length) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return errno;
  int rc = errno_of(::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                                static_cast<off_t>(length)));
  ::close(fd);
  return rc;
}

int truncate_to(const std::string& path, std::uint64_t size) {
  return errno_of(::truncate(path.c_str(), static_cast<off_t>(size)));
}

int unlink_file(const std::string& path) { return errno_of(::unlink(path.c_str())); }

int rename_over(const std::string& path) {
  const std::string fresh = path + ".new";
  int fd = ::open(fresh.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  ::close(fd);
  return errno_of(::rename(fresh.c_str(), path.c_str()));
}

int write_at(const std::string& path, std::uint64_t offset, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
  int rc = n == static_cast<ssize_t>(bytes.size()) ? 0 : (n < 0 ? errno : EIO);
  ::close(fd);
  return rc;
}

int append(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = ::write(fd, bytes.data(), bytes.size());
  int rc = n == static_cast<ssize_t>(bytes.size()) ? 0 : (n < 0 ? errno : EIO);
  ::close(fd);
  return rc;
}

int change_mode(const std::string& path, mode_t mode) { return errno_of(::chmod(path.c_str(), mode)); }

std::uint64_t free_bytes(const std::string& mountpoint) {
  struct statfs s {};
  if (::statfs(mountpoint.c_str(), &s) != 0) return 0;
  return static_cast<std::uint64_t>(s.f_bfree) * static_cast<std::uint64_t>(s.f_bsize);
}

Background::Background(std::function<int()> op) : started_(std::chrono::steady_clock::now()) {
  future_ = std::async(std::launch::async, [this, op = std::move(op)] {
    int rc = op();
    ended_ = std::chrono::steady_clock::now();
    return rc;
  });
}

bool Background::finished_within(std::chrono::milliseconds wait) {
  return future_.wait_for(wait) == std::future_status::ready;
}

int Background::result() {
  future_.wait();
  return future_.get();
}

std::chrono::milliseconds Background::elapsed() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(ended_ - started_);
}

int in_child_process(const std::function<int()>& op) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    ::close(fds[0]);
    int result = op();
    (void)!::write(fds[1], &result, sizeof result);
    ::_exit(0);
  }
  ::close(fds[1]);
  int result = -1;
  ssize_t n;
  do {
    n = ::read(fds[0], &result, sizeof result);
  } while (n < 0 && errno == EINTR);
  if (n != sizeof result) result = -1;
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return result;
}

}  // namespace pinfs::control_test
