#include "fs/allocator.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cassert>

#include "fs/format.h"
#include "fs/le.h"

namespace pinfs::fs {

namespace {

constexpr std::size_t kBitsOffset = sizeof(format::BlockBitmapHeader);

bool test_bit(const std::byte* bits, std::uint64_t b) {
  return (std::to_integer<unsigned>(bits[b / 8]) >> (b % 8)) & 1u;
}
void set_bit(std::byte* bits, std::uint64_t b) { bits[b / 8] |= std::byte(1u << (b % 8)); }
void clear_bit(std::byte* bits, std::uint64_t b) {
  bits[b / 8] &= ~std::byte(1u << (b % 8));
}

// First clear bit in [from, nbits), or nbits.
std::uint64_t next_clear(const std::byte* bits, std::uint64_t nbits, std::uint64_t from) {
  std::uint64_t b = from;
  while (b < nbits) {
    if (b % 8 == 0 && bits[b / 8] == std::byte{0xFF}) {
      b += 8;
      continue;
    }
    if (!test_bit(bits, b)) return b;
    ++b;
  }
  return nbits;
}
// Length of the clear run at b, at most max.
std::uint64_t clear_run(const std::byte* bits, std::uint64_t nbits, std::uint64_t b,
                        std::uint64_t max) {
  std::uint64_t n = 0;
  while (b + n < nbits && n < max && !test_bit(bits, b + n)) ++n;
  return n;
}

RecordName unit_table_name(std::uint64_t chunk) {
  return RecordName("[unit-table chunk {}]", chunk);
}
RecordName bitmap_name(std::uint64_t unit) { return RecordName("[block-bitmap unit {}]", unit); }
RecordName quarantine_name(std::uint64_t chunk) {
  return RecordName("[quarantine chunk {}]", chunk);
}

}  // namespace

Status Allocator::load(const MetaView& view) {
  const std::uint64_t bpu = g_.blocks_per_unit();
  state_.assign(g_.unit_count, format::kUnitFree);
  free_.assign(g_.unit_count, 0);
  partial_.clear();
  free_units_ = small_free_ = 0;
  for (std::uint64_t c = 0; c < g_.unit_table_chunks; ++c) {
    PINFS_ASSIGN_OR_RETURN(auto chunk, view.read(g_.unit_table_chunk_offset(c), format::kChunkBytes,
                                                 format::kKindUnitTable, unit_table_name(c)));
    if (load_as<format::ChunkHeader>(chunk.data()).index.get() != c)
      return corrupt("mount", unit_table_name(c).str(), "chunk holds another chunk's index");
    for (std::uint64_t i = 0; i < kUnitsPerTableChunk; ++i) {
      std::uint64_t u = c * kUnitsPerTableChunk + i;
      if (u >= g_.unit_count) break;
      auto s = std::to_integer<std::uint8_t>(chunk[sizeof(format::ChunkHeader) + i]);
      bool meta = u < g_.first_data_unit;
      if (s > format::kUnitMetadata || meta != (s == format::kUnitMetadata))
        return corrupt("mount", fmt::format("[unit {}]", u),
                       fmt::format("unit table state {} is wrong for a {} unit", s,
                                   meta ? "metadata" : "data"));
      state_[u] = s;
      if (s == format::kUnitFree) ++free_units_;
    }
  }
  for (std::uint64_t u = g_.first_data_unit; u < g_.unit_count; ++u) {
    if (state_[u] != format::kUnitSmall) continue;
    PINFS_ASSIGN_OR_RETURN(auto rec, view.read(g_.bitmap_record_offset(u), g_.bitmap_record_bytes,
                                               format::kKindBlockBitmap, bitmap_name(u)));
    if (load_as<format::BlockBitmapHeader>(rec.data()).unit.get() != u)
      return corrupt("mount", bitmap_name(u).str(), "record holds another unit's number");
    std::uint64_t used = 0;
    for (std::uint64_t b = 0; b < bpu; ++b) used += test_bit(rec.data() + kBitsOffset, b);
    free_[u] = static_cast<std::uint32_t>(bpu - used);
    small_free_ += free_[u];
    if (free_[u] != 0) partial_.insert(u);
  }
  quarantine_.assign(g_.quarantine_capacity(), Quarantined{});
  quarantined_bytes_ = 0;
  for (std::uint64_t c = 0; c < g_.quarantine_chunks; ++c) {
    PINFS_ASSIGN_OR_RETURN(auto chunk,
                           view.read(g_.quarantine_chunk_offset(c), format::kChunkBytes,
                                     format::kKindQuarantine, quarantine_name(c)));
    if (load_as<format::ChunkHeader>(chunk.data()).index.get() != c)
      return corrupt("mount", quarantine_name(c).str(), "chunk holds another chunk's index");
    for (std::uint64_t i = 0; i < format::kQuarantinePerChunk; ++i) {
      auto e = load_as<format::QuarantineEntry>(chunk.data() + sizeof(format::ChunkHeader) +
                                                i * sizeof(format::QuarantineEntry));
      if ((e.flags & format::kQuarantineInUse) == 0) continue;
      std::uint64_t off = e.media_offset, len = e.length;
      if (off % g_.block_size != 0 || len % g_.block_size != 0 ||
          !g_.blocks_in_data_area(off / g_.block_size, len / g_.block_size))
        return corrupt("mount", quarantine_name(c).str(),
                       fmt::format("entry {} [{}, +{}) is not a block range of the data area",
                                   i, off, len));
      quarantine_[c * format::kQuarantinePerChunk + i] = {off, len, true};
      quarantined_bytes_ += len;
    }
  }
  cursor_ = g_.first_data_unit;
  return ok_status();
}

void Allocator::set_dram(std::uint64_t u, std::uint8_t state, std::uint32_t free) {
  if (state_[u] == format::kUnitFree) --free_units_;
  if (state_[u] == format::kUnitSmall) {
    small_free_ -= free_[u];
    partial_.erase(u);
  }
  state_[u] = state;
  free_[u] = state == format::kUnitSmall ? free : 0;
  if (state == format::kUnitFree) ++free_units_;
  if (state == format::kUnitSmall) {
    small_free_ += free;
    if (free != 0) partial_.insert(u);
  }
}

void Allocator::change_dram(Txn& txn, std::uint64_t u, std::uint8_t state, std::uint32_t free) {
  txn.on_abort([this, u, s = state_[u], f = free_[u]] { set_dram(u, s, f); });
  set_dram(u, state, free);
}

Status Allocator::stage_unit_state(MetaView& view, std::uint64_t u, std::uint8_t state) {
  std::uint64_t c = u / kUnitsPerTableChunk;
  PINFS_ASSIGN_OR_RETURN(auto chunk, view.modify(g_.unit_table_chunk_offset(c), format::kChunkBytes,
                                                 format::kKindUnitTable, unit_table_name(c)));
  chunk[sizeof(format::ChunkHeader) + u % kUnitsPerTableChunk] = std::byte{state};
  return ok_status();
}

Result<std::span<std::byte>> Allocator::bitmap_for_change(MetaView& view, std::uint64_t u) {
  PINFS_ASSIGN_OR_RETURN(auto rec, view.modify(g_.bitmap_record_offset(u), g_.bitmap_record_bytes,
                                               format::kKindBlockBitmap, bitmap_name(u)));
  if (load_as<format::BlockBitmapHeader>(rec.data()).unit.get() != u)
    return corrupt("allocate", bitmap_name(u).str(), "record holds another unit's number");
  return rec;
}

Status Allocator::make_small(MetaView& view, std::uint64_t u) {
  // The record is only meaningful while the unit is small: this txn writes it
  // whole, so whatever an earlier use left there does not matter.
  auto rec = view.create(g_.bitmap_record_offset(u), g_.bitmap_record_bytes,
                         format::kKindBlockBitmap);
  format::BlockBitmapHeader header{};
  header.kind = format::kKindBlockBitmap;
  header.unit = u;
  store_as(rec.data(), header);
  PINFS_TRY(stage_unit_state(view, u, format::kUnitSmall));
  change_dram(*view.txn(), u, format::kUnitSmall, static_cast<std::uint32_t>(g_.blocks_per_unit()));
  return ok_status();
}

Status Allocator::take_in_unit(MetaView& view, std::uint64_t u, std::uint64_t from,
                               std::uint64_t& remaining, bool contiguous,
                               std::vector<BlockRun>& runs) {
  const std::uint64_t bpu = g_.blocks_per_unit();
  if (state_[u] != format::kUnitSmall || free_[u] == 0) return ok_status();
  if (contiguous && free_[u] < remaining) return ok_status();
  PINFS_ASSIGN_OR_RETURN(auto rec, bitmap_for_change(view, u));
  std::byte* bits = rec.data() + kBitsOffset;
  std::uint32_t free = free_[u];
  // Two passes: from `from` to the end, then from the start.
  for (int pass = 0; pass < 2 && remaining > 0 && free > 0; ++pass) {
    std::uint64_t b = pass == 0 ? from : 0;
    std::uint64_t end = pass == 0 ? bpu : from;
    while (remaining > 0 && b < end) {
      b = next_clear(bits, end, b);
      if (b >= end) break;
      std::uint64_t len = clear_run(bits, end, b, remaining);
      if (contiguous && len < remaining) {
        b += len;
        continue;
      }
      for (std::uint64_t i = 0; i < len; ++i) set_bit(bits, b + i);
      std::uint64_t block = g_.first_block_of_unit(u) + b;
      if (!runs.empty() && runs.back().block + runs.back().count == block) {
        runs.back().count += len;
      } else {
        runs.push_back({block, len});
      }
      free -= static_cast<std::uint32_t>(len);
      remaining -= len;
      b += len;
    }
  }
  if (free != free_[u]) change_dram(*view.txn(), u, format::kUnitSmall, free);
  return ok_status();
}

Result<std::uint64_t> Allocator::find_free_unit(std::uint64_t near) const {
  if (free_units_ == 0) return Error(ENOSPC, "allocate", "[data area]", "no free unit");
  if (near >= g_.first_data_unit && near < g_.unit_count && state_[near] == format::kUnitFree)
    return near;
  std::uint64_t start = std::clamp(cursor_, g_.first_data_unit, g_.unit_count - 1);
  for (std::uint64_t u = start; u < g_.unit_count; ++u)
    if (state_[u] == format::kUnitFree) return u;
  for (std::uint64_t u = g_.first_data_unit; u < start; ++u)
    if (state_[u] == format::kUnitFree) return u;
  return Error(ENOSPC, "allocate", "[data area]", "no free unit");
}

Result<std::vector<BlockRun>> Allocator::allocate_blocks(MetaView& view, std::uint64_t count,
                                                         std::uint64_t goal_block,
                                                         bool contiguous, bool reserve_ok) {
  std::vector<BlockRun> runs;
  if (count == 0) return runs;
  const std::uint64_t bpu = g_.blocks_per_unit();
  assert((!contiguous || count <= bpu) && "contiguous allocation larger than a unit");
  std::uint64_t usable = reserve_ok ? free_blocks() : free_blocks() - std::min(free_blocks(), reserve_blocks());
  if (usable < count) {
    return Error(ENOSPC, "allocate", "[data area]",
                 fmt::format("{} blocks wanted, {} free", count, usable));
  }
  std::uint64_t remaining = count;
  std::uint64_t goal_unit = g_.first_data_unit;
  if (g_.blocks_in_data_area(goal_block, 1)) {
    goal_unit = g_.unit_of_block(goal_block);
    PINFS_TRY(take_in_unit(view, goal_unit, goal_block - g_.first_block_of_unit(goal_unit),
                           remaining, contiguous, runs));
  }
  // Other partly used small units, from the goal on.
  for (int pass = 0; pass < 2 && remaining > 0; ++pass) {
    auto it = pass == 0 ? partial_.lower_bound(goal_unit) : partial_.begin();
    while (remaining > 0 && it != partial_.end()) {
      std::uint64_t u = *it;
      if (pass == 1 && u >= goal_unit) break;
      PINFS_TRY(take_in_unit(view, u, 0, remaining, contiguous, runs));
      it = partial_.upper_bound(u);
    }
  }
  // Fresh units, next to the goal if possible.
  std::uint64_t near = goal_unit + 1;
  while (remaining > 0) {
    PINFS_ASSIGN_OR_RETURN(std::uint64_t u, find_free_unit(near));
    PINFS_TRY(make_small(view, u));
    PINFS_TRY(take_in_unit(view, u, 0, remaining, contiguous, runs));
    near = u + 1;
    cursor_ = u + 1;
  }
  (void)bpu;
  return runs;
}

Result<std::vector<BlockRun>> Allocator::allocate_units(MetaView& view, std::uint64_t units,
                                                        std::uint64_t goal_unit) {
  std::vector<BlockRun> runs;
  if (units == 0) return runs;
  if (free_units_ < units || free_blocks() < units * g_.blocks_per_unit() + reserve_blocks()) {
    return Error(ENOSPC, "allocate", "[data area]",
                 fmt::format("{} aligned units wanted, {} free", units, free_units_));
  }
  auto run_free_at = [&](std::uint64_t start) {
    if (start < g_.first_data_unit || start >= g_.unit_count || units > g_.unit_count - start)
      return false;
    for (std::uint64_t i = 0; i < units; ++i)
      if (state_[start + i] != format::kUnitFree) return false;
    return true;
  };
  std::uint64_t start = g_.unit_count;
  if (run_free_at(goal_unit)) {
    start = goal_unit;
  } else {
    // Next fit for a whole run.
    std::uint64_t from = std::clamp(cursor_, g_.first_data_unit, g_.unit_count - 1);
    for (int pass = 0; pass < 2 && start == g_.unit_count; ++pass) {
      std::uint64_t lo = pass == 0 ? from : g_.first_data_unit;
      std::uint64_t hi = pass == 0 ? g_.unit_count : from;
      std::uint64_t run = 0;
      for (std::uint64_t u = lo; u < hi; ++u) {
        run = state_[u] == format::kUnitFree ? run + 1 : 0;
        if (run == units) {
          start = u + 1 - units;
          break;
        }
      }
    }
  }
  std::vector<std::uint64_t> picked;
  if (start != g_.unit_count) {
    for (std::uint64_t i = 0; i < units; ++i) picked.push_back(start + i);
  } else {
    for (std::uint64_t u = g_.first_data_unit; u < g_.unit_count && picked.size() < units; ++u)
      if (state_[u] == format::kUnitFree) picked.push_back(u);
  }
  const std::uint64_t bpu = g_.blocks_per_unit();
  for (std::uint64_t u : picked) {
    PINFS_TRY(stage_unit_state(view, u, format::kUnitAligned));
    change_dram(*view.txn(), u, format::kUnitAligned, 0);
    std::uint64_t block = g_.first_block_of_unit(u);
    if (!runs.empty() && runs.back().block + runs.back().count == block) {
      runs.back().count += bpu;
    } else {
      runs.push_back({block, bpu});
    }
    cursor_ = u + 1;
  }
  return runs;
}

Status Allocator::free_now(MetaView& view, BlockRun run) {
  const std::uint64_t bpu = g_.blocks_per_unit();
  if (!g_.blocks_in_data_area(run.block, run.count))
    return corrupt("free", fmt::format("[block {}]", run.block),
                   fmt::format("run of {} blocks lies outside the data area", run.count));
  std::uint64_t b = run.block;
  std::uint64_t end = run.block + run.count;
  while (b < end) {
    std::uint64_t u = g_.unit_of_block(b);
    std::uint64_t first = g_.first_block_of_unit(u);
    std::uint64_t piece_end = std::min(end, first + bpu);
    std::uint64_t n = piece_end - b;
    switch (state_[u]) {
      case format::kUnitAligned:
        if (b != first || n != bpu)
          return corrupt("free", fmt::format("[block {}]", b),
                         fmt::format("frees {} blocks, part of aligned unit {}", n, u));
        PINFS_TRY(stage_unit_state(view, u, format::kUnitFree));
        change_dram(*view.txn(), u, format::kUnitFree, 0);
        break;
      case format::kUnitSmall: {
        PINFS_ASSIGN_OR_RETURN(auto rec, bitmap_for_change(view, u));
        std::byte* bits = rec.data() + kBitsOffset;
        for (std::uint64_t i = b - first; i < piece_end - first; ++i) {
          if (!test_bit(bits, i))
            return corrupt("free", fmt::format("[block {}]", first + i),
                           "block freed but not in use (a double free or a shared block)");
          clear_bit(bits, i);
        }
        std::uint64_t free = free_[u] + n;
        if (free == bpu) {
          PINFS_TRY(stage_unit_state(view, u, format::kUnitFree));
          change_dram(*view.txn(), u, format::kUnitFree, 0);
        } else {
          change_dram(*view.txn(), u, format::kUnitSmall, static_cast<std::uint32_t>(free));
        }
        break;
      }
      default:
        return corrupt("free", fmt::format("[block {}]", b),
                       fmt::format("block in unit {}, which is not allocated", u));
    }
    b = piece_end;
  }
  return ok_status();
}

Status Allocator::stage_quarantine(MetaView& view, std::size_t slot, const Quarantined& entry) {
  std::uint64_t c = slot / format::kQuarantinePerChunk;
  PINFS_ASSIGN_OR_RETURN(auto chunk,
                         view.modify(g_.quarantine_chunk_offset(c), format::kChunkBytes,
                                     format::kKindQuarantine, quarantine_name(c)));
  format::QuarantineEntry e{};
  e.media_offset = entry.media_offset;
  e.length = entry.length;
  e.flags = entry.in_use ? format::kQuarantineInUse : 0;
  store_as(chunk.data() + sizeof(format::ChunkHeader) +
               (slot % format::kQuarantinePerChunk) * sizeof(format::QuarantineEntry),
           e);
  Txn& txn = *view.txn();
  txn.on_abort([this, slot, old = quarantine_[slot]] {
    quarantined_bytes_ = quarantined_bytes_ - (quarantine_[slot].in_use ? quarantine_[slot].length : 0) +
                         (old.in_use ? old.length : 0);
    quarantine_[slot] = old;
  });
  quarantined_bytes_ = quarantined_bytes_ - (quarantine_[slot].in_use ? quarantine_[slot].length : 0) +
                       (entry.in_use ? entry.length : 0);
  quarantine_[slot] = entry;
  return ok_status();
}

Status Allocator::apply_frees(MetaView& view, const LayoutHooks* hooks) {
  std::vector<BlockRun> frees = std::move(view.txn()->pending_frees());
  view.txn()->pending_frees().clear();
  for (const BlockRun& run : frees) {
    std::uint64_t offset = run.block * g_.block_size;
    std::uint64_t length = run.count * g_.block_size;
    if (hooks != nullptr && hooks->is_pinned(offset, length)) {
      auto slot = std::find_if(quarantine_.begin(), quarantine_.end(),
                               [](const Quarantined& q) { return !q.in_use; });
      if (slot == quarantine_.end())
        return Error(ENOSPC, "quarantine", fmt::format("[{}, +{})", offset, length),
                     "the quarantine table is full; release pins first");
      PINFS_TRY(stage_quarantine(view, static_cast<std::size_t>(slot - quarantine_.begin()),
                                 {offset, length, true}));
    } else {
      PINFS_TRY(free_now(view, run));
    }
  }
  return ok_status();
}

Result<std::uint64_t> Allocator::release_quarantined(MetaView& view, std::uint64_t media_offset,
                                                     std::uint64_t length,
                                                     const LayoutHooks* hooks) {
  std::uint64_t released = 0;
  std::uint64_t end = length > UINT64_MAX - media_offset ? UINT64_MAX : media_offset + length;
  for (std::size_t slot = 0; slot < quarantine_.size(); ++slot) {
    Quarantined q = quarantine_[slot];
    if (!q.in_use || q.media_offset >= end || q.media_offset + q.length <= media_offset) continue;
    // The registry may release one range of an extent others still pin.
    if (hooks != nullptr && hooks->is_pinned(q.media_offset, q.length)) continue;
    PINFS_TRY(free_now(view, {q.media_offset / g_.block_size, q.length / g_.block_size}));
    PINFS_TRY(stage_quarantine(view, slot, Quarantined{}));
    released += q.length;
  }
  return released;
}

}  // namespace pinfs::fs
