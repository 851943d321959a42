#include "fs/blob.h"

#include <fmt/format.h>

#include <cstring>

#include "fs/crc.h"
#include "fs/format.h"
#include "fs/le.h"

namespace pinfs::fs {

Result<BlockRun> write_blob(MetaView& view, Allocator& allocator, Media& media,
                            std::uint32_t kind, InodeNumber owner,
                            std::span<const std::byte> payload, std::uint32_t item_count) {
  const Geometry& g = view.geometry();
  std::uint64_t bytes = sizeof(format::BlobHeader) + payload.size();
  std::uint64_t blocks = (bytes + g.block_size - 1) / g.block_size;
  if (blocks > g.blocks_per_unit())
    return Error(ENOSPC, "write blob", fmt::format("[inode {}]", owner),
                 "larger than an aligned unit");
  PINFS_ASSIGN_OR_RETURN(auto runs, allocator.allocate_blocks(view, blocks, 0, true));
  BlockRun run = runs.front();
  std::vector<std::byte> image(blocks * g.block_size);
  format::BlobHeader header{};
  header.kind = kind;
  header.owner = owner;
  header.payload_bytes = static_cast<std::uint32_t>(payload.size());
  header.item_count = item_count;
  store_as(image.data(), header);
  std::memcpy(image.data() + sizeof header, payload.data(), payload.size());
  seal_record(std::span(image.data(), bytes), kind, run.block * g.block_size, g.seed);
  media.store(run.block * g.block_size, image.data(), image.size());
  media.flush(run.block * g.block_size, image.size());
  media.drain();
  return run;
}

Result<Blob> read_blob(const MetaView& view, std::uint32_t kind, InodeNumber owner,
                       BlockRun blocks) {
  const Geometry& g = view.geometry();
  std::string what = fmt::format("[inode {} {} block {}]", owner,
                                  kind == format::kKindXattr ? "xattr" : "symlink", blocks.block);
  if (!g.blocks_in_data_area(blocks.block, blocks.count) || blocks.count > g.blocks_per_unit())
    return corrupt("read blob", what, "blob outside the data area");
  std::uint64_t capacity = blocks.count * g.block_size;
  std::vector<std::byte> image(capacity);
  view.read_raw(blocks.block * g.block_size, image.data(), capacity);
  auto header = load_as<format::BlobHeader>(image.data());
  std::uint64_t bytes = sizeof header + static_cast<std::uint64_t>(header.payload_bytes);
  if (header.kind.get() != kind || bytes > capacity)
    return corrupt("read blob", what, "not a blob of this kind, or longer than its blocks");
  if (!record_valid(std::span(image.data(), bytes), kind, blocks.block * g.block_size, g.seed))
    return corrupt("read blob", what, "checksum mismatch");
  if (header.owner.get() != owner)
    return corrupt("read blob", what, fmt::format("blob belongs to inode {}", header.owner.get()));
  Blob out;
  out.payload.assign(image.begin() + sizeof header, image.begin() + static_cast<std::ptrdiff_t>(bytes));
  out.item_count = header.item_count;
  return out;
}

}  // namespace pinfs::fs
