// ClientSession: one client connection as the control server sees it — its
// socket and credentials, the frames on their way in and out, and the files
// it has open.
//
// Owned by the server's session table and by every io_uring operation in
// flight on it (shared_ptr), so its buffers outlive the kernel's use of
// them; the socket is closed when the last of those lets go. Touched only
// on the loop thread: no lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "fs/filesystem.h"
#include "pin/client_identity.h"
#include "pin/protocol/frame.h"
#include "pin/protocol/limits.h"
#include "pin/protocol/unix_socket.h"
#include "tools/control/peer_credentials.h"

namespace pinfs::control {

// Bytes of replies and events queued for a client that is not reading them:
// 16 MiB, four of the largest replies. Past it the client is disconnected
// (a client that never reads would otherwise grow the daemon without bound).
inline constexpr std::size_t kMaxQueuedBytesPerClient = 16 * 1024 * 1024;
// Bytes of requests read ahead while one is being served on a worker: 64
// KiB, eight of the largest requests. Past it reading pauses.
inline constexpr std::size_t kMaxBufferedRequestBytes = 64 * 1024;
// Files one client may have open at once. Past it: EMFILE.
inline constexpr std::size_t kMaxOpenFilesPerClient = 4096;

struct OpenFile {
  fs::InodeNumber ino = 0;
  std::string path;  // as the client gave it: errors and events name it so
};

struct OutgoingFrame {
  std::vector<std::byte> bytes;
  int pass_fd = -1;   // sent as SCM_RIGHTS with the first byte; not owned
  std::size_t sent = 0;
  std::unique_ptr<protocol::RightsMessage> rights;  // while that send runs
};

class ClientSession {
 public:
  ClientSession(pin::ClientId id, int socket_fd, PeerCredentials peer)
      : id(id), socket_fd(socket_fd), peer(std::move(peer)) {}
  ~ClientSession();  // closes the socket
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // "client 7 (pid 4242 'rdma_app', uid 1000)"
  std::string describe() const;

  enum class State { awaiting_hello, ready, closing };

  const pin::ClientId id;
  const int socket_fd;
  const PeerCredentials peer;  // its pidfd belongs to the server's process watch

  State state = State::awaiting_hello;
  bool connected_to_manager = false;  // LeaseManager::connect_client succeeded

  protocol::FrameAssembler assembler{protocol::kMaxRequestBytes};
  std::array<std::byte, 16 * 1024> receive_buffer{};
  bool receiving = false;  // a receive is in flight
  bool busy = false;       // a request is being served on a worker

  std::deque<OutgoingFrame> outgoing;
  std::size_t queued_bytes = 0;
  bool sending = false;
  // Set when the connection must end once what is queued has been sent (a
  // refused HELLO).
  std::string close_after_send;

  std::unordered_map<std::uint64_t, OpenFile> files;
  std::uint64_t next_handle = 1;
};

}  // namespace pinfs::control
