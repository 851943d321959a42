// PIN_CREATE, PIN_RELEASE, REGISTRATION_REPORT and REGISTRATION_WITHDRAW.
#include <unistd.h>

#include <algorithm>

#include "pin/protocol/limits.h"
#include "tools/control/file_access.h"
#include "tools/control/request_handlers.h"

namespace pinfs::control {

using protocol::MessageKind;

namespace {

lease::LeaseType to_lease_type(protocol::LeaseKind kind) {
  return kind == protocol::LeaseKind::unbreakable ? lease::LeaseType::unbreakable
                                                  : lease::LeaseType::read;
}

protocol::LeaseKind to_wire(lease::LeaseType type) {
  switch (type) {
    case lease::LeaseType::read: return protocol::LeaseKind::read;
    case lease::LeaseType::unbreakable: return protocol::LeaseKind::unbreakable;
    case lease::LeaseType::write: return protocol::LeaseKind::write;
  }
  return protocol::LeaseKind::read;
}

}  // namespace

Result<protocol::PinCreateReply> RequestHandlers::pin_range(pin::ClientId client,
                                                            const PeerCredentials& peer,
                                                            const lease::LeaseInfo& lease,
                                                            protocol::WireRange wire) {
  PINFS_ASSIGN_OR_RETURN(fs::Attr attr, fs_.getattr(lease.ino));
  PINFS_TRY(check_access(attr, peer, R_OK, "pin", lease.path));
  pin::ByteRange range{wire.offset, wire.length};
  if (range.length == fs::kToEnd) {
    if (range.offset >= attr.size) {
      return Error(EINVAL, "pin", lease.path,
                   "offset " + std::to_string(range.offset) + " is at or past the end of the file (" +
                       std::to_string(attr.size) + " bytes)");
    }
    range.length = attr.size - range.offset;
  }
  if (range.empty()) return Error(EINVAL, "pin", lease.path, "the range is empty");
  // The manager's protocol (lease.h): generation, then extents, then pin; a
  // layout change in between makes the pin fail with EAGAIN.
  const std::uint64_t generation = manager_.layout_generation(lease.ino);
  auto extents = fs_.extents(lease.ino, range.offset, range.length);
  if (!extents.ok()) return as_seen_by_client(extents.error(), "pin", lease.path);
  std::uint64_t covered = range.offset;
  for (const fs::Extent& e : *extents) {
    if (e.file_offset > covered) break;
    covered = std::max(covered, e.file_offset + e.length);
  }
  if (covered < range.end()) {
    std::uint64_t hole_end = range.end();
    for (const fs::Extent& e : *extents) {
      if (e.file_offset > covered) {
        hole_end = std::min(hole_end, e.file_offset);
        break;
      }
    }
    return Error(EINVAL, "pin", pin::describe_file(lease.ino, lease.path) + " " + pin::format_range(range),
                 pin::format_range(pin::ByteRange::from_bounds(covered, hole_end)) +
                     " is a hole: a hole is allocated (under a write lease: pin with allocate) "
                     "before it is pinned, never pinned as a hole");
  }
  lease::PinRequest request;
  request.client = client;
  request.lease = lease.id;
  request.range = range;
  request.extents = *extents;
  request.layout_generation = generation;
  PINFS_ASSIGN_OR_RETURN(pin::PinId id, manager_.pin(request));

