#include "fs/inode_table.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <bit>
#include <cstring>

#include "fs/crc.h"
#include "fs/le.h"

namespace pinfs::fs {

namespace {

RecordName chunk_name(std::uint64_t chunk) { return RecordName("[inode-bitmap chunk {}]", chunk); }

bool known_type(std::uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
    case S_IFBLK: case S_IFIFO: case S_IFSOCK:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string InodeTable::name(InodeNumber ino) { return fmt::format("[inode {}]", ino); }

Status InodeTable::load(const MetaView& view) {
  bits_.assign((g_.inode_count + 63) / 64, 0);
  free_ = 0;
  for (std::uint64_t c = 0; c < g_.inode_bitmap_chunks; ++c) {
    PINFS_ASSIGN_OR_RETURN(auto chunk,
                           view.read(g_.inode_bitmap_chunk_offset(c), format::kChunkBytes,
                                     format::kKindInodeBitmap, chunk_name(c)));
    if (load_as<format::ChunkHeader>(chunk.data()).index.get() != c)
      return corrupt("mount", chunk_name(c).str(), "chunk holds another chunk's index");
    const std::byte* payload = chunk.data() + sizeof(format::ChunkHeader);
    std::uint64_t first = c * kInodesPerBitmapChunk;
    for (std::uint64_t i = 0; i < format::kChunkPayloadBytes; ++i) {
      auto byte = std::to_integer<std::uint8_t>(payload[i]);
      if (byte == 0) continue;
      for (int bit = 0; bit < 8; ++bit) {
        if (((byte >> bit) & 1) == 0) continue;
        std::uint64_t ino = first + i * 8 + static_cast<std::uint64_t>(bit);
        if (ino >= g_.inode_count) {
          return corrupt("mount", chunk_name(c).str(),
                         fmt::format("bit for inode {} set, beyond the {} inodes", ino,
                                     g_.inode_count));
        }
        bits_[ino / 64] |= 1ull << (ino % 64);
      }
    }
  }
  if (!allocated(0)) return corrupt("mount", chunk_name(0).str(), "the reserved inode 0 is marked free");
  std::uint64_t used = 0;
  for (std::uint64_t w : bits_) used += static_cast<std::uint64_t>(std::popcount(w));
  free_ = g_.inode_count - used;
  hint_ = 1;
  return ok_status();
}

void InodeTable::set_dram(InodeNumber ino, bool value) {
  bool was = allocated(ino);
  if (was == value) return;
  if (value) {
    bits_[ino / 64] |= 1ull << (ino % 64);
    --free_;
  } else {
    bits_[ino / 64] &= ~(1ull << (ino % 64));
    ++free_;
  }
}

Status InodeTable::stage_bit(MetaView& view, InodeNumber ino, bool value) {
  std::uint64_t c = ino / kInodesPerBitmapChunk;
  std::uint64_t i = ino % kInodesPerBitmapChunk;
  PINFS_ASSIGN_OR_RETURN(auto chunk,
                         view.modify(g_.inode_bitmap_chunk_offset(c), format::kChunkBytes,
                                     format::kKindInodeBitmap, chunk_name(c)));
  std::byte& byte = chunk[sizeof(format::ChunkHeader) + i / 8];
  if (value) {
    byte |= std::byte(1u << (i % 8));
  } else {
    byte &= ~std::byte(1u << (i % 8));
  }
  view.txn()->on_abort([this, ino, old = allocated(ino)] { set_dram(ino, old); });
  set_dram(ino, value);
  return ok_status();
}

Result<format::Inode> InodeTable::allocate(MetaView& view) {
  if (free_ == 0) return Error(ENOSPC, "allocate inode", "[inode table]", "no free inode");
  std::uint64_t words = bits_.size();
  std::uint64_t start = hint_ / 64;
  InodeNumber ino = 0;
  for (std::uint64_t n = 0; n < words && ino == 0; ++n) {
    std::uint64_t w = (start + n) % words;
    if (bits_[w] == ~0ull) continue;
    std::uint64_t candidate = w * 64 + static_cast<std::uint64_t>(std::countr_one(bits_[w]));
    if (candidate < g_.inode_count) ino = candidate;
  }
  if (ino == 0) return Error(ENOSPC, "allocate inode", "[inode table]", "no free inode");
  PINFS_TRY(stage_bit(view, ino, true));
  hint_ = ino + 1;
  // A record this file system wrote before (its CRC checks) gives the
  // generation to continue from; anything else is left over from before.
  std::uint64_t generation = 1;
  std::vector<std::byte> old(sizeof(format::Inode));
  view.read_raw(g_.inode_offset(ino), old.data(), old.size());
  if (record_valid(old, format::kKindInode, g_.inode_offset(ino), g_.seed)) {
    generation = load_as<format::Inode>(old.data()).generation + 1;
  }
  format::Inode inode{};
  inode.kind = format::kKindInode;
  inode.ino = ino;
  inode.generation = generation;
  return inode;
}

Status InodeTable::free(MetaView& view, InodeNumber ino) {
  // The record stays (generation continues from it); only the bit says free.
  return stage_bit(view, ino, false);
}

std::string InodeTable::validate(const format::Inode& n, const Geometry& g) {
  std::uint32_t mode = n.mode;
  if (!known_type(mode)) return fmt::format("unknown file type in mode {:o}", mode);
  if ((n.flags & ~format::kInodeKnownFlags) != 0) return fmt::format("unknown flags {:#x}", n.flags.get());
  if (n.nlink > kLinkMax + 2) return fmt::format("link count {}", n.nlink.get());
  for (const format::Time* t : {&n.atime, &n.mtime, &n.ctime, &n.btime})
    if (t->nsec >= 1000000000u) return fmt::format("nanoseconds {} out of range", t->nsec.get());
  if (n.chain_head != 0 && !g.blocks_in_data_area(n.chain_head, 1))
    return fmt::format("extent chain at block {} outside the data area", n.chain_head.get());
  if ((n.chain_head == 0) != (n.chain_blocks == 0))
    return "extent chain head and length disagree";
  if (n.chain_blocks > g.data_blocks()) return fmt::format("extent chain of {} blocks", n.chain_blocks.get());
  if (n.xattr_block != 0 &&
      (n.xattr_blocks == 0 || !g.blocks_in_data_area(n.xattr_block, n.xattr_blocks)))
    return fmt::format("xattr blob [{}, +{}) outside the data area", n.xattr_block.get(),
                       n.xattr_blocks.get());
  if (n.xattr_block == 0 && n.xattr_blocks != 0) return "xattr blob length without a block";
  // Blobs are bounded (format.md, "Limits"): a larger count would only make
  // a reader allocate for it.
  if (n.xattr_blocks > kMaxBlobBytes / g.block_size + 1)
    return fmt::format("xattr blob of {} blocks", n.xattr_blocks.get());
  if (n.orphan_next >= g.inode_count || n.orphan_prev >= g.inode_count)
    return "orphan list link beyond the inode table";
  bool dir = (mode & S_IFMT) == S_IFDIR;
  if (dir) {
    if (n.dir_slots > format::kDirMaxSlots) return fmt::format("{} directory slots", n.dir_slots.get());
    if (n.dir_free_head > n.dir_slots) return "directory free list head beyond its slots";
    if (n.dir_entries > n.dir_slots) return "more directory entries than slots";
    if (n.dir_index_log2 > format::kMaxIndexLog2) return fmt::format("directory index of 2^{} entries", n.dir_index_log2.get());
    if (n.dir_index_log2 != 0 && n.dir_index_used > (1u << n.dir_index_log2))
      return "directory index more than full";
    if (n.dir_index_log2 == 0 && n.dir_entries != 0) return "directory entries without an index";
    if (n.parent == 0 || n.parent >= g.inode_count) return fmt::format("parent {}", n.parent.get());
  } else if (n.dir_slots != 0 || n.dir_entries != 0 || n.dir_index_log2 != 0) {
    return "directory fields set on a non-directory";
  }
  if ((mode & S_IFMT) != S_IFREG && !dir && (n.chain_head != 0 || n.data_blocks != 0))
    return "extents on an inode that has no data";
  if ((mode & S_IFMT) == S_IFLNK) {
    if (n.size > kSymlinkMaxBytes) return fmt::format("symlink of {} bytes", n.size.get());
    if ((n.flags & format::kInodeFlagInlineLink) != 0) {
      if (n.size > format::kInlineAreaBytes) return "inline symlink longer than the inline area";
    } else {
      auto ref = load_as<format::BlobRef>(n.inline_area);
      if (!g.blocks_in_data_area(ref.block, ref.block_count) || ref.length != n.size ||
          ref.block_count > (sizeof(format::BlobHeader) + kSymlinkMaxBytes) / g.block_size + 1)
        return "symlink target blob outside the data area or too long";
    }
  } else if ((n.flags & format::kInodeFlagInlineLink) != 0) {
    return "inline-symlink flag on a non-symlink";
  }
  return {};
}

Result<format::Inode> InodeTable::read(const MetaView& view, InodeNumber ino) const {
  if (ino == 0 || ino >= g_.inode_count)
    return Error(ENOENT, "read inode", name(ino), "no such inode number");
  if (!allocated(ino)) return Error(ENOENT, "read inode", name(ino), "inode is not in use");
  PINFS_ASSIGN_OR_RETURN(auto bytes, view.read(g_.inode_offset(ino), sizeof(format::Inode),
                                               format::kKindInode, RecordName("[inode {}]", ino)));
  auto inode = load_as<format::Inode>(bytes.data());
  if (inode.ino.get() != ino)
    return corrupt("read inode", name(ino),
                   fmt::format("record claims to be inode {}", inode.ino.get()));
  if (std::string why = validate(inode, g_); !why.empty())
    return corrupt("read inode", name(ino), why);
  return inode;
}

void InodeTable::write(MetaView& view, const format::Inode& inode) const {
  std::uint64_t offset = g_.inode_offset(inode.ino);
  std::span<std::byte> rec;
  if (std::byte* staged = view.txn()->find(offset, sizeof(format::Inode))) {
    rec = {staged, sizeof(format::Inode)};
  } else {
    rec = view.create(offset, sizeof(format::Inode), format::kKindInode);
  }
  store_as(rec.data(), inode);
}

}  // namespace pinfs::fs
