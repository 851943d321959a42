// CRC32C (Castagnoli) through ISA-L, and the one rule for sealing and
// verifying checksummed metadata records (docs/format.md, "Checksums").
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace pinfs::fs {

// Chainable CRC32C: crc32c(b, crc32c(a, seed)) == crc32c(a ++ b, seed).
std::uint32_t crc32c(const void* data, std::size_t length, std::uint32_t crc);

// The seed of every metadata CRC of one file system: the CRC32C of its UUID.
// Records left behind by an earlier mkfs on the same device carry another
// UUID's seed, so they never validate: mkfs need not erase them.
std::uint32_t uuid_seed(const std::uint8_t (&uuid)[16]);

// A record's CRC: seed, then a 16-byte context (the record kind and the
// record's media offset, both little-endian), then the record's bytes after
// its 4-byte crc field. The offset binds a record to its place, so a record
// written to the wrong place (or copied by a misdirected write) fails.
std::uint32_t record_crc(std::span<const std::byte> record, std::uint32_t kind,
                         std::uint64_t media_offset, std::uint32_t seed);
// Writes record_crc into the first 4 bytes of record.
void seal_record(std::span<std::byte> record, std::uint32_t kind, std::uint64_t media_offset,
                 std::uint32_t seed);
// Checks the stored crc and that the stored kind (bytes 4..8) is `kind`.
bool record_valid(std::span<const std::byte> record, std::uint32_t kind,
                  std::uint64_t media_offset, std::uint32_t seed);

}  // namespace pinfs::fs
