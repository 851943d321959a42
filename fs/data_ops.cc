// File data: read, write, truncate, fallocate, make_mappable, extents.
//
// Allocation policy (docs/format.md, "Allocation"): the file is seen as file
// units of one aligned unit each. A file unit is either unmapped, small
// blocks, or one whole aligned unit. A unit allocates aligned when the file
// has the aligned policy, or when it lies past the file's first unit (the
// file has grown past one unit) and holds no small blocks yet; a file without
// the policy falls back to small blocks when no unit is free.
//
// Bytes past EOF are not kept zero: a shrinking truncate keeps the rest of
// its last block (or aligned unit) as it was, because zeroing it before the
// txn that shrinks the size would show a half-done truncate after a power
// failure (size unchanged, tail zeroed). Instead every operation that grows
// the size zeroes the mapped bytes between the old and the new size before
// its txn commits (zero_exposed): invisible until then, so a power failure
// in between shows the file as before. New blocks are zeroed (except what
// the write covers) and persisted before the txn that maps them.
#include <fmt/format.h>
#include <linux/falloc.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "fs/le.h"
#include "fs/pmem_filesystem.h"

namespace pinfs::fs {

namespace {

std::uint64_t div_up(std::uint64_t v, std::uint64_t d) { return v / d + (v % d != 0); }

}  // namespace

Result<bool> PmemFileSystem::has_aligned_units(Op& op, const format::Inode& inode) {
  if ((inode.flags & format::kInodeFlagAligned) != 0) return true;
  PINFS_ASSIGN_OR_RETURN(auto all, maps_.find(op.view, inode, 0, UINT64_MAX));
  for (const Mapping& m : all)
    if (alloc_.unit_state(geo_.unit_of_block(m.media_block)) == format::kUnitAligned) return true;
  return false;
}

Result<bool> PmemFileSystem::unit_is_aligned(Op& op, const format::Inode& inode,
                                             std::uint64_t file_unit) {
  const std::uint64_t bpu = geo_.blocks_per_unit();
  PINFS_ASSIGN_OR_RETURN(auto in_unit, maps_.find(op.view, inode, file_unit * bpu, bpu));
  for (const Mapping& m : in_unit) {
    // The media block where this extent enters the file unit.
    std::uint64_t at = m.media_block + (std::max(m.file_block, file_unit * bpu) - m.file_block);
    if (alloc_.unit_state(geo_.unit_of_block(at)) == format::kUnitAligned) return true;
  }
  return false;
}

Status PmemFileSystem::zero_mapped(Op& op, const format::Inode& inode, std::uint64_t begin,
                                   std::uint64_t end) {
  if (begin >= end) return ok_status();
  const std::uint64_t bs = geo_.block_size;
  PINFS_ASSIGN_OR_RETURN(auto maps, maps_.find(op.view, inode, begin / bs,
                                               div_up(end, bs) - begin / bs));
  for (const Mapping& m : maps) {
    std::uint64_t s = std::max(begin, m.file_block * bs);
    std::uint64_t e = std::min(end, m.file_end() * bs);
    if (s >= e) continue;
    std::uint64_t media_off = m.media_block * bs + (s - m.file_block * bs);
    media_->fill(media_off, 0, e - s);
    media_->flush(media_off, e - s);
  }
  return ok_status();
}

Status PmemFileSystem::zero_exposed(Op& op, const format::Inode& inode, std::uint64_t new_size) {
  if (new_size <= inode.size) return ok_status();
  PINFS_TRY(zero_mapped(op, inode, inode.size, new_size));
  media_->drain();
  return ok_status();
}

Status PmemFileSystem::unmap_range(Op& op, format::Inode& inode, std::uint64_t first_block,
                                   std::uint64_t end_block) {
  if (first_block >= end_block) return ok_status();
  PINFS_ASSIGN_OR_RETURN(auto removed,
                         maps_.remove(op.view, inode, first_block, end_block - first_block));
  for (const Mapping& m : removed) Allocator::free_later(op.txn, {m.media_block, m.count});
  return ok_status();
}

Status PmemFileSystem::allocate_range(Op& op, format::Inode& inode, std::uint64_t first_block,
                                      std::uint64_t end_block, std::uint64_t write_begin,
                                      std::uint64_t write_end) {
  const std::uint64_t bs = geo_.block_size;
  const std::uint64_t bpu = geo_.blocks_per_unit();
  const bool policy = (inode.flags & format::kInodeFlagAligned) != 0;
  // Zeroes the new blocks at file bytes [fb, fe) (media from media_off),
  // except what the write will cover.
  auto zero_new = [&](std::uint64_t fb, std::uint64_t fe, std::uint64_t media_off) {
    std::uint64_t cs = std::clamp(write_begin, fb, fe);
    std::uint64_t ce = std::clamp(write_end, fb, fe);
    auto zero = [&](std::uint64_t s, std::uint64_t e) {
      if (s >= e) return;
      media_->fill(media_off + (s - fb), 0, e - s);
      media_->flush(media_off + (s - fb), e - s);
    };
    if (cs >= ce) {
      zero(fb, fe);
    } else {
      zero(fb, cs);
      zero(ce, fe);
    }
  };
  for (std::uint64_t k = first_block / bpu; k * bpu < end_block; ++k) {
    const std::uint64_t ub = k * bpu;
    const std::uint64_t a = std::max(first_block, ub);
    const std::uint64_t b = std::min(end_block, ub + bpu);
    PINFS_ASSIGN_OR_RETURN(auto existing, maps_.find(op.view, inode, ub, bpu));
    PINFS_ASSIGN_OR_RETURN(bool aligned_mapped, unit_is_aligned(op, inode, k));
    std::vector<std::pair<std::uint64_t, std::uint64_t>> holes;
    std::uint64_t at = a;
    for (const Mapping& m : existing) {
      if (m.file_end() <= at) continue;
      if (m.file_block >= b) break;
      if (m.file_block > at) holes.push_back({at, m.file_block});
      at = std::max(at, m.file_end());
    }
    if (at < b) holes.push_back({at, b});
    if (holes.empty()) continue;
    if (aligned_mapped)
      return corrupt("allocate", InodeTable::name(inode.ino),
                     fmt::format("file unit {} maps an aligned unit only in part", k));
    if (existing.empty() && (policy || k >= 1)) {
      std::uint64_t goal = 0;
      if (k > 0) {
        PINFS_ASSIGN_OR_RETURN(auto prev, maps_.find(op.view, inode, ub - 1, 1));
        if (!prev.empty()) goal = geo_.unit_of_block(prev.front().media_block) + 1;
      }
      auto units = alloc_.allocate_units(op.view, 1, goal);
      if (units.ok()) {
        std::uint64_t mb = units->front().block;
        PINFS_TRY(maps_.insert(op.view, inode, {ub, mb, bpu}));
        zero_new(ub * bs, (ub + bpu) * bs, mb * bs);
        continue;
      }
      if (policy) return std::move(units).error();
    }
    for (auto [h0, h1] : holes) {
      std::uint64_t goal = 0;
      if (h0 > 0) {
        PINFS_ASSIGN_OR_RETURN(auto prev, maps_.find(op.view, inode, h0 - 1, 1));
        if (!prev.empty()) goal = prev.front().media_block + (h0 - prev.front().file_block);
      }
      PINFS_ASSIGN_OR_RETURN(auto runs, alloc_.allocate_blocks(op.view, h1 - h0, goal, false));
      std::uint64_t fb = h0;
      for (const BlockRun& run : runs) {
        PINFS_TRY(maps_.insert(op.view, inode, {fb, run.block, run.count}));
        zero_new(fb * bs, (fb + run.count) * bs, run.block * bs);
        fb += run.count;
      }
    }
  }
  return ok_status();
}

namespace {

bool before(const Timespec& a, const Timespec& b) {
  return a.sec < b.sec || (a.sec == b.sec && a.nsec <= b.nsec);
}

}  // namespace

// relatime, as Linux mounts by default: a read updates atime only when atime
// is not newer than mtime or ctime, or is a day old. So a file read over and
// over costs one txn a day, not one per read. The times compared are those
// getattr shows, deferred overwrite times included.
bool PmemFileSystem::atime_is_stale(const format::Inode& n) const {
  constexpr std::int64_t kDaySeconds = 24 * 3600;
  const Attr a = to_attr(n);
  return before(a.atime, a.mtime) || before(a.atime, a.ctime) ||
         now().sec - a.atime.sec >= kDaySeconds;
}

void PmemFileSystem::touch_atime(InodeNumber ino) {
  std::unique_lock lock(mutex_);
  if (!writable("read", ino).ok()) return;
  Op op(*this);
  auto n = inodes_.read(op.view, ino);
  if (!n.ok() || !atime_is_stale(*n)) return;
  set_time(n->atime, now());
  inodes_.write(op.view, *n);
  // The read already succeeded; a failed atime update is not its error.
  (void)commit(op);
}

Result<std::size_t> PmemFileSystem::read(InodeNumber ino, std::uint64_t offset,
                                         std::span<std::byte> out) {
  bool stale_atime = false;
  auto r = read_locked(ino, offset, out, stale_atime);
  if (r.ok() && stale_atime && !read_only_) touch_atime(ino);
  return r;
}

Result<std::size_t> PmemFileSystem::read_locked(InodeNumber ino, std::uint64_t offset,
                                                std::span<std::byte> out, bool& stale_atime) {
  std::shared_lock lock(mutex_);
  std::shared_lock data_lock(data_stripe(ino));  // whole overwrites, or none of them
  MetaView view = read_view();
  auto body = [&]() -> Result<std::size_t> {
    PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.read(view, ino));
    stale_atime = atime_is_stale(n);
    if ((n.mode & S_IFMT) == S_IFDIR) return Error(EISDIR, "read", InodeTable::name(ino));
    if ((n.mode & S_IFMT) != S_IFREG)
      return Error(EINVAL, "read", InodeTable::name(ino), "not a regular file");
    if (offset >= n.size || out.empty()) return std::size_t{0};
    const std::uint64_t len = std::min<std::uint64_t>(out.size(), n.size - offset);
    const std::uint64_t end = offset + len;
    const std::uint64_t bs = geo_.block_size;
    PINFS_ASSIGN_OR_RETURN(auto maps, maps_.find(view, n, offset / bs,
                                                 div_up(end, bs) - offset / bs));
    std::uint64_t at = offset;  // holes read as zeros
    for (const Mapping& m : maps) {
      std::uint64_t s = std::max(offset, m.file_block * bs);
      std::uint64_t e = std::min(end, m.file_end() * bs);
      if (s >= e) continue;
      if (s > at) std::memset(out.data() + (at - offset), 0, s - at);
      std::memcpy(out.data() + (s - offset), media_->data() + m.media_block * bs + (s - m.file_block * bs),
                  e - s);
      at = e;
    }
    if (at < end) std::memset(out.data() + (at - offset), 0, end - at);
    return static_cast<std::size_t>(len);
  };
  auto r = body();
  if (!r.ok()) return note(std::move(r).error());
  return r;
}

