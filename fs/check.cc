// FileSystem::check: verifies a file system that is not being changed, and
// never writes (docs/format.md, "Check"). It sees the image as recovery
// would: a committed transaction not yet replayed is applied in an overlay.
// Every value read is untrusted; each problem becomes a finding naming the
// region, inode or block, and the walk goes on where it can.
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "fs/allocator.h"
#include "fs/blob.h"
#include "fs/directory.h"
#include "fs/extent_map.h"
#include "fs/inode_table.h"
#include "fs/journal.h"
#include "fs/le.h"
#include "fs/pin_table.h"
#include "fs/recovery.h"
#include "fs/superblock.h"
#include "fs/xattr_blob.h"

namespace pinfs::fs {

namespace {

constexpr std::size_t kMaxFindings = 1000;

struct Info {
  std::uint32_t mode = 0;
  std::uint32_t nlink = 0;
  std::uint32_t flags = 0;
  InodeNumber parent = 0;
  InodeNumber orphan_next = 0;
  InodeNumber orphan_prev = 0;
};

struct Link {
  InodeNumber dir;
  InodeNumber target;
  std::uint8_t type;
  std::string name;
};

struct Owned {
  std::uint64_t block;
  std::uint64_t count;
  std::uint32_t owner;  // index into owner names
};

class Checker {
 public:
  Checker(const Media& media, CheckReport& report) : media_(media), report_(report) {}

  Status run();

 private:
  void add(std::string where, std::string what) {
    if (report_.findings.size() == kMaxFindings) {
      report_.findings.push_back({"check", "more findings omitted"});
    }
    if (report_.findings.size() > kMaxFindings) return;
    report_.findings.push_back({std::move(where), std::move(what)});
  }
  void add(const Error& e) { add(e.object(), e.message()); }
  std::uint32_t owner(std::string name) {
    owner_names_.push_back(std::move(name));
    return static_cast<std::uint32_t>(owner_names_.size() - 1);
  }
  void own(std::uint64_t block, std::uint64_t count, std::uint32_t who) {
    owned_.push_back({block, count, who});
  }

  void check_tables(const MetaView& view);
  void check_inode(const MetaView& view, InodeNumber ino);
  void check_directory(const MetaView& view, const format::Inode& dir,
                       const std::vector<Mapping>& maps);
  void check_links();
  void check_orphans(const MetaView& view);
  void check_ownership();
  void check_pinned_extents();

