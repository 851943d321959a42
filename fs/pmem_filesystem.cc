#include "fs/pmem_filesystem.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <ctime>
#include <mutex>
#include <unordered_set>

#include "fs/blob.h"
#include "fs/le.h"

namespace pinfs::fs {

const char* to_string(LayoutChangeKind kind) {
  switch (kind) {
    case LayoutChangeKind::truncate_down: return "truncate";
    case LayoutChangeKind::punch_hole: return "punch-hole";
    case LayoutChangeKind::collapse_range: return "collapse-range";
    case LayoutChangeKind::insert_range: return "insert-range";
    case LayoutChangeKind::final_unlink: return "final-unlink";
    case LayoutChangeKind::make_mappable: return "make-mappable";
  }
  return "?";
}

PmemFileSystem::PmemFileSystem(std::unique_ptr<Media> media, const Geometry& geometry,
                               bool read_only, std::uint64_t next_seq)
    : media_(std::move(media)),
      geo_(geometry),
      source_(*media_, nullptr, &verified_),
      read_only_(read_only),
      journal_(*media_, geo_, next_seq),
      alloc_(geo_),
      inodes_(geo_),
      maps_(geo_, alloc_),
      dirs_(geo_, maps_, &alloc_, media_.get()),
      pin_table_(geo_) {
  journal_.set_verified(&verified_);
}

Status PmemFileSystem::LayoutScope::begin(const LayoutChange& change) {
  if (hooks_ == nullptr) return ok_status();
  PINFS_TRY(hooks_->begin_layout_change(change));
  change_ = change;
  begun_ = true;
  return ok_status();
}

Timespec PmemFileSystem::now() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return {ts.tv_sec, static_cast<std::uint32_t>(ts.tv_nsec)};
}

void PmemFileSystem::set_time(format::Time& t, const Timespec& ts) {
  t.sec = ts.sec;
  t.nsec = ts.nsec;
}

Error PmemFileSystem::note(Error e) {
  if (e.errnum() == EUCLEAN) broken_.store(true);
  return e;
}

Status PmemFileSystem::writable(const char* op, InodeNumber ino) const {
  if (read_only_) return Error(EROFS, op, InodeTable::name(ino), "mounted read-only");
  if (unmounted_) return Error(EIO, op, InodeTable::name(ino), "file system is unmounted");
  if (broken_.load())
    return Error(EUCLEAN, op, InodeTable::name(ino),
                 "corruption was found earlier; changes are refused until `pinfs check`");
  return ok_status();
}

Status PmemFileSystem::commit(Op& op) {
  // Freed blocks may come back as data or as other records: they lose their
  // verified mark (meta_io.h).
  std::vector<BlockRun> freed = op.txn.pending_frees();
  Status s = alloc_.apply_frees(op.view, hooks_.load());
  if (s.ok()) s = journal_.commit(op.txn);
  if (!s.ok()) {
    op.txn.abort();
    return note(std::move(s).error());
  }
  for (const BlockRun& run : freed)
    verified_.forget_blocks(run.block * geo_.block_size, run.count * geo_.block_size, geo_.block_size);
  return ok_status();
}

Attr PmemFileSystem::to_attr(const format::Inode& n) const {
  Attr a;
  a.ino = n.ino;
  a.mode = n.mode;
  a.nlink = n.nlink;
  a.uid = n.uid;
  a.gid = n.gid;
  a.rdev = n.rdev;
  a.size = n.size;
  // Like ext4's st_blocks: data plus the blocks of the extent chain, the
  // xattr blob and a long symlink target.
  std::uint64_t blocks = n.data_blocks + n.chain_blocks + n.xattr_blocks;
  if ((n.mode & S_IFMT) == S_IFLNK && (n.flags & format::kInodeFlagInlineLink) == 0)
    blocks += load_as<format::BlobRef>(n.inline_area).block_count;
  a.blocks_512 = blocks * (geo_.block_size / 512);
  a.atime = {n.atime.sec, n.atime.nsec};
  a.mtime = {n.mtime.sec, n.mtime.nsec};
  a.ctime = {n.ctime.sec, n.ctime.nsec};
  a.btime = {n.btime.sec, n.btime.nsec};
  a.generation = n.generation;
  a.aligned_policy = (n.flags & format::kInodeFlagAligned) != 0;
  deferred_.overlay(a);
  return a;
}

