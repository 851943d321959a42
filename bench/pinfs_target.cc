#include "bench/pinfs_target.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "fs/units.h"

namespace pinfs::bench {
namespace {

class PinfsDataFile final : public DataFile {
 public:
  PinfsDataFile(fs::FileSystem& fs, fs::InodeNumber ino, fs::Caller caller, std::string path)
      : fs_(fs), ino_(ino), caller_(caller), path_(std::move(path)) {}

  Status write_at(std::uint64_t offset, std::span<const std::byte> data) override {
    auto r = fs_.write(ino_, offset, data, caller_);
    if (!r.ok()) return std::move(r).error();
    if (*r != data.size()) {
      return Error(EIO, "write", path_,
                   fmt::format("short write at {}: {} of {} bytes", offset, *r, data.size()));
    }
    return {};
  }

  Status read_at(std::uint64_t offset, std::span<std::byte> out) override {
    auto r = fs_.read(ino_, offset, out);
    if (!r.ok()) return std::move(r).error();
    if (*r != out.size()) {
      return Error(EIO, "read", path_,
                   fmt::format("short read at {}: {} of {} bytes", offset, *r, out.size()));
    }
    return {};
  }

  // Writes through the API are durable when they return (DESIGN.md §3);
  // fsync is what an application would still call, so it is timed too.
  Status sync() override { return fs_.fsync(ino_); }

 private:
  fs::FileSystem& fs_;
  fs::InodeNumber ino_;
  fs::Caller caller_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<PinfsTarget>> PinfsTarget::create(fs::FileSystem& fs,
                                                         const std::string& target_name,
                                                         const std::string& dir_name) {
  fs::Caller caller{::getpid(), ::getuid(), ::getgid()};
  PINFS_ASSIGN_OR_RETURN(fs::Attr dir, fs.mkdir(fs::kRootInode, dir_name, 0755, caller));
  return std::unique_ptr<PinfsTarget>(
      new PinfsTarget(fs, target_name, dir_name, dir.ino, caller));
}

std::string PinfsTarget::describe() const {
  const fs::Media& m = fs_.media();
  return fmt::format("/{} on {} ({} {}, through the fs API)", dir_name_, m.path(),
                     fs::to_string(m.kind()), fs::format_size(m.size_bytes()));
}

Status PinfsTarget::create_file(const std::string& name) {
  auto r = fs_.mknod(dir_, name, S_IFREG | 0644, 0, caller_);
  if (!r.ok()) return std::move(r).error();
  return {};
}

Status PinfsTarget::stat_file(const std::string& name) {
  auto r = fs_.lookup(dir_, name);
  if (!r.ok()) return std::move(r).error();
  return {};
}

Status PinfsTarget::unlink_file(const std::string& name) { return fs_.unlink(dir_, name, caller_); }

Result<std::unique_ptr<DataFile>> PinfsTarget::create_data_file(const std::string& name) {
  PINFS_ASSIGN_OR_RETURN(fs::Attr attr, fs_.mknod(dir_, name, S_IFREG | 0644, 0, caller_));
  return std::unique_ptr<DataFile>(
      new PinfsDataFile(fs_, attr.ino, caller_, "/" + dir_name_ + "/" + name));
}

}  // namespace pinfs::bench
