// Blocking frame I/O on a Unix stream socket, with descriptor passing
// (SCM_RIGHTS): what the client library and the admin tool use. The daemon
// does the same through io_uring and shares only RightsMessage.
//
// How a descriptor travels: the daemon attaches it to the first byte of the
// MAP reply frame. The kernel never merges a message carrying descriptors
// with bytes sent before it into one receive, so every descriptor a receive
// returns belongs to a frame that starts in (or after) that receive, and
// frames are consumed in order: the reader queues descriptors as they arrive
// and each MAP reply takes the oldest.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "pinfs/error.h"

namespace pinfs::protocol {

// Connects to the daemon's socket at path. Errors name the path and, for
// ENOENT/ECONNREFUSED/EACCES, say what usually causes them.
[[nodiscard]] Result<int> connect_unix(const std::string& path);

// Sends all of bytes (retrying partial sends and EINTR; MSG_NOSIGNAL so a
// closed peer is EPIPE, not a signal). pass_fd >= 0 travels with the first
// byte.
[[nodiscard]] Status send_all(int fd, std::span<const std::byte> bytes, int pass_fd = -1);

// One receive of up to buffer.size() bytes. Descriptors that arrive are
// appended to received_fds (close-on-exec). 0 means the peer closed.
// dont_wait: EAGAIN instead of blocking when nothing is there.
[[nodiscard]] Result<std::size_t> receive_some(int fd, std::span<std::byte> buffer,
                                               std::vector<int>& received_fds, bool dont_wait);

// A msghdr that carries one descriptor, for sendmsg(2) or io_uring's
// SENDMSG. Holds its own buffers: keep it alive (and unmoved) until the send
// completes.
class RightsMessage {
 public:
  RightsMessage(std::span<const std::byte> bytes, int pass_fd);
  RightsMessage(const RightsMessage&) = delete;
  RightsMessage& operator=(const RightsMessage&) = delete;
  msghdr* header() { return &header_; }

 private:
  iovec iov_{};
  msghdr header_{};
  alignas(cmsghdr) unsigned char control_[CMSG_SPACE(sizeof(int))]{};
};

}  // namespace pinfs::protocol