void PmemFileSystem::store_mapped(const std::vector<Mapping>& maps, std::uint64_t offset,
                                  std::span<const std::byte> data) {
  const std::uint64_t bs = geo_.block_size;
  const std::uint64_t end = offset + data.size();
  for (const Mapping& m : maps) {
    std::uint64_t s = std::max(offset, m.file_block * bs);
    std::uint64_t e = std::min(end, m.file_end() * bs);
    if (s >= e) continue;
    std::uint64_t media_off = m.media_block * bs + (s - m.file_block * bs);
    media_->store(media_off, data.data() + (s - offset), e - s);
    media_->flush(media_off, e - s);
  }
}

std::optional<Result<std::size_t>> PmemFileSystem::overwrite_in_place(
    InodeNumber ino, std::uint64_t offset, std::span<const std::byte> data, const Caller& caller) {
  {
    std::shared_lock lock(mutex_);
    if (!writable("write", ino).ok()) return std::nullopt;  // the txn path says why
    MetaView view = read_view();
    auto n = inodes_.read(view, ino);
    if (!n.ok() || (n->mode & S_IFMT) != S_IFREG) return std::nullopt;
    if (offset > n->size || data.size() > n->size - offset) return std::nullopt;
    // Privileges to remove (remove_privileges) change the inode: txn path.
    if (n->xattr_block != 0) return std::nullopt;
    const bool setid = (n->mode & S_ISUID) != 0 ||
                       (n->mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP);
    if (setid && caller.uid != 0) return std::nullopt;
    const std::uint64_t bs = geo_.block_size;
    const std::uint64_t end = offset + data.size();
    auto maps = maps_.find(view, *n, offset / bs, div_up(end, bs) - offset / bs);
    if (!maps.ok()) return std::nullopt;
    // Every block of the range mapped already: nothing to allocate.
    std::uint64_t covered = offset / bs;
    for (const Mapping& m : *maps) {
      if (m.file_block > covered) return std::nullopt;
      covered = std::max(covered, m.file_end());
    }
    if (covered < div_up(end, bs)) return std::nullopt;
    std::unique_lock data_lock(data_stripe(ino));
    store_mapped(*maps, offset, data);
    media_->drain();
    deferred_.note(ino, n->generation, now());
  }
  // Times a second old go back now; the front end's timer covers an idle
  // file system. The write itself succeeded: a failure to write times back
  // is a broken file system, which the next change reports.
  if (deferred_.older_than(std::chrono::seconds(1))) (void)write_back_times();
  return data.size();
}

