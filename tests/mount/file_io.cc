#include "tests/mount/file_io.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

namespace pinfs::mount_test {
namespace {

// Closes on scope exit, keeping the errno of the call that failed.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) {
      int saved = errno;
      close(fd);
      errno = saved;
    }
  }
};

int write_all(int fd, const std::string& data, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(fd, data.data() + done, data.size() - done,
                       static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

}  // namespace

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

std::string pattern(std::size_t length, std::uint64_t seed) {
  std::string out(length, '\0');
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  for (std::size_t i = 0; i < length; ++i) {
    // xorshift64*: cheap and good enough to make every block distinct.
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    auto b = static_cast<unsigned char>((x * 0x2545F4914F6CDD1Dull) >> 56);
    out[i] = static_cast<char>(b == 0 ? 1 : b);
  }
  return out;
}

int write_file(const std::string& path, const std::string& data, bool fsync_file) {
  Fd f{open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
  if (f.fd < 0) return errno;
  if (int e = write_all(f.fd, data, 0); e != 0) return e;
  if (fsync_file && fsync(f.fd) != 0) return errno;
  int fd = f.fd;
  f.fd = -1;
  return close(fd) == 0 ? 0 : errno;
}

int write_at(const std::string& path, std::uint64_t offset, const std::string& data) {
  Fd f{open(path.c_str(), O_WRONLY | O_CLOEXEC)};
  if (f.fd < 0) return errno;
  return write_all(f.fd, data, offset);
}

std::optional<std::string> read_range(const std::string& path, std::uint64_t offset,
                                      std::size_t length) {
  Fd f{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) return std::nullopt;
  std::string out(length, '\0');
  std::size_t done = 0;
  while (done < length) {
    ssize_t n = pread(f.fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

std::optional<std::string> read_file(const std::string& path) {
  Fd f{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) return std::nullopt;
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(f.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) st = {};
  return st;
}

struct stat stat_of(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) st = {};
  return st;
}

std::string first_difference(const std::string& expected, const std::string& got) {
  if (expected == got) return {};
  std::size_t common = std::min(expected.size(), got.size());
  std::size_t first = common;
  std::size_t count = 0;
  for (std::size_t i = 0; i < common; ++i) {
    if (expected[i] != got[i]) {
      if (first == common) first = i;
      ++count;
    }
  }
  std::string sizes = expected.size() == got.size()
                          ? ""
                          : fmt::format(" (sizes: expected {}, got {})", expected.size(), got.size());
  if (first == common) return fmt::format("the first {} bytes agree{}", common, sizes);
  return fmt::format("offset {}: expected 0x{:02x}, got 0x{:02x} ({} differing bytes){}", first,
                     static_cast<unsigned char>(expected[first]),
                     static_cast<unsigned char>(got[first]), count, sizes);
}

std::string contents_difference(const std::string& path, const std::string& want) {
  auto got = read_file(path);
  if (!got) return fmt::format("{}: cannot read: {}", path, strerror(errno));
  std::string diff = first_difference(want, *got);
  return diff.empty() ? diff : path + ": " + diff;
}

struct timespec now_realtime() {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

long long diff_ns(const struct timespec& a, const struct timespec& b) {
  return (static_cast<long long>(a.tv_sec) - b.tv_sec) * 1000000000LL +
         (static_cast<long long>(a.tv_nsec) - b.tv_nsec);
}

}  // namespace pinfs::mount_test
