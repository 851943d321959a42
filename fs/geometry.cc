#include "fs/geometry.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "fs/crc.h"
#include "fs/units.h"

namespace pinfs::fs {

namespace {

std::uint64_t round_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }
std::uint64_t div_up(std::uint64_t v, std::uint64_t d) { return (v + d - 1) / d; }

// Places the regions after the superblocks, each block-aligned, and the data
// area at the next unit boundary.
void lay_out(Geometry& g) {
  std::uint64_t at = round_up(format::kSuperblockRegionBytes, g.block_size);
  auto place = [&](std::uint64_t& offset, std::uint64_t bytes) {
    offset = at;
    at = round_up(at + bytes, g.block_size);
  };
  place(g.journal_offset, g.journal_bytes);
  place(g.inode_bitmap_offset, g.inode_bitmap_chunks * format::kChunkBytes);
  place(g.inode_table_offset, g.inode_count * sizeof(format::Inode));
  place(g.unit_table_offset, g.unit_table_chunks * format::kChunkBytes);
  place(g.block_bitmap_offset, g.unit_count * g.bitmap_record_bytes);
  place(g.quarantine_offset, g.quarantine_chunks * format::kChunkBytes);
  place(g.pin_table_offset, g.pin_table_chunks * format::kChunkBytes);
  g.first_data_unit = div_up(at, g.unit_bytes);
}

}  // namespace

bool Geometry::blocks_in_data_area(std::uint64_t block, std::uint64_t count) const {
  std::uint64_t first = first_data_unit * blocks_per_unit();
  std::uint64_t end = unit_count * blocks_per_unit();
  return count != 0 && block >= first && block < end && count <= end - block;
}

std::uint64_t pin_table_chunks_for(std::uint64_t media_bytes) {
  return std::clamp<std::uint64_t>(media_bytes >> 20, kMinPinTableChunks, kMaxPinTableChunks);
}

std::uint64_t bitmap_record_bytes_for(std::uint64_t blocks_per_unit) {
  return round_up(sizeof(format::BlockBitmapHeader) + div_up(blocks_per_unit, 8), 64);
}

Result<Geometry> plan_geometry(const Media& media, const MkfsOptions& options) {
  const char* op = "mkfs";
  Geometry g;
  g.media_bytes = media.size_bytes();
  g.block_size = options.block_size == 0 ? 4096 : options.block_size;
  if (!std::has_single_bit(g.block_size) || g.block_size < 4096 || g.block_size > kMaxBlockSize) {
    return Error(EINVAL, op, media.path(),
                 fmt::format("block size {} is not a power of two in [4 KiB, 64 KiB]",
                             g.block_size));
  }
  std::uint64_t align = std::max<std::uint64_t>(media.map_alignment_bytes(), 1);
  g.unit_bytes = options.aligned_unit_bytes;
  if (g.unit_bytes == 0) g.unit_bytes = std::max(kDefaultUnitBytes, align);
  if (!std::has_single_bit(g.unit_bytes) || g.unit_bytes < kMinUnitBytes ||
      g.unit_bytes > kMaxUnitBytes || g.unit_bytes % align != 0 ||
      g.unit_bytes < g.block_size) {
    return Error(EINVAL, op, media.path(),
                 fmt::format("aligned unit {} must be a power of two in [64 KiB, 1 GiB], at "
                             "least the block size and a multiple of the media's map "
                             "alignment {}",
                             format_size(g.unit_bytes), format_size(align)));
  }
  g.unit_count = g.media_bytes / g.unit_bytes;
  g.inode_count = options.inode_count != 0 ? options.inode_count + 1
                                           : g.media_bytes / kDefaultBytesPerInode;
  g.inode_count = std::clamp<std::uint64_t>(g.inode_count, 64, 0xFFFFFFFFull);
  g.inode_bitmap_chunks = div_up(g.inode_count, kInodesPerBitmapChunk);
  g.unit_table_chunks = std::max<std::uint64_t>(1, div_up(g.unit_count, kUnitsPerTableChunk));
  g.bitmap_record_bytes = bitmap_record_bytes_for(g.blocks_per_unit());
  g.quarantine_chunks = std::clamp<std::uint64_t>(g.media_bytes >> 28, 2, 128);
  g.pin_table_chunks = pin_table_chunks_for(g.media_bytes);
  // The journal holds one transaction; the largest ones (an index rebuild,
  // make_mappable of a large file) are tens of KiB, and batched frees stay
  // under half of it.
  g.journal_bytes = std::clamp<std::uint64_t>(g.media_bytes / 128, 1ull << 20, 32ull << 20);
  g.journal_bytes = std::min<std::uint64_t>(g.journal_bytes, std::max<std::uint64_t>(
                                                                 g.media_bytes / 8, 256 << 10));
  g.journal_bytes = round_up(g.journal_bytes, g.block_size);
  lay_out(g);
  if (g.unit_count < 2 || g.first_data_unit >= g.unit_count) {
    return Error(ENOSPC, op, media.path(),
                 fmt::format("{} is too small: the metadata needs {} units of {} and at least "
                             "one data unit must remain",
                             format_size(g.media_bytes), g.first_data_unit,
                             format_size(g.unit_bytes)));
  }
  return g;
}

