// PmemFileSystem: the FileSystem of filesystem.h on the pinfs format.
//
// Locking (the one lock order of the file system):
//   LayoutHooks::begin/end_layout_change   -- called with no lock held
//   mutex_ (shared: reads, acquire, in-place overwrites; exclusive:
//           anything that stages a txn, a release that frees)
//     data_stripes_[ino % n]                -- data of one file: exclusive for
//                                              an in-place overwrite (which
//                                              holds mutex_ shared), shared
//                                              for a read
//     open_mutex_                           -- leaf: the open counts
//     ExtentMaps::mutex_                    -- leaf, inside ExtentMaps
//     VerifiedRecords::mutex_               -- leaf, inside VerifiedRecords
// LayoutHooks::is_pinned is called under mutex_ (exclusive) and must not call
// back into the file system. readdir's emit runs with no lock held.
//
// Every change runs as one Op (a txn and the view through it) under the
// exclusive lock, ending in commit() or, on any error, an abort that undoes
// the DRAM mirrors. Corruption found at run time (EUCLEAN) stops all further
// changes (broken_): the image is left as found for `pinfs check`.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "fs/allocator.h"
#include "fs/deferred_times.h"
#include "fs/directory.h"
#include "fs/extent_map.h"
#include "fs/filesystem.h"
#include "fs/format.h"
#include "fs/geometry.h"
#include "fs/inode_table.h"
#include "fs/journal.h"
#include "fs/meta_io.h"
#include "fs/pin_table.h"

namespace pinfs::fs {

// Largest file: 2^46 bytes (64 TiB), well inside the extent map's range.
inline constexpr std::uint64_t kMaxFileBytes = 1ull << 46;
// Extents freed per txn when a big file is truncated or reclaimed.
inline constexpr std::size_t kFreeBatchExtents = 128;
// Total bytes of one inode's extended attributes (names, values, headers).
inline constexpr std::size_t kXattrBlobMaxBytes = kMaxBlobBytes;
inline constexpr const char* kLayoutXattr = "user.pinfs.layout";
inline constexpr const char* kCapabilityXattr = "security.capability";

class PmemFileSystem final : public FileSystem {
 public:
  PmemFileSystem(std::unique_ptr<Media> media, const Geometry& geometry, bool read_only,
                 std::uint64_t next_seq);

  // Mount's second half: allocator, inode table, root, orphans.
  Status load(const Overlay* overlay);
  Status reclaim_orphans();
  Status mark_state(std::uint32_t state);

  Status unmount() override;
  Media& media() override { return *media_; }
  void set_layout_hooks(LayoutHooks* hooks) override { hooks_.store(hooks); }

  Result<Attr> getattr(InodeNumber ino) override;
  Result<Attr> lookup(InodeNumber parent, std::string_view name) override;
  Result<Attr> setattr(InodeNumber ino, const SetAttr& changes, const Caller& caller) override;
  Result<Attr> mknod(InodeNumber parent, std::string_view name, std::uint32_t mode,
                     std::uint64_t rdev, const Caller& caller) override;
  Result<Attr> mkdir(InodeNumber parent, std::string_view name, std::uint32_t mode,
                     const Caller& caller) override;
  Result<Attr> symlink(InodeNumber parent, std::string_view name, std::string_view target,
                       const Caller& caller) override;
  Result<std::string> readlink(InodeNumber ino) override;
  Result<Attr> link(InodeNumber ino, InodeNumber new_parent, std::string_view new_name,
                    const Caller& caller) override;
  Status unlink(InodeNumber parent, std::string_view name, const Caller& caller) override;
  Status rmdir(InodeNumber parent, std::string_view name, const Caller& caller) override;
  Status rename(InodeNumber parent, std::string_view name, InodeNumber new_parent,
                std::string_view new_name, unsigned flags, const Caller& caller) override;
  Status acquire(InodeNumber ino) override;
  void release(InodeNumber ino) override;
  Result<std::size_t> read(InodeNumber ino, std::uint64_t offset,
                           std::span<std::byte> out) override;
  Result<std::size_t> write(InodeNumber ino, std::uint64_t offset,
                            std::span<const std::byte> data, const Caller& caller) override;
  Status readdir(InodeNumber dir, std::uint64_t cookie,
                 const std::function<bool(const DirEntry&)>& emit) override;
  Status fallocate(InodeNumber ino, int mode, std::uint64_t offset, std::uint64_t length,
                   const Caller& caller) override;
  Status fsync(InodeNumber ino) override;
  Status write_back_times() override;
  Result<std::vector<std::byte>> getxattr(InodeNumber ino, std::string_view name) override;
  Status setxattr(InodeNumber ino, std::string_view name, std::span<const std::byte> value,
                  int flags, const Caller& caller) override;
  Result<std::vector<std::string>> listxattr(InodeNumber ino) override;
  Status removexattr(InodeNumber ino, std::string_view name, const Caller& caller) override;
  Result<FsStat> statfs() override;
  Status make_mappable(InodeNumber ino, const Caller& caller) override;
  Result<std::vector<Extent>> extents(InodeNumber ino, std::uint64_t offset,
                                      std::uint64_t length) override;
  Status release_quarantined(std::uint64_t media_offset, std::uint64_t length) override;
  Result<std::vector<Extent>> quarantined() override;
  Status record_pin(const PinRecord& record) override;
  Status erase_pin(std::uint64_t pin_id) override;
  Result<std::vector<PinRecord>> recorded_pins() override;
  bool has_pin_table() const override { return pin_table_.present(); }

