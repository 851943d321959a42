// mount: validation, journal replay and orphan reclaim (docs/format.md,
// "Recovery"). Everything mount reads is validated through an overlay of the
// committed journal records before a single byte is written, so an image
// found corrupt is left exactly as it was.
#include "fs/recovery.h"

#include <fmt/format.h>

#include "fs/crc.h"
#include "fs/le.h"
#include "fs/pmem_filesystem.h"
#include "fs/superblock.h"

namespace pinfs::fs {

Result<RecoveryView> read_recovery_view(const Media& media) {
  const char* op = "mount";
  const std::string& path = media.path();
  SuperblockPair sbs = read_superblocks(media);
  if (!sbs.primary && !sbs.backup) {
    if (sbs.primary_has_magic || sbs.backup_has_magic)
      return Error(EUCLEAN, op, path, "[superblock] both superblocks fail their checksum");
    return Error(EINVAL, op, path, "no pinfs superblock (run pinfs mkfs)");
  }
  // The geometry is static: the backup holds the same.
  const format::Superblock& base = sbs.primary ? *sbs.primary : *sbs.backup;
  auto geometry = geometry_from_superblock(base, media.size_bytes());
  if (!geometry.ok()) return Error(geometry.error()).with_detail(std::string(op) + " " + path);
  auto committed = Journal::read(media, *geometry);
  if (!committed.ok()) return Error(committed.error()).with_detail(std::string(op) + " " + path);
  RecoveryView out;
  out.geometry = *geometry;
  if (sbs.primary) {
    out.primary = *sbs.primary;
    out.replay = out.primary.state.get() == format::kStateDirty && committed->present;
  } else {
    // The primary changes only through the journal, one 64-byte line at a
    // time: a power failure while a transaction applied can tear it, and
    // that transaction, replayed, repairs it.
    bool repaired = false;
    if (committed->present) {
      std::vector<std::byte> bytes(sizeof(format::Superblock));
      committed->records.read(media.data(), format::kSuperblockOffset, bytes.data(), bytes.size());
      if (record_valid(bytes, format::kKindSuperblock, format::kSuperblockOffset,
                       format::kSuperblockSeed)) {
        auto sb = load_as<format::Superblock>(bytes.data());
        if (sb.magic.get() == format::kSuperblockMagic && same_geometry(sb, *sbs.backup)) {
          out.primary = sb;
          repaired = true;
        }
      }
    }
    if (!repaired)
      return Error(EUCLEAN, op, path,
                   "[superblock] the primary superblock is damaged (the backup at offset 4096 is "
                   "intact); run pinfs check");
    out.primary_from_journal = true;
    out.replay = true;
  }
  out.journal = std::move(*committed);
  return out;
}

Result<std::unique_ptr<FileSystem>> FileSystem::mount(std::unique_ptr<Media> media,
                                                      const MountOptions& options) {
  const char* op = "mount";
  if (!media) return Error(EINVAL, op, "", "no media");
  const std::string path = media->path();
  if (!options.read_only && media->read_only())
    return Error(EROFS, op, path, "media opened read-only; mount read-only");
  PINFS_ASSIGN_OR_RETURN(RecoveryView rv, read_recovery_view(*media));
  const Geometry& g = rv.geometry;
  if (media->map_alignment_bytes() != 0 && g.unit_bytes % media->map_alignment_bytes() != 0)
    return Error(EINVAL, op, path,
                 fmt::format("the aligned unit ({} bytes) is not a multiple of the media's map "
                             "alignment ({} bytes)",
                             g.unit_bytes, media->map_alignment_bytes()));
  std::uint32_t state = rv.primary.state;
  if (state != format::kStateClean && state != format::kStateDirty)
    return Error(EUCLEAN, op, path, fmt::format("[superblock] state {}", state));
  const bool dirty = state == format::kStateDirty || rv.primary_from_journal;
  if (dirty && options.read_only)
    return Error(EROFS, op, path,
                 "the file system was not unmounted cleanly; recovery needs a read-write mount");
  const Overlay* overlay = rv.replay ? &rv.journal.records : nullptr;

  auto fs = std::make_unique<PmemFileSystem>(std::move(media), g, options.read_only,
                                             rv.journal.last_seq + 1);
  if (Status s = fs->load(overlay); !s.ok()) return Error(s.error()).with_detail("mount " + path);
  if (!options.read_only) {
    if (overlay != nullptr) Journal::replay(fs->media(), *overlay);
    PINFS_TRY(fs->mark_state(format::kStateDirty));
    PINFS_TRY(fs->reclaim_orphans());
  }
  return std::unique_ptr<FileSystem>(std::move(fs));
}

}  // namespace pinfs::fs
