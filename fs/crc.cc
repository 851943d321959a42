#include "fs/crc.h"

#include <isa-l/crc.h>

#include <cassert>
#include <climits>

#include "fs/le.h"

namespace pinfs::fs {

std::uint32_t crc32c(const void* data, std::size_t length, std::uint32_t crc) {
  // crc32_iscsi takes an int length; records are far smaller, but a blob is
  // fed in pieces to stay safe.
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));
  while (length > 0) {
    std::size_t piece = length > (1u << 30) ? (1u << 30) : length;
    crc = crc32_iscsi(p, static_cast<int>(piece), crc);
    p += piece;
    length -= piece;
  }
  return crc;
}

std::uint32_t uuid_seed(const std::uint8_t (&uuid)[16]) {
  return crc32c(uuid, sizeof uuid, 0xFFFFFFFFu);
}

std::uint32_t record_crc(std::span<const std::byte> record, std::uint32_t kind,
                         std::uint64_t media_offset, std::uint32_t seed) {
  assert(record.size() >= 8);
  struct Context {
    le32 kind;
    le32 reserved;
    le64 media_offset;
  } context{};
  context.kind = kind;
  context.media_offset = media_offset;
  std::uint32_t crc = crc32c(&context, sizeof context, seed);
  return crc32c(record.data() + 4, record.size() - 4, crc);
}

void seal_record(std::span<std::byte> record, std::uint32_t kind, std::uint64_t media_offset,
                 std::uint32_t seed) {
  store_as<le32>(record.data(), le32(record_crc(record, kind, media_offset, seed)));
}

bool record_valid(std::span<const std::byte> record, std::uint32_t kind,
                  std::uint64_t media_offset, std::uint32_t seed) {
  if (record.size() < 8) return false;
  if (load_as<le32>(record.data() + 4).get() != kind) return false;
  return load_as<le32>(record.data()).get() == record_crc(record, kind, media_offset, seed);
}

}  // namespace pinfs::fs
