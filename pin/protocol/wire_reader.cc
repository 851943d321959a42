#include "pin/protocol/wire_reader.h"

#include <algorithm>
#include <cstring>

namespace pinfs::protocol {

void WireReader::fail(const char* field, std::string why) {
  if (error_) return;
  error_ = Error(EBADMSG, "decode " + message_, "",
                 std::string("field '") + field + "': " + std::move(why));
}

std::uint64_t WireReader::get(const char* field, std::size_t width) {
  if (error_) return 0;
  if (remaining() < width) {
    fail(field, "needs " + std::to_string(width) + " bytes, " + std::to_string(remaining()) +
                    " left");
    return 0;
  }
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) {
    v |= static_cast<std::uint64_t>(std::to_integer<std::uint8_t>(body_[pos_ + i])) << (8 * i);
  }
  pos_ += width;
  return v;
}

std::uint8_t WireReader::u8_in(const char* field, std::initializer_list<std::uint8_t> allowed) {
  const std::uint8_t v = u8(field);
  if (error_) return 0;
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
    fail(field, "value " + std::to_string(v) + " is not defined");
    return 0;
  }
  return v;
}

std::string WireReader::string(const char* field, std::size_t max_bytes) {
  const std::uint32_t length = u32(field);
  if (error_) return {};
  if (length > max_bytes) {
    fail(field, "length " + std::to_string(length) + " exceeds the limit of " +
                    std::to_string(max_bytes) + " bytes");
    return {};
  }
  if (length > remaining()) {
    fail(field, "length " + std::to_string(length) + " exceeds the " +
                    std::to_string(remaining()) + " bytes left");
    return {};
  }
  std::string out(reinterpret_cast<const char*>(body_.data() + pos_), length);
  if (out.find('\0') != std::string::npos) {
    fail(field, "contains a NUL byte");
    return {};
  }
  pos_ += length;
  return out;
}

std::size_t WireReader::count(const char* field, std::size_t max_count,
                              std::size_t element_bytes) {
  const std::uint32_t n = u32(field);
  if (error_) return 0;
  if (n > max_count) {
    fail(field, "count " + std::to_string(n) + " exceeds the limit of " +
                    std::to_string(max_count));
    return 0;
  }
  // n <= max_count keeps the product far from overflow.
  if (static_cast<std::uint64_t>(n) * element_bytes > remaining()) {
    fail(field, std::to_string(n) + " elements of " + std::to_string(element_bytes) +
                    " bytes do not fit in the " + std::to_string(remaining()) + " bytes left");
    return 0;
  }
  return n;
}

void WireReader::expect_end() {
  if (!error_ && remaining() != 0) {
    fail("(end)", std::to_string(remaining()) + " unexpected trailing bytes");
  }
}

Status WireReader::status() const {
  if (error_) return *error_;
  return ok_status();
}

}  // namespace pinfs::protocol
