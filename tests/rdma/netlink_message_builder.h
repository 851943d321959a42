// Builds netlink attribute runs byte by byte, as the kernel lays them out, so
// that decoder tests can feed exact, truncated or malformed replies.
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace pinfs::rdma::test {

class AttributeBuilder {
 public:
  AttributeBuilder& u32(uint16_t type, uint32_t value) { return raw(type, &value, sizeof value); }
  AttributeBuilder& u64(uint16_t type, uint64_t value) { return raw(type, &value, sizeof value); }
  // With the terminating NUL, as nla_put_string writes it.
  AttributeBuilder& string(uint16_t type, const std::string& value) {
    return raw(type, value.c_str(), value.size() + 1);
  }
  AttributeBuilder& nested(uint16_t type, const AttributeBuilder& inner) {
    return raw(type, inner.bytes_.data(), inner.bytes_.size());
  }
  // An attribute with any payload, padded to 4 bytes like nla_put.
  AttributeBuilder& raw(uint16_t type, const void* payload, size_t length) {
    nlattr header{};
    header.nla_len = static_cast<uint16_t>(NLA_HDRLEN + length);
    header.nla_type = type;
    size_t start = bytes_.size();
    bytes_.resize(start + NLA_ALIGN(NLA_HDRLEN + length));
    std::memcpy(bytes_.data() + start, &header, sizeof header);
    if (length > 0) std::memcpy(bytes_.data() + start + NLA_HDRLEN, payload, length);
    return *this;
  }

  std::vector<std::byte>& bytes() { return bytes_; }
  const std::vector<std::byte>& bytes() const { return bytes_; }

 private:
  std::vector<std::byte> bytes_;
};

}  // namespace pinfs::rdma::test
