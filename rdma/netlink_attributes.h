// Bounds-checked reading of netlink attributes (struct nlattr runs).
//
// Everything here reads bytes the kernel sent; nothing trusts a length field.
// A header or payload that does not fit its buffer, or a value of the wrong
// size, is EPROTO with what was wrong in the detail, never a read past the
// end. Payloads are copied out with memcpy because netlink guarantees only
// 4-byte alignment and a u64 may sit at any 4-byte boundary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "pinfs/error.h"

namespace pinfs::rdma::netlink {

struct Attribute {
  // The type with the NLA_F_NESTED and NLA_F_NET_BYTEORDER flag bits
  // removed, so it compares equal to the RDMA_NLDEV_ATTR_* value.
  uint16_t type = 0;
  std::span<const std::byte> payload;
};

// Splits `bytes` (a message's attributes, or a nested attribute's payload)
// into attributes. A final attribute may omit its alignment padding, as the
// kernel's own parser allows; any other short or overlong attribute is
// EPROTO.
[[nodiscard]] Result<std::vector<Attribute>> parse_attributes(std::span<const std::byte> bytes);

// The first attribute of `type`, or nullptr.
const Attribute* find_attribute(std::span<const Attribute> attributes, uint16_t type);

// Typed payloads. The payload must be exactly the size of the type
// (the kernel's nla_put_u32 / nla_put_u64_64bit), else EPROTO.
[[nodiscard]] Result<uint32_t> read_u32(const Attribute& attribute);
[[nodiscard]] Result<uint64_t> read_u64(const Attribute& attribute);
// A NUL-terminated string (nla_put_string) of at most max_length bytes
// before the NUL: the payload must hold a NUL within max_length + 1 bytes.
[[nodiscard]] Result<std::string> read_string(const Attribute& attribute, size_t max_length);

}  // namespace pinfs::rdma::netlink
