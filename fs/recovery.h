// How recovery sees an image: the superblock and the journal's committed
// transaction, as mount, check and regions all need them before anything
// else can be read.
#pragma once

#include "fs/format.h"
#include "fs/geometry.h"
#include "fs/journal.h"
#include "fs/media.h"
#include "pinfs/error.h"

namespace pinfs::fs {

struct RecoveryView {
  Geometry geometry;
  // The primary superblock as recovery leaves it.
  format::Superblock primary{};
  // The primary failed its checksum and the committed transaction repairs it
  // (a power failure while that transaction applied tore it).
  bool primary_from_journal = false;
  // The committed transaction must be (re)played: the file system is dirty.
  bool replay = false;
  Journal::Committed journal;
};

// EINVAL: no pinfs here. EUCLEAN: a damaged superblock the journal does not
// explain, a bad geometry, a committed transaction that does not parse.
Result<RecoveryView> read_recovery_view(const Media& media);

}  // namespace pinfs::fs