Result<std::size_t> PmemFileSystem::write(InodeNumber ino, std::uint64_t offset,
                                          std::span<const std::byte> data, const Caller& caller) {
  if (data.empty()) return std::size_t{0};
  if (auto done = overwrite_in_place(ino, offset, data, caller)) return std::move(*done);
  std::unique_lock lock(mutex_);
  PINFS_TRY(writable("write", ino));
  Op op(*this);
  auto body = [&]() -> Result<std::size_t> {
    PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.read(op.view, ino));
    if ((n.mode & S_IFMT) == S_IFDIR) return Error(EISDIR, "write", InodeTable::name(ino));
    if ((n.mode & S_IFMT) != S_IFREG)
      return Error(EINVAL, "write", InodeTable::name(ino), "not a regular file");
    if (offset > kMaxFileBytes || data.size() > kMaxFileBytes - offset)
      return Error(EFBIG, "write", InodeTable::name(ino),
                   fmt::format("[{}, +{}) beyond the largest file", offset, data.size()));
    const std::uint64_t end = offset + data.size();
    const std::uint64_t bs = geo_.block_size;
    // Before allocating: only blocks mapped already can hold stale bytes.
    PINFS_TRY(zero_exposed(op, n, offset));
    PINFS_TRY(allocate_range(op, n, offset / bs, div_up(end, bs), offset, end));
    PINFS_ASSIGN_OR_RETURN(auto maps, maps_.find(op.view, n, offset / bs,
                                                 div_up(end, bs) - offset / bs));
    store_mapped(maps, offset, data);
    // The data (and the zeroed rest of new blocks) is durable before the txn
    // that maps the blocks or grows the size.
    media_->drain();
    if (end > n.size) n.size = end;
    Timespec t = now();
    set_time(n.mtime, t);
    set_time(n.ctime, t);
    PINFS_TRY(remove_privileges(op, n, caller));
    inodes_.write(op.view, n);
    PINFS_TRY(commit(op));
    return data.size();
  };
  auto r = body();
  if (!r.ok()) return note(std::move(r).error());
  return r;
}

