#include "tools/control/request_handlers.h"

#include <algorithm>

namespace pinfs::control {

using protocol::MessageKind;

Reply reply_error(std::uint64_t id, MessageKind kind, const Error& error) {
  return Reply{protocol::encode_error_reply(id, static_cast<std::uint16_t>(kind), error)};
}

Reply reply_status(std::uint64_t id, MessageKind kind, const Status& status) {
  if (!status.ok()) return reply_error(id, kind, status.error());
  return reply_ok(id, kind, protocol::EmptyReply{});
}

fs::Caller caller_of(const PeerCredentials& peer) {
  return fs::Caller{.pid = peer.pid, .uid = peer.uid, .gid = peer.gid};
}

Error as_seen_by_client(const Error& fs_error, const std::string& op, const std::string& path) {
  return Error(fs_error.errnum(), op, path, fs_error.message());
}

RequestHandlers::RequestHandlers(fs::FileSystem& fs, lease::LeaseManager& manager,
                                 const ControlServerOptions& options, KernelReclaimProbes& probes,
                                 std::function<DaemonFacts()> facts)
    : fs_(fs), manager_(manager), options_(options), probes_(probes), facts_(std::move(facts)) {
  std::uint64_t unit = 0;
  if (auto stat = fs_.statfs(); stat.ok()) unit = stat->aligned_unit_bytes;
  map_alignment_ = std::max<std::uint64_t>(unit, fs_.media().map_alignment_bytes());
  if (map_alignment_ == 0) map_alignment_ = 4096;
}

Result<lease::LeaseInfo> RequestHandlers::own_lease(pin::ClientId client, std::uint64_t id,
                                                    const char* op) {
  auto info = manager_.find_lease(id);
  const std::string object = "<lease " + std::to_string(id) + ">";
  if (!info) return Error(ENOENT, op, object, "no such lease (released, revoked or never taken)");
  if (info->holder.id != client) {
    return Error(EPERM, op, object, "held by " + pin::describe(info->holder));
  }
  return *info;
}

namespace {

// Decodes a request of type M and hands it to the handler; a malformed body
// is the caller's error (close the connection).
template <typename M, typename F>
Result<Dispatch> decoded(const protocol::Frame& frame, F&& handler) {
  PINFS_ASSIGN_OR_RETURN(M request, protocol::decode_request<M>(frame));
  return handler(request);
}

}  // namespace

Result<Dispatch> RequestHandlers::handle(ClientSession& s, const protocol::Frame& frame) {
  const std::uint64_t id = frame.request_id;
  switch (static_cast<MessageKind>(frame.kind)) {
    case MessageKind::open:
      return decoded<protocol::OpenRequest>(frame, [&](const auto& r) { return open(s, id, r); });
    case MessageKind::close:
      return decoded<protocol::CloseRequest>(frame, [&](const auto& r) { return close(s, id, r); });
    case MessageKind::map:
      return decoded<protocol::MapRequest>(frame, [&](const auto& r) { return map(s, id, r); });
    case MessageKind::lease_acquire:
      return decoded<protocol::LeaseAcquireRequest>(frame, [&](const auto& r) { return acquire(s, id, r); });
    case MessageKind::lease_downgrade:
      return decoded<protocol::LeaseDowngradeRequest>(frame, [&](const auto& r) { return downgrade(s, id, r); });
    case MessageKind::lease_release:
      return decoded<protocol::LeaseReleaseRequest>(frame, [&](const auto& r) { return release(s, id, r); });
    case MessageKind::allocate:
      return decoded<protocol::AllocateRequest>(frame, [&](const auto& r) { return allocate(s, id, r); });
    case MessageKind::pin_create:
      return decoded<protocol::PinCreateRequest>(frame, [&](const auto& r) { return pin(s, id, r); });
    case MessageKind::pin_release:
      return decoded<protocol::PinReleaseRequest>(frame, [&](const auto& r) { return unpin(s, id, r); });
    case MessageKind::registration_report:
      return decoded<protocol::RegistrationReport>(frame, [&](const auto& r) { return report(s, id, r); });
    case MessageKind::registration_withdraw:
      return decoded<protocol::RegistrationWithdraw>(frame, [&](const auto& r) { return withdraw(s, id, r); });
    case MessageKind::list_pins:
      return decoded<protocol::ListPinsRequest>(frame, [&](const auto&) { return list(id, MessageKind::list_pins); });
    case MessageKind::list_leases:
      return decoded<protocol::ListLeasesRequest>(frame, [&](const auto&) { return list(id, MessageKind::list_leases); });
    case MessageKind::stat:
      return decoded<protocol::StatRequest>(frame, [&](const auto&) { return list(id, MessageKind::stat); });
    case MessageKind::break_leases:
      return decoded<protocol::BreakRequest>(frame, [&](const auto& r) { return break_leases(s, id, r); });
    default:
      break;
  }
  return Error(EPROTO, "receive", s.describe(),
               "a client may not send " + protocol::kind_name(frame.kind));
}

}  // namespace pinfs::control
