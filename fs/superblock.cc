#include "fs/superblock.h"

#include <cstring>

#include "fs/crc.h"
#include "fs/le.h"

namespace pinfs::fs {

namespace {

std::optional<format::Superblock> read_one(const Media& media, std::uint64_t offset,
                                           bool& has_magic) {
  if (media.size_bytes() < offset + sizeof(format::Superblock)) return std::nullopt;
  std::span<const std::byte> bytes(media.data() + offset, sizeof(format::Superblock));
  auto sb = load_as<format::Superblock>(bytes.data());
  has_magic = sb.magic.get() == format::kSuperblockMagic;
  if (!has_magic) return std::nullopt;
  if (!record_valid(bytes, format::kKindSuperblock, offset, format::kSuperblockSeed))
    return std::nullopt;
  return sb;
}

}  // namespace

SuperblockPair read_superblocks(const Media& media) {
  SuperblockPair out;
  out.primary = read_one(media, format::kSuperblockOffset, out.primary_has_magic);
  out.backup = read_one(media, format::kBackupSuperblockOffset, out.backup_has_magic);
  return out;
}

void seal_superblock(format::Superblock& sb, std::uint64_t offset) {
  seal_record(std::as_writable_bytes(std::span(&sb, 1)), format::kKindSuperblock, offset,
              format::kSuperblockSeed);
}

bool same_geometry(const format::Superblock& a, const format::Superblock& b) {
  // Everything up to the dynamic fields (state, orphan head, mount count).
  constexpr std::size_t kStatic = offsetof(format::Superblock, state);
  // And the pin table's place, added to v1 after the dynamic fields.
  constexpr std::size_t kPinBegin = offsetof(format::Superblock, pin_table_offset);
  constexpr std::size_t kPinEnd = offsetof(format::Superblock, reserved2);
  return std::memcmp(reinterpret_cast<const char*>(&a) + 8, reinterpret_cast<const char*>(&b) + 8,
                     kStatic - 8) == 0 &&
         std::memcmp(reinterpret_cast<const char*>(&a) + kPinBegin,
                     reinterpret_cast<const char*>(&b) + kPinBegin, kPinEnd - kPinBegin) == 0;
}

}  // namespace pinfs::fs
