// What making and mounting a pinfs costs: wall time of mkfs, mount (journal
// replay and metadata load included) and unmount, and the daemon-side
// resident memory a mount adds — on a large sparse pool (1 TiB by default),
// where anything proportional to the media size shows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/report.h"
#include "pinfs/error.h"

namespace pinfs::bench {

struct MkfsMountCost {
  std::string pool_path;
  std::string pool_dir_fs_type;  // the file system holding the sparse pool file
  std::uint64_t pool_size_bytes = 0;
  std::string media_kind;
  double mkfs_s = 0;        // FileSystem::mkfs on a freshly created sparse file
  double media_open_s = 0;  // Media::open of the formatted pool, before mount
  double mount_s = 0;       // FileSystem::mount
  double unmount_s = 0;
  ResidentMemory before_mount;  // after Media::open
  ResidentMemory after_mount;
  std::uint64_t pool_allocated_bytes = 0;  // what mkfs wrote: st_blocks * 512
  // The anchor: mkfs.ext4 with its defaults on a sparse file of the same
  // size in the same directory.
  std::vector<std::string> anchor_command;
  std::optional<double> anchor_mkfs_s;
  std::string anchor_missing_reason;

  nlohmann::json to_json() const;
};

// Creates DIR/<prefix>.<pid>.pool sparse at size_bytes, formats, mounts and
// unmounts it, and removes it (also on failure).
Result<MkfsMountCost> measure_mkfs_and_mount(const std::string& dir, const std::string& prefix,
                                             std::uint64_t size_bytes, bool with_anchor);

struct RemountCost {
  std::string image_path;
  std::uint64_t file_count = 0;     // files in the directory when the image was taken
  double mount_after_crash_s = 0;   // the image as a power cut left it: recovery runs
  double unmount_s = 0;
  double mount_clean_s = 0;         // the same image after a clean unmount
  ResidentMemory before_mount;
  ResidentMemory after_mount;       // around the mount after the crash

  nlohmann::json to_json() const;
};

// Mounts the image (a copy of a live pool), checks that dir_name holds
// file_count entries, unmounts it, mounts it again clean. Removes nothing.
Result<RemountCost> measure_remount(const std::string& image_path, const std::string& dir_name,
                                    std::uint64_t file_count);

}  // namespace pinfs::bench