Result<format::Inode> PmemFileSystem::read_dir(const MetaView& view, InodeNumber ino,
                                               const char* op) const {
  PINFS_ASSIGN_OR_RETURN(format::Inode dir, inodes_.read(view, ino));
  if ((dir.mode & S_IFMT) != S_IFDIR) return Error(ENOTDIR, op, InodeTable::name(ino), "not a directory");
  return dir;
}

Status PmemFileSystem::load(const Overlay* overlay) {
  MetaSource source(*media_, overlay);
  MetaView view(source, geo_, nullptr);
  PINFS_TRY(alloc_.load(view));
  PINFS_TRY(pin_table_.load(view));
  PINFS_TRY(inodes_.load(view));
  auto root = inodes_.read(view, kRootInode);
  if (!root.ok()) return corrupt("mount", "[inode 1]", "root directory: " + root.error().message());
  if ((root->mode & S_IFMT) != S_IFDIR || root->parent != kRootInode || root->nlink < 2)
    return corrupt("mount", "[inode 1]", "root is not a directory that is its own parent");
  // The orphan list: every member live, unlinked, flagged, linked both ways.
  PINFS_ASSIGN_OR_RETURN(auto sb_bytes, view.read(format::kSuperblockOffset,
                                                  sizeof(format::Superblock),
                                                  format::kKindSuperblock, "[superblock]"));
  auto sb = load_as<format::Superblock>(sb_bytes.data());
  std::unordered_set<InodeNumber> seen;
  InodeNumber prev = 0;
  for (InodeNumber ino = sb.orphan_head; ino != 0;) {
    if (!seen.insert(ino).second)
      return corrupt("mount", "[orphan list]", fmt::format("cycle at inode {}", ino));
    auto inode = inodes_.read(view, ino);
    if (!inode.ok())
      return corrupt("mount", "[orphan list]",
                     fmt::format("member {}: {}", ino, inode.error().message()));
    if (inode->nlink != 0 || (inode->flags & format::kInodeFlagOrphan) == 0 ||
        inode->orphan_prev != prev)
      return corrupt("mount", "[orphan list]",
                     fmt::format("inode {} is linked or not marked as an orphan", ino));
    // Mount frees orphans: their extents must hold up before anything is
    // written.
    auto extents = maps_.find(view, *inode, 0, UINT64_MAX);
    maps_.forget(ino);
    if (!extents.ok())
      return corrupt("mount", "[orphan list]",
                     fmt::format("member {}: {}", ino, extents.error().message()));
    prev = ino;
    ino = inode->orphan_next;
  }
  return ok_status();
}

Status PmemFileSystem::mark_state(std::uint32_t state) {
  std::unique_lock lock(mutex_);
  Op op(*this);
  PINFS_ASSIGN_OR_RETURN(auto bytes, op.view.modify(format::kSuperblockOffset,
                                                    sizeof(format::Superblock),
                                                    format::kKindSuperblock, "[superblock]"));
  auto sb = load_as<format::Superblock>(bytes.data());
  sb.state = state;
  if (state == format::kStateDirty) sb.mount_count = sb.mount_count + 1;
  store_as(bytes.data(), sb);
  return commit(op);
}

Status PmemFileSystem::reclaim_orphans() {
  std::unique_lock lock(mutex_);
  for (std::uint64_t guard = 0; guard < geo_.inode_count; ++guard) {
    PINFS_ASSIGN_OR_RETURN(auto bytes, read_view().read(format::kSuperblockOffset,
                                                        sizeof(format::Superblock),
                                                        format::kKindSuperblock, "[superblock]"));
    InodeNumber head = load_as<format::Superblock>(bytes.data()).orphan_head;
    if (head == 0) return ok_status();
    PINFS_TRY(reclaim(head));
  }
  return corrupt("mount", "[orphan list]", "does not end");
}

Status PmemFileSystem::unmount() {
  if (read_only_) {
    std::unique_lock lock(mutex_);
    unmounted_ = true;
    return ok_status();
  }
  if (broken_.load())
    return Error(EUCLEAN, "unmount", media_->path(),
                 "left marked dirty: corruption was found while mounted; run pinfs check");
  {
    std::unique_lock lock(mutex_);
    if (unmounted_) return ok_status();
  }
  PINFS_TRY(write_back_times());
  PINFS_TRY(mark_state(format::kStateClean));
  std::unique_lock lock(mutex_);
  unmounted_ = true;
  return ok_status();
}

