#include "rdma/netlink_attributes.h"

#include <fmt/format.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pinfs::rdma::netlink {

namespace {

constexpr const char* kDecodeOp = "decode rdma netlink reply";

Error malformed(uint16_t type, std::string detail) {
  return Error(EPROTO, kDecodeOp, fmt::format("<attribute {}>", type), std::move(detail));
}

template <typename T>
Result<T> read_exact(const Attribute& attribute) {
  if (attribute.payload.size() != sizeof(T)) {
    return malformed(attribute.type, fmt::format("payload is {} bytes, expected {}",
                                                 attribute.payload.size(), sizeof(T)));
  }
  T value;
  std::memcpy(&value, attribute.payload.data(), sizeof value);
  return value;
}

}  // namespace

Result<std::vector<Attribute>> parse_attributes(std::span<const std::byte> bytes) {
  std::vector<Attribute> out;
  size_t offset = 0;
  while (offset < bytes.size()) {
    size_t remaining = bytes.size() - offset;
    if (remaining < NLA_HDRLEN) {
      return Error(EPROTO, kDecodeOp, "<attributes>",
                   fmt::format("{} trailing bytes at offset {}, too short for an attribute header",
                               remaining, offset));
    }
    nlattr header;
    std::memcpy(&header, bytes.data() + offset, sizeof header);
    auto type = static_cast<uint16_t>(header.nla_type & NLA_TYPE_MASK);
    if (header.nla_len < NLA_HDRLEN || header.nla_len > remaining) {
      return malformed(type, fmt::format("length {} at offset {} with {} bytes left",
                                         header.nla_len, offset, remaining));
    }
    out.push_back(Attribute{type, bytes.subspan(offset + NLA_HDRLEN, header.nla_len - NLA_HDRLEN)});
    // The padding after the last attribute may be cut off by the message end.
    offset += std::min<size_t>(NLA_ALIGN(header.nla_len), remaining);
  }
  return out;
}

const Attribute* find_attribute(std::span<const Attribute> attributes, uint16_t type) {
  auto it = std::find_if(attributes.begin(), attributes.end(),
                         [type](const Attribute& a) { return a.type == type; });
  return it == attributes.end() ? nullptr : &*it;
}

Result<uint32_t> read_u32(const Attribute& attribute) { return read_exact<uint32_t>(attribute); }

Result<uint64_t> read_u64(const Attribute& attribute) { return read_exact<uint64_t>(attribute); }

Result<std::string> read_string(const Attribute& attribute, size_t max_length) {
  std::span<const std::byte> bounded =
      attribute.payload.first(std::min(attribute.payload.size(), max_length + 1));
  auto nul = std::find(bounded.begin(), bounded.end(), std::byte{0});
  if (nul == bounded.end()) {
    return malformed(attribute.type,
                     fmt::format("string of {} bytes has no NUL within its {}-byte limit",
                                 attribute.payload.size(), max_length));
  }
  return std::string(reinterpret_cast<const char*>(bounded.data()),
                     static_cast<size_t>(nul - bounded.begin()));
}

}  // namespace pinfs::rdma::netlink
