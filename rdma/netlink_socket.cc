#include "rdma/netlink_socket.h"

#include <fmt/format.h>
#include <linux/netlink.h>
#include <rdma/rdma_netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

namespace pinfs::rdma {

namespace {

// Every reply the kernel sends for one of our requests is a message of this
// type, an NLMSG_ERROR (error or acknowledgement) or an NLMSG_DONE.
uint16_t nldev_type(uint16_t command) {
  return static_cast<uint16_t>(RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, command));
}

Error malformed(const NldevSocket::Request& request, std::string detail) {
  return Error(EPROTO, request.op, request.object,
               "malformed rdma netlink reply: " + std::move(detail));
}

// The signed int that starts the payload of NLMSG_ERROR (struct nlmsgerr's
// error) and NLMSG_DONE (the dump's final status).
Result<int> read_status(const NldevSocket::Request& request, std::span<const std::byte> payload,
                        const char* what) {
  int value;
  if (payload.size() < sizeof value)
    return malformed(request, fmt::format("{} of {} bytes", what, payload.size()));
  std::memcpy(&value, payload.data(), sizeof value);
  return value;
}

}  // namespace

Result<NldevSocket> NldevSocket::open() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_RDMA);
  if (fd < 0) {
    const int errnum = errno;
    std::string detail = errnum == EPROTONOSUPPORT
                             ? "the running kernel has no RDMA core: is ib_core loaded?"
                             : "";
    errno = errnum;  // building the detail may have overwritten it
    return Error::from_errno("open netlink socket", "NETLINK_RDMA", std::move(detail));
  }
  return NldevSocket(fd);
}

NldevSocket::NldevSocket(NldevSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      last_sequence_(other.last_sequence_),
      buffer_(std::move(other.buffer_)) {}

NldevSocket& NldevSocket::operator=(NldevSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    last_sequence_ = other.last_sequence_;
    buffer_ = std::move(other.buffer_);
  }
  return *this;
}

// Closing a netlink socket loses nothing (no data is written through it),
// so there is no close() that reports.
NldevSocket::~NldevSocket() {
  if (fd_ >= 0) ::close(fd_);
}

Status NldevSocket::dump(const Request& request, const ReplyHandler& on_reply) {
  return exchange(request, /*dump=*/true, on_reply);
}

Status NldevSocket::get(const Request& request, const ReplyHandler& on_reply) {
  return exchange(request, /*dump=*/false, on_reply);
}

Status NldevSocket::send(const Request& request, uint16_t flags, uint32_t sequence) {
  constexpr size_t kU32AttributeBytes = NLA_ALIGN(NLA_HDRLEN + sizeof(uint32_t));
  std::vector<std::byte> message(NLMSG_HDRLEN + request.attributes.size() * kU32AttributeBytes);

  nlmsghdr header{};
  header.nlmsg_len = static_cast<uint32_t>(message.size());
  header.nlmsg_type = nldev_type(request.command);
  header.nlmsg_flags = flags;
  header.nlmsg_seq = sequence;
  std::memcpy(message.data(), &header, sizeof header);

  size_t offset = NLMSG_HDRLEN;
  for (const U32Attribute& attribute : request.attributes) {
    nlattr attribute_header{};
    attribute_header.nla_len = NLA_HDRLEN + sizeof(uint32_t);
    attribute_header.nla_type = attribute.type;
    std::memcpy(message.data() + offset, &attribute_header, sizeof attribute_header);
    std::memcpy(message.data() + offset + NLA_HDRLEN, &attribute.value, sizeof attribute.value);
    offset += kU32AttributeBytes;
  }

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;  // nl_pid 0: the kernel
  for (;;) {
    ssize_t sent = ::sendto(fd_, message.data(), message.size(), 0,
                            reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel);
    if (sent == static_cast<ssize_t>(message.size())) return ok_status();
    if (sent >= 0)
      return Error(EIO, request.op, request.object, "short send to rdma netlink");
    if (errno != EINTR)
      return Error::from_errno(request.op, request.object, "send to rdma netlink");
  }
}