Result<Geometry> geometry_from_superblock(const format::Superblock& sb,
                                          std::uint64_t media_bytes) {
  auto bad = [](std::string what) {
    return Error(EUCLEAN, "read superblock", "[superblock]", std::move(what));
  };
  Geometry g;
  g.media_bytes = sb.media_bytes;
  g.block_size = sb.block_size;
  g.unit_bytes = sb.unit_bytes;
  g.unit_count = sb.unit_count;
  g.first_data_unit = sb.first_data_unit;
  g.journal_offset = sb.journal_offset;
  g.journal_bytes = sb.journal_bytes;
  g.inode_bitmap_offset = sb.inode_bitmap_offset;
  g.inode_bitmap_chunks = sb.inode_bitmap_chunks;
  g.inode_table_offset = sb.inode_table_offset;
  g.inode_count = sb.inode_count;
  g.unit_table_offset = sb.unit_table_offset;
  g.unit_table_chunks = sb.unit_table_chunks;
  g.block_bitmap_offset = sb.block_bitmap_offset;
  g.bitmap_record_bytes = sb.block_bitmap_record_bytes;
  g.quarantine_offset = sb.quarantine_offset;
  g.quarantine_chunks = sb.quarantine_chunks;
  g.pin_table_offset = sb.pin_table_offset;
  g.pin_table_chunks = sb.pin_table_chunks;
  std::memcpy(g.uuid, sb.uuid, sizeof g.uuid);
  g.seed = uuid_seed(g.uuid);
  g.dir_hash_seed = sb.dir_hash_seed;
  g.mkfs_time_sec = sb.mkfs_time_sec;

  if (sb.format_version.get() != format::kFormatVersion)
    return bad(fmt::format("format version {} (this pinfs reads version {})",
                           sb.format_version.get(), format::kFormatVersion));
  if (sb.incompat_features.get() != 0)
    return bad(fmt::format("unknown incompatible features {:#x}", sb.incompat_features.get()));
  if (sb.inode_bytes.get() != sizeof(format::Inode))
    return bad(fmt::format("inode size {} (expected {})", sb.inode_bytes.get(),
                           sizeof(format::Inode)));
  if (g.media_bytes > media_bytes)
    return bad(fmt::format("made for {} but the media has {}", format_size(g.media_bytes),
                           format_size(media_bytes)));
  if (!std::has_single_bit(g.block_size) || g.block_size < 4096 || g.block_size > kMaxBlockSize)
    return bad(fmt::format("block size {}", g.block_size));
  if (!std::has_single_bit(g.unit_bytes) || g.unit_bytes < kMinUnitBytes ||
      g.unit_bytes > kMaxUnitBytes || g.unit_bytes < g.block_size)
    return bad(fmt::format("aligned unit {}", g.unit_bytes));
  if (g.unit_count != g.media_bytes / g.unit_bytes)
    return bad(fmt::format("unit count {} does not match the media size", g.unit_count));
  if (g.inode_count < 2 || g.inode_count > 0xFFFFFFFFull)
    return bad(fmt::format("inode count {}", g.inode_count));
  if (g.inode_bitmap_chunks != div_up(g.inode_count, kInodesPerBitmapChunk))
    return bad("inode bitmap size does not match the inode count");
  if (g.unit_table_chunks != std::max<std::uint64_t>(1, div_up(g.unit_count, kUnitsPerTableChunk)))
    return bad("unit table size does not match the unit count");
  if (g.bitmap_record_bytes != bitmap_record_bytes_for(g.blocks_per_unit()))
    return bad("block bitmap record size does not match the unit");
  if (g.quarantine_chunks == 0 || g.quarantine_chunks > 1u << 20)
    return bad(fmt::format("quarantine size {} chunks", g.quarantine_chunks));
  if ((sb.compat_features.get() & format::kCompatPinTable) != 0) {
    if (g.pin_table_chunks == 0 || g.pin_table_chunks > kMaxPinTableChunks)
      return bad(fmt::format("pin table size {} chunks", g.pin_table_chunks));
  } else if (g.pin_table_chunks != 0 || g.pin_table_offset != 0) {
    return bad("a pin table without the pin-table feature bit");
  }
  if (g.journal_bytes < 2 * g.block_size || g.journal_bytes > (1ull << 32))
    return bad(fmt::format("journal size {}", g.journal_bytes));
  // Regions in order, block-aligned, not overlapping, before the data area.
  struct R {
    const char* name;
    std::uint64_t offset, bytes;
  } regions[] = {
      {"journal", g.journal_offset, g.journal_bytes},
      {"inode bitmap", g.inode_bitmap_offset, g.inode_bitmap_chunks * format::kChunkBytes},
      {"inode table", g.inode_table_offset, g.inode_count * sizeof(format::Inode)},
      {"unit table", g.unit_table_offset, g.unit_table_chunks * format::kChunkBytes},
      {"block bitmap", g.block_bitmap_offset, g.unit_count * g.bitmap_record_bytes},
      {"quarantine", g.quarantine_offset, g.quarantine_chunks * format::kChunkBytes},
      {"pin table", g.pin_table_offset, g.pin_table_chunks * format::kChunkBytes},
  };
  std::uint64_t at = format::kSuperblockRegionBytes;
  for (const R& r : regions) {
    if (r.bytes == 0 && r.offset == 0) continue;  // no pin table (an older image)
    if (r.offset % g.block_size != 0 || r.offset < at || r.offset > g.media_bytes ||
        r.bytes > g.media_bytes - r.offset)
      return bad(fmt::format("{} region [{}, +{}) is misplaced", r.name, r.offset, r.bytes));
    at = r.offset + r.bytes;
  }
  if (g.first_data_unit >= g.unit_count || g.first_data_unit * g.unit_bytes < at)
    return bad(fmt::format("data area starts at unit {} of {}, inside the metadata",
                           g.first_data_unit, g.unit_count));
  return g;
}

