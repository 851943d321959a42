#include "bench/sparse_copy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace pinfs::bench {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Status copy_sparse(const std::string& from, const std::string& to) {
  Fd in{::open(from.c_str(), O_RDONLY | O_CLOEXEC)};
  if (in.fd < 0) return Error::from_errno("open", from);
  struct stat st {};
  if (::fstat(in.fd, &st) != 0) return Error::from_errno("fstat", from);
  Fd out{::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
  if (out.fd < 0) return Error::from_errno("create", to);
  auto fail = [&](Error e) {
    ::unlink(to.c_str());
    return e;
  };
  if (::ftruncate(out.fd, st.st_size) != 0) return fail(Error::from_errno("ftruncate", to));

  std::vector<char> buf(4u << 20);
  off_t pos = 0;
  while (pos < st.st_size) {
    off_t data = ::lseek(in.fd, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole is left
      return fail(Error::from_errno("seek data", from, fmt::format("from {}", pos)));
    }
    off_t hole = ::lseek(in.fd, data, SEEK_HOLE);
    if (hole < 0) return fail(Error::from_errno("seek hole", from, fmt::format("from {}", data)));
    for (off_t off = data; off < hole;) {
      std::size_t want = static_cast<std::size_t>(
          std::min<off_t>(hole - off, static_cast<off_t>(buf.size())));
      ssize_t n = ::pread(in.fd, buf.data(), want, off);
      if (n <= 0) return fail(Error::from_errno("read", from, fmt::format("at {}", off)));
      for (ssize_t done = 0; done < n;) {
        ssize_t w = ::pwrite(out.fd, buf.data() + done, static_cast<std::size_t>(n - done),
                             off + done);
        if (w <= 0) return fail(Error::from_errno("write", to, fmt::format("at {}", off + done)));
        done += w;
      }
      off += n;
    }
    pos = hole;
  }
  return {};
}

}  // namespace pinfs::bench