Status NldevSocket::exchange(const Request& request, bool dump, const ReplyHandler& on_reply) {
  if (fd_ < 0) return Error(EBADF, request.op, request.object, "rdma netlink socket is closed");

  const uint32_t sequence = ++last_sequence_;
  // A dump ends with NLMSG_DONE; a get asks for an acknowledgement so that
  // its end is just as explicit (the ack follows the reply).
  const auto flags = static_cast<uint16_t>(NLM_F_REQUEST | (dump ? NLM_F_DUMP : NLM_F_ACK));
  PINFS_TRY(send(request, flags, sequence));

  const uint16_t reply_type = nldev_type(request.command);
  // The first error a handler returned or an interrupted dump. Reading goes
  // on to the end of the request all the same: the kernel refuses a new dump
  // (EBUSY) on a socket whose previous dump has not been read to its end.
  std::optional<Error> first_error;
  auto finish = [&](Status outcome) -> Status {
    if (first_error.has_value()) return std::move(*first_error);
    return outcome;
  };

  // The kernel generates dump replies inside recvmsg as the queue drains, so
  // every receive below is answered: no timeout is needed.
  for (;;) {
    sockaddr_nl sender{};
    iovec iov{buffer_.data(), buffer_.size()};
    msghdr message{};
    message.msg_name = &sender;
    message.msg_namelen = sizeof sender;
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    ssize_t received = ::recvmsg(fd_, &message, 0);
    if (received < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(request.op, request.object, "receive from rdma netlink");
    }
    if ((message.msg_flags & MSG_TRUNC) != 0) {
      return Error(EMSGSIZE, request.op, request.object,
                   fmt::format("rdma netlink reply larger than the {}-byte receive buffer",
                               buffer_.size()));
    }
    // Only the kernel (port 0) may answer; anything else is not our reply.
    if (message.msg_namelen != sizeof sender || sender.nl_pid != 0) continue;

    std::span<const std::byte> data(buffer_.data(), static_cast<size_t>(received));
    while (!data.empty()) {
      nlmsghdr header;
      if (data.size() < sizeof header)
        return malformed(request, fmt::format("{} trailing bytes", data.size()));
      std::memcpy(&header, data.data(), sizeof header);
      if (header.nlmsg_len < NLMSG_HDRLEN || header.nlmsg_len > data.size()) {
        return malformed(request, fmt::format("message length {} with {} bytes received",
                                              header.nlmsg_len, data.size()));
      }
      std::span<const std::byte> payload =
          data.subspan(NLMSG_HDRLEN, header.nlmsg_len - NLMSG_HDRLEN);
      data = data.subspan(std::min<size_t>(NLMSG_ALIGN(header.nlmsg_len), data.size()));

      // Every request is read to its end, so an earlier request's reply
      // cannot be queued here; if one is, it is not an answer to this one.
      if (header.nlmsg_seq != sequence) continue;
      if ((header.nlmsg_flags & NLM_F_DUMP_INTR) != 0 && !first_error.has_value()) {
        first_error = Error(EAGAIN, request.op, request.object,
                              "the kernel's table changed during the dump; retry");
      }

      if (header.nlmsg_type == NLMSG_ERROR) {
        PINFS_ASSIGN_OR_RETURN(int error, read_status(request, payload, "NLMSG_ERROR"));
        if (error == 0) return finish(ok_status());  // the acknowledgement that ends a get
        if (error > 0) return malformed(request, fmt::format("positive error {}", error));
        return Error(-error, request.op, request.object);
      }
      if (header.nlmsg_type == NLMSG_DONE) {
        // A dump that failed part way reports its error here, not as an
        // NLMSG_ERROR: ignoring it would pass a partial table off as whole.
        PINFS_ASSIGN_OR_RETURN(int status, read_status(request, payload, "NLMSG_DONE"));
        if (status < 0) return Error(-status, request.op, request.object);
        return finish(ok_status());
      }
      if (header.nlmsg_type == NLMSG_NOOP) continue;
      if (header.nlmsg_type != reply_type) {
        return malformed(request, fmt::format("message type {:#x}, expected {:#x}",
                                              header.nlmsg_type, reply_type));
      }
      if (first_error.has_value()) continue;
      if (Status handled = on_reply(payload); !handled.ok())
        first_error = std::move(handled).error();
    }
  }
}

}  // namespace pinfs::rdma
