// Connection: the client library's one connection to pinfsd — the socket,
// the request/reply exchange, and the queue of lease events between the
// moment they are read and the moment process_events() delivers them.
//
// Locking (lock order: io_mu_, then events_mu_; no lock is held while a
// callback runs):
//   io_mu_     the socket, the frame assembler, the received descriptors,
//              request ids, broken_. Held by one request for its whole
//              send-and-wait (requests are serialised), or by
//              process_events() while it reads what has arrived.
//   events_mu_ pending_events_ and leases_.
// Events read during a request are queued, never delivered inside it, so a
// callback can always make requests of its own.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pin/protocol/frame.h"
#include "pin/protocol/message.h"
#include "pin/protocol/message_codec.h"
#include "pinfs/client_types.h"
#include "pinfs/error.h"

namespace pinfs::client_detail {

struct LeaseState;

class Connection {
 public:
  // Connects and says HELLO.
  [[nodiscard]] static Result<std::shared_ptr<Connection>> open(const std::string& socket_path);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One request and its reply. The daemon's refusal comes back as its Error
  // unchanged; a malformed reply or a closed connection breaks the
  // connection (ENOTCONN for every later call).
  template <typename Reply, typename Request>
  [[nodiscard]] Result<Reply> call(const Request& request) {
    std::lock_guard lock(io_mu_);
    PINFS_ASSIGN_OR_RETURN(protocol::Frame frame, exchange_locked(request));
    auto reply = protocol::decode_reply<Reply>(frame, Request::kKind);
    if (!reply.ok()) return break_locked(std::move(reply).error());
    if (reply->error) return std::move(*reply->error);
    return std::move(reply->value);
  }
  // MAP: the reply and the media descriptor that came with it (owned by the
  // caller).
  [[nodiscard]] Result<std::pair<protocol::MapReply, int>> call_map(const protocol::MapRequest& request);

  int event_fd() const { return epoll_fd_; }
  [[nodiscard]] Result<std::size_t> process_events();

  // Lease states receive their events by id; the registry holds them weakly.
  void register_lease(std::uint64_t id, const std::shared_ptr<LeaseState>& lease);
  void forget_lease(std::uint64_t id);

  void disconnect();
  bool connected() const { return !broken_flag_.load(); }
  const protocol::HelloReply& hello() const { return hello_; }

 private:
  Connection(int socket_fd, int wake_fd, int epoll_fd);

  template <typename Request>
  Result<protocol::Frame> exchange_locked(const Request& request) {
    if (broken_) return not_connected();
    const std::uint64_t id = next_request_id_++;
    return exchange_bytes_locked(protocol::encode_request(id, request), id, Request::kKind);
  }
  Result<protocol::Frame> exchange_bytes_locked(std::vector<std::byte> bytes, std::uint64_t id,
                                                protocol::MessageKind kind);
  // Reads without blocking until nothing is left; queues events.
  Status read_available_locked();
  // An event frame: queued. Anything else here is a protocol error.
  Status accept_unsolicited_locked(protocol::Frame frame);
  Error break_locked(Error why);
  Error not_connected() const;
  void wake();

  const int wake_fd_;   // eventfd: events queued or the connection lost
  const int epoll_fd_;  // the socket and wake_fd_: what callers poll

  std::mutex io_mu_;
  int socket_fd_;                       // GUARDED_BY(io_mu_); -1 once broken
  protocol::FrameAssembler assembler_;  // GUARDED_BY(io_mu_)
  std::vector<int> received_fds_;       // GUARDED_BY(io_mu_), oldest first
  std::uint64_t next_request_id_ = 1;   // GUARDED_BY(io_mu_)
  std::optional<Error> broken_;         // GUARDED_BY(io_mu_)
  std::atomic<bool> broken_flag_{false};

  std::mutex events_mu_;
  std::deque<protocol::LeaseEventMessage> pending_events_;  // GUARDED_BY(events_mu_)
  std::unordered_map<std::uint64_t, std::weak_ptr<LeaseState>> leases_;  // GUARDED_BY(events_mu_)
  bool connection_lost_delivered_ = false;  // GUARDED_BY(events_mu_)

  protocol::HelloReply hello_;  // set once by open()
};

}  // namespace pinfs::client_detail
