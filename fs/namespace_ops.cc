// Namespace operations: create, link, unlink, rmdir, rename.
#include <fmt/format.h>
#include <linux/fs.h>
#include <sys/stat.h>

#include <cstring>
#include <mutex>

#include "fs/blob.h"
#include "fs/le.h"
#include "fs/pmem_filesystem.h"

namespace pinfs::fs {

namespace {

std::string entry_name(InodeNumber dir, std::string_view name) {
  return fmt::format("'{}' in [dir {}]", name, dir);
}

Status check_name(const char* op, InodeNumber dir, std::string_view name) {
  if (name.empty()) return Error(EINVAL, op, entry_name(dir, name), "empty name");
  if (name.size() > kNameMaxBytes)
    return Error(ENAMETOOLONG, op, entry_name(dir, name),
                 fmt::format("{} bytes, at most {}", name.size(), kNameMaxBytes));
  if (name == "." || name == "..")
    return Error(EINVAL, op, entry_name(dir, name), "'.' and '..' cannot be changed");
  if (name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos)
    return Error(EINVAL, op, entry_name(dir, name), "name contains '/' or NUL");
  return ok_status();
}

std::uint8_t dtype(std::uint32_t mode) { return static_cast<std::uint8_t>((mode & S_IFMT) >> 12); }
bool is_dir(const format::Inode& n) { return (n.mode & S_IFMT) == S_IFDIR; }

// How many times an operation re-checks after its unlocked look-ahead (which
// decides whether the layout hooks are asked) went stale.
constexpr int kLayoutRetries = 16;

}  // namespace

Result<format::Inode> PmemFileSystem::new_inode(Op& op, const format::Inode& parent,
                                                std::uint32_t mode, const Caller& caller) {
  PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.allocate(op.view));
  bool dir = (mode & S_IFMT) == S_IFDIR;
  n.uid = caller.uid;
  n.gid = caller.gid;
  // A set-group-ID directory hands its group (and, to subdirectories, the
  // bit) to what is created in it, as on ext4.
  if ((parent.mode & S_ISGID) != 0) {
    n.gid = parent.gid;
    if (dir) mode |= S_ISGID;
  }
  n.mode = mode;
  n.nlink = dir ? 2 : 1;
  n.flags = parent.flags & format::kInodeFlagAligned;
  n.parent = dir ? parent.ino.get() : 0;
  Timespec t = now();
  set_time(n.atime, t);
  set_time(n.mtime, t);
  set_time(n.ctime, t);
  set_time(n.btime, t);
  return n;
}

Result<Attr> PmemFileSystem::create_node(const char* opname, InodeNumber parent,
                                         std::string_view name, std::uint32_t mode,
                                         std::uint64_t rdev, std::string_view link_target,
                                         const Caller& caller) {
  PINFS_TRY(check_name(opname, parent, name));
  std::unique_lock lock(mutex_);
  PINFS_TRY(writable(opname, parent));
  Op op(*this);
  auto body = [&]() -> Result<Attr> {
    PINFS_ASSIGN_OR_RETURN(format::Inode dir, read_dir(op.view, parent, opname));
    if (dir.nlink == 0)
      return Error(ENOENT, opname, entry_name(parent, name), "the directory was removed");
    PINFS_ASSIGN_OR_RETURN(auto existing, dirs_.lookup(op.view, dir, name));
    if (existing) return Error(EEXIST, opname, entry_name(parent, name));
    bool new_dir = (mode & S_IFMT) == S_IFDIR;
    if (new_dir && dir.nlink >= kLinkMax)
      return Error(EMLINK, opname, entry_name(parent, name),
                   fmt::format("the directory has {} links", dir.nlink.get()));
    PINFS_ASSIGN_OR_RETURN(format::Inode n, new_inode(op, dir, mode, caller));
    if ((mode & S_IFMT) == S_IFCHR || (mode & S_IFMT) == S_IFBLK) n.rdev = rdev;
    if ((mode & S_IFMT) == S_IFLNK) {
      n.size = link_target.size();
      if (link_target.size() <= format::kInlineAreaBytes) {
        n.flags = n.flags | format::kInodeFlagInlineLink;
        std::memcpy(n.inline_area, link_target.data(), link_target.size());
      } else {
        PINFS_ASSIGN_OR_RETURN(BlockRun run,
                               write_blob(op.view, alloc_, *media_, format::kKindSymlink, n.ino,
                                          std::as_bytes(std::span(link_target)), 1));
        format::BlobRef ref{};
        ref.block = run.block;
        ref.block_count = static_cast<std::uint32_t>(run.count);
        ref.length = static_cast<std::uint32_t>(link_target.size());
        store_as(n.inline_area, ref);
      }
    }
    PINFS_TRY(dirs_.insert(op.view, dir, name, n.ino, dtype(mode)));
    if (new_dir) dir.nlink = dir.nlink + 1;
    Timespec t = now();
    set_time(dir.mtime, t);
    set_time(dir.ctime, t);
    inodes_.write(op.view, n);
    inodes_.write(op.view, dir);
    PINFS_TRY(commit(op));
    return to_attr(n);
  };
  auto out = body();
  if (!out.ok()) return note(std::move(out).error());
  return out;
}