  // For tests and tools: how many transactions committed since mount.
  std::uint64_t commits() const { return journal_.commits(); }

 private:
  // One transaction in flight. The destructor aborts whatever did not commit.
  struct Op {
    explicit Op(PmemFileSystem& fs) : view(fs.source_, fs.geo_, &txn) {}
    ~Op() { txn.abort(); }
    Txn txn;
    MetaView view;
  };

  // Calls begin_layout_change before the lock and end_layout_change after.
  class LayoutScope {
   public:
    explicit LayoutScope(LayoutHooks* hooks) : hooks_(hooks) {}
    ~LayoutScope() {
      if (begun_) hooks_->end_layout_change(change_);
    }
    Status begin(const LayoutChange& change);
    bool begun() const { return begun_; }

   private:
    LayoutHooks* hooks_;
    LayoutChange change_{};
    bool begun_ = false;
  };

  MetaView read_view() const { return MetaView(source_, geo_, nullptr); }
  Status commit(Op& op);
  Status writable(const char* op, InodeNumber ino) const;
  Error note(Error e);  // marks the fs broken on EUCLEAN, passes e on
  Attr to_attr(const format::Inode& inode) const;
  static Timespec now();
  static void set_time(format::Time& t, const Timespec& ts);

  Result<format::Inode> read_inode(const MetaView& view, InodeNumber ino) const {
    return inodes_.read(view, ino);
  }
  Result<format::Inode> read_dir(const MetaView& view, InodeNumber ino, const char* op) const;
  Result<format::Inode> new_inode(Op& op, const format::Inode& parent, std::uint32_t mode,
                                  const Caller& caller);
  Result<Attr> create_node(const char* opname, InodeNumber parent, std::string_view name,
                           std::uint32_t mode, std::uint64_t rdev, std::string_view link_target,
                           const Caller& caller);

  // Orphans: inodes with no link that an open reference (or an unfinished
  // reclaim) keeps alive, chained from the superblock.
  Status orphan_add(Op& op, format::Inode& inode);
  Status orphan_remove(Op& op, format::Inode& inode);
  // Drops a link of `inode` (already staged by the caller is fine); frees it
  // when it was the last and nobody holds it open. Returns whether the inode
  // still needs a batched reclaim after the op commits.
  Result<bool> drop_link(Op& op, format::Inode& inode);
  // Frees an unlinked inode: in batches of kFreeBatchExtents per txn.
  Status reclaim(InodeNumber ino);
  Status free_inode_now(Op& op, format::Inode& inode);
  Status remove_entry(const char* op, InodeNumber parent, std::string_view name, bool want_dir,
                      const Caller& caller);
  Result<bool> is_ancestor(const MetaView& view, InodeNumber ancestor, InodeNumber start);
  bool is_open(InodeNumber ino) const;