  const Media& media_;
  CheckReport& report_;
  Geometry g_;
  std::optional<format::Superblock> primary_;
  std::vector<std::uint8_t> unit_state_;  // 0xFF: unknown (its chunk is damaged)
  std::unordered_map<std::uint64_t, std::vector<std::uint8_t>> bitmaps_;  // small units
  std::vector<std::uint64_t> inode_bits_;
  std::unordered_map<InodeNumber, Info> good_;
  std::unordered_set<InodeNumber> damaged_;
  std::vector<Link> links_;
  std::vector<Owned> owned_;
  std::vector<std::string> owner_names_;
  std::map<std::uint64_t, PinRecord> pins_;  // the pin table's valid records
  std::unique_ptr<Allocator> no_alloc_;
  std::unique_ptr<ExtentMaps> maps_;
  std::unique_ptr<Directories> dirs_;
};

Status Checker::run() {
  SuperblockPair sbs = read_superblocks(media_);
  if (!sbs.primary && !sbs.backup && !sbs.primary_has_magic && !sbs.backup_has_magic)
    return Error(EINVAL, "check", media_.path(), "no pinfs superblock");
  auto rv = read_recovery_view(media_);
  if (!rv.ok()) {
    add(rv.error().detail().find("[superblock]") != std::string::npos ? "superblock" : "journal",
        rv.error().message());
    return ok_status();
  }
  if (sbs.primary && !sbs.backup) {
    add("superblock-backup", sbs.backup_has_magic ? "fails its checksum" : "missing");
  } else if (sbs.primary && sbs.backup && !same_geometry(*sbs.primary, *sbs.backup)) {
    add("superblock-backup", "describes another geometry than the primary");
  }
  g_ = rv->geometry;
  primary_ = rv->primary;
  std::uint32_t state = primary_->state;
  if (state != format::kStateClean && state != format::kStateDirty)
    add("superblock", fmt::format("state {} is neither clean nor dirty", state));
  // The image as recovery would leave it: the committed transaction applied.
  Overlay none;
  const Overlay* overlay = rv->replay ? &rv->journal.records : &none;
  MetaSource source(media_, overlay);
  MetaView view(source, g_, nullptr);
  no_alloc_ = std::make_unique<Allocator>(g_);
  maps_ = std::make_unique<ExtentMaps>(g_, *no_alloc_);
  dirs_ = std::make_unique<Directories>(g_, *maps_, nullptr, nullptr);

  check_tables(view);
  for (InodeNumber ino = 1; ino < g_.inode_count; ++ino) {
    if (((inode_bits_[ino / 64] >> (ino % 64)) & 1u) == 0) continue;
    check_inode(view, ino);
    ++report_.inodes_checked;
  }
  if (!good_.count(kRootInode)) add("inode 1", "the root directory is missing or damaged");
  check_links();
  check_orphans(view);
  check_ownership();
  check_pinned_extents();
  return ok_status();
}

void Checker::check_tables(const MetaView& view) {
  unit_state_.assign(g_.unit_count, 0xFF);
  for (std::uint64_t c = 0; c < g_.unit_table_chunks; ++c) {
    std::string where = fmt::format("unit-table chunk {}", c);
    auto chunk = view.read(g_.unit_table_chunk_offset(c), format::kChunkBytes,
                           format::kKindUnitTable, where);
    if (!chunk.ok()) { add(where, chunk.error().detail()); continue; }
    if (load_as<format::ChunkHeader>(chunk->data()).index.get() != c) {
      add(where, "holds another chunk's index");
      continue;
    }
    for (std::uint64_t i = 0; i < kUnitsPerTableChunk; ++i) {
      std::uint64_t u = c * kUnitsPerTableChunk + i;
      if (u >= g_.unit_count) break;
      auto s = std::to_integer<std::uint8_t>((*chunk)[sizeof(format::ChunkHeader) + i]);
      bool meta = u < g_.first_data_unit;
      if (s > format::kUnitMetadata || meta != (s == format::kUnitMetadata)) {
        add(fmt::format("unit {}", u), fmt::format("state {} is wrong for a {} unit", s, meta ? "metadata" : "data"));
        continue;
      }
      unit_state_[u] = s;
    }
  }
  const std::uint64_t bpu = g_.blocks_per_unit();
  for (std::uint64_t u = g_.first_data_unit; u < g_.unit_count; ++u) {
    if (unit_state_[u] != format::kUnitSmall) continue;
    std::string where = fmt::format("block-bitmap unit {}", u);
    auto rec = view.read(g_.bitmap_record_offset(u), g_.bitmap_record_bytes,
                         format::kKindBlockBitmap, where);
    if (!rec.ok()) { add(where, rec.error().detail()); unit_state_[u] = 0xFF; continue; }
    if (load_as<format::BlockBitmapHeader>(rec->data()).unit.get() != u) {
      add(where, "holds another unit's number");
      unit_state_[u] = 0xFF;
      continue;
    }
    std::vector<std::uint8_t> bits((bpu + 7) / 8);
    std::memcpy(bits.data(), rec->data() + sizeof(format::BlockBitmapHeader), bits.size());
    bitmaps_.emplace(u, std::move(bits));
  }
  for (std::uint64_t c = 0; c < g_.quarantine_chunks; ++c) {
    std::string where = fmt::format("quarantine chunk {}", c);
    auto chunk = view.read(g_.quarantine_chunk_offset(c), format::kChunkBytes,
                           format::kKindQuarantine, where);
    if (!chunk.ok()) { add(where, chunk.error().detail()); continue; }
    if (load_as<format::ChunkHeader>(chunk->data()).index.get() != c) {
      add(where, "holds another chunk's index");
      continue;
    }
    for (std::uint64_t i = 0; i < format::kQuarantinePerChunk; ++i) {
      auto e = load_as<format::QuarantineEntry>(chunk->data() + sizeof(format::ChunkHeader) +
                                                i * sizeof(format::QuarantineEntry));
      if ((e.flags & format::kQuarantineInUse) == 0) continue;
      std::uint64_t off = e.media_offset, len = e.length;
      if (off % g_.block_size != 0 || len % g_.block_size != 0 ||
          !g_.blocks_in_data_area(off / g_.block_size, len / g_.block_size)) {
        add(where, fmt::format("entry {} [{}, +{}) is not a block range of the data area", i, off, len));
        continue;
      }
      own(off / g_.block_size, len / g_.block_size,
          owner(fmt::format("quarantine entry {}", c * format::kQuarantinePerChunk + i)));
    }
  }
  pins_ = decode_pin_table(view, [this](std::string where, std::string what) {
            add(std::move(where), std::move(what));
          }).records;
  inode_bits_.assign((g_.inode_count + 63) / 64, 0);
  for (std::uint64_t c = 0; c < g_.inode_bitmap_chunks; ++c) {
    std::string where = fmt::format("inode-bitmap chunk {}", c);
    auto chunk = view.read(g_.inode_bitmap_chunk_offset(c), format::kChunkBytes,
                           format::kKindInodeBitmap, where);
    if (!chunk.ok()) { add(where, chunk.error().detail()); continue; }
    if (load_as<format::ChunkHeader>(chunk->data()).index.get() != c) {
      add(where, "holds another chunk's index");
      continue;
    }
    for (std::uint64_t i = 0; i < kInodesPerBitmapChunk; ++i) {
      auto byte = std::to_integer<std::uint8_t>((*chunk)[sizeof(format::ChunkHeader) + i / 8]);
      if (((byte >> (i % 8)) & 1) == 0) continue;
      std::uint64_t ino = c * kInodesPerBitmapChunk + i;
      if (ino >= g_.inode_count) {
        add(where, fmt::format("marks inode {} in use, beyond the {} inodes", ino, g_.inode_count));
        break;
      }
      inode_bits_[ino / 64] |= 1ull << (ino % 64);
    }
  }
  if ((inode_bits_[0] & 1u) == 0) add("inode-bitmap chunk 0", "the reserved inode 0 is marked free");
}

void Checker::check_inode(const MetaView& view, InodeNumber ino) {
  std::string where = fmt::format("inode {}", ino);
  auto bytes = view.read(g_.inode_offset(ino), sizeof(format::Inode), format::kKindInode, where);
  if (!bytes.ok()) {
    add(where, "in use but " + bytes.error().detail());
    damaged_.insert(ino);
    return;
  }
  auto n = load_as<format::Inode>(bytes->data());
  if (n.ino.get() != ino) {
    add(where, fmt::format("record claims to be inode {}", n.ino.get()));
    damaged_.insert(ino);
    return;
  }
  if (std::string why = InodeTable::validate(n, g_); !why.empty()) {
    add(where, why);
    damaged_.insert(ino);
    return;
  }
  good_[ino] = Info{n.mode, n.nlink, n.flags, n.parent, n.orphan_next, n.orphan_prev};
  std::uint32_t who = owner(where);
  auto maps = maps_->find(view, n, 0, UINT64_MAX);
  std::vector<Mapping> mappings;
  if (!maps.ok()) {
    add(where, maps.error().detail());
  } else {
    mappings = *maps;
    for (const Mapping& m : mappings) own(m.media_block, m.count, who);
    auto chain = maps_->chain(view, n);
    if (chain.ok()) {
      for (std::uint64_t b : *chain) own(b, 1, owner(where + " extent block"));
    }
  }
  maps_->forget(ino);
  const std::uint32_t type = n.mode & S_IFMT;
  if (type == S_IFREG) {
    if (n.size > (1ull << 46)) add(where, fmt::format("size {} beyond the largest file", n.size.get()));
    for (const Mapping& m : mappings)
      if (m.file_block >= format::kDirIndexForkA) add(where, fmt::format("extent at file block {} beyond the largest file", m.file_block));
  } else if (type == S_IFDIR && maps.ok()) {
    check_directory(view, n, mappings);
  } else if (type == S_IFLNK && (n.flags & format::kInodeFlagInlineLink) == 0) {
    auto ref = load_as<format::BlobRef>(n.inline_area);
    auto blob = read_blob(view, format::kKindSymlink, ino, {ref.block, ref.block_count});
    if (!blob.ok()) {
      add(where, "symlink target: " + blob.error().detail());
    } else {
      own(ref.block, ref.block_count, owner(where + " symlink target"));
      if (blob->payload.size() != n.size) add(where, "symlink target length differs from the size");
    }
  }
  if (n.xattr_block != 0) {
    auto blob = read_blob(view, format::kKindXattr, ino, {n.xattr_block, n.xattr_blocks});
    if (!blob.ok()) {
      add(where, "xattrs: " + blob.error().detail());
    } else {
      own(n.xattr_block, n.xattr_blocks, owner(where + " xattrs"));
      auto items = parse_xattr_blob(*blob, ino);
      if (!items.ok()) add(where, "xattrs: " + items.error().detail());
    }
  }
}

void Checker::check_directory(const MetaView& view, const format::Inode& dir,
                              const std::vector<Mapping>& maps) {
  const InodeNumber ino = dir.ino;
  const std::string where = fmt::format("inode {}", ino);
  const std::uint64_t per = dirs_->slots_per_block();
  const std::uint64_t entry_blocks = (dir.dir_slots + per - 1) / per;
  const std::uint64_t index_blocks =
      dir.dir_index_log2 == 0 ? 0 : ((1ull << dir.dir_index_log2) + dirs_->index_per_block() - 1) / dirs_->index_per_block();
  const std::uint64_t fork = Directories::index_fork(dir);
  std::uint64_t entry_mapped = 0, index_mapped = 0;
  for (const Mapping& m : maps) {
    if (m.file_end() <= entry_blocks) {
      entry_mapped += m.count;
    } else if (m.file_block >= fork && m.file_end() <= fork + index_blocks) {
      index_mapped += m.count;
    } else {
      add(where, fmt::format("directory maps file blocks [{}, +{}) outside its entry and index blocks",
                             m.file_block, m.count));
    }
  }
  if (entry_mapped != entry_blocks)
    add(where, fmt::format("{} entry blocks for {} slots, {} mapped", entry_blocks, dir.dir_slots.get(), entry_mapped));
  if (index_mapped != index_blocks)
    add(where, fmt::format("index of {} blocks, {} mapped", index_blocks, index_mapped));
  if (dir.size != entry_blocks * g_.block_size)
    add(where, fmt::format("directory size {} for {} entry blocks", dir.size.get(), entry_blocks));
  if (entry_mapped != entry_blocks || index_mapped != index_blocks) return;
  std::uint64_t live = 0;
  std::vector<std::pair<std::uint32_t, std::string>> names;
  Status s = dirs_->list(view, dir, 0, [&](std::uint32_t slot, std::string_view name, InodeNumber target, std::uint8_t type) {
    ++live;
    links_.push_back({ino, target, type, std::string(name)});
    names.push_back({slot, std::string(name)});
    return true;
  });
  if (!s.ok()) {
    add(where, s.error().detail());
    return;
  }
  if (live != dir.dir_entries)
    add(where, fmt::format("{} live entries, the inode says {}", live, dir.dir_entries.get()));
  auto free_slots = dirs_->count_free_slots(view, dir);
  if (!free_slots.ok()) {
    add(where, free_slots.error().detail());
  } else if (*free_slots + live != dir.dir_slots) {
    add(where, fmt::format("{} live and {} free slots, of {}", live, *free_slots, dir.dir_slots.get()));
  }
  auto index = dirs_->index_entries(view, dir);
  if (!index.ok()) {
    add(where, index.error().detail());
    return;
  }
  if (index->size() != live)
    add(where, fmt::format("index holds {} entries for {} live ones", index->size(), live));
  if (dir.dir_index_used < index->size()) add(where, "index use count below its live entries");
  for (const auto& [slot, name] : names) {
    auto found = dirs_->lookup(view, dir, name);
    if (!found.ok()) {
      add(where, found.error().detail());
      return;
    }
    if (!*found || (*found)->slot != slot)
      add(fmt::format("dir {} entry '{}'", ino, name), "the index does not find it");
  }
}

void Checker::check_links() {
  std::unordered_map<InodeNumber, std::uint64_t> entries;
  std::unordered_map<InodeNumber, std::uint64_t> subdirs;
  std::unordered_map<InodeNumber, InodeNumber> parent_of;
  for (const Link& l : links_) {
    std::string where = fmt::format("dir {} entry '{}'", l.dir, l.name);
    auto it = good_.find(l.target);
    if (it == good_.end()) {
      bool allocated = l.target < g_.inode_count && ((inode_bits_[l.target / 64] >> (l.target % 64)) & 1u);
      add(where, allocated ? fmt::format("points to inode {}, whose record is damaged", l.target)
                           : fmt::format("points to inode {}, which is not in use", l.target));
      continue;
    }
    if (((it->second.mode & S_IFMT) >> 12) != l.type)
      add(where, fmt::format("type {} differs from inode {}'s mode {:o}", l.type, l.target, it->second.mode));
    ++entries[l.target];
    if ((it->second.mode & S_IFMT) == S_IFDIR) {
      if (l.target == kRootInode) {
        add(where, "links the root directory");
      } else if (!parent_of.emplace(l.target, l.dir).second) {
        add(where, fmt::format("a second link to directory {}", l.target));
      } else {
        ++subdirs[l.dir];
      }
    }
  }
  for (const auto& [ino, info] : good_) {
    std::string where = fmt::format("inode {}", ino);
    bool dir = (info.mode & S_IFMT) == S_IFDIR;
    std::uint64_t refs = entries[ino];
    if (info.nlink == 0) {
      if (refs != 0) add(where, fmt::format("link count 0 but {} entries refer to it", refs));
      if ((info.flags & format::kInodeFlagOrphan) == 0) add(where, "unlinked but not on the orphan list");
      continue;
    }
    if ((info.flags & format::kInodeFlagOrphan) != 0) add(where, "linked but marked as an orphan");
    if (!dir) {
      if (refs != info.nlink)
        add(where, fmt::format("link count {} but {} entries refer to it", info.nlink, refs));
      continue;
    }
    std::uint64_t expected = 2 + subdirs[ino];
    if (info.nlink != expected)
      add(where, fmt::format("directory link count {} but it has {} subdirectories (expected {})",
                             info.nlink, subdirs[ino], expected));
    if (ino == kRootInode) {
      if (info.parent != kRootInode) add(where, fmt::format("root's '..' is {}", info.parent));
      continue;
    }
    auto p = parent_of.find(ino);
    if (p == parent_of.end()) {
      add(where, "directory is in use but no directory links it");
      continue;
    }
    if (p->second != info.parent)
      add(where, fmt::format("'..' is inode {} but the directory is linked from {}", info.parent, p->second));
    // Connected to the root, not part of a detached cycle.
    InodeNumber cur = ino;
    std::uint64_t steps = 0;
    while (cur != kRootInode && steps++ <= good_.size()) {
      auto up = parent_of.find(cur);
      if (up == parent_of.end()) break;
      cur = up->second;
    }
    if (cur != kRootInode) add(where, "directory is not connected to the root");
  }
}

void Checker::check_orphans(const MetaView& view) {
  if (!primary_) return;
  (void)view;
  std::unordered_set<InodeNumber> seen;
  InodeNumber prev = 0;
  for (InodeNumber ino = primary_->orphan_head; ino != 0;) {
    std::string where = fmt::format("orphan list at inode {}", ino);
    if (!seen.insert(ino).second) { add(where, "the list loops"); break; }
    auto it = good_.find(ino);
    if (it == good_.end()) { add(where, "member is not a live inode"); break; }
    if (it->second.nlink != 0 || (it->second.flags & format::kInodeFlagOrphan) == 0)
      add(where, "member is linked or not marked as an orphan");
    if (it->second.orphan_prev != prev) add(where, fmt::format("back link is {}, expected {}", it->second.orphan_prev, prev));
    prev = ino;
    ino = it->second.orphan_next;
  }
  for (const auto& [ino, info] : good_)
    if ((info.flags & format::kInodeFlagOrphan) != 0 && !seen.count(ino))
      add(fmt::format("inode {}", ino), "marked as an orphan but not on the orphan list");
}

// Invariant 1 as the media records it: a recorded pin's extents are in a
// file or in the quarantine, never free (they would be handed out again).
void Checker::check_pinned_extents() {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> owned;  // merged block runs
  for (const Owned& o : owned_) {  // sorted by check_ownership
    if (!owned.empty() && o.block <= owned.back().second) {
      owned.back().second = std::max(owned.back().second, o.block + o.count);
    } else {
      owned.emplace_back(o.block, o.block + o.count);
    }
  }
  for (const auto& [id, pin] : pins_) {
    for (const Extent& e : pin.extents) {
      const std::uint64_t first = e.media_offset / g_.block_size;
      const std::uint64_t end = (e.media_offset + e.length + g_.block_size - 1) / g_.block_size;
      auto it = std::upper_bound(owned.begin(), owned.end(), std::pair{first, UINT64_MAX});
      bool covered = it != owned.begin() && std::prev(it)->first <= first && std::prev(it)->second >= end;
      if (!covered) {
        add(fmt::format("pin {}", id),
            fmt::format("pinned media [{}, +{}) (inode {}) is not wholly in a file or the quarantine: "
                        "it could be handed out again",
                        e.media_offset, e.length, pin.ino));
        break;
      }
    }
  }
}

void Checker::check_ownership() {
  const std::uint64_t bpu = g_.blocks_per_unit();
  std::sort(owned_.begin(), owned_.end(), [](const Owned& a, const Owned& b) { return a.block < b.block; });
  std::uint64_t reach = 0;
  std::uint32_t reach_owner = 0;
  for (const Owned& o : owned_) {
    if (o.block < reach)
      add(fmt::format("block {}", o.block),
          fmt::format("used by both {} and {}", owner_names_[reach_owner], owner_names_[o.owner]));
    if (o.block + o.count > reach) {
      reach = o.block + o.count;
      reach_owner = o.owner;
    }
    report_.blocks_in_use += o.count;
  }
  std::unordered_map<std::uint64_t, std::vector<std::uint8_t>> owned_bits;
  std::unordered_map<std::uint64_t, std::pair<std::uint32_t, std::uint64_t>> aligned;  // owner, blocks
  std::unordered_set<std::uint64_t> reported;
  for (const Owned& o : owned_) {
    std::uint64_t b = o.block, end = o.block + o.count;
    while (b < end) {
      std::uint64_t u = g_.unit_of_block(b);
      std::uint64_t first = g_.first_block_of_unit(u);
      std::uint64_t piece_end = std::min(end, first + bpu);
      std::uint8_t state = u < unit_state_.size() ? unit_state_[u] : 0xFF;
      if (state == format::kUnitSmall) {
        auto& bits = owned_bits[u];
        if (bits.empty()) bits.assign((bpu + 7) / 8, 0);
        for (std::uint64_t i = b - first; i < piece_end - first; ++i) bits[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
      } else if (state == format::kUnitAligned) {
        auto [it, fresh] = aligned.emplace(u, std::pair{o.owner, 0});
        if (!fresh && it->second.first != o.owner && owner_names_[it->second.first] != owner_names_[o.owner])
          add(fmt::format("unit {}", u), fmt::format("aligned unit shared by {} and {}",
                                                     owner_names_[it->second.first], owner_names_[o.owner]));
        it->second.second += piece_end - b;
      } else if (state != 0xFF && reported.insert(u).second) {
        add(fmt::format("block {}", b), fmt::format("used by {} but unit {} is {}", owner_names_[o.owner], u,
                                                    state == format::kUnitFree ? "free" : "metadata"));
      }
      b = piece_end;
    }
  }
  for (const auto& [u, bits] : bitmaps_) {
    auto it = owned_bits.find(u);
    std::uint64_t leaked = 0, unmarked = 0, first_leak = 0, first_unmarked = 0, used = 0;
    for (std::uint64_t i = 0; i < bpu; ++i) {
      bool set = (bits[i / 8] >> (i % 8)) & 1u;
      bool own = it != owned_bits.end() && ((it->second[i / 8] >> (i % 8)) & 1u);
      used += set;
      if (set && !own && leaked++ == 0) first_leak = g_.first_block_of_unit(u) + i;
      if (!set && own && unmarked++ == 0) first_unmarked = g_.first_block_of_unit(u) + i;
    }
    if (leaked != 0)
      add(fmt::format("block {}", first_leak), fmt::format("{} blocks of unit {} are marked in use but nothing owns them (a leak)", leaked, u));
    if (unmarked != 0)
      add(fmt::format("block {}", first_unmarked), fmt::format("{} blocks of unit {} are in use but free in the bitmap (could be handed out twice)", unmarked, u));
    if (used == 0) add(fmt::format("unit {}", u), "small-block unit with no block in use (should be free)");
  }
  for (std::uint64_t u = g_.first_data_unit; u < g_.unit_count; ++u) {
    if (unit_state_[u] != format::kUnitAligned) continue;
    auto it = aligned.find(u);
    if (it == aligned.end()) {
      add(fmt::format("unit {}", u), "aligned unit owned by nothing (a leak)");
    } else if (it->second.second != bpu) {
      add(fmt::format("unit {}", u), fmt::format("aligned unit only {} of {} blocks owned by {}",
                                                 it->second.second, bpu, owner_names_[it->second.first]));
    }
  }
}

}  // namespace

Result<CheckReport> FileSystem::check(const Media& media) {
  CheckReport report;
  Checker checker(media, report);
  PINFS_TRY(checker.run());
  return report;
}

}  // namespace pinfs::fs
