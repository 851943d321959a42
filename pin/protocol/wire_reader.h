// WireReader: reads the body of one frame field by field, trusting nothing
// the peer wrote. Every length and count is checked against its named limit
// (limits.h) and against the bytes actually left before anything is read or
// allocated.
//
// The first failure is sticky: later reads return zero values and read
// nothing, so a decoder reads all its fields and asks status() once. The
// error is EBADMSG and names the message and the field, e.g.
//   decode LEASE_ACQUIRE: Bad message (field 'range.length': needs 8 bytes, 3 left)
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>

#include "pinfs/error.h"

namespace pinfs::protocol {

class WireReader {
 public:
  // message: the message's name for errors ("LEASE_ACQUIRE").
  WireReader(std::span<const std::byte> body, std::string message)
      : body_(body), message_(std::move(message)) {}

  std::uint8_t u8(const char* field) { return static_cast<std::uint8_t>(get(field, 1)); }
  std::uint16_t u16(const char* field) { return static_cast<std::uint16_t>(get(field, 2)); }
  std::uint32_t u32(const char* field) { return static_cast<std::uint32_t>(get(field, 4)); }
  std::uint64_t u64(const char* field) { return get(field, 8); }
  std::int32_t i32(const char* field) { return static_cast<std::int32_t>(u32(field)); }
  // A u8 that must be one of `allowed`.
  std::uint8_t u8_in(const char* field, std::initializer_list<std::uint8_t> allowed);
  bool boolean(const char* field) { return u8_in(field, {0, 1}) == 1; }
  // A u32 length then that many bytes; at most max_bytes. Embedded NULs
  // are refused: every string of the protocol is a name, a path or text.
  std::string string(const char* field, std::size_t max_bytes);
  // A u32 element count of at most max_count elements of element_bytes
  // each, all of which must fit in what is left.
  std::size_t count(const char* field, std::size_t max_count, std::size_t element_bytes);

  // The body must be used up exactly: trailing bytes are malformed too.
  void expect_end();
  bool ok() const { return !error_.has_value(); }
  [[nodiscard]] Status status() const;
  std::size_t remaining() const { return body_.size() - pos_; }

  // Records a semantic failure (a zero id, an empty range) in the same way.
  void fail(const char* field, std::string why);

 private:
  std::uint64_t get(const char* field, std::size_t width);

  std::span<const std::byte> body_;
  std::size_t pos_ = 0;
  std::string message_;
  std::optional<Error> error_;
};

}  // namespace pinfs::protocol