Result<Attr> PmemFileSystem::mknod(InodeNumber parent, std::string_view name, std::uint32_t mode,
                                   std::uint64_t rdev, const Caller& caller) {
  std::uint32_t type = mode & S_IFMT;
  if (type == 0) type = S_IFREG;
  if (type != S_IFREG && type != S_IFCHR && type != S_IFBLK && type != S_IFIFO && type != S_IFSOCK)
    return Error(EINVAL, "mknod", entry_name(parent, name),
                 "mknod makes regular files, devices, fifos and sockets");
  return create_node("mknod", parent, name, type | (mode & 07777), rdev, {}, caller);
}

Result<Attr> PmemFileSystem::mkdir(InodeNumber parent, std::string_view name, std::uint32_t mode,
                                   const Caller& caller) {
  return create_node("mkdir", parent, name, S_IFDIR | (mode & 07777), 0, {}, caller);
}

Result<Attr> PmemFileSystem::symlink(InodeNumber parent, std::string_view name,
                                     std::string_view target, const Caller& caller) {
  if (target.empty()) return Error(ENOENT, "symlink", entry_name(parent, name), "empty target");
  if (target.size() > kSymlinkMaxBytes)
    return Error(ENAMETOOLONG, "symlink", entry_name(parent, name),
                 fmt::format("target of {} bytes, at most {}", target.size(), kSymlinkMaxBytes));
  return create_node("symlink", parent, name, S_IFLNK | 0777, 0, target, caller);
}

Result<Attr> PmemFileSystem::link(InodeNumber ino, InodeNumber new_parent,
                                  std::string_view new_name, const Caller& caller) {
  (void)caller;
  PINFS_TRY(check_name("link", new_parent, new_name));
  std::unique_lock lock(mutex_);
  PINFS_TRY(writable("link", ino));
  Op op(*this);
  auto body = [&]() -> Result<Attr> {
    PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.read(op.view, ino));
    if (is_dir(n)) return Error(EPERM, "link", InodeTable::name(ino), "hard links to directories are not allowed");
    if (n.nlink == 0) return Error(ENOENT, "link", InodeTable::name(ino), "the inode was unlinked");
    if (n.nlink >= kLinkMax)
      return Error(EMLINK, "link", InodeTable::name(ino), fmt::format("{} links", n.nlink.get()));
    PINFS_ASSIGN_OR_RETURN(format::Inode dir, read_dir(op.view, new_parent, "link"));
    if (dir.nlink == 0)
      return Error(ENOENT, "link", entry_name(new_parent, new_name), "the directory was removed");
    PINFS_ASSIGN_OR_RETURN(auto existing, dirs_.lookup(op.view, dir, new_name));
    if (existing) return Error(EEXIST, "link", entry_name(new_parent, new_name));
    PINFS_TRY(dirs_.insert(op.view, dir, new_name, ino, dtype(n.mode)));
    Timespec t = now();
    n.nlink = n.nlink + 1;
    set_time(n.ctime, t);
    set_time(dir.mtime, t);
    set_time(dir.ctime, t);
    inodes_.write(op.view, n);
    inodes_.write(op.view, dir);
    PINFS_TRY(commit(op));
    return to_attr(n);
  };
  auto out = body();
  if (!out.ok()) return note(std::move(out).error());
  return out;
}

