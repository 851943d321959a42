#include "fs/extent_map.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cassert>
#include <unordered_set>

#include "fs/inode_table.h"
#include "fs/le.h"

namespace pinfs::fs {

namespace {

// Caches beyond this many inodes are dropped wholesale: reloading is cheap
// and the bound keeps memory flat on a file system with millions of files.
constexpr std::size_t kMaxCachedMaps = 8192;
constexpr std::uint64_t kMaxRecordBlocks = 0xFFFFFFFFull;

bool has_extents(const format::Inode& inode) {
  std::uint32_t type = inode.mode & S_IFMT;
  return type == S_IFREG || type == S_IFDIR;
}

}  // namespace

RecordName ExtentMaps::block_name(InodeNumber ino, std::uint64_t block) const {
  return RecordName("[inode {} extent block {}]", ino, block);
}

Result<std::unique_ptr<ExtentMaps::Cache>> ExtentMaps::load(const MetaView& view,
                                                            const format::Inode& inode) {
  auto c = std::make_unique<Cache>();
  InodeNumber ino = inode.ino;
  std::uint64_t total_blocks = 0;
  auto add = [&](const format::ExtentRecord& r, Loc loc) -> Status {
    std::uint64_t fb = r.file_block, mb = r.media_block, n = r.block_count;
    if (fb >= kMaxFileBlocks || n > kMaxFileBlocks - fb || !g_.blocks_in_data_area(mb, n))
      return corrupt("read extents", InodeTable::name(ino),
                     fmt::format("extent [{}, +{}) -> block {} out of bounds", fb, n, mb));
    auto next = c->map.lower_bound(fb);
    if ((next != c->map.end() && next->first < fb + n) ||
        (next != c->map.begin() && std::prev(next)->first + std::prev(next)->second.count > fb))
      return corrupt("read extents", InodeTable::name(ino),
                     fmt::format("extent at file block {} overlaps another", fb));
    c->map.emplace(fb, Entry{mb, n, loc});
    total_blocks += n;
    return ok_status();
  };
  if (has_extents(inode)) {
    for (std::uint32_t i = 0; i < format::kInlineExtents; ++i) {
      auto r = load_as<format::ExtentRecord>(inode.inline_area + i * sizeof(format::ExtentRecord));
      if (r.block_count == 0) continue;
      PINFS_TRY(add(r, Loc{kInline, i}));
      c->inline_used |= 1u << i;
    }
  }
  std::uint64_t block = inode.chain_head;
  std::uint64_t chain_records = 0;
  std::unordered_set<std::uint64_t> seen;
  for (std::uint32_t index = 0; index < inode.chain_blocks; ++index) {
    if (block == 0 || !g_.blocks_in_data_area(block, 1) || !seen.insert(block).second)
      return corrupt("read extents", InodeTable::name(ino),
                     fmt::format("extent chain link {} points to block {}", index, block));
    PINFS_ASSIGN_OR_RETURN(auto bytes, view.read(block * g_.block_size, g_.block_size,
                                                 format::kKindExtents, block_name(ino, block)));
    auto header = load_as<format::ExtentBlockHeader>(bytes.data());
    if (header.owner.get() != ino)
      return corrupt("read extents", block_name(ino, block).str(),
                     fmt::format("block belongs to inode {}", header.owner.get()));
    std::uint32_t used = 0;
    for (std::uint32_t slot = 0; slot < records_per_block(); ++slot) {
      auto r = load_as<format::ExtentRecord>(bytes.data() + sizeof header +
                                             slot * sizeof(format::ExtentRecord));
      if (r.block_count == 0) continue;
      PINFS_TRY(add(r, Loc{index, slot}));
      ++used;
    }
    chain_records += used;
    c->chain.push_back(block);
    c->used.push_back(used);
    block = header.next;
  }
  if (block != 0)
    return corrupt("read extents", InodeTable::name(ino), "extent chain longer than recorded");
  if (chain_records != inode.chain_extents)
    return corrupt("read extents", InodeTable::name(ino),
                   fmt::format("chain holds {} extents, the inode says {}", chain_records,
                               inode.chain_extents.get()));
  if (total_blocks != inode.data_blocks)
    return corrupt("read extents", InodeTable::name(ino),
                   fmt::format("extents map {} blocks, the inode says {}", total_blocks,
                               inode.data_blocks.get()));
  return c;
}

Result<ExtentMaps::Cache*> ExtentMaps::cache(const MetaView& view, const format::Inode& inode) {
  InodeNumber ino = inode.ino;
  if (auto it = caches_.find(ino); it != caches_.end()) return it->second.get();
  PINFS_ASSIGN_OR_RETURN(std::unique_ptr<Cache> c, load(view, inode));
  if (caches_.size() >= kMaxCachedMaps) caches_.clear();
  // A cache loaded from staged records must not outlive their txn.
  if (view.txn() != nullptr) view.txn()->on_abort([this, ino] { forget(ino); });
  return caches_.emplace(ino, std::move(c)).first->second.get();
}

void ExtentMaps::forget(InodeNumber ino) {
  std::lock_guard lock(mutex_);
  caches_.erase(ino);
}

void ExtentMaps::forget_all() {
  std::lock_guard lock(mutex_);
  caches_.clear();
}

Result<std::vector<Mapping>> ExtentMaps::find(const MetaView& view, const format::Inode& inode,
                                              std::uint64_t first, std::uint64_t count) {
  std::lock_guard lock(mutex_);
  PINFS_ASSIGN_OR_RETURN(Cache * c, cache(view, inode));
  std::uint64_t end = count > UINT64_MAX - first ? UINT64_MAX : first + count;
  std::vector<Mapping> out;
  auto it = c->map.upper_bound(first);
  if (it != c->map.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second.count > first) it = prev;
  }
  for (; it != c->map.end() && it->first < end; ++it)
    out.push_back({it->first, it->second.media_block, it->second.count});
  return out;
}

