#include "pin/client/connection.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <fstream>

#include "pin/client/event_translation.h"
#include "pin/client/handle_state.h"
#include "pin/protocol/limits.h"
#include "pin/protocol/unix_socket.h"

namespace pinfs::client_detail {
namespace {

using protocol::Frame;
using protocol::MessageKind;

// What a receive reads at most: a few frames of ordinary size; a large
// reply (an extent list) takes several receives.
constexpr std::size_t kReceiveChunkBytes = 64 * 1024;

std::string own_command_name() {
  std::ifstream comm("/proc/self/comm");
  std::string name;
  std::getline(comm, name);
  return name.empty() ? "pinfs-client" : name;
}

}  // namespace

Connection::Connection(int socket_fd, int wake_fd, int epoll_fd)
    : wake_fd_(wake_fd),
      epoll_fd_(epoll_fd),
      socket_fd_(socket_fd),
      assembler_(protocol::kMaxMessageBytes) {}

Connection::~Connection() {
  if (socket_fd_ >= 0) ::close(socket_fd_);
  for (int fd : received_fds_) ::close(fd);
  ::close(epoll_fd_);
  ::close(wake_fd_);
}

Result<std::shared_ptr<Connection>> Connection::open(const std::string& socket_path) {
  PINFS_ASSIGN_OR_RETURN(int socket_fd, protocol::connect_unix(socket_path));
  int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    Error e = Error::from_errno("connect", socket_path, "eventfd");
    ::close(socket_fd);
    return e;
  }
  int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) {
    Error e = Error::from_errno("connect", socket_path, "epoll_create1");
    ::close(socket_fd);
    ::close(wake_fd);
    return e;
  }
  // From here the Connection owns the three descriptors.
  std::shared_ptr<Connection> connection(new Connection(socket_fd, wake_fd, epoll_fd));
  for (int fd : {socket_fd, wake_fd}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      return Error::from_errno("connect", socket_path, "epoll_ctl");
    }
  }

  protocol::Hello hello;
  hello.magic = protocol::kMagic;
  hello.min_version = protocol::kMinProtocolVersion;
  hello.max_version = protocol::kProtocolVersion;
  hello.client_name = own_command_name();
  auto reply = connection->call<protocol::HelloReply>(hello);
  if (!reply.ok()) {
    Error e = std::move(reply).error();
    if (e.object().empty()) e = Error(e.errnum(), "connect", socket_path, e.message());
    return e;
  }
  connection->hello_ = std::move(*reply);
  return connection;
}

Result<Frame> Connection::exchange_bytes_locked(std::vector<std::byte> bytes, std::uint64_t id,
                                                MessageKind kind) {
  if (Status sent = protocol::send_all(socket_fd_, bytes); !sent.ok()) {
    return break_locked(Error(sent.error().errnum(), "send " + protocol::kind_name(static_cast<std::uint16_t>(kind)),
                              "pinfsd", "the daemon closed the connection"));
  }
  std::vector<std::byte> buffer(kReceiveChunkBytes);
  for (;;) {
    for (;;) {
      auto next = assembler_.next();
      if (!next.ok()) return break_locked(std::move(next).error());
      if (!next->has_value()) break;
      Frame frame = std::move(**next);
      if (frame.request_id == id && frame.kind != 0) return frame;
      PINFS_TRY(accept_unsolicited_locked(std::move(frame)));
    }
    auto n = protocol::receive_some(socket_fd_, buffer, received_fds_, /*dont_wait=*/false);
    if (!n.ok()) return break_locked(std::move(n).error());
    if (*n == 0) {
      return break_locked(Error(ECONNRESET, protocol::kind_name(static_cast<std::uint16_t>(kind)),
                                "pinfsd", "the daemon closed the connection"));
    }
    assembler_.append(std::span(buffer).first(*n));
  }
}

Status Connection::accept_unsolicited_locked(Frame frame) {
  if (!protocol::is_event_kind(frame.kind)) {
    return break_locked(Error(EPROTO, "receive", "pinfsd",
                              "unexpected " + protocol::kind_name(frame.kind) + " (request id " +
                                  std::to_string(frame.request_id) + ")"));
  }
  auto event = protocol::decode_event(frame);
  if (!event.ok()) return break_locked(std::move(event).error());
  {
    std::lock_guard lock(events_mu_);
    pending_events_.push_back(std::move(*event));
  }
  wake();
  return ok_status();
}

