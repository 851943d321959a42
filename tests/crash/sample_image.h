// A small populated pinfs image, built the same way every time: a few
// directories (one with enough entries to span several blocks, one nested
// deep), small files, a large sparse file, a punched file, a mappable file in
// aligned extents, small and large xattrs, short and long symlinks, a hard
// link and a fifo. The corrupter test damages it; the image fuzzer patches it.
#pragma once

#include <cstdint>
#include <vector>

#include "fs/filesystem.h"
#include "pinfs/error.h"
#include "tests/crash/fs_model.h"

namespace pinfs::crashtest {

struct SampleImageOptions {
  std::uint64_t image_bytes = 4 << 20;
  std::uint64_t map_alignment_bytes = 4096;
  std::uint64_t aligned_unit_bytes = 64 << 10;
  std::uint64_t large_file_bytes = 1 << 20;
  std::size_t entries_in_big_dir = 48;
  std::uint64_t inode_count = 256;
};

struct SampleImage {
  std::vector<std::byte> clean;  // unmounted cleanly
  // The same file system after a power failure in the middle of a last
  // operation (a rename over an existing file with xattrs): recovery has
  // work to do. Its tree is either model or model_after_dirty_op.
  std::vector<std::byte> dirty;
  FsModel model;                  // what clean holds
  FsModel model_after_dirty_op;   // the last operation applied
  std::uint64_t map_alignment_bytes = 4096;
};

Result<SampleImage> build_sample_image(const SampleImageOptions& options = {});

}  // namespace pinfs::crashtest
