// ExtentMaps: each inode's map from file blocks to media blocks
// (docs/format.md, "Extent maps").
//
// On the media a map is two inline ExtentRecords in the inode plus a chain of
// extent blocks; records are unordered slots (block_count 0 = empty slot), so
// an update rewrites one 24-byte record and its block's CRC. In DRAM each
// inode's map is cached as a sorted std::map, loaded (and verified) on first
// use. The media stays the truth: an aborted txn drops the caches it touched.
//
// Every method takes the inode record by reference where it may change it
// (inline records, chain head, counts); the caller stages the inode after.
//
// Thread safety: mutex_ guards the caches, and every method holds it for its
// whole run, so no cache pointer escapes; callers also hold the file
// system's lock (shared for find, exclusive for the changing methods).
// Lock order: the file-system lock, then mutex_.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "fs/allocator.h"
#include "fs/filesystem.h"
#include "fs/format.h"
#include "fs/geometry.h"
#include "fs/meta_io.h"
#include "pinfs/error.h"

namespace pinfs::fs {

struct Mapping {
  std::uint64_t file_block = 0;
  std::uint64_t media_block = 0;
  std::uint64_t count = 0;
  std::uint64_t file_end() const { return file_block + count; }
};

// File blocks beyond this are never mapped (directory forks sit below it).
inline constexpr std::uint64_t kMaxFileBlocks = 1ull << 40;

class ExtentMaps {
 public:
  ExtentMaps(const Geometry& geometry, Allocator& allocator) : g_(geometry), alloc_(allocator) {}

  // The extents overlapping file blocks [first, first + count), sorted, whole
  // (not clipped). count may be UINT64_MAX.
  Result<std::vector<Mapping>> find(const MetaView& view, const format::Inode& inode,
                                    std::uint64_t first, std::uint64_t count);
  // Maps a hole (the range must not be mapped), merging with neighbours.
  Status insert(MetaView& view, format::Inode& inode, Mapping mapping);
  // Unmaps [first, first + count); returns what was unmapped. The caller
  // frees it (Allocator::free_later). Empty chain blocks at the tail are
  // freed here.
  Result<std::vector<Mapping>> remove(MetaView& view, format::Inode& inode, std::uint64_t first,
                                      std::uint64_t count);
  // Splits the extent that strictly contains `block`, so that none does.
  Status split_at(MetaView& view, format::Inode& inode, std::uint64_t block);
  // Moves every extent at or after `from` by delta blocks. No extent may
  // straddle `from` (split_at first); a negative delta must not reach below
  // the extents before `from`.
  Status shift(MetaView& view, format::Inode& inode, std::uint64_t from, std::int64_t delta);
  // The chain's blocks, in chain order.
  Result<std::vector<std::uint64_t>> chain(const MetaView& view, const format::Inode& inode);

  void forget(InodeNumber ino);
  void forget_all();

  std::uint64_t records_per_block() const {
    return (g_.block_size - sizeof(format::ExtentBlockHeader)) / sizeof(format::ExtentRecord);
  }

 private:
  static constexpr std::uint32_t kInline = 0xFFFFFFFFu;
  struct Loc {
    std::uint32_t block_index = kInline;  // index into Cache::chain, or kInline
    std::uint32_t slot = 0;
  };
  struct Entry {
    std::uint64_t media_block = 0;
    std::uint64_t count = 0;
    Loc loc;
  };
  struct Cache {
    std::map<std::uint64_t, Entry> map;  // by file block
    std::vector<std::uint64_t> chain;
    std::vector<std::uint32_t> used;     // used slots per chain block
    std::uint32_t inline_used = 0;       // bit i: inline slot i
  };

  Result<Cache*> cache(const MetaView& view, const format::Inode& inode);
  Result<std::unique_ptr<Cache>> load(const MetaView& view, const format::Inode& inode);
  Status put(MetaView& view, format::Inode& inode, Cache& c, Loc loc, std::uint64_t file_block,
             const Entry& e);
  Status clear(MetaView& view, format::Inode& inode, Cache& c, Loc loc);
  Result<Loc> free_slot(MetaView& view, format::Inode& inode, Cache& c);
  Status add_entry(MetaView& view, format::Inode& inode, Cache& c, std::uint64_t file_block,
                   std::uint64_t media_block, std::uint64_t count);
  Status trim_chain(MetaView& view, format::Inode& inode, Cache& c);
  RecordName block_name(InodeNumber ino, std::uint64_t block) const;

  const Geometry& g_;
  Allocator& alloc_;
  std::mutex mutex_;
  std::unordered_map<InodeNumber, std::unique_ptr<Cache>> caches_;  // guarded by mutex_
};

}  // namespace pinfs::fs
