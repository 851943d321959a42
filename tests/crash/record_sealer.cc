#include "tests/crash/record_sealer.h"

#include <algorithm>
#include <cstring>
#include <span>

#include "fs/crc.h"
#include "fs/format.h"
#include "fs/le.h"

namespace pinfs::crashtest {

namespace {

namespace format = fs::format;

struct Record {
  std::uint64_t offset;
  std::uint64_t length;
};

bool overlaps(std::uint64_t a, std::uint64_t a_len, std::uint64_t b, std::uint64_t b_len) {
  return a < b + b_len && b < a + a_len;
}

void seal(std::vector<std::byte>& image, const Record& r, std::uint32_t seed) {
  if (r.length < 8 || r.offset > image.size() || r.length > image.size() - r.offset) return;
  std::span<std::byte> bytes(image.data() + r.offset, r.length);
  std::uint32_t kind = fs::load_as<fs::le32>(bytes.data() + 4);
  fs::seal_record(bytes, kind, r.offset, seed);
}

// Records of fixed size `record_bytes` tiling a region.
void seal_tiles(std::vector<std::byte>& image, const fs::MediaRegion& region,
                std::uint64_t record_bytes, std::uint64_t offset, std::uint64_t length,
                std::uint32_t seed) {
  if (record_bytes < 8) return;
  std::uint64_t from = std::max(offset, region.offset);
  std::uint64_t to = std::min(offset + length, region.offset + region.length);
  if (from >= to) return;
  std::uint64_t first = (from - region.offset) / record_bytes;
  std::uint64_t last = (to - 1 - region.offset) / record_bytes;
  for (std::uint64_t i = first; i <= last; ++i) {
    seal(image, {region.offset + i * record_bytes, record_bytes}, seed);
  }
}

void seal_journal(std::vector<std::byte>& image, const fs::MediaRegion& region,
                  std::uint64_t block_size, std::uint32_t seed) {
  if (region.length < block_size || region.offset + region.length > image.size()) return;
  std::byte* base = image.data() + region.offset;
  auto header = fs::load_as<format::JournalHeader>(base);
  auto commit = fs::load_as<format::JournalCommit>(base + format::kJournalCommitOffset);
  std::uint64_t payload_bytes = std::min<std::uint64_t>(header.payload_bytes, region.length - block_size);
  fs::le64 seq(header.seq);
  std::uint32_t pcrc = fs::crc32c(base + block_size, payload_bytes, fs::crc32c(&seq, sizeof seq, seed));
  header.payload_crc = pcrc;
  fs::store_as(base, header);
  if (commit.seq.get() == header.seq.get()) {
    commit.payload_crc = pcrc;
    fs::store_as(base + format::kJournalCommitOffset, commit);
  }
  seal(image, {region.offset, sizeof(format::JournalHeader)}, seed);
  seal(image, {region.offset + format::kJournalCommitOffset, sizeof(format::JournalCommit)}, seed);
}

}  // namespace

void reseal_records(std::vector<std::byte>& image, const std::vector<fs::MediaRegion>& regions,
                    std::uint64_t offset, std::uint64_t length) {
  if (image.size() < sizeof(format::Superblock)) return;
  auto sb = fs::load_as<format::Superblock>(image.data());
  const std::uint32_t seed = fs::uuid_seed(sb.uuid);
  const std::uint64_t block_size = sb.block_size;
  for (const auto& region : regions) {
    if (!overlaps(region.offset, region.length, offset, length)) continue;
    const std::string& name = region.name;
    if (name == "superblock" || name == "superblock-backup") {
      seal(image, {region.offset, sizeof(format::Superblock)}, format::kSuperblockSeed);
    } else if (name == "journal") {
      seal_journal(image, region, block_size, seed);
    } else if (name == "inode-table") {
      seal_tiles(image, region, sizeof(format::Inode), offset, length, seed);
    } else if (name == "inode-bitmap" || name == "unit-table" || name == "quarantine" ||
               name == "pin-table") {
      seal_tiles(image, region, format::kChunkBytes, offset, length, seed);
    } else if (name == "block-bitmap") {
      seal_tiles(image, region, sb.block_bitmap_record_bytes, offset, length, seed);
    } else if (region.offset >= block_size && region.length >= 32) {
      // A dynamic record (directory block, extent block, blob): one record
      // per region; a blob's CRC covers its header and payload only.
      std::uint64_t record_bytes = region.length;
      auto kind = fs::load_as<fs::le32>(image.data() + region.offset + 4).get();
      if (kind == format::kKindXattr || kind == format::kKindSymlink) {
        auto blob = fs::load_as<format::BlobHeader>(image.data() + region.offset);
        record_bytes = std::min<std::uint64_t>(region.length,
                                               sizeof(format::BlobHeader) + blob.payload_bytes);
      }
      seal(image, {region.offset, record_bytes}, seed);
    }
  }
}

}  // namespace pinfs::crashtest
