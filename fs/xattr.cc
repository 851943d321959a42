// Extended attributes: one blob per inode, rewritten copy-on-write on every
// change (docs/format.md, "Extended attributes"). user.pinfs.layout is not
// stored as an xattr: it reads and sets the inode's aligned-policy flag.
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <cstring>
#include <mutex>
#include <set>

#include "fs/blob.h"
#include "fs/le.h"
#include "fs/pmem_filesystem.h"
#include "fs/xattr_blob.h"

namespace pinfs::fs {

struct PmemFileSystem::Xattrs {
  XattrItems items;
  auto find(std::string_view name) {
    return std::find_if(items.begin(), items.end(), [&](const auto& it) { return it.first == name; });
  }
};

namespace {

std::string object_of(InodeNumber ino, std::string_view name) {
  return fmt::format("[inode {} xattr {}]", ino, name);
}

Status check_xattr_name(const char* op, InodeNumber ino, std::string_view name) {
  if (name.empty() || name.size() > kXattrNameMaxBytes)
    return Error(ERANGE, op, object_of(ino, name),
                 fmt::format("names are 1 to {} bytes", kXattrNameMaxBytes));
  // No system. names: those are POSIX ACLs (and other kernel-interpreted
  // attributes), which pinfs does not implement. Storing
  // system.posix_acl_access as plain bytes would let `cp -a` believe it had
  // set the permissions while the mode bits stay as created; refusing it with
  // EOPNOTSUPP, as ext4 mounted noacl does, makes programs fall back to chmod.
  if (name.starts_with("system."))
    return Error(EOPNOTSUPP, op, object_of(ino, name),
                 "POSIX ACLs and other system. attributes are not supported");
  static constexpr std::string_view kPrefixes[] = {"user.", "trusted.", "security."};
  for (std::string_view p : kPrefixes) {
    if (name.starts_with(p)) {
      if (name.size() == p.size()) return Error(EINVAL, op, object_of(ino, name), "empty name after the namespace");
      return ok_status();
    }
  }
  return Error(EOPNOTSUPP, op, object_of(ino, name),
               "namespaces are user., trusted. and security.");
}

bool has_layout_policy(const format::Inode& n) {
  return (n.flags & format::kInodeFlagAligned) != 0;
}

bool layout_capable(const format::Inode& n) {
  return (n.mode & S_IFMT) == S_IFREG || (n.mode & S_IFMT) == S_IFDIR;
}

}  // namespace

Result<PmemFileSystem::Xattrs> PmemFileSystem::load_xattrs(const MetaView& view,
                                                           const format::Inode& n) {
  Xattrs out;
  if (n.xattr_block == 0) return out;
  PINFS_ASSIGN_OR_RETURN(Blob blob, read_blob(view, format::kKindXattr, n.ino,
                                              {n.xattr_block, n.xattr_blocks}));
  PINFS_ASSIGN_OR_RETURN(out.items, parse_xattr_blob(blob, n.ino));
  return out;
}

Status PmemFileSystem::store_xattrs(Op& op, format::Inode& n, const Xattrs& xs) {
  std::vector<std::byte> payload = encode_xattr_blob(xs.items);
  std::uint64_t limit = std::min<std::uint64_t>(kXattrBlobMaxBytes, geo_.unit_bytes) -
                        sizeof(format::BlobHeader);
  if (payload.size() > limit)
    return Error(ENOSPC, "setxattr", InodeTable::name(n.ino),
                 fmt::format("the inode's xattrs would take {} bytes, at most {}", payload.size(), limit));
  if (n.xattr_block != 0) Allocator::free_later(op.txn, {n.xattr_block, n.xattr_blocks});
  if (xs.items.empty()) {
    n.xattr_block = 0;
    n.xattr_blocks = 0;
    return ok_status();
  }
  PINFS_ASSIGN_OR_RETURN(BlockRun run,
                         write_blob(op.view, alloc_, *media_, format::kKindXattr, n.ino, payload,
                                    static_cast<std::uint32_t>(xs.items.size())));
  n.xattr_block = run.block;
  n.xattr_blocks = static_cast<std::uint32_t>(run.count);
  return ok_status();
}

Status PmemFileSystem::remove_capability(Op& op, format::Inode& n) {
  if (n.xattr_block == 0) return ok_status();  // the common case costs nothing
  PINFS_ASSIGN_OR_RETURN(Xattrs xs, load_xattrs(op.view, n));
  auto it = xs.find(kCapabilityXattr);
  if (it == xs.items.end()) return ok_status();
  xs.items.erase(it);
  return store_xattrs(op, n, xs);
}

Status PmemFileSystem::remove_privileges(Op& op, format::Inode& n, const Caller& caller) {
  if (caller.uid != 0) {
    std::uint32_t mode = n.mode;
    mode &= ~static_cast<std::uint32_t>(S_ISUID);
    if ((mode & S_IXGRP) != 0) mode &= ~static_cast<std::uint32_t>(S_ISGID);
    n.mode = mode;
  }
  return remove_capability(op, n);
}

Result<std::vector<std::byte>> PmemFileSystem::getxattr(InodeNumber ino, std::string_view name) {
  PINFS_TRY(check_xattr_name("getxattr", ino, name));
  std::shared_lock lock(mutex_);
  MetaView view = read_view();
  auto body = [&]() -> Result<std::vector<std::byte>> {
    PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.read(view, ino));
    if (name == kLayoutXattr) {
      if (!layout_capable(n)) return Error(ENODATA, "getxattr", object_of(ino, name));
      std::string_view v = has_layout_policy(n) ? "aligned" : "small";
      auto bytes = std::as_bytes(std::span(v));
      return std::vector<std::byte>(bytes.begin(), bytes.end());
    }
    PINFS_ASSIGN_OR_RETURN(Xattrs xs, load_xattrs(view, n));
    auto it = xs.find(name);
    if (it == xs.items.end()) return Error(ENODATA, "getxattr", object_of(ino, name));
    return it->second;
  };
  auto r = body();
  if (!r.ok()) return note(std::move(r).error());
  return r;
}