Result<std::vector<std::uint64_t>> ExtentMaps::chain(const MetaView& view,
                                                     const format::Inode& inode) {
  std::lock_guard lock(mutex_);
  PINFS_ASSIGN_OR_RETURN(Cache * c, cache(view, inode));
  return c->chain;
}

Status ExtentMaps::put(MetaView& view, format::Inode& inode, Cache& c, Loc loc,
                       std::uint64_t file_block, const Entry& e) {
  format::ExtentRecord r{};
  r.file_block = file_block;
  r.media_block = e.media_block;
  r.block_count = static_cast<std::uint32_t>(e.count);
  if (loc.block_index == kInline) {
    store_as(inode.inline_area + loc.slot * sizeof r, r);
    return ok_status();
  }
  std::uint64_t block = c.chain[loc.block_index];
  PINFS_ASSIGN_OR_RETURN(auto bytes, view.modify(block * g_.block_size, g_.block_size,
                                                 format::kKindExtents,
                                                 block_name(inode.ino, block)));
  store_as(bytes.data() + sizeof(format::ExtentBlockHeader) + loc.slot * sizeof r, r);
  return ok_status();
}

Status ExtentMaps::clear(MetaView& view, format::Inode& inode, Cache& c, Loc loc) {
  format::ExtentRecord empty{};
  if (loc.block_index == kInline) {
    store_as(inode.inline_area + loc.slot * sizeof empty, empty);
    c.inline_used &= ~(1u << loc.slot);
    return ok_status();
  }
  std::uint64_t block = c.chain[loc.block_index];
  PINFS_ASSIGN_OR_RETURN(auto bytes, view.modify(block * g_.block_size, g_.block_size,
                                                 format::kKindExtents,
                                                 block_name(inode.ino, block)));
  store_as(bytes.data() + sizeof(format::ExtentBlockHeader) + loc.slot * sizeof empty, empty);
  --c.used[loc.block_index];
  inode.chain_extents = inode.chain_extents - 1;
  return ok_status();
}

