// Blobs: a header and a payload in contiguous small blocks, written whole
// into new blocks and switched in by one transaction (copy-on-write). Used
// for an inode's extended attributes and for symlink targets too long for
// the inode (docs/format.md, "Blobs").
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "fs/allocator.h"
#include "fs/filesystem.h"
#include "fs/geometry.h"
#include "fs/meta_io.h"
#include "pinfs/error.h"

namespace pinfs::fs {

// Writes header + payload into newly allocated blocks and persists them
// (not yet linked: the caller's txn does that). Returns the blocks.
Result<BlockRun> write_blob(MetaView& view, Allocator& allocator, Media& media,
                            std::uint32_t kind, InodeNumber owner,
                            std::span<const std::byte> payload, std::uint32_t item_count);

struct Blob {
  std::vector<std::byte> payload;
  std::uint32_t item_count = 0;
};
// Reads and verifies a blob: CRC, kind, owner, payload within its blocks.
Result<Blob> read_blob(const MetaView& view, std::uint32_t kind, InodeNumber owner,
                       BlockRun blocks);

}  // namespace pinfs::fs
