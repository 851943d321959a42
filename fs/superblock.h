// Reading the superblock pair: the primary (offset 0, changed through the
// journal) and the backup (offset 4096, written once by mkfs).
#pragma once

#include <optional>
#include <string>

#include "fs/format.h"
#include "fs/media.h"

namespace pinfs::fs {

struct SuperblockPair {
  std::optional<format::Superblock> primary;  // set when magic, kind and CRC check
  std::optional<format::Superblock> backup;
  bool primary_has_magic = false;
  bool backup_has_magic = false;
};

SuperblockPair read_superblocks(const Media& media);
// Seals a superblock record for `offset` (0 or the backup's).
void seal_superblock(format::Superblock& sb, std::uint64_t offset);
// Whether two superblocks describe the same file system and geometry.
bool same_geometry(const format::Superblock& a, const format::Superblock& b);

}  // namespace pinfs::fs
