// PinfsTarget: a directory of a mounted pinfs FileSystem, used through its
// C++ API (fs/filesystem.h) — no FUSE, no kernel: what the file system itself
// costs. The caller owns the FileSystem and keeps it alive.
#pragma once

#include <memory>
#include <string>

#include "bench/bench_target.h"
#include "fs/filesystem.h"

namespace pinfs::bench {

class PinfsTarget final : public BenchTarget {
 public:
  // Makes the directory `dir_name` under the root and works inside it.
  static Result<std::unique_ptr<PinfsTarget>> create(fs::FileSystem& fs,
                                                     const std::string& target_name,
                                                     const std::string& dir_name);
  ~PinfsTarget() override = default;

  const std::string& name() const override { return name_; }
  std::string describe() const override;

  Status create_file(const std::string& name) override;
  Status stat_file(const std::string& name) override;
  Status unlink_file(const std::string& name) override;
  Result<std::unique_ptr<DataFile>> create_data_file(const std::string& name) override;

 private:
  PinfsTarget(fs::FileSystem& fs, std::string name, std::string dir_name, fs::InodeNumber dir,
              fs::Caller caller)
      : fs_(fs),
        name_(std::move(name)),
        dir_name_(std::move(dir_name)),
        dir_(dir),
        caller_(caller) {}

  fs::FileSystem& fs_;
  std::string name_;
  std::string dir_name_;
  fs::InodeNumber dir_;
  fs::Caller caller_;  // this process: owner of what it creates
};

}  // namespace pinfs::bench
