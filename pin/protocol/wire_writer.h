// WireWriter: builds one frame of the control protocol, little-endian field
// by field (docs/protocol.md, "Encoding"). Writing cannot fail; the frame's
// size is checked against the limit by the caller that sends it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace pinfs::protocol {

class WireWriter {
 public:
  // Starts a frame: reserves the header, filled in by finish().
  WireWriter(std::uint16_t kind, std::uint64_t request_id);

  void u8(std::uint8_t v) { bytes_.push_back(static_cast<std::byte>(v)); }
  void u16(std::uint16_t v) { put(v, 2); }
  void u32(std::uint32_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }
  void i32(std::int32_t v) { put(static_cast<std::uint32_t>(v), 4); }
  // A u32 byte count, then the bytes (no terminator).
  void string(std::string_view s);
  // A u32 element count; the elements follow, written by the caller.
  void count(std::size_t n) { u32(static_cast<std::uint32_t>(n)); }

  // Writes the frame length into the header and hands the frame out.
  std::vector<std::byte> finish() &&;

 private:
  void put(std::uint64_t v, int width);
  std::vector<std::byte> bytes_;
};

}  // namespace pinfs::protocol
