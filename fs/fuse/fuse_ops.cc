// libfuse low-level callbacks. Each one: read the request, make one
// FileSystem call, reply. No exception crosses into libfuse: the fs API
// returns Results, and allocation failure terminates (as everywhere).
#include "fs/fuse/fuse_ops.h"

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fcntl.h>
#include <fuse3/fuse_lowlevel.h>

#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

#include "fs/fuse/fuse_frontend.h"

namespace pinfs::fs {
namespace {

FuseFrontend& frontend(fuse_req_t req) {
  return *static_cast<FuseFrontend*>(fuse_req_userdata(req));
}
FileSystem& fs_of(fuse_req_t req) { return frontend(req).fs(); }

Caller caller_of(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  return Caller{.pid = ctx->pid, .uid = ctx->uid, .gid = ctx->gid};
}

// The kernel's FUSE names the calling *thread*; leases belong to processes.
// Only layout-changing requests need the process (the EDEADLK rule and a
// write-lease holder's own changes), and only when the inode is leased: the
// lease manager resolves it then.
Caller layout_caller_of(fuse_req_t req) {
  Caller c = caller_of(req);
  c.pid_is_thread = true;
  return c;
}

// The one place where an Error becomes an errno for the kernel.
void reply_error(fuse_req_t req, const Error& error) {
  fuse_reply_err(req, error.errnum() > 0 ? error.errnum() : EIO);
}

struct timespec to_timespec(const Timespec& t) {
  struct timespec ts {};
  ts.tv_sec = t.sec;
  ts.tv_nsec = t.nsec;
  return ts;
}

struct stat to_stat(const Attr& a) {
  struct stat st {};
  st.st_ino = a.ino;
  st.st_mode = a.mode;
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_rdev = a.rdev;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blksize = 4096;
  st.st_blocks = static_cast<blkcnt_t>(a.blocks_512);
  st.st_atim = to_timespec(a.atime);
  st.st_mtim = to_timespec(a.mtime);
  st.st_ctim = to_timespec(a.ctime);
  return st;
}

// Replies with an entry and counts the kernel's new reference to it.
void reply_entry(fuse_req_t req, const Attr& attr) {
  FuseFrontend& fe = frontend(req);
  if (Status st = fe.remember(attr.ino); !st.ok()) {
    reply_error(req, st.error());
    return;
  }
  fuse_entry_param e{};
  e.ino = attr.ino;
  e.generation = attr.generation;
  e.attr = to_stat(attr);
  e.attr_timeout = fe.options().attr_timeout_s;
  e.entry_timeout = fe.options().entry_timeout_s;
  if (fuse_reply_entry(req, &e) != 0) fe.forget(attr.ino, 1);  // the kernel did not take it
}

void reply_attr(fuse_req_t req, const Attr& attr) {
  struct stat st = to_stat(attr);
  fuse_reply_attr(req, &st, frontend(req).options().attr_timeout_s);
}

void reply_entry_or_error(fuse_req_t req, const Result<Attr>& r) {
  if (r.ok()) reply_entry(req, *r);
  else reply_error(req, r.error());
}

void reply_status(fuse_req_t req, const Status& st) {
  fuse_reply_err(req, st.ok() ? 0 : (st.error().errnum() > 0 ? st.error().errnum() : EIO));
}

void op_init(void* userdata, fuse_conn_info* conn) {
  (void)userdata;
  // Large requests: one 1 MiB write is one persist, not eight.
  conn->max_write = 1u << 20;
  conn->max_readahead = 1u << 20;
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  // Write-through: write() must be durable when it returns, which the
  // kernel's writeback cache would defeat.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  // Let the kernel drop cached pages when it sees mtime/size change.
  if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
}

void op_destroy(void* userdata) { static_cast<FuseFrontend*>(userdata)->forget_all(); }

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto r = fs_of(req).lookup(parent, name);
  if (!r.ok() && r.error().errnum() == ENOENT) {
    // A negative entry the kernel may cache for entry_timeout.
    fuse_entry_param e{};
    e.entry_timeout = frontend(req).options().entry_timeout_s;
    fuse_reply_entry(req, &e);
    return;
  }
  reply_entry_or_error(req, r);
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  frontend(req).forget(ino, nlookup);
  fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) frontend(req).forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  auto r = fs_of(req).getattr(ino);
  if (r.ok()) reply_attr(req, *r);
  else reply_error(req, r.error());
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
  SetAttr changes;
  if (to_set & FUSE_SET_ATTR_MODE) changes.mode = attr->st_mode & 07777;
  if (to_set & FUSE_SET_ATTR_UID) changes.uid = attr->st_uid;
  if (to_set & FUSE_SET_ATTR_GID) changes.gid = attr->st_gid;
  if (to_set & FUSE_SET_ATTR_SIZE) changes.size = static_cast<std::uint64_t>(attr->st_size);
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
    changes.atime_now = true;
  } else if (to_set & FUSE_SET_ATTR_ATIME) {
    changes.atime = Timespec{attr->st_atim.tv_sec, static_cast<std::uint32_t>(attr->st_atim.tv_nsec)};
  }
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
    changes.mtime_now = true;
  } else if (to_set & FUSE_SET_ATTR_MTIME) {
    changes.mtime = Timespec{attr->st_mtim.tv_sec, static_cast<std::uint32_t>(attr->st_mtim.tv_nsec)};
  }
  auto r = fs_of(req).setattr(
      ino, changes, changes.size ? layout_caller_of(req) : caller_of(req));
  if (r.ok()) reply_attr(req, *r);
  else reply_error(req, r.error());
}

