// Journal: the physical redo log that makes every metadata change atomic
// across power failure (docs/format.md, "Journal").
//
// A commit takes three persist points:
//   1. the payload (the changed 64-byte lines of the staged records, each
//      with its media offset) and the header (sequence number, payload size
//      and CRC) are stored, flushed and drained;
//   2. the commit record (same sequence number and payload CRC) is stored,
//      flushed and drained: from here on the transaction happened;
//   3. the lines are applied in place, flushed and drained.
// Recovery replays the transaction the commit record names if the header
// and payload match it; anything else is a torn transaction and is ignored.
//
// Replaying the last committed transaction again is harmless, so the log is
// never marked empty: between commits only two kinds of store bypass the
// journal, and neither can be clobbered by a replay that matters:
//   - file data written into blocks the file owns or is about to own;
//   - new blocks (index rebuild, blobs, data) written before the transaction
//     that links them. A block the last transaction wrote as metadata and
//     then freed may be reused this way; if the reuse's transaction never
//     commits, a replay clobbers a block that is free again. The allocator
//     never lets a transaction reuse a block it frees itself (Txn's
//     pending_frees), which would break this.
#pragma once

#include <cstdint>

#include "fs/geometry.h"
#include "fs/media.h"
#include "fs/meta_io.h"
#include "pinfs/error.h"

namespace pinfs::fs {

class Journal {
 public:
  Journal(Media& media, const Geometry& geometry, std::uint64_t next_seq)
      : media_(media), g_(geometry), next_seq_(next_seq) {}

  // Seals the staged records, logs their changed lines, commits and applies
  // them, then runs the txn's commit hooks. Fails, having written nothing,
  // only when the changes do not fit the journal (ENOSPC).
  Status commit(Txn& txn);

  // Records the journal writes are re-marked verified (it sealed them).
  void set_verified(VerifiedRecords* verified) { verified_ = verified; }
  std::uint64_t next_seq() const { return next_seq_; }
  std::uint64_t commits() const { return commits_; }

  // mkfs: an empty journal.
  static void format(Media& media, const Geometry& geometry);

  struct Committed {
    bool present = false;  // a transaction to replay
    std::uint64_t seq = 0;
    std::uint64_t last_seq = 0;  // highest sequence number the log shows
    Overlay records;
  };
  // What the log holds. EUCLEAN when a committed transaction does not parse
  // (its records reach outside the media or into the journal, or overlap).
  static Result<Committed> read(const Media& media, const Geometry& geometry);
  // Stores the records in place and persists them.
  static void replay(Media& media, const Overlay& records);

 private:
  Media& media_;
  const Geometry& g_;
  std::uint64_t next_seq_;
  std::uint64_t commits_ = 0;
  VerifiedRecords* verified_ = nullptr;
};

}  // namespace pinfs::fs