  // Data helpers (data_ops.cc).
  Result<std::size_t> read_locked(InodeNumber ino, std::uint64_t offset,
                                  std::span<std::byte> out, bool& stale_atime);
  bool atime_is_stale(const format::Inode& inode) const;
  // A write that needs no txn (deferred_times.h), or nullopt for the txn path.
  std::optional<Result<std::size_t>> overwrite_in_place(InodeNumber ino, std::uint64_t offset,
                                                        std::span<const std::byte> data,
                                                        const Caller& caller);
  // Stores and flushes data at file offset `offset` into the mapped blocks
  // (no drain).
  void store_mapped(const std::vector<Mapping>& maps, std::uint64_t offset,
                    std::span<const std::byte> data);
  std::shared_mutex& data_stripe(InodeNumber ino) const {
    return data_stripes_[ino % data_stripes_.size()];
  }
  void touch_atime(InodeNumber ino);
  Status allocate_range(Op& op, format::Inode& inode, std::uint64_t first_block,
                        std::uint64_t end_block, std::uint64_t write_begin,
                        std::uint64_t write_end);
  Status zero_mapped(Op& op, const format::Inode& inode, std::uint64_t begin, std::uint64_t end);
  // Zeroes the mapped bytes in [inode.size, new_size) and drains: what a
  // growing size makes visible (data_ops.cc, on bytes past EOF).
  Status zero_exposed(Op& op, const format::Inode& inode, std::uint64_t new_size);
  Status unmap_range(Op& op, format::Inode& inode, std::uint64_t first_block,
                     std::uint64_t end_block);
  Result<bool> has_aligned_units(Op& op, const format::Inode& inode);
  // Zeroes the kept tail and unmaps all but the last batch of what a
  // shrink to `size` drops (big files take several txns).
  Status truncate_locked(InodeNumber ino, std::uint64_t size);
  Status apply_setattr(Op& op, format::Inode& inode, const SetAttr& changes, bool shrinking,
                       const Caller& caller);
  // What Linux's file_remove_privs does on write and truncate: set-user-ID
  // and group-executable set-group-ID go unless root changes the file, and
  // security.capability goes always. The daemon does it itself because it
  // asks the kernel for FUSE_HANDLE_KILLPRIV_V2 (docs/mount.md).
  Status remove_privileges(Op& op, format::Inode& inode, const Caller& caller);
  // security.capability goes on write, truncate and chown (cap_inode_killpriv).
  Status remove_capability(Op& op, format::Inode& inode);
  // File blocks [first, end) of the inode, shrunk to whole aligned units
  // where a file unit maps one: what a hole punch may unmap.
  Result<std::pair<std::uint64_t, std::uint64_t>> removable_blocks(Op& op,
                                                                   const format::Inode& inode,
                                                                   std::uint64_t begin,
                                                                   std::uint64_t end);
  Result<bool> unit_is_aligned(Op& op, const format::Inode& inode, std::uint64_t file_unit);

  // Xattr helpers (xattr.cc).
  struct Xattrs;
  Result<Xattrs> load_xattrs(const MetaView& view, const format::Inode& inode);
  Status store_xattrs(Op& op, format::Inode& inode, const Xattrs& xattrs);

  std::unique_ptr<Media> media_;
  Geometry geo_;
  VerifiedRecords verified_;  // own mutex
  MetaSource source_;
  const bool read_only_;
  mutable std::shared_mutex mutex_;
  Journal journal_;         // guarded by mutex_ (exclusive)
  Allocator alloc_;         // guarded by mutex_
  InodeTable inodes_;       // guarded by mutex_
  ExtentMaps maps_;         // own leaf mutex; callers hold mutex_
  Directories dirs_;        // guarded by mutex_
  PinTable pin_table_;      // guarded by mutex_
  // Open references. acquire needs only the shared lock; a release that
  // drops the last reference of an unlinked inode takes the exclusive lock
  // to free it. Lock order: mutex_, then open_mutex_.
  mutable std::mutex open_mutex_;
  std::unordered_map<InodeNumber, std::uint64_t> open_;  // guarded by open_mutex_
  mutable std::array<std::shared_mutex, 64> data_stripes_;
  DeferredTimes deferred_;  // own leaf mutex
  std::atomic<LayoutHooks*> hooks_{nullptr};
  std::atomic<bool> broken_{false};
  bool unmounted_ = false;  // guarded by mutex_
};

}  // namespace pinfs::fs
