#include "fs/meta_io.h"

#include <fmt/format.h>

#include <cassert>
#include <cstring>

#include "fs/crc.h"
#include "fs/format.h"
#include "fs/le.h"

namespace pinfs::fs {

namespace {

// Copies the parts of the segments of `map` that overlap [offset, +length)
// over dst (which already holds the bytes below).
template <typename Map, typename Bytes>
void patch(const Map& map, Bytes bytes_of, std::uint64_t offset, std::byte* dst,
           std::size_t length) {
  if (map.empty()) return;
  std::uint64_t end = offset + length;
  auto it = map.upper_bound(offset);
  if (it != map.begin()) --it;
  for (; it != map.end() && it->first < end; ++it) {
    const auto& bytes = bytes_of(it->second);
    std::uint64_t seg_begin = it->first;
    std::uint64_t seg_end = seg_begin + bytes.size();
    if (seg_end <= offset) continue;
    std::uint64_t from = std::max(seg_begin, offset);
    std::uint64_t to = std::min(seg_end, end);
    std::memcpy(dst + (from - offset), bytes.data() + (from - seg_begin), to - from);
  }
}

}  // namespace

bool Overlay::put(std::uint64_t offset, std::vector<std::byte> bytes) {
  std::uint64_t end = offset + bytes.size();
  auto it = segments_.upper_bound(offset);
  if (it != segments_.end() && it->first < end) return false;
  if (it != segments_.begin()) {
    --it;
    if (it->first + it->second.size() > offset) return false;
  }
  segments_.emplace(offset, std::move(bytes));
  return true;
}

void Overlay::read(const std::byte* base, std::uint64_t offset, void* dst,
                   std::size_t length) const {
  std::memcpy(dst, base + offset, length);
  patch(segments_, [](const std::vector<std::byte>& b) -> const auto& { return b; }, offset,
        static_cast<std::byte*>(dst), length);
}

std::string RecordName::str() const {
  if (format_ == nullptr) return owned_;
  switch (args_) {
    case 1: return fmt::format(fmt::runtime(format_), a_);
    case 2: return fmt::format(fmt::runtime(format_), a_, b_);
    default: return format_;
  }
}

bool VerifiedRecords::contains(std::uint64_t offset, std::size_t length,
                               std::uint32_t kind) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(offset);
  return it != entries_.end() && it->second.kind == kind && it->second.length == length;
}

void VerifiedRecords::insert(std::uint64_t offset, std::size_t length, std::uint32_t kind) {
  if (length > kMaxRecordBytes) return;
  std::lock_guard lock(mutex_);
  if (entries_.size() >= kMaxEntries) entries_.clear();
  entries_[offset] = Entry{kind, static_cast<std::uint32_t>(length)};
}

void VerifiedRecords::forget(std::uint64_t offset) {
  std::lock_guard lock(mutex_);
  entries_.erase(offset);
}

void VerifiedRecords::forget_blocks(std::uint64_t offset, std::uint64_t length,
                                    std::uint64_t block_size) {
  std::lock_guard lock(mutex_);
  if (length / block_size <= entries_.size()) {
    for (std::uint64_t at = offset; at < offset + length; at += block_size) entries_.erase(at);
    return;
  }
  std::erase_if(entries_, [&](const auto& e) { return e.first >= offset && e.first < offset + length; });
}

void VerifiedRecords::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
}

const std::byte* MetaSource::direct(std::uint64_t offset, std::size_t length) const {
  if (overlay_ != nullptr && !overlay_->empty()) {
    const auto& segs = overlay_->segments();
    auto it = segs.upper_bound(offset);
    if (it != segs.end() && it->first < offset + length) return nullptr;
    if (it != segs.begin() && std::prev(it)->first + std::prev(it)->second.size() > offset)
      return nullptr;
  }
  return base_ + offset;
}

void MetaSource::read(std::uint64_t offset, void* dst, std::size_t length) const {
  assert(offset <= size_ && length <= size_ - offset && "metadata read beyond the media");
  if (overlay_ != nullptr) {
    overlay_->read(base_, offset, dst, length);
  } else {
    std::memcpy(dst, base_ + offset, length);
  }
}

Txn::~Txn() {
  // A txn dropped without commit or abort is a pinfs bug: its DRAM changes
  // would stay while its media changes vanish.
  assert(staged_.empty() && undo_.empty() && pending_frees_.empty() &&
         "transaction neither committed nor aborted");
}

std::byte* Txn::find(std::uint64_t offset, std::size_t length) {
  return const_cast<std::byte*>(std::as_const(*this).find(offset, length));
}

const std::byte* Txn::find(std::uint64_t offset, std::size_t length) const {
  auto it = staged_.find(offset);
  if (it != staged_.end()) {
    assert(it->second.bytes.size() == length && "record staged with another size");
    (void)length;
    return it->second.bytes.data();
  }
#ifndef NDEBUG
  auto next = staged_.upper_bound(offset);
  assert((next == staged_.end() || next->first >= offset + length) &&
         "staged records overlap");
  if (next != staged_.begin()) {
    --next;
    assert(next->first + next->second.bytes.size() <= offset && "staged records overlap");
  }
#endif
  return nullptr;
}

