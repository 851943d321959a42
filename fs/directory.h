// Directories: entry slots plus an on-media hash index (docs/format.md,
// "Directories").
//
// Entries live in fixed 272-byte slots of entry blocks (file blocks 0.. of
// the directory's extent map). A slot never moves, so its number is the
// readdir cookie: stable across inserts and removals of other entries. Free
// slots form a list through the inode's dir_free_head.
//
// The index is an open-addressing hash table (hash of the name -> slot) in
// index blocks at fork A or B of the extent map. It grows (and shrinks)
// copy-on-write: the new table is written into newly allocated blocks,
// persisted, and one transaction switches forks and frees the old blocks.
// Lookups, inserts and removals touch one index block and one entry block:
// no scan, whatever the size.
//
// Not thread-safe: callers hold the file system's lock.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "fs/allocator.h"
#include "fs/extent_map.h"
#include "fs/format.h"
#include "fs/geometry.h"
#include "fs/meta_io.h"
#include "pinfs/error.h"

namespace pinfs::fs {

struct DirFound {
  std::uint32_t slot = 0;
  InodeNumber ino = 0;
  std::uint8_t type = 0;  // DT_*
  std::uint64_t index_pos = 0;
};

class Directories {
 public:
  // media may be null for read-only use (check): then nothing is rebuilt.
  Directories(const Geometry& geometry, ExtentMaps& maps, Allocator* allocator, Media* media)
      : g_(geometry), maps_(maps), alloc_(allocator), media_(media) {}

  std::uint32_t hash(std::string_view name) const;
  std::uint32_t slots_per_block() const {
    return static_cast<std::uint32_t>((g_.block_size - sizeof(format::DirBlockHeader)) /
                                      sizeof(format::DirSlot));
  }
  std::uint64_t index_per_block() const {
    return (g_.block_size - sizeof(format::DirBlockHeader)) / sizeof(format::DirIndexEntry);
  }
  static std::uint64_t index_fork(const format::Inode& dir) {
    return (dir.flags & format::kInodeFlagIndexForkB) != 0 ? format::kDirIndexForkB
                                                           : format::kDirIndexForkA;
  }

  Result<std::optional<DirFound>> lookup(const MetaView& view, const format::Inode& dir,
                                         std::string_view name);
  // Adds an entry; the name must be absent (lookup first).
  Status insert(MetaView& view, format::Inode& dir, std::string_view name, InodeNumber ino,
                std::uint8_t type);
  Status remove(MetaView& view, format::Inode& dir, const DirFound& found);
  // Points an entry at another inode (rename over a target, exchange).
  Status retarget(MetaView& view, format::Inode& dir, const DirFound& found, InodeNumber ino,
                  std::uint8_t type);

  using Visitor = std::function<bool(std::uint32_t slot, std::string_view name, InodeNumber ino,
                                     std::uint8_t type)>;
  // Live entries from slot `from` on, in slot order, until visit returns false.
  Status list(const MetaView& view, const format::Inode& dir, std::uint32_t from,
              const Visitor& visit);

  // For check: every index position that is live, as (position, hash, slot).
  struct IndexEntry {
    std::uint64_t position;
    std::uint32_t hash;
    std::uint32_t slot;
  };
  Result<std::vector<IndexEntry>> index_entries(const MetaView& view, const format::Inode& dir);
  // Walks the free-slot list; errors if it is malformed (a live slot, a
  // cycle). Returns its length.
  Result<std::uint64_t> count_free_slots(const MetaView& view, const format::Inode& dir);
  // Why a live slot is malformed, or empty.
  std::string validate_slot(const format::DirSlot& slot) const;

 private:
  Result<Record> read_block(const MetaView& view, const format::Inode& dir,
                                            std::uint64_t file_block, std::uint32_t kind,
                                            std::uint64_t* media_block = nullptr);
  Result<std::span<std::byte>> modify_block(MetaView& view, const format::Inode& dir,
                                            std::uint64_t file_block, std::uint32_t kind);
  Result<format::DirSlot> read_slot(const MetaView& view, const format::Inode& dir,
                                    std::uint32_t slot);
  Status write_slot(MetaView& view, const format::Inode& dir, std::uint32_t slot,
                    const format::DirSlot& value);
  Status write_index(MetaView& view, const format::Inode& dir, std::uint64_t pos,
                     format::DirIndexEntry entry);
  Status rebuild_index(MetaView& view, format::Inode& dir, std::uint64_t want_entries);
  RecordName name(const format::Inode& dir, std::uint64_t file_block) const;

  const Geometry& g_;
  ExtentMaps& maps_;
  Allocator* alloc_;
  Media* media_;
};

}  // namespace pinfs::fs
