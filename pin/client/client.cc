// Client and File: connecting, opening, and the requests that are not about
// one lease.
#include "pinfs/client.h"

#include <poll.h>

#include "pin/client/connection.h"
#include "pin/client/event_translation.h"
#include "pin/client/handle_state.h"

namespace pinfs {

using client_detail::Connection;
using client_detail::FileState;
using client_detail::LeaseState;

const char* to_string(LeaseKind kind) {
  switch (kind) {
    case LeaseKind::read: return "read";
    case LeaseKind::unbreakable: return "unbreakable";
    case LeaseKind::write: return "write";
  }
  return "unknown";
}

const char* to_string(LeaseEventKind kind) {
  switch (kind) {
    case LeaseEventKind::break_requested: return "break";
    case LeaseEventKind::break_abandoned: return "break abandoned";
    case LeaseEventKind::revoked: return "revoked";
    case LeaseEventKind::break_denied: return "break denied";
    case LeaseEventKind::connection_lost: return "connection lost";
  }
  return "unknown";
}

// --- Client ----------------------------------------------------------------

Client::Client(std::shared_ptr<Connection> connection) : connection_(std::move(connection)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

Result<Client> Client::connect(const std::string& socket_path) {
  PINFS_ASSIGN_OR_RETURN(auto connection, Connection::open(socket_path));
  return Client(std::move(connection));
}

Result<File> Client::open(const std::string& path) {
  PINFS_ASSIGN_OR_RETURN(auto reply,
                         connection_->call<protocol::OpenReply>(protocol::OpenRequest{path}));
  auto state = std::make_shared<FileState>();
  state->connection = connection_;
  state->handle = reply.handle;
  state->path = path;
  state->ino = reply.ino;
  state->size_at_open = reply.size;
  return File(std::move(state));
}

int Client::event_fd() const { return connection_->event_fd(); }

Result<std::size_t> Client::process_events() { return connection_->process_events(); }

Result<std::size_t> Client::wait_for_events(std::chrono::milliseconds timeout) {
  pollfd p{connection_->event_fd(), POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return Error::from_errno("wait for events", "pinfsd");
  return connection_->process_events();
}

Result<std::string> Client::list_pins_json() {
  PINFS_ASSIGN_OR_RETURN(auto reply, connection_->call<protocol::JsonReply>(protocol::ListPinsRequest{}));
  return std::move(reply.json);
}

Result<std::string> Client::list_leases_json() {
  PINFS_ASSIGN_OR_RETURN(auto reply, connection_->call<protocol::JsonReply>(protocol::ListLeasesRequest{}));
  return std::move(reply.json);
}

Result<std::string> Client::stat_json() {
  PINFS_ASSIGN_OR_RETURN(auto reply, connection_->call<protocol::JsonReply>(protocol::StatRequest{}));
  return std::move(reply.json);
}

Status Client::break_leases(const std::string& path, FileRange range) {
  protocol::BreakRequest request{path, client_detail::to_wire(range)};
  PINFS_TRY(connection_->call<protocol::EmptyReply>(request));
  return ok_status();
}

std::uint64_t Client::client_id() const { return connection_->hello().client_id; }
const std::string& Client::mountpoint() const { return connection_->hello().mountpoint; }
std::uint32_t Client::lease_break_ms() const { return connection_->hello().lease_break_ms; }
bool Client::connected() const { return connection_ && connection_->connected(); }
void Client::disconnect() { connection_->disconnect(); }

// --- File ------------------------------------------------------------------

namespace client_detail {

FileState::~FileState() {
  if (connection && connection->connected()) {
    (void)connection->call<protocol::EmptyReply>(protocol::CloseRequest{handle});
  }
}

}  // namespace client_detail

File::File(std::shared_ptr<FileState> state) : state_(std::move(state)) {}
File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

const std::string& File::path() const { return state_->path; }
std::uint64_t File::ino() const { return state_->ino; }
std::uint64_t File::size_at_open() const { return state_->size_at_open; }

Result<Lease> File::lease(LeaseKind kind, FileRange range, LeaseCallback callback) {
  protocol::LeaseAcquireRequest request{state_->handle, client_detail::to_wire(kind),
                                        client_detail::to_wire(range)};
  PINFS_ASSIGN_OR_RETURN(auto reply, state_->connection->call<protocol::LeaseAcquireReply>(request));
  auto lease = std::make_shared<LeaseState>();
  lease->connection = state_->connection;
  lease->file = state_;
  lease->id = reply.lease;
  lease->range = range;
  lease->callback = std::make_shared<const LeaseCallback>(std::move(callback));
  lease->kind = kind;
  // An event for this lease may already be queued (read during this very
  // request): registering now lets process_events() deliver it.
  state_->connection->register_lease(lease->id, lease);
  return Lease(std::move(lease));
}

Result<Mapping> File::map() {
  PINFS_ASSIGN_OR_RETURN(auto reply, state_->connection->call_map(protocol::MapRequest{state_->handle}));
  auto& [map, fd] = reply;
  std::vector<Extent> extents;
  extents.reserve(map.extents.size());
  for (const auto& e : map.extents) extents.push_back(client_detail::from_wire(e));
  return Mapping::create(state_->path, fd, map.alignment, map.file_size, std::move(extents));
}

}  // namespace pinfs