Result<std::vector<std::string>> PmemFileSystem::listxattr(InodeNumber ino) {
  std::shared_lock lock(mutex_);
  MetaView view = read_view();
  auto body = [&]() -> Result<std::vector<std::string>> {
    PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.read(view, ino));
    PINFS_ASSIGN_OR_RETURN(Xattrs xs, load_xattrs(view, n));
    std::vector<std::string> out;
    for (auto& [k, v] : xs.items) out.push_back(k);
    // Listed only when set, so that copying an ordinary file copies nothing
    // of ours; getxattr answers "small" either way.
    if (layout_capable(n) && has_layout_policy(n)) out.push_back(kLayoutXattr);
    return out;
  };
  auto r = body();
  if (!r.ok()) return note(std::move(r).error());
  return r;
}

Status PmemFileSystem::setxattr(InodeNumber ino, std::string_view name,
                                std::span<const std::byte> value, int flags,
                                const Caller& caller) {
  (void)caller;
  PINFS_TRY(check_xattr_name("setxattr", ino, name));
  if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) != 0 ||
      (flags & (XATTR_CREATE | XATTR_REPLACE)) == (XATTR_CREATE | XATTR_REPLACE))
    return Error(EINVAL, "setxattr", object_of(ino, name), fmt::format("flags {:#x}", flags));
  if (value.size() > kXattrValueMaxBytes)
    return Error(E2BIG, "setxattr", object_of(ino, name),
                 fmt::format("value of {} bytes, at most {}", value.size(), kXattrValueMaxBytes));
  std::unique_lock lock(mutex_);
  PINFS_TRY(writable("setxattr", ino));
  Op op(*this);
  auto body = [&]() -> Status {
    PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.read(op.view, ino));
    if (name == kLayoutXattr) {
      if (!layout_capable(n))
        return Error(EPERM, "setxattr", object_of(ino, name), "only files and directories have a layout");
      std::string v(reinterpret_cast<const char*>(value.data()), value.size());
      while (!v.empty() && (v.back() == '\n' || v.back() == '\0')) v.pop_back();
      if (v != "aligned" && v != "small")
        return Error(EINVAL, "setxattr", object_of(ino, name), "the value is 'aligned' or 'small'");
      if ((flags & XATTR_CREATE) != 0 && has_layout_policy(n)) return Error(EEXIST, "setxattr", object_of(ino, name));
      if ((flags & XATTR_REPLACE) != 0 && !has_layout_policy(n)) return Error(ENODATA, "setxattr", object_of(ino, name));
      n.flags = v == "aligned" ? (n.flags | format::kInodeFlagAligned) : (n.flags & ~format::kInodeFlagAligned);
    } else {
      PINFS_ASSIGN_OR_RETURN(Xattrs xs, load_xattrs(op.view, n));
      auto it = xs.find(name);
      if ((flags & XATTR_CREATE) != 0 && it != xs.items.end()) return Error(EEXIST, "setxattr", object_of(ino, name));
      if ((flags & XATTR_REPLACE) != 0 && it == xs.items.end()) return Error(ENODATA, "setxattr", object_of(ino, name));
      std::vector<std::byte> v(value.begin(), value.end());
      if (it != xs.items.end()) {
        it->second = std::move(v);
      } else {
        xs.items.push_back({std::string(name), std::move(v)});
      }
      PINFS_TRY(store_xattrs(op, n, xs));
    }
    set_time(n.ctime, now());
    inodes_.write(op.view, n);
    return commit(op);
  };
  Status s = body();
  if (!s.ok()) return note(std::move(s).error());
  return ok_status();
}

Status PmemFileSystem::removexattr(InodeNumber ino, std::string_view name, const Caller& caller) {
  (void)caller;
  PINFS_TRY(check_xattr_name("removexattr", ino, name));
  std::unique_lock lock(mutex_);
  PINFS_TRY(writable("removexattr", ino));
  Op op(*this);
  auto body = [&]() -> Status {
    PINFS_ASSIGN_OR_RETURN(format::Inode n, inodes_.read(op.view, ino));
    if (name == kLayoutXattr) {
      if (!layout_capable(n) || !has_layout_policy(n)) return Error(ENODATA, "removexattr", object_of(ino, name));
      n.flags = n.flags & ~format::kInodeFlagAligned;
    } else {
      PINFS_ASSIGN_OR_RETURN(Xattrs xs, load_xattrs(op.view, n));
      auto it = xs.find(name);
      if (it == xs.items.end()) return Error(ENODATA, "removexattr", object_of(ino, name));
      xs.items.erase(it);
      PINFS_TRY(store_xattrs(op, n, xs));
    }
    set_time(n.ctime, now());
    inodes_.write(op.view, n);
    return commit(op);
  };
  Status s = body();
  if (!s.ok()) return note(std::move(s).error());
  return ok_status();
}

}  // namespace pinfs::fs
