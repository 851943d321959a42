// RequestHandlers: the control server's thin adapter from decoded requests
// to the lease manager, the pin registry (through the manager) and the file
// system, and from their errors to error replies — the one place where an
// Error becomes a reply on the socket.
//
// A request is answered on the loop thread when it cannot wait; a request
// that is or may be a layout change (MAP moving data into aligned extents,
// ALLOCATE, PIN_CREATE with allocation, BREAK) returns work for a worker
// thread instead (worker_pool.h). That work must not touch the session (it
// may be closed by the time the work runs): it captures copies.
//
// Files: request_handlers.cc (dispatch, helpers), file_requests.cc (open,
// close, map), lease_requests.cc (leases, allocate), pin_requests.cc (pins,
// registrations), admin_requests.cc (listings, break).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fs/filesystem.h"
#include "lease/lease_manager.h"
#include "pin/protocol/frame.h"
#include "pin/protocol/message.h"
#include "pin/protocol/message_codec.h"
#include "pinfs/error.h"
#include "tools/control/client_session.h"
#include "tools/control/kernel_reclaim_probes.h"
#include "tools/control/listing_json.h"

namespace pinfs::control {

struct ControlServerOptions {
  std::string socket_path;
  // The mount point, absolute and normalised: absolute client paths must
  // lie under it.
  std::string mountpoint;
  // Members may map (and, as the socket's group, connect). nullopt: root only.
  std::optional<gid_t> map_group;
  std::string map_group_name;  // for messages
  std::string daemon_version = "pinfsd 0.1.0";
};

// An encoded reply, and the descriptor that travels with it (MAP only; not
// owned: the media's).
struct Reply {
  std::vector<std::byte> bytes;
  int pass_fd = -1;
};

// What to do with a request: reply now, or run `later` on a worker and send
// what it returns.
struct Dispatch {
  std::optional<Reply> now;
  std::function<Reply()> later;
};

class RequestHandlers {
 public:
  RequestHandlers(fs::FileSystem& fs, lease::LeaseManager& manager,
                  const ControlServerOptions& options, KernelReclaimProbes& probes,
                  std::function<DaemonFacts()> facts);

  // A frame of a session past HELLO. The error is a malformed request (the
  // connection must be closed; the message says why); refusals of
  // well-formed requests are error replies inside the Dispatch.
  [[nodiscard]] Result<Dispatch> handle(ClientSession& session, const protocol::Frame& frame);

  // The alignment handed out with MAP: the file system's aligned unit (a
  // multiple of the media's own alignment).
  std::uint64_t map_alignment() const { return map_alignment_; }

 private:
  // Requests, one per message kind (the session's id is the request id).
  Dispatch open(ClientSession& s, std::uint64_t id, const protocol::OpenRequest& r);
  Dispatch close(ClientSession& s, std::uint64_t id, const protocol::CloseRequest& r);
  Dispatch map(ClientSession& s, std::uint64_t id, const protocol::MapRequest& r);
  Dispatch acquire(ClientSession& s, std::uint64_t id, const protocol::LeaseAcquireRequest& r);
  Dispatch downgrade(ClientSession& s, std::uint64_t id, const protocol::LeaseDowngradeRequest& r);
  Dispatch release(ClientSession& s, std::uint64_t id, const protocol::LeaseReleaseRequest& r);
  Dispatch allocate(ClientSession& s, std::uint64_t id, const protocol::AllocateRequest& r);
  Dispatch pin(ClientSession& s, std::uint64_t id, const protocol::PinCreateRequest& r);
  Dispatch unpin(ClientSession& s, std::uint64_t id, const protocol::PinReleaseRequest& r);
  Dispatch report(ClientSession& s, std::uint64_t id, const protocol::RegistrationReport& r);
  Dispatch withdraw(ClientSession& s, std::uint64_t id, const protocol::RegistrationWithdraw& r);
  Dispatch list(std::uint64_t id, protocol::MessageKind kind);
  Dispatch break_leases(ClientSession& s, std::uint64_t id, const protocol::BreakRequest& r);

  // Shared steps, safe on a worker (they touch no session).
  // Allocates [range) as the caller and makes the file mappable.
  Status allocate_range(fs::InodeNumber ino, const std::string& path, pin::ByteRange range,
                        const fs::Caller& caller);
  // Moves the file into aligned extents unless it already is.
  Status ensure_mappable(fs::InodeNumber ino, const std::string& path, const fs::Caller& caller);
  Result<bool> is_mappable(fs::InodeNumber ino, const std::string& path);
  // Reads the extents of a lease's range and pins them.
  Result<protocol::PinCreateReply> pin_range(pin::ClientId client, const PeerCredentials& peer,
                                             const lease::LeaseInfo& lease, protocol::WireRange range);
  // The client's own lease `id`: ENOENT / EPERM as the manager says them.
  Result<lease::LeaseInfo> own_lease(pin::ClientId client, std::uint64_t id, const char* op);

  fs::FileSystem& fs_;
  lease::LeaseManager& manager_;
  const ControlServerOptions& options_;
  KernelReclaimProbes& probes_;
  std::function<DaemonFacts()> facts_;
  std::uint64_t map_alignment_ = 0;
};

// Reply builders.
template <typename M>
Reply reply_ok(std::uint64_t id, protocol::MessageKind kind, const M& message) {
  return Reply{protocol::encode_reply(id, kind, message)};
}
Reply reply_error(std::uint64_t id, protocol::MessageKind kind, const Error& error);
inline Dispatch now(Reply reply) { return Dispatch{std::move(reply), {}}; }
// The error of a Status, or an empty reply.
Reply reply_status(std::uint64_t id, protocol::MessageKind kind, const Status& status);

fs::Caller caller_of(const PeerCredentials& peer);
// The file system names files by inode in its errors; a client knows the
// path it gave. Keeps the errno and puts the fs message in the detail.
Error as_seen_by_client(const Error& fs_error, const std::string& op, const std::string& path);

}  // namespace pinfs::control