Status PmemFileSystem::unlink(InodeNumber parent, std::string_view name, const Caller& caller) {
  PINFS_TRY(check_name("unlink", parent, name));
  return remove_entry("unlink", parent, name, false, caller);
}

Status PmemFileSystem::rmdir(InodeNumber parent, std::string_view name, const Caller& caller) {
  PINFS_TRY(check_name("rmdir", parent, name));
  return remove_entry("rmdir", parent, name, true, caller);
}

Status PmemFileSystem::remove_entry(const char* opname, InodeNumber parent,
                                    std::string_view name, bool want_dir, const Caller& caller) {
  const std::string object = entry_name(parent, name);
  for (int attempt = 0; attempt < kLayoutRetries; ++attempt) {
    // Look ahead without the exclusive lock: is this the last link? The
    // hooks must be asked before the lock is taken.
    InodeNumber target = 0;
    bool last = false;
    {
      std::shared_lock lock(mutex_);
      MetaView view = read_view();
      auto peek = [&]() -> Status {
        PINFS_ASSIGN_OR_RETURN(format::Inode dir, read_dir(view, parent, opname));
        PINFS_ASSIGN_OR_RETURN(auto found, dirs_.lookup(view, dir, name));
        if (!found) return Error(ENOENT, opname, object);
        PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.read(view, found->ino));
        if (want_dir && !is_dir(n)) return Error(ENOTDIR, opname, object);
        if (!want_dir && is_dir(n)) return Error(EISDIR, opname, object, "use rmdir");
        if (want_dir && n.dir_entries != 0) return Error(ENOTEMPTY, opname, object);
        target = n.ino;
        last = want_dir || n.nlink == 1;
        return ok_status();
      };
      Status s = peek();
      if (!s.ok()) return note(std::move(s).error());
    }
    LayoutScope scope(hooks_.load());
    if (last) PINFS_TRY(scope.begin({LayoutChangeKind::final_unlink, target, 0, kToEnd, caller}));
    std::unique_lock lock(mutex_);
    PINFS_TRY(writable(opname, parent));
    Op op(*this);
    bool retry = false;
    bool reclaim_after = false;
    auto body = [&]() -> Status {
      PINFS_ASSIGN_OR_RETURN(format::Inode dir, read_dir(op.view, parent, opname));
      PINFS_ASSIGN_OR_RETURN(auto found, dirs_.lookup(op.view, dir, name));
      if (!found) return Error(ENOENT, opname, object);
      PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.read(op.view, found->ino));
      if (want_dir && !is_dir(n)) return Error(ENOTDIR, opname, object);
      if (!want_dir && is_dir(n)) return Error(EISDIR, opname, object, "use rmdir");
      if (want_dir && n.dir_entries != 0) return Error(ENOTEMPTY, opname, object);
      bool now_last = want_dir || n.nlink == 1;
      if (n.ino.get() != target || (now_last && !scope.begun() && hooks_.load() != nullptr)) {
        retry = true;
        return ok_status();
      }
      PINFS_TRY(dirs_.remove(op.view, dir, *found));
      if (want_dir) dir.nlink = dir.nlink - 1;
      Timespec t = now();
      set_time(dir.mtime, t);
      set_time(dir.ctime, t);
      inodes_.write(op.view, dir);
      PINFS_ASSIGN_OR_RETURN(reclaim_after, drop_link(op, n));
      PINFS_TRY(commit(op));
      if (reclaim_after) PINFS_TRY(reclaim(n.ino));
      return ok_status();
    };
    Status s = body();
    if (!s.ok()) return note(std::move(s).error());
    if (!retry) return ok_status();
  }
  return Error(EAGAIN, opname, object, "the entry kept changing under the operation");
}