Result<Attr> PmemFileSystem::getattr(InodeNumber ino) {
  std::shared_lock lock(mutex_);
  auto inode = inodes_.read(read_view(), ino);
  if (!inode.ok()) return note(std::move(inode).error());
  return to_attr(*inode);
}

Result<Attr> PmemFileSystem::lookup(InodeNumber parent, std::string_view name) {
  std::string object = fmt::format("'{}' in [dir {}]", name, parent);
  if (name.empty()) return Error(ENOENT, "lookup", object, "empty name");
  if (name.size() > kNameMaxBytes)
    return Error(ENAMETOOLONG, "lookup", object, fmt::format("{} bytes", name.size()));
  std::shared_lock lock(mutex_);
  MetaView view = read_view();
  auto body = [&]() -> Result<Attr> {
    PINFS_ASSIGN_OR_RETURN(format::Inode dir, read_dir(view, parent, "lookup"));
    if (name == ".") return to_attr(dir);
    if (name == "..") {
      PINFS_ASSIGN_OR_RETURN(format::Inode up, inodes_.read(view, dir.parent));
      return to_attr(up);
    }
    PINFS_ASSIGN_OR_RETURN(auto found, dirs_.lookup(view, dir, name));
    if (!found) return Error(ENOENT, "lookup", object);
    auto inode = inodes_.read(view, found->ino);
    if (!inode.ok())
      return corrupt("lookup", object, fmt::format("entry points to inode {}: {}", found->ino,
                                                   inode.error().message()));
    if (((inode->mode & S_IFMT) >> 12) != found->type)
      return corrupt("lookup", object, "entry type differs from the inode's");
    return to_attr(*inode);
  };
  auto out = body();
  if (!out.ok()) return note(std::move(out).error());
  return out;
}

Status PmemFileSystem::readdir(InodeNumber dir_ino, std::uint64_t cookie,
                               const std::function<bool(const DirEntry&)>& emit) {
  // Entries are gathered in batches under the lock and emitted without it,
  // so that emit may call back into the file system.
  constexpr std::size_t kBatch = 512;
  for (;;) {
    std::vector<DirEntry> batch;
    {
      std::shared_lock lock(mutex_);
      MetaView view = read_view();
      auto dir = read_dir(view, dir_ino, "readdir");
      if (!dir.ok()) return note(std::move(dir).error());
      if (cookie == 0) batch.push_back({".", dir_ino, S_IFDIR, 1});
      if (cookie <= 1) batch.push_back({"..", dir->parent, S_IFDIR, 2});
      std::uint64_t from = cookie >= 2 ? cookie - 2 : 0;
      if (from < dir->dir_slots) {
        Status s = dirs_.list(view, *dir, static_cast<std::uint32_t>(from),
                              [&](std::uint32_t slot, std::string_view name, InodeNumber ino,
                                  std::uint8_t type) {
                                batch.push_back({std::string(name), ino,
                                                 static_cast<std::uint32_t>(type) << 12,
                                                 slot + 3ull});
                                return batch.size() < kBatch;
                              });
        if (!s.ok()) return note(std::move(s).error());
      }
    }
    if (batch.empty()) return ok_status();
    for (const DirEntry& e : batch) {
      if (!emit(e)) return ok_status();
      cookie = e.next_cookie;
    }
    if (batch.size() < kBatch) return ok_status();
  }
}

Result<std::string> PmemFileSystem::readlink(InodeNumber ino) {
  std::shared_lock lock(mutex_);
  MetaView view = read_view();
  auto inode = inodes_.read(view, ino);
  if (!inode.ok()) return note(std::move(inode).error());
  if ((inode->mode & S_IFMT) != S_IFLNK)
    return Error(EINVAL, "readlink", InodeTable::name(ino), "not a symbolic link");
  if ((inode->flags & format::kInodeFlagInlineLink) != 0)
    return std::string(reinterpret_cast<const char*>(inode->inline_area), inode->size);
  auto ref = load_as<format::BlobRef>(inode->inline_area);
  auto blob = read_blob(view, format::kKindSymlink, ino, {ref.block, ref.block_count});
  if (!blob.ok()) return note(std::move(blob).error());
  if (blob->payload.size() != inode->size)
    return note(corrupt("readlink", InodeTable::name(ino), "target length differs from the size"));
  return std::string(reinterpret_cast<const char*>(blob->payload.data()), blob->payload.size());
}