std::span<std::byte> Txn::add(std::uint64_t offset, std::vector<std::byte> bytes,
                              std::uint32_t kind) {
  assert(find(offset, bytes.size()) == nullptr);
  staged_bytes_ += bytes.size();
  auto [it, inserted] = staged_.emplace(offset, Staged{std::move(bytes), kind});
  assert(inserted);
  (void)inserted;
  return it->second.bytes;
}

void Txn::read(const MetaSource& source, std::uint64_t offset, void* dst,
               std::size_t length) const {
  source.read(offset, dst, length);
  patch(staged_, [](const Staged& s) -> const auto& { return s.bytes; }, offset,
        static_cast<std::byte*>(dst), length);
}

void Txn::abort() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) (*it)();
  undo_.clear();
  done_.clear();
  staged_.clear();
  staged_bytes_ = 0;
  pending_frees_.clear();
}

void Txn::committed() {
  for (auto& f : done_) f();
  undo_.clear();
  done_.clear();
  staged_.clear();
  staged_bytes_ = 0;
  pending_frees_.clear();
}

std::uint32_t seed_for(const Geometry& g, std::uint32_t kind) {
  return kind == format::kKindSuperblock ? format::kSuperblockSeed : g.seed;
}

Result<Record> MetaView::read(std::uint64_t offset, std::size_t length, std::uint32_t kind,
                              const RecordName& what) const {
  if (txn_ != nullptr) {
    if (const std::byte* staged = txn_->find(offset, length)) {
      // Damaged metadata can make one block look like two kinds of record.
      if (txn_->staged_kind(offset) != kind)
        return corrupt("read metadata", what.str(),
                       fmt::format("block at media offset {} is already in use as a {} record",
                                   offset, format::kind_name(txn_->staged_kind(offset))));
      return Record::borrowed(staged, length);
    }
  }
  if (offset > source_.size() || length > source_.size() - offset) {
    return corrupt("read metadata", what.str(),
                   fmt::format("record at media offset {} lies beyond the media", offset));
  }
  VerifiedRecords* verified = source_.verified();
  Record out;
  if (const std::byte* in_place = source_.direct(offset, length)) {
    if (verified != nullptr && verified->contains(offset, length, kind))
      return Record::borrowed(in_place, length);
    out = Record::borrowed(in_place, length);
  } else {
    std::vector<std::byte> bytes(length);
    source_.read(offset, bytes.data(), length);
    out = Record::owned(std::move(bytes));
  }
  std::span<const std::byte> bytes(out.data(), length);
  if (!record_valid(bytes, kind, offset, seed_for(g_, kind))) {
    std::uint32_t found = load_as<le32>(out.data() + 4);
    return corrupt("read metadata", what.str(),
                   found != kind ? fmt::format("not a {} record at media offset {}",
                                               format::kind_name(kind), offset)
                                 : fmt::format("checksum mismatch at media offset {}", offset));
  }
  if (verified != nullptr && source_.direct(offset, length) != nullptr)
    verified->insert(offset, length, kind);
  return out;
}

Result<std::span<std::byte>> MetaView::modify(std::uint64_t offset, std::size_t length,
                                              std::uint32_t kind, const RecordName& what) {
  assert(txn_ != nullptr && "modify outside a transaction");
  if (std::byte* staged = txn_->find(offset, length)) {
    if (txn_->staged_kind(offset) != kind)
      return corrupt("change metadata", what.str(),
                     fmt::format("block at media offset {} is already in use as a {} record", offset,
                                 format::kind_name(txn_->staged_kind(offset))));
    return std::span<std::byte>(staged, length);
  }
  PINFS_ASSIGN_OR_RETURN(Record rec, read(offset, length, kind, what));
  return txn_->add(offset, std::vector<std::byte>(rec.data(), rec.data() + length), kind);
}

std::span<std::byte> MetaView::create(std::uint64_t offset, std::size_t length,
                                      std::uint32_t kind) {
  assert(txn_ != nullptr && "create outside a transaction");
  std::vector<std::byte> bytes(length);
  store_as<le32>(bytes.data() + 4, le32(kind));
  if (std::byte* staged = txn_->find(offset, length)) {
    std::memcpy(staged, bytes.data(), length);
    return {staged, length};
  }
  return txn_->add(offset, std::move(bytes), kind);
}

void MetaView::read_raw(std::uint64_t offset, void* dst, std::size_t length) const {
  if (txn_ != nullptr) {
    txn_->read(source_, offset, dst, length);
  } else {
    source_.read(offset, dst, length);
  }
}

Error corrupt(std::string op, std::string object, std::string detail) {
  return Error(EUCLEAN, std::move(op), std::move(object), std::move(detail));
}

}  // namespace pinfs::fs
