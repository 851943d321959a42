// InodeTable: the fixed table of 256-byte inode records and the inode bitmap
// that says which are in use (docs/format.md, "Inodes").
//
// The bitmap is mirrored in DRAM (one bit per inode) so that allocation and
// "is this inode live" need no media read; changes to the mirror register
// their undo on the txn. A record is only meaningful while its bit is set:
// mkfs never clears the table, and a free slot may hold anything.
//
// Not thread-safe: guarded by the file system's lock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fs/filesystem.h"
#include "fs/format.h"
#include "fs/geometry.h"
#include "fs/meta_io.h"
#include "pinfs/error.h"

namespace pinfs::fs {

// Hard-link limit, as ext4's (a directory's nlink counts its subdirectories).
inline constexpr std::uint32_t kLinkMax = 65000;
// The largest blob (all xattrs of one inode, with headers).
inline constexpr std::uint64_t kMaxBlobBytes = 256 * 1024;

class InodeTable {
 public:
  explicit InodeTable(const Geometry& geometry) : g_(geometry) {}

  Status load(const MetaView& view);

  bool allocated(InodeNumber ino) const {
    return ino < g_.inode_count && ((bits_[ino / 64] >> (ino % 64)) & 1u) != 0;
  }
  std::uint64_t free_count() const { return free_; }
  std::uint64_t total() const { return g_.inode_count - 1; }

  // Finds a free inode and marks it used; returns a fresh record for it
  // (generation one past the slot's previous life, when it had one here).
  Result<format::Inode> allocate(MetaView& view);
  Status free(MetaView& view, InodeNumber ino);

  // The record of a live inode, verified: CRC, its own number, and fields
  // within bounds (every one of them is used as an index or a loop bound).
  Result<format::Inode> read(const MetaView& view, InodeNumber ino) const;
  // Stages the record.
  void write(MetaView& view, const format::Inode& inode) const;

  // "[inode 7]": how errors name an inode.
  static std::string name(InodeNumber ino);
  // Why the record is not sane, or empty.
  static std::string validate(const format::Inode& inode, const Geometry& g);

 private:
  Status stage_bit(MetaView& view, InodeNumber ino, bool value);
  void set_dram(InodeNumber ino, bool value);

  const Geometry& g_;
  std::vector<std::uint64_t> bits_;
  std::uint64_t free_ = 0;
  std::uint64_t hint_ = 1;
};

}  // namespace pinfs::fs