void op_readlink(fuse_req_t req, fuse_ino_t ino) {
  auto r = fs_of(req).readlink(ino);
  if (r.ok()) fuse_reply_readlink(req, r->c_str());
  else reply_error(req, r.error());
}

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  reply_entry_or_error(req, fs_of(req).mknod(parent, name, mode, rdev, caller_of(req)));
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  reply_entry_or_error(req, fs_of(req).mkdir(parent, name, mode, caller_of(req)));
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  reply_status(req, fs_of(req).unlink(parent, name, layout_caller_of(req)));
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  reply_status(req, fs_of(req).rmdir(parent, name, layout_caller_of(req)));
}

void op_symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  reply_entry_or_error(req, fs_of(req).symlink(parent, name, link, caller_of(req)));
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
               const char* newname, unsigned int flags) {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
    fuse_reply_err(req, EINVAL);  // RENAME_WHITEOUT is for overlay file systems
    return;
  }
  reply_status(req, fs_of(req).rename(parent, name, newparent, newname, flags,
                                      layout_caller_of(req)));
}

void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  reply_entry_or_error(req, fs_of(req).link(ino, newparent, newname, caller_of(req)));
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto attr = fs_of(req).getattr(ino);
  if (!attr.ok()) {
    reply_error(req, attr.error());
    return;
  }
  if (S_ISDIR(attr->mode)) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  // libfuse asks for FUSE_CAP_ATOMIC_O_TRUNC by default: the kernel then
  // sends O_TRUNC here instead of a SETATTR first, and the truncate is ours.
  // It is a layout change like any truncate down (leases are asked first).
  // As on Linux, O_RDONLY|O_TRUNC truncates too (the kernel checked write
  // permission already).
  if ((fi->flags & O_TRUNC) != 0 && S_ISREG(attr->mode) && attr->size != 0) {
    SetAttr truncate;
    truncate.size = 0;
    auto r = fs_of(req).setattr(ino, truncate, layout_caller_of(req));
    if (!r.ok()) {
      reply_error(req, r.error());
      return;
    }
  }
  // Drop cached pages at open: a client may have written the file through a
  // direct mapping since (close-to-open coherence, docs/mount.md).
  fi->keep_cache = 0;
  fuse_reply_open(req, fi);
}

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  std::vector<std::byte> buf(size);
  auto r = fs_of(req).read(ino, static_cast<std::uint64_t>(off), buf);
  if (r.ok()) fuse_reply_buf(req, reinterpret_cast<const char*>(buf.data()), *r);
  else reply_error(req, r.error());
}