  protocol::PinCreateReply reply;
  reply.pin = id;
  auto now_lease = manager_.find_lease(lease.id);
  reply.lease_kind = to_wire(now_lease ? now_lease->type : lease.type);
  reply.range = {range.offset, range.length};
  for (const fs::Extent& e : *extents) {
    const std::uint64_t begin = std::max(e.file_offset, range.offset);
    const std::uint64_t end = std::min(e.file_offset + e.length, range.end());
    if (begin >= end) continue;
    reply.extents.push_back({begin, e.media_offset + (begin - e.file_offset), end - begin});
  }
  if (reply.extents.size() > protocol::kMaxExtents) {
    (void)manager_.unpin(client, id);
    return Error(E2BIG, "pin", lease.path,
                 std::to_string(reply.extents.size()) + " extents; pin a smaller range");
  }
  return reply;
}

Dispatch RequestHandlers::pin(ClientSession& s, std::uint64_t id, const protocol::PinCreateRequest& r) {
  auto fail = [&](const Error& e) { return reply_error(id, MessageKind::pin_create, e); };
  auto lease = own_lease(s.id, r.lease, "pin");
  if (!lease.ok()) {
    // A pin needs a layout lease: say it the way §4 does (EPERM).
    Error e = lease.error();
    if (e.errnum() == ENOENT) e = Error(EPERM, "pin", e.object(), "no such lease: a file_pin needs a layout lease");
    return now(fail(e));
  }
  const PeerCredentials peer = s.peer;
  const pin::ClientId client = s.id;
  if ((r.flags & protocol::kPinAllocate) == 0) {
    auto reply = pin_range(client, peer, *lease, r.range);
    if (!reply.ok()) return now(fail(reply.error()));
    return now(reply_ok(id, MessageKind::pin_create, *reply));
  }
  // Allocate, downgrade, pin: one request, so no other process can change
  // the layout between the allocation and the pin (the downgrade is atomic
  // in the manager, and the pin checks the layout generation).
  if (lease->type != lease::LeaseType::write) {
    return now(fail(Error(EPERM, "pin", lease->path,
                          std::string("allocating holes needs a write lease; lease ") +
                              std::to_string(lease->id) + " is a " + lease::to_string(lease->type) + " lease")));
  }
  const pin::ByteRange range{r.range.offset, r.range.length};
  if (range.empty() || range.length == fs::kToEnd || !lease->range.contains(range)) {
    return now(fail(Error(EINVAL, "pin", lease->path,
                          "pinning with allocation needs a bounded range inside the lease's " +
                              pin::format_range(lease->range))));
  }
  return Dispatch{std::nullopt, [this, id, client, peer, info = *lease, r, range]() -> Reply {
    // Runs on a worker after pin() returned: everything by value.
    auto fail = [id](const Error& e) { return reply_error(id, MessageKind::pin_create, e); };
    auto attr = fs_.getattr(info.ino);
    if (!attr.ok()) return fail(as_seen_by_client(attr.error(), "pin", info.path));
    if (Status allowed = check_access(*attr, peer, W_OK, "allocate", info.path); !allowed.ok()) {
      return fail(allowed.error());
    }
    if (Status allocated = allocate_range(info.ino, info.path, range, caller_of(peer)); !allocated.ok()) {
      return fail(allocated.error());
    }
    if (Status down = manager_.downgrade(client, info.id, to_lease_type(r.downgrade_to)); !down.ok()) {
      return fail(down.error());
    }
    auto reply = pin_range(client, peer, info, r.range);
    if (!reply.ok()) return fail(reply.error());
    return reply_ok(id, MessageKind::pin_create, *reply);
  }};
}

Dispatch RequestHandlers::unpin(ClientSession& s, std::uint64_t id, const protocol::PinReleaseRequest& r) {
  Status released = manager_.unpin(s.id, r.pin);
  if (released.ok()) probes_.forget_pin(s.id, r.pin);
  return now(reply_status(id, MessageKind::pin_release, released));
}

Dispatch RequestHandlers::report(ClientSession& s, std::uint64_t id, const protocol::RegistrationReport& r) {
  pin::Registration registration;
  registration.device_name = r.device;
  registration.lkey = r.lkey;
  registration.rkey = r.rkey;
  registration.iova = r.iova;
  registration.length_bytes = r.length;
  registration.access_flags = static_cast<int>(r.access);
  if (Status valid = pin::validate(registration); !valid.ok()) {
    return now(reply_error(id, MessageKind::registration_report, valid.error()));
  }
  Status added = manager_.add_registration(s.id, r.pin, registration);
  if (added.ok()) probes_.record_registration(s.id, r.pin, registration, s.peer.pid);
  return now(reply_status(id, MessageKind::registration_report, added));
}

Dispatch RequestHandlers::withdraw(ClientSession& s, std::uint64_t id,
                                   const protocol::RegistrationWithdraw& r) {
  Status removed = manager_.remove_registration(s.id, r.pin, r.device, r.rkey);
  if (removed.ok()) probes_.forget_registration(s.id, r.pin, r.device, r.rkey);
  return now(reply_status(id, MessageKind::registration_withdraw, removed));
}

}  // namespace pinfs::control