Status PmemFileSystem::truncate_locked(InodeNumber ino, std::uint64_t size) {
  const std::uint64_t bs = geo_.block_size;
  const std::uint64_t bpu = geo_.blocks_per_unit();
  // A file with many extents is unmapped in batches from its end, each batch
  // one txn, and the first batch already sets the new size: the truncate is
  // visible whole or not at all, and a power failure between batches leaves
  // only mapped blocks past EOF (zeroed if the file grows again, freed by the
  // next truncate or the final unlink). The last batch is left to the
  // caller's op.
  for (;;) {
    Op op(*this);
    PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.read(op.view, ino));
    std::uint64_t keep_end = div_up(size, bs);
    if (keep_end % bpu != 0) {
      PINFS_ASSIGN_OR_RETURN(bool aligned, unit_is_aligned(op, n, keep_end / bpu));
      if (aligned) keep_end = (keep_end / bpu + 1) * bpu;
    }
    PINFS_ASSIGN_OR_RETURN(auto beyond, maps_.find(op.view, n, keep_end, UINT64_MAX));
    if (beyond.size() <= kFreeBatchExtents) return ok_status();
    std::uint64_t from = std::max(keep_end, beyond[beyond.size() - kFreeBatchExtents].file_block);
    PINFS_TRY(unmap_range(op, n, from, UINT64_MAX));
    if (size < n.size) {
      n.size = size;
      Timespec t = now();
      set_time(n.mtime, t);
      set_time(n.ctime, t);
    }
    inodes_.write(op.view, n);
    PINFS_TRY(commit(op));
  }
}