Result<FsStat> PmemFileSystem::statfs() {
  std::shared_lock lock(mutex_);
  FsStat s;
  s.block_size = geo_.block_size;
  s.total_blocks = geo_.data_blocks();
  s.free_blocks = alloc_.free_blocks();
  s.total_inodes = inodes_.total();
  s.free_inodes = inodes_.free_count();
  s.aligned_unit_bytes = geo_.unit_bytes;
  s.quarantined_bytes = alloc_.quarantined_bytes();
  s.name_max = kNameMaxBytes;
  return s;
}

Status PmemFileSystem::acquire(InodeNumber ino) {
  // The shared lock keeps the inode from being freed between the check and
  // the count: freeing takes the exclusive lock and looks at the count.
  std::shared_lock lock(mutex_);
  auto inode = inodes_.read(read_view(), ino);
  if (!inode.ok()) return note(std::move(inode).error());
  std::lock_guard open_lock(open_mutex_);
  ++open_[ino];
  return ok_status();
}

void PmemFileSystem::release(InodeNumber ino) {
  {
    std::lock_guard open_lock(open_mutex_);
    auto it = open_.find(ino);
    if (it == open_.end()) return;
    if (--it->second != 0) return;
    open_.erase(it);
  }
  std::unique_lock lock(mutex_);
  if (read_only_ || broken_.load() || unmounted_ || is_open(ino) || !inodes_.allocated(ino)) return;
  auto inode = inodes_.read(read_view(), ino);
  if (!inode.ok() || inode->nlink != 0) return;
  // The last reference to an unlinked inode: its space returns now. A failure
  // leaves it on the orphan list, for the next mount.
  Status s = reclaim(ino);
  if (!s.ok()) (void)note(std::move(s).error());
}

bool PmemFileSystem::is_open(InodeNumber ino) const {
  std::lock_guard open_lock(open_mutex_);
  return open_.count(ino) != 0;
}

Status PmemFileSystem::orphan_add(Op& op, format::Inode& inode) {
  PINFS_ASSIGN_OR_RETURN(auto sb_bytes, op.view.modify(format::kSuperblockOffset,
                                                       sizeof(format::Superblock),
                                                       format::kKindSuperblock, "[superblock]"));
  auto sb = load_as<format::Superblock>(sb_bytes.data());
  InodeNumber head = sb.orphan_head;
  if (head != 0) {
    PINFS_ASSIGN_OR_RETURN(format::Inode h, inodes_.read(op.view, head));
    h.orphan_prev = inode.ino;
    inodes_.write(op.view, h);
  }
  inode.orphan_next = head;
  inode.orphan_prev = 0;
  inode.flags = inode.flags | format::kInodeFlagOrphan;
  sb.orphan_head = inode.ino;
  store_as(sb_bytes.data(), sb);
  return ok_status();
}

Status PmemFileSystem::orphan_remove(Op& op, format::Inode& inode) {
  InodeNumber prev = inode.orphan_prev, next = inode.orphan_next;
  if (prev != 0) {
    PINFS_ASSIGN_OR_RETURN(format::Inode p, inodes_.read(op.view, prev));
    p.orphan_next = next;
    inodes_.write(op.view, p);
  } else {
    PINFS_ASSIGN_OR_RETURN(auto sb_bytes, op.view.modify(format::kSuperblockOffset,
                                                         sizeof(format::Superblock),
                                                         format::kKindSuperblock, "[superblock]"));
    auto sb = load_as<format::Superblock>(sb_bytes.data());
    if (sb.orphan_head.get() != inode.ino.get())
      return corrupt("orphan list", InodeTable::name(inode.ino), "not at the head it claims");
    sb.orphan_head = next;
    store_as(sb_bytes.data(), sb);
  }
  if (next != 0) {
    PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.read(op.view, next));
    n.orphan_prev = prev;
    inodes_.write(op.view, n);
  }
  inode.orphan_next = 0;
  inode.orphan_prev = 0;
  inode.flags = inode.flags & ~format::kInodeFlagOrphan;
  return ok_status();
}

