// How the file system reads and changes metadata.
//
// MetaSource: the committed bytes (the media, optionally shadowed by an
//   Overlay of journal records not yet replayed: what check() and a mount's
//   validation see before anything is written).
// Txn: the changes of one operation, staged as whole records (an inode, a
//   table chunk, a directory block). Nothing reaches the media until the
//   journal commits it (journal.h). Staged records are sealed (CRC) at commit.
//   DRAM state that an operation changes registers an undo on the txn, so an
//   aborted operation leaves memory as it found it.
// MetaView: what every module reads and stages through: the staged copy if
//   the txn holds one (trusted: we wrote it), otherwise the committed bytes,
//   verified (kind, CRC) before anyone looks at them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <span>
#include <string>
#include <vector>

#include "fs/geometry.h"
#include "fs/media.h"
#include "pinfs/error.h"

namespace pinfs::fs {

// Names a record in an error; formatted only when an error is reported, so
// the hot paths pay nothing for it. Format strings take fmt's "{}".
class RecordName {
 public:
  RecordName(const char* text) : format_(text) {}  // NOLINT: implicit by design
  RecordName(const std::string& text) : owned_(text), format_(nullptr) {}  // NOLINT
  RecordName(const char* format, std::uint64_t a) : format_(format), a_(a), args_(1) {}
  RecordName(const char* format, std::uint64_t a, std::uint64_t b)
      : format_(format), a_(a), b_(b), args_(2) {}
  std::string str() const;

 private:
  std::string owned_;
  const char* format_;
  std::uint64_t a_ = 0, b_ = 0;
  int args_ = 0;
};

// A verified record's bytes: borrowed from the media or a staged copy (valid
// while the operation runs under the file-system lock), or owned when an
// overlay had to be applied. Move-only.
class Record {
 public:
  Record() = default;
  Record(Record&&) = default;
  Record& operator=(Record&&) = default;
  static Record borrowed(const std::byte* data, std::size_t size) {
    Record r;
    r.ptr_ = data;
    r.size_ = size;
    return r;
  }
  static Record owned(std::vector<std::byte> bytes) {
    Record r;
    r.owned_ = std::move(bytes);
    r.ptr_ = r.owned_.data();
    r.size_ = r.owned_.size();
    return r;
  }
  const std::byte* data() const { return ptr_; }
  std::size_t size() const { return size_; }
  const std::byte& operator[](std::size_t i) const { return ptr_[i]; }

 private:
  std::vector<std::byte> owned_;  // moving a vector keeps its buffer, so ptr_ stays valid
  const std::byte* ptr_ = nullptr;
  std::size_t size_ = 0;
};

// Records whose CRC was checked since they were last written, so that hot
// metadata is verified once, not on every read (like ext4's verified buffer
// flag). Only the file system writes its metadata while mounted; an entry is
// dropped when the journal writes the record and when its blocks are freed
// (a freed block may come back as data or as another kind of record).
// Thread-safe: readers under the shared fs lock add entries.
class VerifiedRecords {
 public:
  bool contains(std::uint64_t offset, std::size_t length, std::uint32_t kind) const;
  void insert(std::uint64_t offset, std::size_t length, std::uint32_t kind);
  // The record that starts at offset (the journal rewrote it).
  void forget(std::uint64_t offset);
  // Every record starting in a freed run of blocks: records in the data area
  // start on a block boundary.
  void forget_blocks(std::uint64_t offset, std::uint64_t length, std::uint64_t block_size);
  void clear();

 private:
  struct Entry {
    std::uint32_t kind;
    std::uint32_t length;
  };
  static constexpr std::uint64_t kMaxRecordBytes = 1u << 20;  // larger ones are not remembered
  static constexpr std::size_t kMaxEntries = 1u << 20;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, Entry> entries_;  // by offset; guarded by mutex_
};

// A run of media blocks (in file-system blocks).
struct BlockRun {
  std::uint64_t block = 0;
  std::uint64_t count = 0;
};

// Byte segments that shadow the media. Segments never overlap.
class Overlay {
 public:
  // False if [offset, +bytes) overlaps a segment already present.
  bool put(std::uint64_t offset, std::vector<std::byte> bytes);
  void read(const std::byte* base, std::uint64_t offset, void* dst, std::size_t length) const;
  bool empty() const { return segments_.empty(); }
  const std::map<std::uint64_t, std::vector<std::byte>>& segments() const { return segments_; }

