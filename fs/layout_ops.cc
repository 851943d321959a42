// Layout operations: fallocate, make_mappable, extents, the quarantine.
#include <fmt/format.h>
#include <linux/falloc.h>
#include <sys/stat.h>

#include <algorithm>
#include <mutex>

#include "fs/le.h"
#include "fs/pmem_filesystem.h"

namespace pinfs::fs {

namespace {

std::uint64_t div_up(std::uint64_t v, std::uint64_t d) { return v / d + (v % d != 0); }

}  // namespace

Result<std::pair<std::uint64_t, std::uint64_t>> PmemFileSystem::removable_blocks(
    Op& op, const format::Inode& inode, std::uint64_t begin, std::uint64_t end) {
  const std::uint64_t bs = geo_.block_size;
  const std::uint64_t bpu = geo_.blocks_per_unit();
  std::uint64_t first = div_up(begin, bs);
  std::uint64_t last = end / bs;
  if (first < last && first % bpu != 0) {
    PINFS_ASSIGN_OR_RETURN(bool aligned, unit_is_aligned(op, inode, first / bpu));
    if (aligned) first = (first / bpu + 1) * bpu;
  }
  if (first < last && last % bpu != 0) {
    PINFS_ASSIGN_OR_RETURN(bool aligned, unit_is_aligned(op, inode, last / bpu));
    if (aligned) last = last / bpu * bpu;
  }
  if (first > last) first = last;
  return std::pair{first, last};
}

Status PmemFileSystem::fallocate(InodeNumber ino, int mode, std::uint64_t offset,
                                 std::uint64_t length, const Caller& caller) {
  const std::string object = fmt::format("[inode {} [{}, +{})]", ino, offset, length);
  const bool keep_size = (mode & FALLOC_FL_KEEP_SIZE) != 0;
  const int op_mode = mode & ~FALLOC_FL_KEEP_SIZE;
  std::optional<LayoutChangeKind> kind;
  switch (op_mode) {
    case 0:
    case FALLOC_FL_ZERO_RANGE:
      break;
    case FALLOC_FL_PUNCH_HOLE:
      if (!keep_size)
        return Error(EOPNOTSUPP, "fallocate", object, "PUNCH_HOLE needs KEEP_SIZE");
      kind = LayoutChangeKind::punch_hole;
      break;
    case FALLOC_FL_COLLAPSE_RANGE:
      if (keep_size) return Error(EINVAL, "fallocate", object, "COLLAPSE_RANGE takes no other flag");
      kind = LayoutChangeKind::collapse_range;
      break;
    case FALLOC_FL_INSERT_RANGE:
      if (keep_size) return Error(EINVAL, "fallocate", object, "INSERT_RANGE takes no other flag");
      kind = LayoutChangeKind::insert_range;
      break;
    default:
      return Error(EOPNOTSUPP, "fallocate", object, fmt::format("mode {:#x}", mode));
  }
  if (length == 0) return Error(EINVAL, "fallocate", object, "zero length");
  if (offset > kMaxFileBytes || length > kMaxFileBytes - offset)
    return Error(EFBIG, "fallocate", object, "beyond the largest file");
  const std::uint64_t end = offset + length;
  const std::uint64_t bs = geo_.block_size;

  // Type and alignment rules first, so that a refused call asks no hooks.
  {
    std::shared_lock lock(mutex_);
    auto n = inodes_.read(read_view(), ino);
    if (!n.ok()) return note(std::move(n).error());
    if ((n->mode & S_IFMT) == S_IFDIR) return Error(EISDIR, "fallocate", object);
    if ((n->mode & S_IFMT) != S_IFREG) return Error(ENODEV, "fallocate", object, "not a regular file");
  }
  LayoutScope scope(hooks_.load());
  if (kind) PINFS_TRY(scope.begin({*kind, ino, offset, length, caller}));
  std::unique_lock lock(mutex_);
  PINFS_TRY(writable("fallocate", ino));
  Op op(*this);
  auto body = [&]() -> Status {
    PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.read(op.view, ino));
    if ((n.mode & S_IFMT) != S_IFREG) return Error(ENODEV, "fallocate", object, "not a regular file");
    Timespec t = now();
    switch (op_mode) {
      case 0:
        if (!keep_size) PINFS_TRY(zero_exposed(op, n, end));
        PINFS_TRY(allocate_range(op, n, offset / bs, div_up(end, bs), 0, 0));
        media_->drain();
        if (!keep_size && end > n.size) {
          n.size = end;
          set_time(n.mtime, t);
        }
        break;
      case FALLOC_FL_ZERO_RANGE:
        // Not a layout change: allocated blocks are zeroed in place, holes
        // get new (zeroed) blocks.
        if (!keep_size) PINFS_TRY(zero_exposed(op, n, offset));
        PINFS_TRY(zero_mapped(op, n, offset, end));
        PINFS_TRY(allocate_range(op, n, offset / bs, div_up(end, bs), 0, 0));
        media_->drain();
        if (!keep_size && end > n.size) n.size = end;
        set_time(n.mtime, t);
        break;
      case FALLOC_FL_PUNCH_HOLE: {
        PINFS_ASSIGN_OR_RETURN(auto range, removable_blocks(op, n, offset, end));
        auto [first, last] = range;
        PINFS_TRY(zero_mapped(op, n, offset, std::min(end, first * bs)));
        PINFS_TRY(zero_mapped(op, n, std::max(offset, last * bs), end));
        media_->drain();
        PINFS_TRY(unmap_range(op, n, first, last));
        set_time(n.mtime, t);
        break;
      }
      case FALLOC_FL_COLLAPSE_RANGE:
      case FALLOC_FL_INSERT_RANGE: {
        PINFS_ASSIGN_OR_RETURN(bool aligned, has_aligned_units(op, n));
        std::uint64_t granule = aligned ? geo_.unit_bytes : bs;
        if (offset % granule != 0 || length % granule != 0)
          return Error(EINVAL, "fallocate", object,
                       fmt::format("offset and length must be multiples of {} bytes{}", granule,
                                   aligned ? " (the file has aligned units)" : ""));
        if (op_mode == FALLOC_FL_COLLAPSE_RANGE) {
          if (end >= n.size)
            return Error(EINVAL, "fallocate", object, "collapse reaches the end of the file");
          PINFS_TRY(unmap_range(op, n, offset / bs, end / bs));
          PINFS_TRY(maps_.shift(op.view, n, end / bs, -static_cast<std::int64_t>(length / bs)));
          n.size = n.size - length;
        } else {
          if (offset >= n.size)
            return Error(EINVAL, "fallocate", object, "insert at or past the end of the file");
          if (length > kMaxFileBytes - n.size)
            return Error(EFBIG, "fallocate", object, "the file would grow past the largest file");
          PINFS_TRY(maps_.split_at(op.view, n, offset / bs));
          PINFS_TRY(maps_.shift(op.view, n, offset / bs, static_cast<std::int64_t>(length / bs)));
          n.size = n.size + length;
        }
        set_time(n.mtime, t);
        break;
      }
    }
    set_time(n.ctime, t);
    inodes_.write(op.view, n);
    return commit(op);
  };
  Status s = body();
  if (!s.ok()) return note(std::move(s).error());
  return ok_status();
}