Status PmemFileSystem::free_inode_now(Op& op, format::Inode& inode) {
  PINFS_ASSIGN_OR_RETURN(auto removed, maps_.remove(op.view, inode, 0, UINT64_MAX));
  for (const Mapping& m : removed) Allocator::free_later(op.txn, {m.media_block, m.count});
  if (inode.xattr_block != 0) {
    Allocator::free_later(op.txn, {inode.xattr_block, inode.xattr_blocks});
    inode.xattr_block = 0;
    inode.xattr_blocks = 0;
  }
  if ((inode.mode & S_IFMT) == S_IFLNK && (inode.flags & format::kInodeFlagInlineLink) == 0) {
    auto ref = load_as<format::BlobRef>(inode.inline_area);
    Allocator::free_later(op.txn, {ref.block, ref.block_count});
  }
  if ((inode.flags & format::kInodeFlagOrphan) != 0) PINFS_TRY(orphan_remove(op, inode));
  inode.nlink = 0;
  inodes_.write(op.view, inode);
  PINFS_TRY(inodes_.free(op.view, inode.ino));
  op.txn.on_commit([this, ino = inode.ino.get()] { maps_.forget(ino); });
  return ok_status();
}

Result<bool> PmemFileSystem::drop_link(Op& op, format::Inode& inode) {
  bool dir = (inode.mode & S_IFMT) == S_IFDIR;
  inode.nlink = dir ? 0 : inode.nlink - 1;
  set_time(inode.ctime, now());
  if (inode.nlink != 0) {
    inodes_.write(op.view, inode);
    return false;
  }
  PINFS_ASSIGN_OR_RETURN(auto all, maps_.find(op.view, inode, 0, UINT64_MAX));
  if (is_open(inode.ino) || all.size() > kFreeBatchExtents) {
    PINFS_TRY(orphan_add(op, inode));
    inodes_.write(op.view, inode);
    return !is_open(inode.ino);
  }
  PINFS_TRY(free_inode_now(op, inode));
  return false;
}

Status PmemFileSystem::reclaim(InodeNumber ino) {
  for (;;) {
    Op op(*this);
    if (!inodes_.allocated(ino)) return ok_status();
    PINFS_ASSIGN_OR_RETURN(format::Inode inode, inodes_.read(op.view, ino));
    if (inode.nlink != 0) return ok_status();
    PINFS_ASSIGN_OR_RETURN(auto all, maps_.find(op.view, inode, 0, UINT64_MAX));
    if (all.size() > kFreeBatchExtents) {
      std::uint64_t from = all[all.size() - kFreeBatchExtents].file_block;
      PINFS_ASSIGN_OR_RETURN(auto removed, maps_.remove(op.view, inode, from, UINT64_MAX));
      for (const Mapping& m : removed) Allocator::free_later(op.txn, {m.media_block, m.count});
      inodes_.write(op.view, inode);
      PINFS_TRY(commit(op));
      continue;
    }
    PINFS_TRY(free_inode_now(op, inode));
    return commit(op);
  }
}

Status PmemFileSystem::fsync(InodeNumber ino) {
  // Data and metadata are durable when each call returns, except the times
  // of in-place overwrites.
  {
    std::shared_lock lock(mutex_);
    auto inode = inodes_.read(read_view(), ino);
    if (!inode.ok()) return note(std::move(inode).error());
  }
  return write_back_times();
}

Status PmemFileSystem::write_back_times() {
  if (deferred_.empty()) return ok_status();
  std::unique_lock lock(mutex_);
  // Taken under the exclusive lock: no overwrite can add to them meanwhile.
  std::vector<DeferredTimes::Entry> entries = deferred_.take_all();
  if (read_only_ || unmounted_ || broken_.load()) return ok_status();
  // A few inode records per txn keep each well inside the journal.
  constexpr std::size_t kPerTxn = 64;
  for (std::size_t i = 0; i < entries.size(); i += kPerTxn) {
    Op op(*this);
    for (std::size_t j = i; j < std::min(entries.size(), i + kPerTxn); ++j) {
      const DeferredTimes::Entry& e = entries[j];
      auto n = inodes_.read(op.view, e.ino);
      // Freed since, or freed and reused: the times are of a file gone.
      if (!n.ok() || n->generation != e.generation) continue;
      format::Inode updated = *n;
      auto raise = [&](format::Time& field, const Timespec& t) {
        if (t.sec > field.sec.get() || (t.sec == field.sec.get() && t.nsec > field.nsec.get()))
          set_time(field, t);
      };
      raise(updated.mtime, e.mtime);
      raise(updated.ctime, e.ctime);
      inodes_.write(op.view, updated);
    }
    PINFS_TRY(commit(op));
  }
  return ok_status();
}

}  // namespace pinfs::fs
