// Geometry: where each fixed region of a pinfs image lies, derived once at
// mkfs and read back (and distrusted) from the superblock at mount.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fs/filesystem.h"
#include "fs/format.h"
#include "pinfs/error.h"

namespace pinfs::fs {

struct Geometry {
  std::uint64_t media_bytes = 0;
  std::uint64_t block_size = 0;
  std::uint64_t unit_bytes = 0;
  std::uint64_t unit_count = 0;
  std::uint64_t first_data_unit = 0;
  std::uint64_t journal_offset = 0;
  std::uint64_t journal_bytes = 0;
  std::uint64_t inode_bitmap_offset = 0;
  std::uint64_t inode_bitmap_chunks = 0;
  std::uint64_t inode_table_offset = 0;
  std::uint64_t inode_count = 0;
  std::uint64_t unit_table_offset = 0;
  std::uint64_t unit_table_chunks = 0;
  std::uint64_t block_bitmap_offset = 0;
  std::uint64_t bitmap_record_bytes = 0;
  std::uint64_t quarantine_offset = 0;
  std::uint64_t quarantine_chunks = 0;
  // 0 chunks: an image made before the pin table existed (format.md).
  std::uint64_t pin_table_offset = 0;
  std::uint64_t pin_table_chunks = 0;
  std::uint8_t uuid[16] = {};
  std::uint32_t seed = 0;  // uuid_seed(uuid): seeds every metadata CRC
  std::uint32_t dir_hash_seed = 0;
  std::int64_t mkfs_time_sec = 0;

  std::uint64_t blocks_per_unit() const { return unit_bytes / block_size; }
  std::uint64_t data_offset() const { return first_data_unit * unit_bytes; }
  std::uint64_t data_end() const { return unit_count * unit_bytes; }
  std::uint64_t data_blocks() const { return (unit_count - first_data_unit) * blocks_per_unit(); }
  std::uint64_t inode_offset(std::uint64_t ino) const {
    return inode_table_offset + ino * sizeof(format::Inode);
  }
  std::uint64_t unit_table_chunk_offset(std::uint64_t chunk) const {
    return unit_table_offset + chunk * format::kChunkBytes;
  }
  std::uint64_t inode_bitmap_chunk_offset(std::uint64_t chunk) const {
    return inode_bitmap_offset + chunk * format::kChunkBytes;
  }
  std::uint64_t quarantine_chunk_offset(std::uint64_t chunk) const {
    return quarantine_offset + chunk * format::kChunkBytes;
  }
  std::uint64_t bitmap_record_offset(std::uint64_t unit) const {
    return block_bitmap_offset + unit * bitmap_record_bytes;
  }
  std::uint64_t quarantine_capacity() const {
    return quarantine_chunks * format::kQuarantinePerChunk;
  }
  std::uint64_t pin_table_chunk_offset(std::uint64_t chunk) const {
    return pin_table_offset + chunk * format::kChunkBytes;
  }
  std::uint64_t pin_table_slots() const { return pin_table_chunks * format::kPinSlotsPerChunk; }
  std::uint64_t journal_payload_capacity() const { return journal_bytes - block_size; }
  // Is [block, block + count) inside the data area (in blocks)?
  bool blocks_in_data_area(std::uint64_t block, std::uint64_t count) const;
  std::uint64_t unit_of_block(std::uint64_t block) const { return block / blocks_per_unit(); }
  std::uint64_t first_block_of_unit(std::uint64_t unit) const { return unit * blocks_per_unit(); }
};

inline constexpr std::uint64_t kInodesPerBitmapChunk = format::kChunkPayloadBytes * 8;
inline constexpr std::uint64_t kUnitsPerTableChunk = format::kChunkPayloadBytes;
inline constexpr std::uint64_t kMinUnitBytes = 64 * 1024;
inline constexpr std::uint64_t kMaxUnitBytes = 1ull << 30;
inline constexpr std::uint64_t kMaxBlockSize = 64 * 1024;
inline constexpr std::uint64_t kDefaultUnitBytes = 2ull << 20;
inline constexpr std::uint64_t kDefaultBytesPerInode = 64 * 1024;

// The pin table: one 4 KiB chunk (15 pin slots) per MiB of media, clamped
// to [16, 8192] chunks (240 to 122,880 slots, 64 KiB to 32 MiB: 0.4% of
// the media). A 2 GiB device holds 30,720 slots, a 4 GiB pool 61,440, 8 GiB
// and more 122,880, so 100,000 live pins need 8 GiB of media. A pin takes
// one slot, plus one per registration reported on it (at most 64).
inline constexpr std::uint64_t kMinPinTableChunks = 16;
inline constexpr std::uint64_t kMaxPinTableChunks = 8192;
std::uint64_t pin_table_chunks_for(std::uint64_t media_bytes);

std::uint64_t bitmap_record_bytes_for(std::uint64_t blocks_per_unit);

// Lays out a new file system on the media (mkfs). The UUID fields are left
// for the caller.
Result<Geometry> plan_geometry(const Media& media, const MkfsOptions& options);

// Reads and validates the geometry of a superblock that passed its CRC: every
// region inside the media, in order, not overlapping, sizes consistent.
// Errors are EUCLEAN naming the field.
Result<Geometry> geometry_from_superblock(const format::Superblock& sb,
                                          std::uint64_t media_bytes);
void geometry_to_superblock(const Geometry& g, format::Superblock& sb);

// The fixed regions, named as MediaRegion names them.
std::vector<MediaRegion> fixed_regions(const Geometry& g);

}  // namespace pinfs::fs
