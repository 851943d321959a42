// mkfs: writes the superblocks, an empty journal, the inode bitmap, the unit
// table, the quarantine, the (empty) pin table and the root inode. It touches nothing else: the
// inode table, the block bitmaps and the data area keep whatever they held,
// which the new UUID's CRC seed makes invalid (docs/format.md).
#include <fmt/format.h>
#include <sys/stat.h>

#include <cstring>
#include <ctime>
#include <random>

#include "fs/crc.h"
#include "fs/filesystem.h"
#include "fs/format.h"
#include "fs/geometry.h"
#include "fs/journal.h"
#include "fs/le.h"
#include "fs/superblock.h"

namespace pinfs::fs {

namespace {

std::string uuid_text(const std::uint8_t (&u)[16]) {
  std::string s;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += fmt::format("{:02x}", u[i]);
  }
  return s;
}

// Stores one chunk of a chunked table: header + payload, sealed. The caller
// flushes the whole table at once (on a plain file each flush is an msync).
void store_chunk(Media& media, const Geometry& g, std::uint64_t offset, std::uint32_t kind,
                 std::uint64_t index, const std::vector<std::byte>& payload) {
  std::vector<std::byte> chunk(format::kChunkBytes);
  format::ChunkHeader header{};
  header.kind = kind;
  header.index = index;
  store_as(chunk.data(), header);
  std::memcpy(chunk.data() + sizeof header, payload.data(),
              std::min(payload.size(), static_cast<std::size_t>(format::kChunkPayloadBytes)));
  seal_record(chunk, kind, offset, g.seed);
  media.store(offset, chunk.data(), chunk.size());
}

}  // namespace

Status FileSystem::mkfs(Media& media, const MkfsOptions& options) {
  const char* op = "mkfs";
  if (media.read_only()) return Error(EROFS, op, media.path(), "media opened read-only");
  if (!options.force) {
    SuperblockPair existing = read_superblocks(media);
    const auto& sb = existing.primary ? existing.primary : existing.backup;
    if (sb) {
      return Error(EEXIST, op, media.path(),
                   fmt::format("holds a pinfs file system (uuid {}); use force to overwrite it",
                               uuid_text(sb->uuid)));
    }
  }
  PINFS_ASSIGN_OR_RETURN(Geometry g, plan_geometry(media, options));
  std::random_device rd;
  for (int i = 0; i < 16; i += 4) {
    std::uint32_t r = rd();
    std::memcpy(g.uuid + i, &r, 4);
  }
  g.uuid[6] = static_cast<std::uint8_t>((g.uuid[6] & 0x0F) | 0x40);  // RFC 4122 version 4
  g.uuid[8] = static_cast<std::uint8_t>((g.uuid[8] & 0x3F) | 0x80);
  g.seed = uuid_seed(g.uuid);
  g.dir_hash_seed = rd();
  g.mkfs_time_sec = std::time(nullptr);

  // An old primary must not survive a crash half-way through.
  media.fill(0, 0, format::kSuperblockRegionBytes);
  media.persist(0, format::kSuperblockRegionBytes);

  Journal::format(media, g);
  // Inode bitmap: slot 0 (never an inode) and the root are in use.
  for (std::uint64_t c = 0; c < g.inode_bitmap_chunks; ++c) {
    std::vector<std::byte> payload(format::kChunkPayloadBytes);
    if (c == 0) payload[0] = std::byte{0x03};
    store_chunk(media, g, g.inode_bitmap_chunk_offset(c), format::kKindInodeBitmap, c, payload);
  }
  media.flush(g.inode_bitmap_offset, g.inode_bitmap_chunks * format::kChunkBytes);
  for (std::uint64_t c = 0; c < g.unit_table_chunks; ++c) {
    std::vector<std::byte> payload(format::kChunkPayloadBytes);
    for (std::uint64_t i = 0; i < kUnitsPerTableChunk; ++i) {
      std::uint64_t u = c * kUnitsPerTableChunk + i;
      if (u < g.first_data_unit) payload[i] = std::byte{format::kUnitMetadata};
    }
    store_chunk(media, g, g.unit_table_chunk_offset(c), format::kKindUnitTable, c, payload);
  }
  media.flush(g.unit_table_offset, g.unit_table_chunks * format::kChunkBytes);
  for (std::uint64_t c = 0; c < g.quarantine_chunks; ++c) {
    store_chunk(media, g, g.quarantine_chunk_offset(c), format::kKindQuarantine, c,
                std::vector<std::byte>(format::kChunkPayloadBytes));
  }
  media.flush(g.quarantine_offset, g.quarantine_chunks * format::kChunkBytes);
  for (std::uint64_t c = 0; c < g.pin_table_chunks; ++c) {
    store_chunk(media, g, g.pin_table_chunk_offset(c), format::kKindPinTable, c,
                std::vector<std::byte>(format::kChunkPayloadBytes));
  }
  media.flush(g.pin_table_offset, g.pin_table_chunks * format::kChunkBytes);
  format::Inode root{};
  root.kind = format::kKindInode;
  root.ino = kRootInode;
  root.generation = 1;
  root.mode = S_IFDIR | 0755;
  root.nlink = 2;
  root.parent = kRootInode;
  for (format::Time* t : {&root.atime, &root.mtime, &root.ctime, &root.btime}) t->sec = g.mkfs_time_sec;
  std::uint64_t root_offset = g.inode_offset(kRootInode);
  seal_record(std::as_writable_bytes(std::span(&root, 1)), format::kKindInode, root_offset, g.seed);
  media.store(root_offset, &root, sizeof root);
  media.flush(root_offset, sizeof root);
  media.drain();

  // The backup, then the primary: the primary's arrival is what makes the
  // new file system exist.
  format::Superblock sb{};
  geometry_to_superblock(g, sb);
  sb.state = format::kStateClean;
  format::Superblock backup = sb;
  seal_superblock(backup, format::kBackupSuperblockOffset);
  media.store(format::kBackupSuperblockOffset, &backup, sizeof backup);
  media.persist(format::kBackupSuperblockOffset, sizeof backup);
  seal_superblock(sb, format::kSuperblockOffset);
  media.store(format::kSuperblockOffset, &sb, sizeof sb);
  media.persist(format::kSuperblockOffset, sizeof sb);
  return ok_status();
}

}  // namespace pinfs::fs
