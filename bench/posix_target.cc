#include "bench/posix_target.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace pinfs::bench {
namespace {

// Not in every <linux/magic.h>.
constexpr long kFuseSuperMagic = 0x65735546;
constexpr long kXfsSuperMagic = 0x58465342;

class PosixDataFile final : public DataFile {
 public:
  PosixDataFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixDataFile() override { ::close(fd_); }
  PosixDataFile(const PosixDataFile&) = delete;
  PosixDataFile& operator=(const PosixDataFile&) = delete;

  Status write_at(std::uint64_t offset, std::span<const std::byte> data) override {
    while (!data.empty()) {
      ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Error::from_errno("pwrite", path_, fmt::format("at {}", offset));
      }
      if (n == 0) return Error(EIO, "pwrite", path_, fmt::format("wrote nothing at {}", offset));
      data = data.subspan(static_cast<std::size_t>(n));
      offset += static_cast<std::uint64_t>(n);
    }
    return {};
  }

  Status read_at(std::uint64_t offset, std::span<std::byte> out) override {
    while (!out.empty()) {
      ssize_t n = ::pread(fd_, out.data(), out.size(), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Error::from_errno("pread", path_, fmt::format("at {}", offset));
      }
      if (n == 0) return Error(EIO, "pread", path_, fmt::format("end of file at {}", offset));
      out = out.subspan(static_cast<std::size_t>(n));
      offset += static_cast<std::uint64_t>(n);
    }
    return {};
  }

  Status sync() override {
    if (::fsync(fd_) != 0) return Error::from_errno("fsync", path_);
    return {};
  }

 private:
  int fd_;  // owned
  std::string path_;
};

}  // namespace

std::string file_system_type(const std::string& path) {
  struct statfs sf {};
  if (::statfs(path.c_str(), &sf) != 0) return "unknown";
  switch (static_cast<long>(sf.f_type)) {
    case TMPFS_MAGIC: return "tmpfs";
    case kFuseSuperMagic: return "fuse";
    case EXT4_SUPER_MAGIC: return "ext4";
    case kXfsSuperMagic: return "xfs";
    case BTRFS_SUPER_MAGIC: return "btrfs";
    case OVERLAYFS_SUPER_MAGIC: return "overlay";
    default: return fmt::format("0x{:x}", static_cast<unsigned long>(sf.f_type));
  }
}

Result<std::unique_ptr<PosixTarget>> PosixTarget::create(const std::string& parent_dir,
                                                         const std::string& target_name,
                                                         const std::string& prefix) {
  std::string dir = fmt::format("{}/{}.{}", parent_dir, prefix, ::getpid());
  if (::mkdir(dir.c_str(), 0755) != 0) return Error::from_errno("mkdir", dir);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    Error e = Error::from_errno("open", dir);
    ::rmdir(dir.c_str());
    return e;
  }
  return std::unique_ptr<PosixTarget>(new PosixTarget(target_name, std::move(dir), fd));
}

PosixTarget::~PosixTarget() {
  // fdopendir takes the descriptor it is given; give it a copy.
  int fd = ::dup(dir_fd_);
  if (DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr) {
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      (void)::unlinkat(dir_fd_, e->d_name, 0);
    }
    ::closedir(d);
  } else if (fd >= 0) {
    ::close(fd);
  }
  ::close(dir_fd_);
  (void)::rmdir(dir_path_.c_str());
}

std::string PosixTarget::describe() const {
  return fmt::format("{} ({}, through the kernel's system calls)", dir_path_,
                     file_system_type(dir_path_));
}

Status PosixTarget::create_file(const std::string& name) {
  int fd = ::openat(dir_fd_, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return Error::from_errno("create", dir_path_ + "/" + name);
  if (::close(fd) != 0) return Error::from_errno("close", dir_path_ + "/" + name);
  return {};
}

Status PosixTarget::stat_file(const std::string& name) {
  struct stat st {};
  if (::fstatat(dir_fd_, name.c_str(), &st, 0) != 0)
    return Error::from_errno("stat", dir_path_ + "/" + name);
  return {};
}

Status PosixTarget::unlink_file(const std::string& name) {
  if (::unlinkat(dir_fd_, name.c_str(), 0) != 0)
    return Error::from_errno("unlink", dir_path_ + "/" + name);
  return {};
}

Result<std::unique_ptr<DataFile>> PosixTarget::create_data_file(const std::string& name) {
  std::string path = dir_path_ + "/" + name;
  int fd = ::openat(dir_fd_, name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) return Error::from_errno("create", path);
  return std::unique_ptr<DataFile>(new PosixDataFile(fd, std::move(path)));
}

}  // namespace pinfs::bench
