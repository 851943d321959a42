// PosixTarget: a fresh directory inside a parent directory, used through the
// kernel's system calls (openat/fstatat/unlinkat/pwrite/pread/fsync), all
// relative to the directory's descriptor — the same "parent + name" shape as
// the pinfs API, so neither side pays a path walk from / that the other does
// not.
//
// On /dev/shm it is the tmpfs anchor of fs_meta_bench; on a FUSE mount it is
// how posix_meta_bench drives tmpfs, passthrough_ll and pinfs alike.
#pragma once

#include <memory>
#include <string>

#include "bench/bench_target.h"

namespace pinfs::bench {

class PosixTarget final : public BenchTarget {
 public:
  // Makes PARENT/<prefix>.<pid> (it must not exist) and works inside it.
  static Result<std::unique_ptr<PosixTarget>> create(const std::string& parent_dir,
                                                     const std::string& target_name,
                                                     const std::string& prefix);
  // Removes every entry the workloads left and the directory itself; best
  // effort, because it runs on the way out of a failure too.
  ~PosixTarget() override;
  PosixTarget(const PosixTarget&) = delete;
  PosixTarget& operator=(const PosixTarget&) = delete;

  const std::string& name() const override { return name_; }
  std::string describe() const override;

  Status create_file(const std::string& name) override;
  Status stat_file(const std::string& name) override;
  Status unlink_file(const std::string& name) override;
  Result<std::unique_ptr<DataFile>> create_data_file(const std::string& name) override;

  const std::string& dir_path() const { return dir_path_; }

 private:
  PosixTarget(std::string name, std::string dir_path, int dir_fd)
      : name_(std::move(name)), dir_path_(std::move(dir_path)), dir_fd_(dir_fd) {}

  std::string name_;
  std::string dir_path_;
  int dir_fd_;  // owned
};

// The file system type of a path as `stat -f` names it ("tmpfs", "fuse",
// "ext4", ...), for report headers.
std::string file_system_type(const std::string& path);

}  // namespace pinfs::bench
