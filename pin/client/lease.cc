// Lease and Pin handles.
#include "pinfs/lease.h"

#include "pin/client/connection.h"
#include "pin/client/event_translation.h"
#include "pin/client/handle_state.h"

namespace pinfs {

using client_detail::LeaseState;
using client_detail::PinState;

namespace client_detail {

LeaseState::~LeaseState() {
  if (!connection) return;
  connection->forget_lease(id);
  if (held && connection->connected()) {
    (void)connection->call<protocol::EmptyReply>(protocol::LeaseReleaseRequest{id});
  }
}

PinState::~PinState() {
  if (!lease || !held || lease->released) return;
  if (lease->connection->connected()) {
    (void)lease->connection->call<protocol::EmptyReply>(protocol::PinReleaseRequest{id});
  }
}

}  // namespace client_detail

// --- Lease -----------------------------------------------------------------

Lease::Lease(std::shared_ptr<LeaseState> state) : state_(std::move(state)) {}
Lease::Lease(Lease&&) noexcept = default;
Lease& Lease::operator=(Lease&&) noexcept = default;
Lease::~Lease() = default;

std::uint64_t Lease::id() const { return state_->id; }
LeaseKind Lease::kind() const { return state_->kind; }
FileRange Lease::range() const { return state_->range; }
const std::string& Lease::path() const { return state_->file->path; }
bool Lease::held() const { return state_ && state_->held && state_->connection->connected(); }
bool Lease::breaking() const { return state_ && state_->breaking; }

Status Lease::downgrade(LeaseKind to) {
  protocol::LeaseDowngradeRequest request{state_->id, client_detail::to_wire(to)};
  if (to == LeaseKind::write) {
    return Error(EINVAL, "downgrade lease", state_->file->path, "downgrade to read or unbreakable");
  }
  PINFS_TRY(state_->connection->call<protocol::EmptyReply>(request));
  state_->kind = to;
  return ok_status();
}

Status Lease::allocate(FileRange range) {
  protocol::AllocateRequest request{state_->id, client_detail::to_wire(range)};
  PINFS_TRY(state_->connection->call<protocol::EmptyReply>(request));
  return ok_status();
}

Result<Pin> Lease::pin(FileRange range, bool allocate, LeaseKind downgrade_to) {
  if (allocate && downgrade_to == LeaseKind::write) {
    return Error(EINVAL, "pin", state_->file->path,
                 "a pinned lease is read or unbreakable: downgrade_to cannot be write");
  }
  protocol::PinCreateRequest request;
  request.lease = state_->id;
  request.range = client_detail::to_wire(range);
  request.flags = allocate ? protocol::kPinAllocate : 0;
  request.downgrade_to = client_detail::to_wire(allocate ? downgrade_to : LeaseKind::read);
  PINFS_ASSIGN_OR_RETURN(auto reply, state_->connection->call<protocol::PinCreateReply>(request));
  state_->kind = client_detail::from_wire(reply.lease_kind);
  auto pin = std::make_shared<PinState>();
  pin->lease = state_;
  pin->id = reply.pin;
  pin->range = client_detail::from_wire(reply.range);
  pin->extents.reserve(reply.extents.size());
  for (const auto& e : reply.extents) pin->extents.push_back(client_detail::from_wire(e));
  return Pin(std::move(pin));
}

Status Lease::release() {
  if (!state_->held) return ok_status();
  auto done = state_->connection->call<protocol::EmptyReply>(protocol::LeaseReleaseRequest{state_->id});
  // ENOENT: revoked meanwhile (the REVOKED event may still be queued).
  if (!done.ok() && done.error().errnum() != ENOENT) return std::move(done).error();
  state_->held = false;
  state_->breaking = false;
  state_->released = true;
  return ok_status();
}

// --- Pin -------------------------------------------------------------------

Pin::Pin(std::shared_ptr<PinState> state) : state_(std::move(state)) {}
Pin::Pin(Pin&&) noexcept = default;
Pin& Pin::operator=(Pin&&) noexcept = default;
Pin::~Pin() = default;

std::uint64_t Pin::id() const { return state_->id; }
FileRange Pin::range() const { return state_->range; }
const std::vector<Extent>& Pin::extents() const { return state_->extents; }
bool Pin::held() const { return state_ && state_->held && !state_->lease->released; }

Status Pin::report_registration(const Registration& r) {
  protocol::RegistrationReport report;
  report.pin = state_->id;
  report.device = r.device;
  report.lkey = r.lkey;
  report.rkey = r.rkey;
  report.iova = r.iova;
  report.length = r.length;
  report.access = static_cast<std::uint32_t>(r.access);
  PINFS_TRY(state_->lease->connection->call<protocol::EmptyReply>(report));
  return ok_status();
}

Status Pin::withdraw_registration(const std::string& device, std::uint32_t rkey) {
  protocol::RegistrationWithdraw withdraw{state_->id, device, rkey};
  PINFS_TRY(state_->lease->connection->call<protocol::EmptyReply>(withdraw));
  return ok_status();
}

Status Pin::release() {
  if (!state_->held) return ok_status();
  if (state_->lease->released) {  // released with its lease already
    state_->held = false;
    return ok_status();
  }
  auto done = state_->lease->connection->call<protocol::EmptyReply>(protocol::PinReleaseRequest{state_->id});
  // ENOENT: the lease was released first, which released this pin.
  if (!done.ok() && done.error().errnum() != ENOENT) return std::move(done).error();
  state_->held = false;
  return ok_status();
}

}  // namespace pinfs