Result<bool> PmemFileSystem::is_ancestor(const MetaView& view, InodeNumber ancestor,
                                         InodeNumber start) {
  InodeNumber cur = start;
  for (std::uint64_t steps = 0; steps < geo_.inode_count; ++steps) {
    if (cur == ancestor) return true;
    if (cur == kRootInode) return false;
    PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.read(view, cur));
    cur = n.parent;
  }
  return corrupt("rename", InodeTable::name(start), "the parent chain does not reach the root");
}

Status PmemFileSystem::rename(InodeNumber parent, std::string_view name, InodeNumber new_parent,
                              std::string_view new_name, unsigned flags, const Caller& caller) {
  const std::string object = entry_name(parent, name);
  const std::string new_object = entry_name(new_parent, new_name);
  if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0 ||
      (flags & (RENAME_NOREPLACE | RENAME_EXCHANGE)) == (RENAME_NOREPLACE | RENAME_EXCHANGE))
    return Error(EINVAL, "rename", object, fmt::format("flags {:#x}", flags));
  PINFS_TRY(check_name("rename", parent, name));
  PINFS_TRY(check_name("rename", new_parent, new_name));
  const bool exchange = (flags & RENAME_EXCHANGE) != 0;
  const bool noreplace = (flags & RENAME_NOREPLACE) != 0;
  for (int attempt = 0; attempt < kLayoutRetries; ++attempt) {
    // Look ahead: does the rename drop the last link of its target?
    InodeNumber victim = 0;
    {
      std::shared_lock lock(mutex_);
      MetaView view = read_view();
      auto peek = [&]() -> Status {
        PINFS_ASSIGN_OR_RETURN(format::Inode sd, read_dir(view, parent, "rename"));
        PINFS_ASSIGN_OR_RETURN(format::Inode dd, read_dir(view, new_parent, "rename"));
        PINFS_ASSIGN_OR_RETURN(auto src, dirs_.lookup(view, sd, name));
        if (!src) return Error(ENOENT, "rename", object);
        PINFS_ASSIGN_OR_RETURN(auto dst, dirs_.lookup(view, dd, new_name));
        if (dst && !exchange && !noreplace && dst->ino != src->ino) {
          PINFS_ASSIGN_OR_RETURN(format::Inode d, inodes_.read(view, dst->ino));
          if (is_dir(d) || d.nlink == 1) victim = d.ino;
        }
        return ok_status();
      };
      Status s = peek();
      if (!s.ok()) return note(std::move(s).error());
    }
    LayoutScope scope(hooks_.load());
    if (victim != 0)
      PINFS_TRY(scope.begin({LayoutChangeKind::final_unlink, victim, 0, kToEnd, caller}));
    std::unique_lock lock(mutex_);
    PINFS_TRY(writable("rename", parent));
    Op op(*this);
    bool retry = false;
    InodeNumber reclaim_ino = 0;
    auto body = [&]() -> Status {
      const bool same_dir = parent == new_parent;
      PINFS_ASSIGN_OR_RETURN(format::Inode sd, read_dir(op.view, parent, "rename"));
      format::Inode dd_storage{};
      if (!same_dir) {
        PINFS_ASSIGN_OR_RETURN(dd_storage, read_dir(op.view, new_parent, "rename"));
      }
      format::Inode& dd = same_dir ? sd : dd_storage;
      if (dd.nlink == 0)
        return Error(ENOENT, "rename", new_object, "the target directory was removed");
      PINFS_ASSIGN_OR_RETURN(auto src, dirs_.lookup(op.view, sd, name));
      if (!src) return Error(ENOENT, "rename", object);
      PINFS_ASSIGN_OR_RETURN(auto dst, dirs_.lookup(op.view, dd, new_name));
      if (dst && noreplace) return Error(EEXIST, "rename", new_object);
      if (!dst && exchange) return Error(ENOENT, "rename", new_object, "nothing to exchange with");
      if (dst && dst->ino == src->ino) return ok_status();  // two links to one inode: POSIX no-op
      PINFS_ASSIGN_OR_RETURN(format::Inode s, inodes_.read(op.view, src->ino));
      const bool s_dir = is_dir(s);
      // A directory may not move below itself.
      if (s_dir && !same_dir) {
        PINFS_ASSIGN_OR_RETURN(bool below, is_ancestor(op.view, s.ino, new_parent));
        if (below) return Error(EINVAL, "rename", object, "a directory cannot move into its own subtree");
      }
      Timespec t = now();
      if (exchange) {
        PINFS_ASSIGN_OR_RETURN(format::Inode d, inodes_.read(op.view, dst->ino));
        const bool d_dir = is_dir(d);
        if (d_dir && !same_dir) {
          PINFS_ASSIGN_OR_RETURN(bool below, is_ancestor(op.view, d.ino, parent));
          if (below) return Error(EINVAL, "rename", new_object, "a directory cannot move into its own subtree");
        }
        PINFS_TRY(dirs_.retarget(op.view, sd, *src, d.ino, dtype(d.mode)));
        PINFS_TRY(dirs_.retarget(op.view, dd, *dst, s.ino, dtype(s.mode)));
        if (!same_dir && s_dir != d_dir) {
          format::Inode& gains = s_dir ? dd : sd;  // the side the directory moves to
          format::Inode& loses = s_dir ? sd : dd;
          if (gains.nlink >= kLinkMax) return Error(EMLINK, "rename", new_object);
          gains.nlink = gains.nlink + 1;
          loses.nlink = loses.nlink - 1;
        }
        if (s_dir) s.parent = new_parent;
        if (d_dir) d.parent = parent;
        set_time(s.ctime, t);
        set_time(d.ctime, t);
        inodes_.write(op.view, d);
      } else {
        if (dst) {
          PINFS_ASSIGN_OR_RETURN(format::Inode d, inodes_.read(op.view, dst->ino));
          const bool d_dir = is_dir(d);
          if (s_dir && !d_dir) return Error(ENOTDIR, "rename", new_object, "cannot replace a non-directory with a directory");
          if (!s_dir && d_dir) return Error(EISDIR, "rename", new_object, "cannot replace a directory with a non-directory");
          if (d_dir && d.dir_entries != 0) return Error(ENOTEMPTY, "rename", new_object);
          bool last = d_dir || d.nlink == 1;
          if ((victim != 0 && d.ino.get() != victim) ||
              (last && !scope.begun() && hooks_.load() != nullptr)) {
            retry = true;
            return ok_status();
          }
          PINFS_TRY(dirs_.retarget(op.view, dd, *dst, s.ino, dtype(s.mode)));
          PINFS_TRY(dirs_.remove(op.view, sd, *src));
          if (d_dir) dd.nlink = dd.nlink - 1;  // the replaced directory's ".."
          PINFS_ASSIGN_OR_RETURN(bool later, drop_link(op, d));
          if (later) reclaim_ino = d.ino;
        } else {
          PINFS_TRY(dirs_.remove(op.view, sd, *src));
          PINFS_TRY(dirs_.insert(op.view, dd, new_name, s.ino, dtype(s.mode)));
        }
        if (s_dir && !same_dir) {
          if (dd.nlink >= kLinkMax) return Error(EMLINK, "rename", new_object);
          dd.nlink = dd.nlink + 1;
          sd.nlink = sd.nlink - 1;
          s.parent = new_parent;
        }
        set_time(s.ctime, t);
      }
      set_time(sd.mtime, t);
      set_time(sd.ctime, t);
      set_time(dd.mtime, t);
      set_time(dd.ctime, t);
      inodes_.write(op.view, s);
      inodes_.write(op.view, sd);
      if (!same_dir) inodes_.write(op.view, dd);
      PINFS_TRY(commit(op));
      if (reclaim_ino != 0) PINFS_TRY(reclaim(reclaim_ino));
      return ok_status();
    };
    Status st = body();
    if (!st.ok()) return note(std::move(st).error());
    if (!retry) return ok_status();
  }
  return Error(EAGAIN, "rename", object, "the entries kept changing under the operation");
}

}  // namespace pinfs::fs
