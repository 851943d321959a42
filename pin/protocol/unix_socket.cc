#include "pin/protocol/unix_socket.h"

#include <fcntl.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace pinfs::protocol {

Result<int> connect_unix(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path) {
    return Error(ENAMETOOLONG, "connect", path,
                 "a socket path has 1 to " + std::to_string(sizeof address.sun_path - 1) +
                     " bytes");
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::from_errno("connect", path, "socket(AF_UNIX)");
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int e = errno;
    ::close(fd);
    std::string why;
    if (e == ENOENT || e == ECONNREFUSED) why = "is pinfsd running with --socket " + path + "?";
    if (e == EACCES) why = "the socket is for root and the map group (pinfsd --map-group)";
    return Error(e, "connect", path, why);
  }
  return fd;
}

Status send_all(int fd, std::span<const std::byte> bytes, int pass_fd) {
  std::size_t sent = 0;
  bool fd_sent = pass_fd < 0;
  while (sent < bytes.size()) {
    ssize_t n;
    if (!fd_sent) {
      RightsMessage message(bytes.subspan(sent), pass_fd);
      n = ::sendmsg(fd, message.header(), MSG_NOSIGNAL);
    } else {
      n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("send", "control socket");
    }
    fd_sent = true;
    sent += static_cast<std::size_t>(n);
  }
  return ok_status();
}

Result<std::size_t> receive_some(int fd, std::span<std::byte> buffer,
                                 std::vector<int>& received_fds, bool dont_wait) {
  // Room for a few descriptors: the daemon sends at most one per frame, and
  // the kernel cuts a receive at a message carrying descriptors.
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int) * 8)];
  iovec iov{buffer.data(), buffer.size()};
  msghdr header{};
  header.msg_iov = &iov;
  header.msg_iovlen = 1;
  header.msg_control = control;
  header.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(fd, &header, MSG_CMSG_CLOEXEC | (dont_wait ? MSG_DONTWAIT : 0));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Error::from_errno("receive", "control socket");
  for (cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr; c = CMSG_NXTHDR(&header, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int passed;
      std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
      received_fds.push_back(passed);
    }
  }
  if ((header.msg_flags & MSG_CTRUNC) != 0) {
    // Descriptors beyond the buffer were closed by the kernel: a daemon
    // never sends that many, so the stream is not ours to trust.
    return Error(EBADMSG, "receive", "control socket", "too many descriptors in one message");
  }
  return static_cast<std::size_t>(n);
}

RightsMessage::RightsMessage(std::span<const std::byte> bytes, int pass_fd) {
  iov_.iov_base = const_cast<std::byte*>(bytes.data());
  iov_.iov_len = bytes.size();
  header_.msg_iov = &iov_;
  header_.msg_iovlen = 1;
  header_.msg_control = control_;
  header_.msg_controllen = sizeof control_;
  cmsghdr* c = CMSG_FIRSTHDR(&header_);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &pass_fd, sizeof pass_fd);
}

}  // namespace pinfs::protocol
