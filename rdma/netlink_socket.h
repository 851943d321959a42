// NldevSocket: a NETLINK_RDMA socket talking to the kernel's nldev client,
// the interface iproute2's `rdma` tool uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "pinfs/error.h"

namespace pinfs::rdma {

// Move-only owner of the socket. One request at a time, and each is read to
// its end (even when a handler fails part way), so the next starts clean.
class NldevSocket {
 public:
  // The kernel answers a single receive with at most one skb of at most
  // 32 KiB (netlink caps dump allocations there); twice that leaves room,
  // and a reply that still does not fit is EMSGSIZE, never a silent cut.
  static constexpr size_t kReceiveBufferBytes = 64 * 1024;

  // EPROTONOSUPPORT when the kernel has no RDMA core (ib_core not loaded).
  [[nodiscard]] static Result<NldevSocket> open();

  NldevSocket(NldevSocket&& other) noexcept;
  NldevSocket& operator=(NldevSocket&& other) noexcept;
  NldevSocket(const NldevSocket&) = delete;
  NldevSocket& operator=(const NldevSocket&) = delete;
  ~NldevSocket();

  struct U32Attribute {
    uint16_t type;
    uint32_t value;
  };

  // One nldev request. op and object name it in errors, e.g. op "list MRs
  // of RDMA device", object "rxe0".
  struct Request {
    uint16_t command = 0;  // RDMA_NLDEV_CMD_*
    std::vector<U32Attribute> attributes;
    std::string op;
    std::string object;
  };

  // Called with the attributes of each reply message (the bytes after its
  // netlink header). The first error it returns is the request's result;
  // the remaining replies are read and dropped.
  using ReplyHandler = std::function<Status(std::span<const std::byte> attributes)>;

  // After EPROTO (a malformed reply), EMSGSIZE or a failed send or receive
  // the socket's state is unknown: use a new one for the next request.

  // Sends `request` as a dump (NLM_F_DUMP) and hands every reply message to
  // on_reply until the kernel ends the dump. The kernel's error for the dump
  // (EINVAL for a device index that does not exist) is returned as is.
  [[nodiscard]] Status dump(const Request& request, const ReplyHandler& on_reply);

  // Sends `request` as a single get with an acknowledgement and hands the
  // reply message, if the kernel sends one, to on_reply. The kernel's error
  // (ENOENT for an object that does not exist) is returned as is.
  [[nodiscard]] Status get(const Request& request, const ReplyHandler& on_reply);

 private:
  explicit NldevSocket(int fd) : fd_(fd), buffer_(kReceiveBufferBytes) {}
  Status exchange(const Request& request, bool dump, const ReplyHandler& on_reply);
  Status send(const Request& request, uint16_t flags, uint32_t sequence);

  int fd_ = -1;
  uint32_t last_sequence_ = 0;
  std::vector<std::byte> buffer_;  // receive buffer, kReceiveBufferBytes
};

}  // namespace pinfs::rdma
