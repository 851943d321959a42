// OPEN, CLOSE and MAP.
#include <sys/stat.h>
#include <unistd.h>

#include "pin/protocol/limits.h"
#include "tools/control/file_access.h"
#include "tools/control/path_resolver.h"
#include "tools/control/request_handlers.h"

namespace pinfs::control {

using protocol::MessageKind;

Dispatch RequestHandlers::open(ClientSession& s, std::uint64_t id, const protocol::OpenRequest& r) {
  auto fail = [&](const Error& e) { return now(reply_error(id, MessageKind::open, e)); };
  auto resolved = resolve_path(fs_, options_.mountpoint, r.path, s.peer, "open");
  if (!resolved.ok()) return fail(resolved.error());
  const fs::Attr& attr = resolved->attr;
  if (S_ISDIR(attr.mode)) return fail(Error(EISDIR, "open", r.path, "only regular files can be leased"));
  if (!S_ISREG(attr.mode)) return fail(Error(EINVAL, "open", r.path, "not a regular file"));
  if (s.files.size() >= kMaxOpenFilesPerClient) {
    return fail(Error(EMFILE, "open", r.path,
                      "a client has at most " + std::to_string(kMaxOpenFilesPerClient) + " files open"));
  }
  // An open reference, as an open(2) would hold: an unlinked file keeps its
  // inode (and inode number) while the client has it open.
  if (Status held = fs_.acquire(attr.ino); !held.ok()) {
    return fail(as_seen_by_client(held.error(), "open", r.path));
  }
  const std::uint64_t handle = s.next_handle++;
  s.files.emplace(handle, OpenFile{attr.ino, r.path});
  return now(reply_ok(id, MessageKind::open,
                      protocol::OpenReply{handle, attr.ino, attr.size, attr.mode, attr.uid, attr.gid}));
}

Dispatch RequestHandlers::close(ClientSession& s, std::uint64_t id, const protocol::CloseRequest& r) {
  auto it = s.files.find(r.handle);
  if (it == s.files.end()) {
    return now(reply_error(id, MessageKind::close,
                           Error(EBADF, "close", "<handle " + std::to_string(r.handle) + ">",
                                 "no such open file")));
  }
  const fs::InodeNumber ino = it->second.ino;
  bool other_handle = false;
  for (const auto& [handle, file] : s.files) other_handle |= handle != r.handle && file.ino == ino;
  if (!other_handle) {
    for (const lease::LeaseInfo& lease : manager_.leases_of(s.id)) {
      if (lease.ino == ino) {
        return now(reply_error(id, MessageKind::close,
                               Error(EBUSY, "close", it->second.path,
                                     "lease " + std::to_string(lease.id) + " is still held: release it first")));
      }
    }
  }
  fs_.release(ino);
  s.files.erase(it);
  return now(reply_ok(id, MessageKind::close, protocol::EmptyReply{}));
}

Result<bool> RequestHandlers::is_mappable(fs::InodeNumber ino, const std::string& path) {
  auto extents = fs_.extents(ino, 0, fs::kToEnd);
  if (!extents.ok()) return as_seen_by_client(extents.error(), "map", path);
  for (const fs::Extent& e : *extents) {
    if (e.file_offset % map_alignment_ != 0 || e.media_offset % map_alignment_ != 0 ||
        e.length % map_alignment_ != 0) {
      return false;
    }
  }
  return true;
}

Status RequestHandlers::ensure_mappable(fs::InodeNumber ino, const std::string& path,
                                        const fs::Caller& caller) {
  PINFS_ASSIGN_OR_RETURN(bool mappable, is_mappable(ino, path));
  if (mappable) return ok_status();
  // A layout change (it moves data): may break other clients' leases, and
  // wait for them, which is why this runs on a worker.
  if (Status moved = fs_.make_mappable(ino, caller); !moved.ok()) {
    return as_seen_by_client(moved.error(), "make mappable", path);
  }
  PINFS_ASSIGN_OR_RETURN(mappable, is_mappable(ino, path));
  if (!mappable) {
    return Error(EIO, "make mappable", path,
                 "the file system left extents not aligned to " + std::to_string(map_alignment_) + " bytes");
  }
  return ok_status();
}

Dispatch RequestHandlers::map(ClientSession& s, std::uint64_t id, const protocol::MapRequest& r) {
  auto fail = [&](const Error& e) { return now(reply_error(id, MessageKind::map, e)); };
  auto it = s.files.find(r.handle);
  if (it == s.files.end()) {
    return fail(Error(EBADF, "map", "<handle " + std::to_string(r.handle) + ">", "no such open file"));
  }
  const OpenFile file = it->second;
  if (s.peer.uid != 0 && !(options_.map_group && s.peer.in_group(*options_.map_group))) {
    const std::string who = options_.map_group
                                ? "only root and members of the map group '" + options_.map_group_name +
                                      "' (gid " + std::to_string(*options_.map_group) + ") may map"
                                : std::string("only root may map: this pinfsd has no map group (--map-group)");
    return fail(Error(EPERM, "map", file.path,
                      "mapping hands out the descriptor of the whole device, so " + who + "; uid " +
                          std::to_string(s.peer.uid) + " is not allowed"));
  }
  // Moving the data of a file this client holds a read or unbreakable lease
  // on would break that very lease while the client waits for this reply.
  bool own_shared_lease = false;
  for (const lease::LeaseInfo& lease : manager_.leases_of(s.id)) {
    own_shared_lease |= lease.ino == file.ino && lease.type != lease::LeaseType::write;
  }
  const PeerCredentials peer = s.peer;
  return Dispatch{std::nullopt, [this, id, file, peer, own_shared_lease]() -> Reply {
    auto fail = [&](const Error& e) { return reply_error(id, MessageKind::map, e); };
    auto attr = fs_.getattr(file.ino);
    if (!attr.ok()) return fail(as_seen_by_client(attr.error(), "map", file.path));
    if (Status allowed = check_access(*attr, peer, R_OK, "map", file.path); !allowed.ok()) {
      return fail(allowed.error());
    }
    auto mappable = is_mappable(file.ino, file.path);
    if (!mappable.ok()) return fail(mappable.error());
    if (!*mappable && own_shared_lease) {
      return fail(Error(EBUSY, "map", file.path,
                        "the file's data must first move into aligned extents, a layout change "
                        "that would break your own read or unbreakable lease: map before taking "
                        "it, or hold a write lease"));
    }
    if (Status ready = ensure_mappable(file.ino, file.path, caller_of(peer)); !ready.ok()) {
      return fail(ready.error());
    }
    auto extents = fs_.extents(file.ino, 0, fs::kToEnd);
    if (!extents.ok()) return fail(as_seen_by_client(extents.error(), "map", file.path));
    if (extents->size() > protocol::kMaxExtents) {
      return fail(Error(E2BIG, "map", file.path,
                        std::to_string(extents->size()) + " extents; at most " +
                            std::to_string(protocol::kMaxExtents) + " fit in a reply"));
    }
    auto size = fs_.getattr(file.ino);
    if (!size.ok()) return fail(as_seen_by_client(size.error(), "map", file.path));
    protocol::MapReply reply;
    reply.alignment = map_alignment_;
    reply.file_size = size->size;
    reply.media_size = fs_.media().size_bytes();
    for (const fs::Extent& e : *extents) reply.extents.push_back({e.file_offset, e.media_offset, e.length});
    if (fs_.media().client_fd() < 0) {
      return fail(Error(EOPNOTSUPP, "map", file.path, "this media has no descriptor to hand out"));
    }
    Reply out = reply_ok(id, MessageKind::map, reply);
    out.pass_fd = fs_.media().client_fd();
    return out;
  }};
}

}  // namespace pinfs::control