void op_write(fuse_req_t req, fuse_ino_t ino, const char* data, size_t size, off_t off,
              fuse_file_info*) {
  auto r = fs_of(req).write(ino, static_cast<std::uint64_t>(off),
                            {reinterpret_cast<const std::byte*>(data), size}, caller_of(req));
  if (r.ok()) fuse_reply_write(req, *r);
  else reply_error(req, r.error());
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
  // The times of in-place overwrites go to the media at close at the latest
  // (fs/deferred_times.h).
  reply_status(req, fs_of(req).write_back_times());
}

void op_fsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  reply_status(req, fs_of(req).fsync(ino));
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto attr = fs_of(req).getattr(ino);
  if (!attr.ok()) {
    reply_error(req, attr.error());
    return;
  }
  if (!S_ISDIR(attr->mode)) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  fuse_reply_open(req, fi);
}

// Collects a batch of entries from the fs (under its lock), then builds the
// reply outside it: readdirplus needs a getattr per entry.
void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus) {
  FileSystem& fs = fs_of(req);
  std::vector<DirEntry> batch;
  // A directory entry needs at least 24 bytes (32 with attributes), so the
  // reply cannot hold more than size/24 of them.
  const size_t max_entries = std::max<size_t>(1, size / 24);
  Status st = fs.readdir(ino, static_cast<std::uint64_t>(off), [&](const DirEntry& e) {
    batch.push_back(e);
    return batch.size() < max_entries;
  });
  if (!st.ok()) {
    reply_error(req, st.error());
    return;
  }
  std::vector<char> buf(size);
  size_t used = 0;
  FuseFrontend& fe = frontend(req);
  for (const DirEntry& e : batch) {
    const bool dot = e.name == "." || e.name == "..";
    size_t need = 0;
    if (plus) {
      fuse_entry_param entry{};
      if (!dot) {
        auto attr = fs.getattr(e.ino);
        if (!attr.ok()) continue;  // removed since the batch was read
        entry.ino = attr->ino;
        entry.generation = attr->generation;
        entry.attr = to_stat(*attr);
        entry.attr_timeout = fe.options().attr_timeout_s;
        entry.entry_timeout = fe.options().entry_timeout_s;
      } else {
        entry.attr.st_ino = e.ino;
        entry.attr.st_mode = e.mode;
      }
      need = fuse_add_direntry_plus(req, buf.data() + used, size - used, e.name.c_str(), &entry,
                                    static_cast<off_t>(e.next_cookie));
      if (need > size - used) break;
      // Every entry but . and .. counts as a lookup (libfuse's contract).
      if (!dot && !fe.remember(e.ino).ok()) {
        // Cannot count it: leave it out of this reply; the next readdir
        // starts from the previous cookie.
        break;
      }
    } else {
      struct stat st {};
      st.st_ino = e.ino;
      st.st_mode = e.mode;
      need = fuse_add_direntry(req, buf.data() + used, size - used, e.name.c_str(), &st,
                               static_cast<off_t>(e.next_cookie));
      if (need > size - used) break;
    }
    used += need;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  readdir_common(req, ino, size, off, false);
}

void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  readdir_common(req, ino, size, off, true);
}

void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  reply_status(req, fs_of(req).fsync(ino));
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
  auto r = fs_of(req).statfs();
  if (!r.ok()) {
    reply_error(req, r.error());
    return;
  }
  struct statvfs sv {};
  sv.f_bsize = r->block_size;
  sv.f_frsize = r->block_size;
  sv.f_blocks = r->total_blocks;
  sv.f_bfree = r->free_blocks;
  sv.f_bavail = r->free_blocks;
  sv.f_files = r->total_inodes;
  sv.f_ffree = r->free_inodes;
  sv.f_favail = r->free_inodes;
  sv.f_namemax = r->name_max;
  fuse_reply_statfs(req, &sv);
}