Status PmemFileSystem::apply_setattr(Op& op, format::Inode& n, const SetAttr& c,
                                     bool shrinking, const Caller& caller) {
  Timespec t = now();
  if (c.size) {
    const std::uint64_t bs = geo_.block_size;
    const std::uint64_t bpu = geo_.blocks_per_unit();
    // truncate_locked may have set the size already; what it left mapped
    // past the new end goes in this txn.
    if (shrinking) {
      std::uint64_t keep_end = div_up(*c.size, bs);
      if (keep_end % bpu != 0) {
        PINFS_ASSIGN_OR_RETURN(bool aligned, unit_is_aligned(op, n, keep_end / bpu));
        if (aligned) keep_end = (keep_end / bpu + 1) * bpu;
      }
      PINFS_TRY(unmap_range(op, n, keep_end, UINT64_MAX));
    } else {
      PINFS_TRY(zero_exposed(op, n, *c.size));
    }
    n.size = *c.size;
    set_time(n.mtime, t);
    set_time(n.ctime, t);
    // As Linux's do_truncate: even a truncate to the same size.
    PINFS_TRY(remove_privileges(op, n, caller));
  }
  if (c.mode) n.mode = (n.mode & ~07777u) | (*c.mode & 07777u);
  if (c.uid || c.gid) {
    if (c.uid) n.uid = *c.uid;
    if (c.gid) n.gid = *c.gid;
    // chown drops set-user-ID, and set-group-ID when group-executable, on
    // regular files (Linux's ATTR_KILL_SUID/SGID), unless mode is set too.
    if ((n.mode & S_IFMT) == S_IFREG && !c.mode) {
      std::uint32_t mode = n.mode;
      mode &= ~static_cast<std::uint32_t>(S_ISUID);
      if ((mode & S_IXGRP) != 0) mode &= ~static_cast<std::uint32_t>(S_ISGID);
      n.mode = mode;
    }
    if ((n.mode & S_IFMT) != S_IFDIR) PINFS_TRY(remove_capability(op, n));
  }
  if (c.atime_now) set_time(n.atime, t);
  else if (c.atime) set_time(n.atime, *c.atime);
  if (c.mtime_now) {
    set_time(n.mtime, t);
  } else if (c.mtime) {
    set_time(n.mtime, *c.mtime);
    // An older overwrite's time must not come back over the one asked for.
    deferred_.forget(n.ino);
  }
  set_time(n.ctime, t);
  return ok_status();
}

Result<Attr> PmemFileSystem::setattr(InodeNumber ino, const SetAttr& changes,
                                     const Caller& caller) {
  if (changes.size && *changes.size > kMaxFileBytes)
    return Error(EFBIG, "truncate", InodeTable::name(ino),
                 fmt::format("{} bytes is beyond the largest file", *changes.size));
  if ((changes.atime && changes.atime->nsec >= 1000000000u) ||
      (changes.mtime && changes.mtime->nsec >= 1000000000u))
    return Error(EINVAL, "setattr", InodeTable::name(ino), "nanoseconds out of range");
  for (int attempt = 0; attempt < 16; ++attempt) {
    bool shrinking = false;
    if (changes.size) {
      std::shared_lock lock(mutex_);
      auto n = inodes_.read(read_view(), ino);
      if (!n.ok()) return note(std::move(n).error());
      if ((n->mode & S_IFMT) == S_IFDIR) return Error(EISDIR, "truncate", InodeTable::name(ino));
      if ((n->mode & S_IFMT) != S_IFREG)
        return Error(EINVAL, "truncate", InodeTable::name(ino), "not a regular file");
      shrinking = *changes.size < n->size;
    }
    LayoutScope scope(hooks_.load());
    if (shrinking)
      PINFS_TRY(scope.begin({LayoutChangeKind::truncate_down, ino, *changes.size, kToEnd, caller}));
    std::unique_lock lock(mutex_);
    PINFS_TRY(writable("setattr", ino));
    bool retry = false;
    auto body = [&]() -> Result<Attr> {
      {
        MetaView view = read_view();
        PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.read(view, ino));
        if (changes.size && *changes.size < n.size && !scope.begun() && hooks_.load() != nullptr) {
          retry = true;
          return Attr{};
        }
        shrinking = changes.size && *changes.size < n.size;
      }
      if (shrinking) PINFS_TRY(truncate_locked(ino, *changes.size));
      Op op(*this);
      PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.read(op.view, ino));
      PINFS_TRY(apply_setattr(op, n, changes, shrinking, caller));
      inodes_.write(op.view, n);
      PINFS_TRY(commit(op));
      return to_attr(n);
    };
    auto r = body();
    if (!r.ok()) return note(std::move(r).error());
    if (!retry) return r;
  }
  return Error(EAGAIN, "setattr", InodeTable::name(ino), "the file kept changing");
}

}  // namespace pinfs::fs