Result<ExtentMaps::Loc> ExtentMaps::free_slot(MetaView& view, format::Inode& inode, Cache& c) {
  for (std::uint32_t i = 0; i < format::kInlineExtents; ++i) {
    if ((c.inline_used & (1u << i)) == 0) {
      c.inline_used |= 1u << i;
      return Loc{kInline, i};
    }
  }
  const std::uint64_t per_block = records_per_block();
  for (std::uint32_t index = 0; index < c.chain.size(); ++index) {
    if (c.used[index] >= per_block) continue;
    std::uint64_t block = c.chain[index];
    PINFS_ASSIGN_OR_RETURN(auto bytes, view.read(block * g_.block_size, g_.block_size,
                                                 format::kKindExtents,
                                                 block_name(inode.ino, block)));
    for (std::uint32_t slot = 0; slot < per_block; ++slot) {
      auto r = load_as<format::ExtentRecord>(bytes.data() + sizeof(format::ExtentBlockHeader) +
                                             slot * sizeof(format::ExtentRecord));
      if (r.block_count == 0) {
        ++c.used[index];
        inode.chain_extents = inode.chain_extents + 1;
        return Loc{index, slot};
      }
    }
    return corrupt("extents", block_name(inode.ino, block).str(), "block has fewer free slots than counted");
  }
  // A new chain block, appended so that the indices of the others hold.
  std::uint64_t goal = c.chain.empty() ? 0 : c.chain.back() + 1;
  PINFS_ASSIGN_OR_RETURN(auto runs, alloc_.allocate_blocks(view, 1, goal, true, true));
  std::uint64_t block = runs.front().block;
  auto bytes = view.create(block * g_.block_size, g_.block_size, format::kKindExtents);
  format::ExtentBlockHeader header{};
  header.kind = format::kKindExtents;
  header.owner = inode.ino;
  header.next = 0;
  store_as(bytes.data(), header);
  if (c.chain.empty()) {
    inode.chain_head = block;
  } else {
    std::uint64_t last = c.chain.back();
    PINFS_ASSIGN_OR_RETURN(auto prev, view.modify(last * g_.block_size, g_.block_size,
                                                  format::kKindExtents,
                                                  block_name(inode.ino, last)));
    auto prev_header = load_as<format::ExtentBlockHeader>(prev.data());
    prev_header.next = block;
    store_as(prev.data(), prev_header);
  }
  inode.chain_blocks = inode.chain_blocks + 1;
  c.chain.push_back(block);
  c.used.push_back(1);
  inode.chain_extents = inode.chain_extents + 1;
  return Loc{static_cast<std::uint32_t>(c.chain.size() - 1), 0};
}

Status ExtentMaps::add_entry(MetaView& view, format::Inode& inode, Cache& c,
                             std::uint64_t file_block, std::uint64_t media_block,
                             std::uint64_t count) {
  PINFS_ASSIGN_OR_RETURN(Loc loc, free_slot(view, inode, c));
  Entry e{media_block, count, loc};
  PINFS_TRY(put(view, inode, c, loc, file_block, e));
  c.map.emplace(file_block, e);
  return ok_status();
}

Status ExtentMaps::trim_chain(MetaView& view, format::Inode& inode, Cache& c) {
  while (!c.chain.empty() && c.used.back() == 0) {
    std::uint64_t block = c.chain.back();
    if (c.chain.size() == 1) {
      inode.chain_head = 0;
    } else {
      std::uint64_t prev_block = c.chain[c.chain.size() - 2];
      PINFS_ASSIGN_OR_RETURN(auto prev, view.modify(prev_block * g_.block_size, g_.block_size,
                                                    format::kKindExtents,
                                                    block_name(inode.ino, prev_block)));
      auto header = load_as<format::ExtentBlockHeader>(prev.data());
      header.next = 0;
      store_as(prev.data(), header);
    }
    Allocator::free_later(*view.txn(), {block, 1});
    inode.chain_blocks = inode.chain_blocks - 1;
    c.chain.pop_back();
    c.used.pop_back();
  }
  return ok_status();
}

