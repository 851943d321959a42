#include "pin/protocol/wire_writer.h"

namespace pinfs::protocol {

WireWriter::WireWriter(std::uint16_t kind, std::uint64_t request_id) {
  bytes_.reserve(64);
  u32(0);  // total length, patched by finish()
  u16(kind);
  u16(0);  // flags: none defined in version 1
  u64(request_id);
}

void WireWriter::put(std::uint64_t v, int width) {
  for (int i = 0; i < width; ++i) bytes_.push_back(static_cast<std::byte>(v >> (8 * i)));
}

void WireWriter::string(std::string_view s) {
  u32(static_cast<std::uint32_t>(s.size()));
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  bytes_.insert(bytes_.end(), p, p + s.size());
}

std::vector<std::byte> WireWriter::finish() && {
  const auto total = static_cast<std::uint32_t>(bytes_.size());
  for (int i = 0; i < 4; ++i) bytes_[i] = static_cast<std::byte>(total >> (8 * i));
  return std::move(bytes_);
}

}  // namespace pinfs::protocol