Status PmemFileSystem::make_mappable(InodeNumber ino, const Caller& caller) {
  {
    std::shared_lock lock(mutex_);
    auto n = inodes_.read(read_view(), ino);
    if (!n.ok()) return note(std::move(n).error());
    if ((n->mode & S_IFMT) == S_IFDIR) return Error(EISDIR, "make mappable", InodeTable::name(ino));
    if ((n->mode & S_IFMT) != S_IFREG)
      return Error(EINVAL, "make mappable", InodeTable::name(ino), "not a regular file");
  }
  LayoutScope scope(hooks_.load());
  PINFS_TRY(scope.begin({LayoutChangeKind::make_mappable, ino, 0, kToEnd, caller}));
  std::unique_lock lock(mutex_);
  PINFS_TRY(writable("make mappable", ino));
  Op op(*this);
  auto body = [&]() -> Status {
    PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.read(op.view, ino));
    const std::uint64_t bs = geo_.block_size;
    const std::uint64_t bpu = geo_.blocks_per_unit();
    PINFS_ASSIGN_OR_RETURN(auto all, maps_.find(op.view, n, 0, UINT64_MAX));
    // File units holding small blocks, each to move into a new unit.
    std::vector<std::uint64_t> units;
    for (const Mapping& m : all) {
      if (alloc_.unit_state(geo_.unit_of_block(m.media_block)) == format::kUnitAligned) continue;
      for (std::uint64_t k = m.file_block / bpu; k * bpu < m.file_end(); ++k)
        if (units.empty() || units.back() != k) units.push_back(k);
    }
    std::uint64_t goal = 0;
    for (std::uint64_t k : units) {
      if (goal == 0 && k > 0) {
        PINFS_ASSIGN_OR_RETURN(auto prev, maps_.find(op.view, n, k * bpu - 1, 1));
        if (!prev.empty()) goal = geo_.unit_of_block(prev.front().media_block) + 1;
      }
      PINFS_ASSIGN_OR_RETURN(auto runs, alloc_.allocate_units(op.view, 1, goal));
      const std::uint64_t unit_block = runs.front().block;
      goal = geo_.unit_of_block(unit_block) + 1;
      // Copy into the new unit (holes and the tail stay zero), persisted
      // before the txn that switches the map.
      media_->fill(unit_block * bs, 0, geo_.unit_bytes);
      PINFS_ASSIGN_OR_RETURN(auto in_unit, maps_.find(op.view, n, k * bpu, bpu));
      for (const Mapping& m : in_unit) {
        std::uint64_t s = std::max(m.file_block, k * bpu);
        std::uint64_t e = std::min(m.file_end(), (k + 1) * bpu);
        media_->store((unit_block + (s - k * bpu)) * bs,
                      media_->data() + (m.media_block + (s - m.file_block)) * bs, (e - s) * bs);
      }
      media_->flush(unit_block * bs, geo_.unit_bytes);
      PINFS_TRY(unmap_range(op, n, k * bpu, (k + 1) * bpu));
      PINFS_TRY(maps_.insert(op.view, n, {k * bpu, unit_block, bpu}));
    }
    media_->drain();
    n.flags = n.flags | format::kInodeFlagAligned;
    set_time(n.ctime, now());
    inodes_.write(op.view, n);
    return commit(op);
  };
  Status s = body();
  if (!s.ok()) return note(std::move(s).error());
  return ok_status();
}