 private:
  std::map<std::uint64_t, std::vector<std::byte>> segments_;
};

class MetaSource {
 public:
  explicit MetaSource(const Media& media, const Overlay* overlay = nullptr,
                      VerifiedRecords* verified = nullptr)
      : base_(media.data()), size_(media.size_bytes()), overlay_(overlay), verified_(verified) {}
  // Callers bound-check offsets against the geometry first.
  void read(std::uint64_t offset, void* dst, std::size_t length) const;
  // The bytes in place when no overlay segment covers any of them, else null.
  const std::byte* direct(std::uint64_t offset, std::size_t length) const;
  std::uint64_t size() const { return size_; }
  VerifiedRecords* verified() const { return verified_; }

 private:
  const std::byte* base_;
  std::uint64_t size_;
  const Overlay* overlay_;
  VerifiedRecords* verified_;
};

class Txn {
 public:
  struct Staged {
    std::vector<std::byte> bytes;
    std::uint32_t kind = 0;
  };

  Txn() = default;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn();

  // The staged record at exactly [offset, +length), or null. A staged record
  // that overlaps without matching exactly is a pinfs bug (asserted).
  std::byte* find(std::uint64_t offset, std::size_t length);
  const std::byte* find(std::uint64_t offset, std::size_t length) const;
  // The kind a staged record was staged as (0 when not staged).
  std::uint32_t staged_kind(std::uint64_t offset) const {
    auto it = staged_.find(offset);
    return it == staged_.end() ? 0 : it->second.kind;
  }
  std::span<std::byte> add(std::uint64_t offset, std::vector<std::byte> bytes, std::uint32_t kind);
  // Raw read through the staged records.
  void read(const MetaSource& source, std::uint64_t offset, void* dst, std::size_t length) const;

  const std::map<std::uint64_t, Staged>& staged() const { return staged_; }
  std::map<std::uint64_t, Staged>& staged() { return staged_; }
  std::size_t staged_bytes() const { return staged_bytes_; }

  // Undo of a DRAM change, run in reverse order if the txn aborts.
  void on_abort(std::function<void()> undo) { undo_.push_back(std::move(undo)); }
  // Run after the txn is durable (e.g. counters that must not move earlier).
  void on_commit(std::function<void()> done) { done_.push_back(std::move(done)); }
  // Blocks freed by this txn; the allocator stages them last, so nothing the
  // txn frees is reused by the txn itself (journal.h explains why).
  std::vector<BlockRun>& pending_frees() { return pending_frees_; }

  void abort();      // runs the undos; the txn is then empty
  void committed();  // runs the commit hooks; the txn is then empty
  bool empty() const { return staged_.empty() && pending_frees_.empty(); }

 private:
  std::map<std::uint64_t, Staged> staged_;
  std::size_t staged_bytes_ = 0;
  std::vector<std::function<void()>> undo_;
  std::vector<std::function<void()>> done_;
  std::vector<BlockRun> pending_frees_;
};

// The seed of a record kind's CRC (the superblock cannot use the UUID's).
std::uint32_t seed_for(const Geometry& g, std::uint32_t kind);

class MetaView {
 public:
  MetaView(const MetaSource& source, const Geometry& geometry, Txn* txn)
      : source_(source), g_(geometry), txn_(txn) {}

  const Geometry& geometry() const { return g_; }
  const MetaSource& source() const { return source_; }
  Txn* txn() const { return txn_; }

  // The record [offset, +length) of `kind`, verified unless staged. `what`
  // names it in the error ("inode 7", "directory 5 block 812").
  Result<Record> read(std::uint64_t offset, std::size_t length, std::uint32_t kind,
                      const RecordName& what) const;
  // The staged copy of a record, staged from a verified read on first use.
  Result<std::span<std::byte>> modify(std::uint64_t offset, std::size_t length,
                                      std::uint32_t kind, const RecordName& what);
  // Stages a new record over whatever the media holds there: zero-filled,
  // kind set.
  std::span<std::byte> create(std::uint64_t offset, std::size_t length, std::uint32_t kind);
  void read_raw(std::uint64_t offset, void* dst, std::size_t length) const;

 private:
  const MetaSource& source_;
  const Geometry& g_;
  Txn* txn_;
};

// EUCLEAN for metadata that fails validation.
Error corrupt(std::string op, std::string object, std::string detail);

}  // namespace pinfs::fs
