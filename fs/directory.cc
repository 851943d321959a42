#include "fs/directory.h"

#include <fmt/format.h>

#include <bit>
#include <cassert>
#include <cstring>

#include "fs/crc.h"
#include "fs/inode_table.h"
#include "fs/le.h"

namespace pinfs::fs {

namespace {

constexpr std::size_t kHeader = sizeof(format::DirBlockHeader);

std::uint32_t min_index_log2(std::uint64_t per_block) {
  return static_cast<std::uint32_t>(std::bit_width(per_block) - 1);
}

}  // namespace

std::uint32_t Directories::hash(std::string_view name) const {
  return crc32c(name.data(), name.size(), g_.dir_hash_seed);
}

RecordName Directories::name(const format::Inode& dir, std::uint64_t file_block) const {
  return RecordName("[directory {} file block {}]", dir.ino.get(), file_block);
}

std::string Directories::validate_slot(const format::DirSlot& slot) const {
  std::size_t len = slot.name_length;
  if (len == 0) return "live slot with an empty name";
  if (std::memchr(slot.name, '/', len) != nullptr || std::memchr(slot.name, '\0', len) != nullptr)
    return "name contains '/' or NUL";
  std::string_view n(slot.name, len);
  if (n == "." || n == "..") return "entry named '.' or '..'";
  if (hash(n) != slot.hash) return "stored hash does not match the name";
  switch (slot.type) {
    case 1: case 2: case 4: case 6: case 8: case 10: case 12:
      break;
    default:
      return fmt::format("unknown entry type {}", slot.type);
  }
  return {};
}

Result<Record> Directories::read_block(const MetaView& view,
                                                       const format::Inode& dir,
                                                       std::uint64_t file_block,
                                                       std::uint32_t kind,
                                                       std::uint64_t* media_block) {
  PINFS_ASSIGN_OR_RETURN(auto maps, maps_.find(view, dir, file_block, 1));
  if (maps.empty())
    return corrupt("read directory", name(dir, file_block).str(), "block is not mapped");
  std::uint64_t block = maps.front().media_block + (file_block - maps.front().file_block);
  if (media_block != nullptr) *media_block = block;
  PINFS_ASSIGN_OR_RETURN(auto bytes,
                         view.read(block * g_.block_size, g_.block_size, kind, name(dir, file_block)));
  auto header = load_as<format::DirBlockHeader>(bytes.data());
  if (header.owner.get() != dir.ino.get())
    return corrupt("read directory", name(dir, file_block).str(),
                   fmt::format("block belongs to inode {}", header.owner.get()));
  return bytes;
}

Result<std::span<std::byte>> Directories::modify_block(MetaView& view, const format::Inode& dir,
                                                       std::uint64_t file_block,
                                                       std::uint32_t kind) {
  PINFS_ASSIGN_OR_RETURN(auto maps, maps_.find(view, dir, file_block, 1));
  if (maps.empty())
    return corrupt("change directory", name(dir, file_block).str(), "block is not mapped");
  std::uint64_t block = maps.front().media_block + (file_block - maps.front().file_block);
  PINFS_ASSIGN_OR_RETURN(auto bytes, view.modify(block * g_.block_size, g_.block_size, kind,
                                                 name(dir, file_block)));
  if (load_as<format::DirBlockHeader>(bytes.data()).owner.get() != dir.ino.get())
    return corrupt("change directory", name(dir, file_block).str(), "block belongs to another inode");
  return bytes;
}

Result<format::DirSlot> Directories::read_slot(const MetaView& view, const format::Inode& dir,
                                               std::uint32_t slot) {
  if (slot >= dir.dir_slots)
    return corrupt("read directory", InodeTable::name(dir.ino),
                   fmt::format("slot {} beyond the {} slots", slot, dir.dir_slots.get()));
  std::uint32_t per = slots_per_block();
  PINFS_ASSIGN_OR_RETURN(auto bytes, read_block(view, dir, slot / per, format::kKindDirEntries));
  return load_as<format::DirSlot>(bytes.data() + kHeader + (slot % per) * sizeof(format::DirSlot));
}

Status Directories::write_slot(MetaView& view, const format::Inode& dir, std::uint32_t slot,
                               const format::DirSlot& value) {
  std::uint32_t per = slots_per_block();
  PINFS_ASSIGN_OR_RETURN(auto bytes, modify_block(view, dir, slot / per, format::kKindDirEntries));
  store_as(bytes.data() + kHeader + (slot % per) * sizeof(format::DirSlot), value);
  return ok_status();
}

Status Directories::write_index(MetaView& view, const format::Inode& dir, std::uint64_t pos,
                                format::DirIndexEntry entry) {
  std::uint64_t per = index_per_block();
  PINFS_ASSIGN_OR_RETURN(auto bytes, modify_block(view, dir, index_fork(dir) + pos / per,
                                                  format::kKindDirIndex));
  store_as(bytes.data() + kHeader + (pos % per) * sizeof(format::DirIndexEntry), entry);
  return ok_status();
}

Result<std::optional<DirFound>> Directories::lookup(const MetaView& view,
                                                    const format::Inode& dir,
                                                    std::string_view name_) {
  if (dir.dir_index_log2 == 0) return std::optional<DirFound>();
  std::uint64_t cap = 1ull << dir.dir_index_log2;
  std::uint64_t mask = cap - 1;
  std::uint64_t per = index_per_block();
  std::uint32_t h = hash(name_);
  std::uint64_t pos = h & mask;
  std::uint64_t cached = UINT64_MAX;
  Record block;
  // A probe passes only positions in use (live or tombstoned), then stops at
  // an empty one: more probes than that means a damaged index.
  const std::uint64_t max_probes = std::min<std::uint64_t>(cap, dir.dir_index_used + 1ull);
  for (std::uint64_t probe = 0; probe < max_probes; ++probe) {
    std::uint64_t fb = index_fork(dir) + pos / per;
    if (fb != cached) {
      PINFS_ASSIGN_OR_RETURN(block, read_block(view, dir, fb, format::kKindDirIndex));
      cached = fb;
    }
    auto e = load_as<format::DirIndexEntry>(block.data() + kHeader +
                                            (pos % per) * sizeof(format::DirIndexEntry));
    if (e.slot_plus1 == 0) break;
    if (e.slot_plus1 != format::kIndexTombstone && e.hash == h) {
      std::uint32_t slot = e.slot_plus1 - 1;
      PINFS_ASSIGN_OR_RETURN(format::DirSlot s, read_slot(view, dir, slot));
      if (s.ino == 0)
        return corrupt("lookup", InodeTable::name(dir.ino),
                       fmt::format("index position {} points to free slot {}", pos, slot));
      if (std::string why = validate_slot(s); !why.empty())
        return corrupt("lookup", InodeTable::name(dir.ino), fmt::format("slot {}: {}", slot, why));
      if (std::string_view(s.name, s.name_length) == name_)
        return std::optional<DirFound>(DirFound{slot, s.ino, s.type, pos});
    }
    pos = (pos + 1) & mask;
  }
  return std::optional<DirFound>();
}

Result<std::vector<Directories::IndexEntry>> Directories::index_entries(const MetaView& view,
                                                                        const format::Inode& dir) {
  std::vector<IndexEntry> out;
  if (dir.dir_index_log2 == 0) return out;
  std::uint64_t cap = 1ull << dir.dir_index_log2;
  std::uint64_t per = index_per_block();
  Record block;
  for (std::uint64_t pos = 0; pos < cap; ++pos) {
    if (pos % per == 0) {
      PINFS_ASSIGN_OR_RETURN(block, read_block(view, dir, index_fork(dir) + pos / per,
                                               format::kKindDirIndex));
    }
    auto e = load_as<format::DirIndexEntry>(block.data() + kHeader +
                                            (pos % per) * sizeof(format::DirIndexEntry));
    if (e.slot_plus1 != 0 && e.slot_plus1 != format::kIndexTombstone)
      out.push_back({pos, e.hash, e.slot_plus1 - 1});
  }
  return out;
}

Result<std::uint64_t> Directories::count_free_slots(const MetaView& view,
                                                    const format::Inode& dir) {
  std::uint64_t count = 0;
  std::uint32_t next = dir.dir_free_head;
  while (next != 0) {
    if (count >= dir.dir_slots || next > dir.dir_slots)
      return corrupt("read directory", InodeTable::name(dir.ino), "free-slot list loops or leaves the slots");
    PINFS_ASSIGN_OR_RETURN(format::DirSlot s, read_slot(view, dir, next - 1));
    if (s.ino != 0)
      return corrupt("read directory", InodeTable::name(dir.ino),
                     fmt::format("free-slot list reaches live slot {}", next - 1));
    ++count;
    next = s.hash;
  }
  return count;
}

Status Directories::rebuild_index(MetaView& view, format::Inode& dir, std::uint64_t want) {
  assert(alloc_ != nullptr && media_ != nullptr);
  const std::uint64_t per = index_per_block();
  std::uint32_t log2 = min_index_log2(per);
  while ((1ull << log2) < want * 2) ++log2;
  if (log2 > format::kMaxIndexLog2)
    return Error(ENOSPC, "grow directory index", InodeTable::name(dir.ino), "index at its limit");
  const std::uint64_t cap = 1ull << log2;
  const std::uint64_t nblocks = (cap + per - 1) / per;
  PINFS_ASSIGN_OR_RETURN(auto live, index_entries(view, dir));
  if (live.size() != dir.dir_entries)
    return corrupt("grow directory index", InodeTable::name(dir.ino),
                   fmt::format("index holds {} entries, the directory {}", live.size(),
                               dir.dir_entries.get()));
  std::vector<std::byte> table(nblocks * g_.block_size);
  for (std::uint64_t b = 0; b < nblocks; ++b) {
    format::DirBlockHeader header{};
    header.kind = format::kKindDirIndex;
    header.owner = dir.ino;
    store_as(table.data() + b * g_.block_size, header);
  }
  auto entry_at = [&](std::uint64_t pos) {
    return table.data() + (pos / per) * g_.block_size + kHeader +
           (pos % per) * sizeof(format::DirIndexEntry);
  };
  for (const IndexEntry& e : live) {
    std::uint64_t pos = e.hash & (cap - 1);
    while (load_as<format::DirIndexEntry>(entry_at(pos)).slot_plus1 != 0) pos = (pos + 1) & (cap - 1);
    format::DirIndexEntry ne{};
    ne.hash = e.hash;
    ne.slot_plus1 = e.slot + 1;
    store_as(entry_at(pos), ne);
  }
  // Write the new table into new blocks and persist it before the txn that
  // switches to it (journal.h: such blocks are free until it commits).
  PINFS_ASSIGN_OR_RETURN(auto runs, alloc_->allocate_blocks(view, nblocks, 0, false));
  std::uint64_t b = 0;
  for (const BlockRun& run : runs) {
    for (std::uint64_t k = 0; k < run.count; ++k, ++b) {
      std::span<std::byte> blk(table.data() + b * g_.block_size, g_.block_size);
      seal_record(blk, format::kKindDirIndex, (run.block + k) * g_.block_size, g_.seed);
    }
    std::uint64_t first = b - run.count;
    media_->store(run.block * g_.block_size, table.data() + first * g_.block_size,
                  run.count * g_.block_size);
    media_->flush(run.block * g_.block_size, run.count * g_.block_size);
  }
  media_->drain();
  std::uint64_t old_fork = index_fork(dir);
  if (dir.dir_index_log2 != 0) {
    PINFS_ASSIGN_OR_RETURN(auto removed, maps_.remove(view, dir, old_fork, format::kDirIndexForkA));
    for (const Mapping& m : removed) Allocator::free_later(*view.txn(), {m.media_block, m.count});
  }
  dir.flags = dir.flags ^ format::kInodeFlagIndexForkB;
  std::uint64_t new_fork = index_fork(dir);
  b = 0;
  for (const BlockRun& run : runs) {
    PINFS_TRY(maps_.insert(view, dir, {new_fork + b, run.block, run.count}));
    b += run.count;
  }
  dir.dir_index_log2 = log2;
  dir.dir_index_used = static_cast<std::uint32_t>(live.size());
  return ok_status();
}

Status Directories::insert(MetaView& view, format::Inode& dir, std::string_view name_,
                           InodeNumber ino, std::uint8_t type) {
  assert(alloc_ != nullptr);
  std::uint64_t cap = dir.dir_index_log2 == 0 ? 0 : 1ull << dir.dir_index_log2;
  if (cap == 0 || (dir.dir_index_used + 1ull) * 4 > cap * 3)
    PINFS_TRY(rebuild_index(view, dir, dir.dir_entries + 1ull));
  // A slot: the free list first, else a new one at the end.
  std::uint32_t slot;
  if (dir.dir_free_head != 0) {
    slot = dir.dir_free_head - 1;
    PINFS_ASSIGN_OR_RETURN(format::DirSlot s, read_slot(view, dir, slot));
    if (s.ino != 0 || s.hash > dir.dir_slots)
      return corrupt("insert entry", InodeTable::name(dir.ino),
                     fmt::format("free list reaches slot {}, which is not free", slot));
    dir.dir_free_head = s.hash;
  } else {
    slot = dir.dir_slots;
    if (slot >= format::kDirMaxSlots)
      return Error(ENOSPC, "insert entry", InodeTable::name(dir.ino), "directory is full");
    std::uint32_t per = slots_per_block();
    if (slot % per == 0) {
      std::uint64_t fb = slot / per;
      std::uint64_t goal = 0;
      if (fb > 0) {
        PINFS_ASSIGN_OR_RETURN(auto prev, maps_.find(view, dir, fb - 1, 1));
        if (!prev.empty()) goal = prev.front().media_block + (fb - 1 - prev.front().file_block) + 1;
      }
      PINFS_ASSIGN_OR_RETURN(auto runs, alloc_->allocate_blocks(view, 1, goal, true));
      std::uint64_t block = runs.front().block;
      auto bytes = view.create(block * g_.block_size, g_.block_size, format::kKindDirEntries);
      format::DirBlockHeader header{};
      header.kind = format::kKindDirEntries;
      header.owner = dir.ino;
      store_as(bytes.data(), header);
      PINFS_TRY(maps_.insert(view, dir, {fb, block, 1}));
      dir.size = (fb + 1) * g_.block_size;
    }
    dir.dir_slots = slot + 1;
  }
  format::DirSlot s{};
  s.ino = ino;
  s.hash = hash(name_);
  s.name_length = static_cast<std::uint8_t>(name_.size());
  s.type = type;
  std::memcpy(s.name, name_.data(), name_.size());
  PINFS_TRY(write_slot(view, dir, slot, s));
  // The index: the first tombstone or empty position of the probe sequence.
  cap = 1ull << dir.dir_index_log2;
  std::uint64_t per = index_per_block();
  std::uint64_t pos = s.hash & (cap - 1);
  std::uint64_t cached = UINT64_MAX;
  Record block;
  for (std::uint64_t probe = 0;; ++probe) {
    if (probe == std::min<std::uint64_t>(cap, dir.dir_index_used + 1ull))
      return corrupt("insert entry", InodeTable::name(dir.ino), "index has no empty position");
    std::uint64_t fb = index_fork(dir) + pos / per;
    if (fb != cached) {
      PINFS_ASSIGN_OR_RETURN(block, read_block(view, dir, fb, format::kKindDirIndex));
      cached = fb;
    }
    auto e = load_as<format::DirIndexEntry>(block.data() + kHeader +
                                            (pos % per) * sizeof(format::DirIndexEntry));
    if (e.slot_plus1 == 0 || e.slot_plus1 == format::kIndexTombstone) {
      if (e.slot_plus1 == 0) dir.dir_index_used = dir.dir_index_used + 1;
      break;
    }
    pos = (pos + 1) & (cap - 1);
  }
  format::DirIndexEntry ne{};
  ne.hash = s.hash;
  ne.slot_plus1 = slot + 1;
  PINFS_TRY(write_index(view, dir, pos, ne));
  dir.dir_entries = dir.dir_entries + 1;
  return ok_status();
}

Status Directories::remove(MetaView& view, format::Inode& dir, const DirFound& found) {
  format::DirSlot s{};
  s.ino = 0;
  s.hash = dir.dir_free_head;
  PINFS_TRY(write_slot(view, dir, found.slot, s));
  dir.dir_free_head = found.slot + 1;
  format::DirIndexEntry tomb{};
  tomb.hash = 0;
  tomb.slot_plus1 = format::kIndexTombstone;
  PINFS_TRY(write_index(view, dir, found.index_pos, tomb));
  dir.dir_entries = dir.dir_entries - 1;
  // Shrink a table that emptied out, so lookups stay within few blocks.
  // Shrink a table that emptied out, so lookups stay within few blocks; on a
  // file system too full for the new table, keep the old one: removing must
  // never fail for want of space.
  std::uint64_t cap = 1ull << dir.dir_index_log2;
  std::uint64_t new_blocks = (2ull * dir.dir_entries * 2 + index_per_block()) / index_per_block() + 1;
  if (dir.dir_index_log2 > min_index_log2(index_per_block()) && dir.dir_entries * 8ull < cap &&
      alloc_->free_blocks() > new_blocks + alloc_->reserve_blocks())
    PINFS_TRY(rebuild_index(view, dir, dir.dir_entries));
  return ok_status();
}

Status Directories::retarget(MetaView& view, format::Inode& dir, const DirFound& found,
                             InodeNumber ino, std::uint8_t type) {
  PINFS_ASSIGN_OR_RETURN(format::DirSlot s, read_slot(view, dir, found.slot));
  s.ino = ino;
  s.type = type;
  return write_slot(view, dir, found.slot, s);
}

Status Directories::list(const MetaView& view, const format::Inode& dir, std::uint32_t from,
                         const Visitor& visit) {
  std::uint32_t per = slots_per_block();
  Record block;
  std::uint64_t cached = UINT64_MAX;
  for (std::uint32_t slot = from; slot < dir.dir_slots; ++slot) {
    std::uint64_t fb = slot / per;
    if (fb != cached) {
      PINFS_ASSIGN_OR_RETURN(block, read_block(view, dir, fb, format::kKindDirEntries));
      cached = fb;
    }
    auto s = load_as<format::DirSlot>(block.data() + kHeader + (slot % per) * sizeof(format::DirSlot));
    if (s.ino == 0) continue;
    if (std::string why = validate_slot(s); !why.empty())
      return corrupt("read directory", InodeTable::name(dir.ino), fmt::format("slot {}: {}", slot, why));
    if (!visit(slot, std::string_view(s.name, s.name_length), s.ino, s.type)) break;
  }
  return ok_status();
}

}  // namespace pinfs::fs