void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value,
                 size_t size, int flags) {
  reply_status(req, fs_of(req).setxattr(ino, name,
                                        {reinterpret_cast<const std::byte*>(value), size},
                                        flags, caller_of(req)));
}

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  auto r = fs_of(req).getxattr(ino, name);
  if (!r.ok()) {
    reply_error(req, r.error());
    return;
  }
  if (size == 0) fuse_reply_xattr(req, r->size());
  else if (size < r->size()) fuse_reply_err(req, ERANGE);
  else fuse_reply_buf(req, reinterpret_cast<const char*>(r->data()), r->size());
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  auto r = fs_of(req).listxattr(ino);
  if (!r.ok()) {
    reply_error(req, r.error());
    return;
  }
  std::string list;
  for (const auto& name : *r) {
    list += name;
    list.push_back('\0');
  }
  if (size == 0) fuse_reply_xattr(req, list.size());
  else if (size < list.size()) fuse_reply_err(req, ERANGE);
  else fuse_reply_buf(req, list.data(), list.size());
}

void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  reply_status(req, fs_of(req).removexattr(ino, name, caller_of(req)));
}

void op_access(fuse_req_t req, fuse_ino_t ino, int) {
  // default_permissions: the kernel checks mode bits itself; this only
  // answers whether the inode exists.
  auto r = fs_of(req).getattr(ino);
  reply_status(req, r.ok() ? Status{} : Status{r.error()});
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
               fuse_file_info* fi) {
  auto r = fs_of(req).mknod(parent, name, S_IFREG | (mode & 07777), 0, caller_of(req));
  if (!r.ok()) {
    reply_error(req, r.error());
    return;
  }
  FuseFrontend& fe = frontend(req);
  if (Status st = fe.remember(r->ino); !st.ok()) {
    reply_error(req, st.error());
    return;
  }
  fuse_entry_param e{};
  e.ino = r->ino;
  e.generation = r->generation;
  e.attr = to_stat(*r);
  e.attr_timeout = fe.options().attr_timeout_s;
  e.entry_timeout = fe.options().entry_timeout_s;
  fi->keep_cache = 0;
  if (fuse_reply_create(req, &e, fi) != 0) fe.forget(r->ino, 1);
}

void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                  fuse_file_info*) {
  if (offset < 0 || length <= 0) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  reply_status(req, fs_of(req).fallocate(ino, mode, static_cast<std::uint64_t>(offset),
                                         static_cast<std::uint64_t>(length), layout_caller_of(req)));
}

const fuse_lowlevel_ops kOps = [] {
  fuse_lowlevel_ops ops{};
  ops.init = op_init;
  ops.destroy = op_destroy;
  ops.lookup = op_lookup;
  ops.forget = op_forget;
  ops.forget_multi = op_forget_multi;
  ops.getattr = op_getattr;
  ops.setattr = op_setattr;
  ops.readlink = op_readlink;
  ops.mknod = op_mknod;
  ops.mkdir = op_mkdir;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.symlink = op_symlink;
  ops.rename = op_rename;
  ops.link = op_link;
  ops.open = op_open;
  ops.read = op_read;
  ops.write = op_write;
  // No flush: writes are durable when they return and nothing is buffered
  // here. The first FLUSH is answered ENOSYS by libfuse and the kernel stops
  // sending them: one round trip less per close().
  ops.release = op_release;
  ops.fsync = op_fsync;
  ops.opendir = op_opendir;
  ops.readdir = op_readdir;
  ops.readdirplus = op_readdirplus;
  ops.releasedir = op_releasedir;
  ops.fsyncdir = op_fsyncdir;
  ops.statfs = op_statfs;
  ops.setxattr = op_setxattr;
  ops.getxattr = op_getxattr;
  ops.listxattr = op_listxattr;
  ops.removexattr = op_removexattr;
  ops.access = op_access;
  ops.create = op_create;
  ops.fallocate = op_fallocate;
  return ops;
}();

}  // namespace

const fuse_lowlevel_ops* fuse_operations() { return &kOps; }

}  // namespace pinfs::fs
