// LEASE_ACQUIRE, LEASE_DOWNGRADE, LEASE_RELEASE and ALLOCATE.
#include <linux/falloc.h>
#include <unistd.h>

#include "tools/control/file_access.h"
#include "tools/control/request_handlers.h"

namespace pinfs::control {

using protocol::MessageKind;

namespace {

lease::LeaseType to_lease_type(protocol::LeaseKind kind) {
  switch (kind) {
    case protocol::LeaseKind::read: return lease::LeaseType::read;
    case protocol::LeaseKind::unbreakable: return lease::LeaseType::unbreakable;
    case protocol::LeaseKind::write: return lease::LeaseType::write;
  }
  return lease::LeaseType::read;
}

}  // namespace

Dispatch RequestHandlers::acquire(ClientSession& s, std::uint64_t id,
                                  const protocol::LeaseAcquireRequest& r) {
  auto fail = [&](const Error& e) { return now(reply_error(id, MessageKind::lease_acquire, e)); };
  const lease::LeaseType type = to_lease_type(r.kind);
  const std::string op = std::string("take ") + lease::to_string(type) + " lease";
  auto it = s.files.find(r.handle);
  if (it == s.files.end()) {
    return fail(Error(EBADF, op, "<handle " + std::to_string(r.handle) + ">", "no such open file"));
  }
  const OpenFile& file = it->second;
  auto attr = fs_.getattr(file.ino);
  if (!attr.ok()) return fail(as_seen_by_client(attr.error(), op, file.path));
  // A write lease lets its holder change the layout: write permission. The
  // others protect what the holder reads or DMAs: read permission.
  const int want = type == lease::LeaseType::write ? W_OK : R_OK;
  if (Status allowed = check_access(*attr, s.peer, want, op, file.path); !allowed.ok()) {
    return fail(allowed.error());
  }
  lease::LeaseRequest request;
  request.client = s.id;
  request.ino = file.ino;
  request.path = file.path;
  request.range = pin::ByteRange{r.range.offset, r.range.length};
  request.type = type;
  auto lease = manager_.acquire(request);
  if (!lease.ok()) return fail(lease.error());
  return now(reply_ok(id, MessageKind::lease_acquire, protocol::LeaseAcquireReply{*lease}));
}

Dispatch RequestHandlers::downgrade(ClientSession& s, std::uint64_t id,
                                    const protocol::LeaseDowngradeRequest& r) {
  return now(reply_status(id, MessageKind::lease_downgrade,
                          manager_.downgrade(s.id, r.lease, to_lease_type(r.to))));
}

Dispatch RequestHandlers::release(ClientSession& s, std::uint64_t id,
                                  const protocol::LeaseReleaseRequest& r) {
  // The manager releases the lease's pins first (the pin holds the lease).
  std::vector<pin::PinId> pins;
  for (const pin::FilePin& p : manager_.pins().by_lease(r.lease)) pins.push_back(p.id);
  Status released = manager_.release(s.id, r.lease);
  if (released.ok()) {
    for (pin::PinId p : pins) probes_.forget_pin(s.id, p);
  }
  return now(reply_status(id, MessageKind::lease_release, released));
}

Status RequestHandlers::allocate_range(fs::InodeNumber ino, const std::string& path,
                                       pin::ByteRange range, const fs::Caller& caller) {
  // Mode 0: allocate the holes and extend the size past the end if the range
  // reaches further. Not a layout change (nothing is freed or moved).
  if (Status allocated = fs_.fallocate(ino, 0, range.offset, range.length, caller); !allocated.ok()) {
    return as_seen_by_client(allocated.error(), "allocate", path);
  }
  // The caller holds the write lease, so moving the file into aligned
  // extents does not break it (other clients' leases elsewhere in the file
  // are broken like by any layout change).
  return ensure_mappable(ino, path, caller);
}

Dispatch RequestHandlers::allocate(ClientSession& s, std::uint64_t id,
                                   const protocol::AllocateRequest& r) {
  auto fail = [&](const Error& e) { return now(reply_error(id, MessageKind::allocate, e)); };
  auto lease = own_lease(s.id, r.lease, "allocate");
  if (!lease.ok()) return fail(lease.error());
  const pin::ByteRange range{r.range.offset, r.range.length};
  if (range.empty() || range.length == fs::kToEnd) {
    return fail(Error(EINVAL, "allocate", lease->path, "give a bounded, non-empty range"));
  }
  if (lease->type != lease::LeaseType::write) {
    return fail(Error(EPERM, "allocate", lease->path,
                      std::string("allocating needs a write lease; lease ") + std::to_string(lease->id) +
                          " is a " + lease::to_string(lease->type) + " lease"));
  }
  if (!lease->range.contains(range)) {
    return fail(Error(EPERM, "allocate", lease->path,
                      "lease " + std::to_string(lease->id) + " covers only " + pin::format_range(lease->range)));
  }
  const PeerCredentials peer = s.peer;
  return Dispatch{std::nullopt, [this, id, info = *lease, range, peer]() -> Reply {
    auto attr = fs_.getattr(info.ino);
    if (!attr.ok()) return reply_error(id, MessageKind::allocate, as_seen_by_client(attr.error(), "allocate", info.path));
    if (Status allowed = check_access(*attr, peer, W_OK, "allocate", info.path); !allowed.ok()) {
      return reply_error(id, MessageKind::allocate, allowed.error());
    }
    return reply_status(id, MessageKind::allocate, allocate_range(info.ino, info.path, range, caller_of(peer)));
  }};
}

}  // namespace pinfs::control
