// Allocator: the two granularities of DESIGN.md §3 (docs/format.md,
// "Allocation").
//
// The data area is a grid of aligned units (unit-aligned in media offset, so
// a client can mmap a devdax fd at a unit's offset). The unit table holds one
// state byte per unit: free, small (carved into blocks, tracked by that
// unit's block-bitmap record), aligned (wholly owned by one file, or by the
// quarantine) or metadata (the fixed regions). A small unit whose last block
// is freed becomes free again, so units flow between the two uses.
//
// DRAM mirrors the staged state: every change registers its undo on the
// txn. Frees wait in the txn's pending list until apply_frees(), the last
// step before commit: a txn never reuses what it frees, and pinned extents
// (LayoutHooks::is_pinned) go to the on-media quarantine instead.
//
// Not thread-safe: the file system's exclusive lock guards every call that
// changes state; the const queries run under its shared lock.
#pragma once

#include <cstdint>
#include <set>
#include <vector>

#include "fs/filesystem.h"
#include "fs/geometry.h"
#include "fs/meta_io.h"
#include "pinfs/error.h"

namespace pinfs::fs {

class Allocator {
 public:
  explicit Allocator(const Geometry& geometry) : g_(geometry) {}

  // Mount: reads and verifies the unit table, the block bitmaps of the small
  // units and the quarantine.
  Status load(const MetaView& view);

  // Small blocks, preferably starting at goal_block (the block after the
  // file's previous extent), in as few runs as the free space allows; with
  // contiguous, one run (count <= blocks per unit) or ENOSPC.
  // A few blocks are held back for what frees space (an extent block that a
  // hole punch needs to split an extent), so that a full file system can
  // always be emptied again: only reserve_ok allocations may take them.
  Result<std::vector<BlockRun>> allocate_blocks(MetaView& view, std::uint64_t count,
                                                std::uint64_t goal_block, bool contiguous,
                                                bool reserve_ok = false);
  std::uint64_t reserve_blocks() const {
    return std::min<std::uint64_t>(64, g_.data_blocks() / 16);
  }
  // Whole aligned units, preferably one run starting at goal_unit.
  Result<std::vector<BlockRun>> allocate_units(MetaView& view, std::uint64_t units,
                                               std::uint64_t goal_unit);
  // Freed when the txn commits (after apply_frees).
  static void free_later(Txn& txn, BlockRun run) {
    if (run.count != 0) txn.pending_frees().push_back(run);
  }
  // Stages the txn's pending frees: pinned runs to the quarantine.
  Status apply_frees(MetaView& view, const LayoutHooks* hooks);
  // Frees the quarantine entries overlapping the range whose extents the
  // hooks no longer report pinned. Returns the bytes freed.
  Result<std::uint64_t> release_quarantined(MetaView& view, std::uint64_t media_offset,
                                            std::uint64_t length, const LayoutHooks* hooks);

  std::uint8_t unit_state(std::uint64_t unit) const {
    return unit < state_.size() ? state_[unit] : 0xFF;
  }
  std::uint64_t free_blocks() const {
    return free_units_ * g_.blocks_per_unit() + small_free_;
  }
  std::uint64_t free_units() const { return free_units_; }
  std::uint64_t quarantined_bytes() const { return quarantined_bytes_; }

  struct Quarantined {
    std::uint64_t media_offset = 0;
    std::uint64_t length = 0;
    bool in_use = false;
  };
  const std::vector<Quarantined>& quarantine() const { return quarantine_; }

 private:
  Result<std::span<std::byte>> bitmap_for_change(MetaView& view, std::uint64_t unit);
  Status stage_unit_state(MetaView& view, std::uint64_t unit, std::uint8_t state);
  void set_dram(std::uint64_t unit, std::uint8_t state, std::uint32_t free);
  void change_dram(Txn& txn, std::uint64_t unit, std::uint8_t state, std::uint32_t free);
  // Takes free blocks of a small unit from `from` on (wrapping once).
  Status take_in_unit(MetaView& view, std::uint64_t unit, std::uint64_t from,
                      std::uint64_t& remaining, bool contiguous, std::vector<BlockRun>& runs);
  Status make_small(MetaView& view, std::uint64_t unit);
  Result<std::uint64_t> find_free_unit(std::uint64_t near) const;
  Status free_now(MetaView& view, BlockRun run);
  Status stage_quarantine(MetaView& view, std::size_t slot, const Quarantined& entry);

  const Geometry& g_;
  std::vector<std::uint8_t> state_;  // per unit, as staged
  std::vector<std::uint32_t> free_;  // free blocks of each small unit
  std::set<std::uint64_t> partial_;  // small units with a free block
  std::uint64_t free_units_ = 0;
  std::uint64_t small_free_ = 0;
  std::uint64_t cursor_ = 0;  // next-fit start for unit searches
  std::vector<Quarantined> quarantine_;  // by slot
  std::uint64_t quarantined_bytes_ = 0;
};

}  // namespace pinfs::fs