Status Connection::read_available_locked() {
  std::vector<std::byte> buffer(kReceiveChunkBytes);
  for (;;) {
    auto n = protocol::receive_some(socket_fd_, buffer, received_fds_, /*dont_wait=*/true);
    if (!n.ok()) {
      if (n.error().errnum() == EAGAIN || n.error().errnum() == EWOULDBLOCK) return ok_status();
      return break_locked(std::move(n).error());
    }
    if (*n == 0) {
      return break_locked(Error(ECONNRESET, "receive", "pinfsd", "the daemon closed the connection"));
    }
    assembler_.append(std::span(buffer).first(*n));
    for (;;) {
      auto next = assembler_.next();
      if (!next.ok()) return break_locked(std::move(next).error());
      if (!next->has_value()) break;
      PINFS_TRY(accept_unsolicited_locked(std::move(**next)));
    }
  }
}

Result<std::pair<protocol::MapReply, int>> Connection::call_map(const protocol::MapRequest& request) {
  std::lock_guard lock(io_mu_);
  PINFS_ASSIGN_OR_RETURN(Frame frame, exchange_locked(request));
  auto reply = protocol::decode_reply<protocol::MapReply>(frame, MessageKind::map);
  if (!reply.ok()) return break_locked(std::move(reply).error());
  if (reply->error) return std::move(*reply->error);
  if (received_fds_.empty()) {
    return break_locked(Error(EPROTO, "map", "pinfsd", "the MAP reply came without the media descriptor"));
  }
  const int fd = received_fds_.front();
  received_fds_.erase(received_fds_.begin());
  return std::pair{std::move(reply->value), fd};
}

Error Connection::break_locked(Error why) {
  if (!broken_) {
    broken_ = why;
    broken_flag_ = true;
    // Closing removes the socket from the epoll set: a dead socket would
    // otherwise stay readable and spin the caller's poll loop.
    if (socket_fd_ >= 0) ::close(socket_fd_);
    socket_fd_ = -1;
    wake();  // connection_lost is delivered by process_events()
  }
  return why;
}

Error Connection::not_connected() const {
  return Error(ENOTCONN, "request", "pinfsd", "not connected: " + broken_->message());
}

void Connection::wake() {
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void Connection::disconnect() {
  std::lock_guard lock(io_mu_);
  (void)break_locked(Error(ENOTCONN, "disconnect", "pinfsd", "closed by the client"));
}

void Connection::register_lease(std::uint64_t id, const std::shared_ptr<LeaseState>& lease) {
  std::lock_guard lock(events_mu_);
  leases_[id] = lease;
}

void Connection::forget_lease(std::uint64_t id) {
  std::lock_guard lock(events_mu_);
  leases_.erase(id);
}

Result<std::size_t> Connection::process_events() {
  std::optional<Error> broken;
  {
    std::lock_guard lock(io_mu_);
    if (!broken_) (void)read_available_locked();  // a failure shows as broken_
    if (broken_) broken = not_connected();
    std::uint64_t count;
    (void)!::read(wake_fd_, &count, sizeof count);  // reset: we are draining now
  }
  std::size_t delivered = 0;
  for (;;) {
    std::shared_ptr<LeaseState> lease;
    LeaseEvent event;
    {
      std::lock_guard lock(events_mu_);
      if (pending_events_.empty()) break;
      protocol::LeaseEventMessage message = std::move(pending_events_.front());
      pending_events_.pop_front();
      auto it = leases_.find(message.lease);
      if (it != leases_.end()) lease = it->second.lock();
      if (!lease) continue;  // released meanwhile: nobody to tell
      event = to_lease_event(message);
    }
    apply_event(*lease, event);
    if (lease->callback && *lease->callback) {
      const std::shared_ptr<const LeaseCallback> callback = lease->callback;
      (*callback)(event);
    }
    ++delivered;
  }
  if (!broken) return delivered;

  // Tell every live lease once that the daemon is gone.
  std::vector<std::shared_ptr<LeaseState>> orphaned;
  {
    std::lock_guard lock(events_mu_);
    if (connection_lost_delivered_) {
      if (delivered > 0) return delivered;
      return std::move(*broken);
    }
    connection_lost_delivered_ = true;
    for (auto& [id, weak] : leases_) {
      if (auto lease = weak.lock()) orphaned.push_back(std::move(lease));
    }
  }
  for (auto& lease : orphaned) {
    LeaseEvent event;
    event.kind = LeaseEventKind::connection_lost;
    event.lease_id = lease->id;
    event.path = lease->file ? lease->file->path : std::string();
    event.lease_range = lease->range;
    apply_event(*lease, event);
    if (lease->callback && *lease->callback) {
      const std::shared_ptr<const LeaseCallback> callback = lease->callback;
      (*callback)(event);
    }
    ++delivered;
  }
  return delivered;
}

}  // namespace pinfs::client_detail