Result<std::vector<Extent>> PmemFileSystem::extents(InodeNumber ino, std::uint64_t offset,
                                                    std::uint64_t length) {
  std::shared_lock lock(mutex_);
  MetaView view = read_view();
  auto n = inodes_.read(view, ino);
  if (!n.ok()) return note(std::move(n).error());
  const std::uint64_t bs = geo_.block_size;
  std::uint64_t end = length > UINT64_MAX - offset ? UINT64_MAX : offset + length;
  std::uint64_t first = offset / bs;
  std::uint64_t count = end == UINT64_MAX ? UINT64_MAX : div_up(end, bs) - first;
  // Directory forks are not file data.
  auto maps = maps_.find(view, *n, first, count);
  if (!maps.ok()) return note(std::move(maps).error());
  std::vector<Extent> out;
  for (const Mapping& m : *maps) {
    if ((n->mode & S_IFMT) == S_IFDIR && m.file_block >= format::kDirIndexForkA) break;
    Extent e{m.file_block * bs, m.media_block * bs, m.count * bs};
    if (!out.empty() && out.back().file_offset + out.back().length == e.file_offset &&
        out.back().media_offset + out.back().length == e.media_offset) {
      out.back().length += e.length;
    } else {
      out.push_back(e);
    }
  }
  return out;
}

Status PmemFileSystem::release_quarantined(std::uint64_t media_offset, std::uint64_t length) {
  std::unique_lock lock(mutex_);
  PINFS_TRY(writable("release quarantined", 0));
  Op op(*this);
  auto released = alloc_.release_quarantined(op.view, media_offset, length, hooks_.load());
  if (!released.ok()) return note(std::move(released).error());
  return commit(op);
}

}  // namespace pinfs::fs