Status ExtentMaps::insert(MetaView& view, format::Inode& inode, Mapping m) {
  std::lock_guard lock(mutex_);
  PINFS_ASSIGN_OR_RETURN(Cache * cp, cache(view, inode));
  Cache& c = *cp;
  view.txn()->on_abort([this, ino = inode.ino.get()] { forget(ino); });
  if (m.count == 0 || m.file_block >= kMaxFileBlocks || m.count > kMaxFileBlocks - m.file_block)
    return Error(EFBIG, "map extent", InodeTable::name(inode.ino),
                 fmt::format("file blocks [{}, +{})", m.file_block, m.count));
  auto next = c.map.lower_bound(m.file_block);
  // Callers map holes they computed from this map; a damaged inode (say, a
  // directory whose slot count disagrees with its blocks) can still lead
  // here, and that is the image's fault, not an assertion.
  if ((next != c.map.end() && next->first < m.file_end()) ||
      (next != c.map.begin() && std::prev(next)->first + std::prev(next)->second.count > m.file_block))
    return corrupt("map extent", InodeTable::name(inode.ino),
                   fmt::format("file blocks [{}, +{}) are already mapped", m.file_block, m.count));
  inode.data_blocks = inode.data_blocks + m.count;
  // Extents never mix small blocks and aligned units, even when they happen
  // to be adjacent on the media: callers decide by the unit an extent lies in.
  auto same_kind = [&](std::uint64_t a, std::uint64_t b) {
    return alloc_.unit_state(g_.unit_of_block(a)) == alloc_.unit_state(g_.unit_of_block(b));
  };
  // Grow the previous extent when the new blocks continue it.
  if (next != c.map.begin()) {
    auto prev = std::prev(next);
    Entry& p = prev->second;
    if (prev->first + p.count == m.file_block && p.media_block + p.count == m.media_block &&
        p.count < kMaxRecordBlocks && same_kind(p.media_block, m.media_block)) {
      std::uint64_t take = std::min(m.count, kMaxRecordBlocks - p.count);
      p.count += take;
      PINFS_TRY(put(view, inode, c, p.loc, prev->first, p));
      m.file_block += take;
      m.media_block += take;
      m.count -= take;
    }
  }
  // Or extend the next one downwards.
  if (m.count != 0 && next != c.map.end() && next->first == m.file_end() &&
      m.media_block + m.count == next->second.media_block &&
      next->second.count + m.count <= kMaxRecordBlocks &&
      same_kind(m.media_block, next->second.media_block)) {
    Entry e = next->second;
    e.media_block = m.media_block;
    e.count += m.count;
    c.map.erase(next);
    c.map.emplace(m.file_block, e);
    PINFS_TRY(put(view, inode, c, e.loc, m.file_block, e));
    m.count = 0;
  }
  while (m.count != 0) {
    std::uint64_t take = std::min(m.count, kMaxRecordBlocks);
    PINFS_TRY(add_entry(view, inode, c, m.file_block, m.media_block, take));
    m.file_block += take;
    m.media_block += take;
    m.count -= take;
  }
  return ok_status();
}

