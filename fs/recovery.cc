// mount: validation, journal replay and orphan reclaim (docs/format.md,
// "Recovery"). Everything mount reads is validated through an overlay of the
// committed journal records before a single byte is written, so an image
// found corrupt is left exactly as it was.
#include <fmt/format.h>

#include "fs/crc.h"
#include "fs/journal.h"
#include "fs/pmem_filesystem.h"
#include "fs/superblock.h"

namespace pinfs::fs {

Result<std::unique_ptr<FileSystem>> FileSystem::mount(std::unique_ptr<Media> media,
                                                      const MountOptions& options) {
  const char* op = "mount";
  if (!media) return Error(EINVAL, op, "", "no media");
  const std::string path = media->path();
  if (!options.read_only && media->read_only())
    return Error(EROFS, op, path, "media opened read-only; mount read-only");
  SuperblockPair sbs = read_superblocks(*media);
  if (!sbs.primary) {
    if (sbs.backup)
      return Error(EUCLEAN, op, path,
                   "[superblock] the primary superblock is damaged (the backup at offset 4096 is "
                   "intact); run pinfs check");
    if (sbs.primary_has_magic || sbs.backup_has_magic)
      return Error(EUCLEAN, op, path, "[superblock] both superblocks fail their checksum");
    return Error(EINVAL, op, path, "no pinfs superblock (run pinfs mkfs)");
  }
  const format::Superblock& sb = *sbs.primary;
  auto geometry = geometry_from_superblock(sb, media->size_bytes());
  if (!geometry.ok()) return Error(geometry.error()).with_detail("mount " + path);
  const Geometry& g = *geometry;
  if (media->map_alignment_bytes() != 0 && g.unit_bytes % media->map_alignment_bytes() != 0)
    return Error(EINVAL, op, path,
                 fmt::format("the aligned unit ({} bytes) is not a multiple of the media's map "
                             "alignment ({} bytes)",
                             g.unit_bytes, media->map_alignment_bytes()));
  std::uint32_t state = sb.state;
  if (state != format::kStateClean && state != format::kStateDirty)
    return Error(EUCLEAN, op, path, fmt::format("[superblock] state {}", state));
  const bool dirty = state == format::kStateDirty;
  if (dirty && options.read_only)
    return Error(EROFS, op, path,
                 "the file system was not unmounted cleanly; recovery needs a read-write mount");
  auto committed = Journal::read(*media, g);
  if (!committed.ok()) return Error(committed.error()).with_detail("mount " + path);
  const Overlay* overlay = dirty && committed->present ? &committed->records : nullptr;

  auto fs = std::make_unique<PmemFileSystem>(std::move(media), g, options.read_only,
                                             committed->last_seq + 1);
  if (Status s = fs->load(overlay); !s.ok()) return Error(s.error()).with_detail("mount " + path);
  if (!options.read_only) {
    if (overlay != nullptr) Journal::replay(fs->media(), *overlay);
    PINFS_TRY(fs->mark_state(format::kStateDirty));
    PINFS_TRY(fs->reclaim_orphans());
  }
  return std::unique_ptr<FileSystem>(std::move(fs));
}

}  // namespace pinfs::fs