void geometry_to_superblock(const Geometry& g, format::Superblock& sb) {
  sb.kind = format::kKindSuperblock;
  sb.magic = format::kSuperblockMagic;
  sb.format_version = format::kFormatVersion;
  sb.incompat_features = 0;
  std::memcpy(sb.uuid, g.uuid, sizeof sb.uuid);
  sb.media_bytes = g.media_bytes;
  sb.block_size = static_cast<std::uint32_t>(g.block_size);
  sb.inode_bytes = sizeof(format::Inode);
  sb.unit_bytes = g.unit_bytes;
  sb.unit_count = g.unit_count;
  sb.first_data_unit = g.first_data_unit;
  sb.journal_offset = g.journal_offset;
  sb.journal_bytes = g.journal_bytes;
  sb.inode_bitmap_offset = g.inode_bitmap_offset;
  sb.inode_bitmap_chunks = g.inode_bitmap_chunks;
  sb.inode_table_offset = g.inode_table_offset;
  sb.inode_count = g.inode_count;
  sb.unit_table_offset = g.unit_table_offset;
  sb.unit_table_chunks = g.unit_table_chunks;
  sb.block_bitmap_offset = g.block_bitmap_offset;
  sb.block_bitmap_record_bytes = g.bitmap_record_bytes;
  sb.quarantine_offset = g.quarantine_offset;
  sb.quarantine_chunks = g.quarantine_chunks;
  sb.pin_table_offset = g.pin_table_offset;
  sb.pin_table_chunks = g.pin_table_chunks;
  sb.compat_features = g.pin_table_chunks != 0 ? format::kCompatPinTable : 0;
  sb.dir_hash_seed = g.dir_hash_seed;
  sb.mkfs_time_sec = g.mkfs_time_sec;
}

std::vector<MediaRegion> fixed_regions(const Geometry& g) {
  std::vector<MediaRegion> out = {
      {"superblock", format::kSuperblockOffset, sizeof(format::Superblock)},
      {"superblock-backup", format::kBackupSuperblockOffset, sizeof(format::Superblock)},
      {"journal", g.journal_offset, g.journal_bytes},
      {"inode-bitmap", g.inode_bitmap_offset, g.inode_bitmap_chunks * format::kChunkBytes},
      {"inode-table", g.inode_table_offset, g.inode_count * sizeof(format::Inode)},
      {"unit-table", g.unit_table_offset, g.unit_table_chunks * format::kChunkBytes},
      {"block-bitmap", g.block_bitmap_offset, g.unit_count * g.bitmap_record_bytes},
      {"quarantine", g.quarantine_offset, g.quarantine_chunks * format::kChunkBytes},
  };
  if (g.pin_table_chunks != 0)
    out.push_back({"pin-table", g.pin_table_offset, g.pin_table_chunks * format::kChunkBytes});
  return out;
}

}  // namespace pinfs::fs
