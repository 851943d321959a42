// Explicitly little-endian integer fields for on-media structs.
//
// Every on-media field is one of these: the struct then has alignment 1, no
// padding the compiler could add, and the same bytes on every host. Reading
// converts to the native integer; arithmetic works through the conversion.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace pinfs::fs {

template <typename T>
class Le {
  static_assert(std::is_integral_v<T>);

 public:
  Le() = default;
  Le(T value) { set(value); }  // NOLINT: implicit by design, like the integer it stores

  T get() const {
    using U = std::make_unsigned_t<T>;
    U u = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) u |= static_cast<U>(static_cast<U>(bytes_[i]) << (8 * i));
    return static_cast<T>(u);
  }
  void set(T value) {
    using U = std::make_unsigned_t<T>;
    U u = static_cast<U>(value);
    for (std::size_t i = 0; i < sizeof(T); ++i) bytes_[i] = static_cast<unsigned char>(u >> (8 * i));
  }
  operator T() const { return get(); }  // NOLINT: implicit by design
  Le& operator=(T value) {
    set(value);
    return *this;
  }

 private:
  unsigned char bytes_[sizeof(T)];
};

using le16 = Le<std::uint16_t>;
using le32 = Le<std::uint32_t>;
using le64 = Le<std::uint64_t>;
using lei64 = Le<std::int64_t>;
static_assert(sizeof(le64) == 8 && alignof(le64) == 1);

// Copies a trivially copyable record out of / into a byte buffer: the one
// way on-media bytes become structs (no aliasing casts).
template <typename T>
T load_as(const void* src) {
  static_assert(std::is_trivially_copyable_v<T>);
  T out;
  std::memcpy(&out, src, sizeof(T));
  return out;
}
template <typename T>
void store_as(void* dst, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  std::memcpy(dst, &value, sizeof(T));
}

}  // namespace pinfs::fs