Result<std::vector<Mapping>> ExtentMaps::remove(MetaView& view, format::Inode& inode,
                                                std::uint64_t first, std::uint64_t count) {
  std::lock_guard lock(mutex_);
  PINFS_ASSIGN_OR_RETURN(Cache * cp, cache(view, inode));
  Cache& c = *cp;
  view.txn()->on_abort([this, ino = inode.ino.get()] { forget(ino); });
  std::uint64_t end = count > UINT64_MAX - first ? UINT64_MAX : first + count;
  std::vector<std::uint64_t> keys;
  auto it = c.map.upper_bound(first);
  if (it != c.map.begin() && std::prev(it)->first + std::prev(it)->second.count > first)
    it = std::prev(it);
  for (; it != c.map.end() && it->first < end; ++it) keys.push_back(it->first);
  std::vector<Mapping> removed;
  for (std::uint64_t fb : keys) {
    Entry e = c.map.at(fb);
    std::uint64_t e_end = fb + e.count;
    std::uint64_t cut_s = std::max(fb, first);
    std::uint64_t cut_e = std::min(e_end, end);
    removed.push_back({cut_s, e.media_block + (cut_s - fb), cut_e - cut_s});
    inode.data_blocks = inode.data_blocks - (cut_e - cut_s);
    c.map.erase(fb);
    if (cut_s == fb && cut_e == e_end) {
      PINFS_TRY(clear(view, inode, c, e.loc));
      continue;
    }
    if (cut_s > fb) {  // keep the head
      Entry head = e;
      head.count = cut_s - fb;
      PINFS_TRY(put(view, inode, c, head.loc, fb, head));
      c.map.emplace(fb, head);
      if (cut_e < e_end)
        PINFS_TRY(add_entry(view, inode, c, cut_e, e.media_block + (cut_e - fb), e_end - cut_e));
    } else {  // keep the tail, in the same slot
      Entry tail = e;
      tail.media_block = e.media_block + (cut_e - fb);
      tail.count = e_end - cut_e;
      PINFS_TRY(put(view, inode, c, tail.loc, cut_e, tail));
      c.map.emplace(cut_e, tail);
    }
  }
  PINFS_TRY(trim_chain(view, inode, c));
  return removed;
}

Status ExtentMaps::split_at(MetaView& view, format::Inode& inode, std::uint64_t block) {
  std::lock_guard lock(mutex_);
  PINFS_ASSIGN_OR_RETURN(Cache * cp, cache(view, inode));
  Cache& c = *cp;
  view.txn()->on_abort([this, ino = inode.ino.get()] { forget(ino); });
  auto it = c.map.upper_bound(block);
  if (it == c.map.begin()) return ok_status();
  --it;
  std::uint64_t fb = it->first;
  Entry e = it->second;
  if (fb >= block || fb + e.count <= block) return ok_status();
  Entry head = e;
  head.count = block - fb;
  it->second = head;
  PINFS_TRY(put(view, inode, c, head.loc, fb, head));
  return add_entry(view, inode, c, block, e.media_block + (block - fb), fb + e.count - block);
}

Status ExtentMaps::shift(MetaView& view, format::Inode& inode, std::uint64_t from,
                         std::int64_t delta) {
  std::lock_guard lock(mutex_);
  PINFS_ASSIGN_OR_RETURN(Cache * cp, cache(view, inode));
  Cache& c = *cp;
  view.txn()->on_abort([this, ino = inode.ino.get()] { forget(ino); });
  std::vector<std::pair<std::uint64_t, Entry>> moved;
  for (auto it = c.map.lower_bound(from); it != c.map.end(); ++it) moved.push_back(*it);
  for (auto& [fb, e] : moved) {
    c.map.erase(fb);
    std::uint64_t nfb = fb + static_cast<std::uint64_t>(delta);
    if ((delta < 0 && static_cast<std::uint64_t>(-delta) > fb) || nfb >= kMaxFileBlocks ||
        e.count > kMaxFileBlocks - nfb)
      return Error(EFBIG, "shift extents", InodeTable::name(inode.ino),
                   fmt::format("extent at file block {} would move out of range", fb));
    fb = nfb;
  }
  for (auto& [fb, e] : moved) {
    if (!c.map.emplace(fb, e).second)
      return corrupt("shift extents", InodeTable::name(inode.ino),
                     fmt::format("two extents would start at file block {}", fb));
    PINFS_TRY(put(view, inode, c, e.loc, fb, e));
  }
  return ok_status();
}

}  // namespace pinfs::fs
