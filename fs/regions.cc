// FileSystem::regions: where each kind of metadata lies on an image, for the
// corrupter tests and `pinfs check`. Read-only; damaged records are skipped.
#include <fmt/format.h>
#include <sys/stat.h>

#include "fs/allocator.h"
#include "fs/blob.h"
#include "fs/directory.h"
#include "fs/extent_map.h"
#include "fs/inode_table.h"
#include "fs/journal.h"
#include "fs/le.h"
#include "fs/recovery.h"
#include "fs/superblock.h"

namespace pinfs::fs {

Result<std::vector<MediaRegion>> FileSystem::regions(const Media& media) {
  PINFS_ASSIGN_OR_RETURN(RecoveryView rv, read_recovery_view(media));
  const Geometry& g = rv.geometry;
  std::vector<MediaRegion> out = fixed_regions(g);
  Overlay none;
  const Overlay* overlay = rv.replay ? &rv.journal.records : &none;
  MetaSource source(media, overlay);
  MetaView view(source, g, nullptr);
  Allocator no_alloc(g);
  ExtentMaps maps(g, no_alloc);
  const std::uint64_t bs = g.block_size;
  for (std::uint64_t c = 0; c < g.inode_bitmap_chunks; ++c) {
    auto chunk = view.read(g.inode_bitmap_chunk_offset(c), format::kChunkBytes,
                           format::kKindInodeBitmap, "inode bitmap");
    if (!chunk.ok()) continue;
    for (std::uint64_t i = 0; i < kInodesPerBitmapChunk; ++i) {
      std::uint64_t ino = c * kInodesPerBitmapChunk + i;
      if (ino == 0) continue;
      if (ino >= g.inode_count) break;
      auto byte = std::to_integer<std::uint8_t>((*chunk)[sizeof(format::ChunkHeader) + i / 8]);
      if (((byte >> (i % 8)) & 1) == 0) continue;
      auto bytes = view.read(g.inode_offset(ino), sizeof(format::Inode), format::kKindInode, "inode");
      if (!bytes.ok()) continue;
      auto n = load_as<format::Inode>(bytes->data());
      if (n.ino.get() != ino || !InodeTable::validate(n, g).empty()) continue;
      out.push_back({"inode", g.inode_offset(ino), sizeof(format::Inode)});
      std::uint32_t type = n.mode & S_IFMT;
      auto mappings = maps.find(view, n, 0, UINT64_MAX);
      if (mappings.ok() && type == S_IFDIR) {
        for (const Mapping& m : *mappings) out.push_back({"directory", m.media_block * bs, m.count * bs});
      }
      auto chain = maps.chain(view, n);
      if (chain.ok()) {
        for (std::uint64_t b : *chain) out.push_back({"extent", b * bs, bs});
      }
      maps.forget(ino);
      if (n.xattr_block != 0) out.push_back({"xattr", n.xattr_block * bs, n.xattr_blocks * bs});
      if (type == S_IFLNK && (n.flags & format::kInodeFlagInlineLink) == 0) {
        auto ref = load_as<format::BlobRef>(n.inline_area);
        out.push_back({"symlink", ref.block * bs, ref.block_count * bs});
      }
    }
  }
  return out;
}

}  // namespace pinfs::fs
