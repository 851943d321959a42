#include "fs/journal.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cstring>

#include "fs/crc.h"
#include "fs/format.h"
#include "fs/le.h"
#include "fs/units.h"

namespace pinfs::fs {

namespace {

constexpr std::size_t kLineBytes = 64;

std::uint32_t payload_crc(const Geometry& g, std::uint64_t seq, const std::byte* payload,
                          std::size_t length) {
  le64 s(seq);
  return crc32c(payload, length, crc32c(&s, sizeof s, g.seed));
}

std::size_t pad8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

struct Range {
  std::uint64_t offset;
  std::uint64_t length;
};

// Flushes the ranges, merging neighbours: on page-granular media each flush
// is an msync, so fewer and larger is cheaper.
void flush_ranges(Media& media, std::vector<Range>& ranges) {
  if (ranges.empty()) return;
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.offset < b.offset; });
  std::uint64_t gap = media.store_granularity() == StoreGranularity::page ? 64 * 1024 : 0;
  Range cur = ranges.front();
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    const Range& r = ranges[i];
    if (r.offset <= cur.offset + cur.length + gap) {
      cur.length = std::max(cur.offset + cur.length, r.offset + r.length) - cur.offset;
    } else {
      media.flush(cur.offset, cur.length);
      cur = r;
    }
  }
  media.flush(cur.offset, cur.length);
}

}  // namespace

Status Journal::commit(Txn& txn) {
  if (txn.staged().empty()) {
    txn.committed();
    return ok_status();
  }
  // Seal, then log only the 64-byte lines that differ from the media.
  std::vector<std::byte> payload;
  std::uint32_t record_count = 0;
  const std::byte* base = media_.data();
  for (auto& [offset, staged] : txn.staged()) {
    assert(offset + staged.bytes.size() <= media_.size_bytes());
    seal_record(staged.bytes, staged.kind, offset, seed_for(g_, staged.kind));
    std::size_t size = staged.bytes.size();
    std::size_t pos = 0;
    while (pos < size) {
      std::size_t line_end = std::min(size, (pos / kLineBytes + 1) * kLineBytes);
      if (std::memcmp(staged.bytes.data() + pos, base + offset + pos, line_end - pos) == 0) {
        pos = line_end;
        continue;
      }
      std::size_t run_end = line_end;
      while (run_end < size) {
        std::size_t next_end = std::min(size, run_end + kLineBytes);
        if (std::memcmp(staged.bytes.data() + run_end, base + offset + run_end,
                        next_end - run_end) == 0)
          break;
        run_end = next_end;
      }
      format::JournalRecord rec{};
      rec.media_offset = offset + pos;
      rec.length = static_cast<std::uint32_t>(run_end - pos);
      std::size_t at = payload.size();
      payload.resize(at + sizeof rec + pad8(run_end - pos));
      store_as(payload.data() + at, rec);
      std::memcpy(payload.data() + at + sizeof rec, staged.bytes.data() + pos, run_end - pos);
      ++record_count;
      pos = run_end;
    }
  }
  if (payload.size() > g_.journal_payload_capacity()) {
    return Error(ENOSPC, "commit", "[journal]",
                 fmt::format("a transaction of {} exceeds the journal's {}",
                             format_size(payload.size()),
                             format_size(g_.journal_payload_capacity())));
  }
  if (record_count == 0) {
    txn.committed();
    return ok_status();
  }
  std::uint64_t seq = next_seq_;
  std::uint32_t pcrc = payload_crc(g_, seq, payload.data(), payload.size());
  // 1. payload and header.
  std::uint64_t payload_offset = g_.journal_offset + g_.block_size;
  media_.store(payload_offset, payload.data(), payload.size());
  format::JournalHeader header{};
  header.kind = format::kKindJournalHeader;
  header.seq = seq;
  header.payload_bytes = payload.size();
  header.record_count = record_count;
  header.payload_crc = pcrc;
  seal_record(std::as_writable_bytes(std::span(&header, 1)), format::kKindJournalHeader,
              g_.journal_offset, g_.seed);
  media_.store(g_.journal_offset, &header, sizeof header);
  // One flush for both where they are near (an msync on a pool file).
  std::vector<Range> logged = {{payload_offset, payload.size()},
                               {g_.journal_offset, sizeof header}};
  flush_ranges(media_, logged);
  media_.drain();
  // 2. the commit record.
  format::JournalCommit commit{};
  commit.kind = format::kKindJournalCommit;
  commit.seq = seq;
  commit.payload_crc = pcrc;
  std::uint64_t commit_offset = g_.journal_offset + format::kJournalCommitOffset;
  seal_record(std::as_writable_bytes(std::span(&commit, 1)), format::kKindJournalCommit,
              commit_offset, g_.seed);
  media_.store(commit_offset, &commit, sizeof commit);
  media_.flush(commit_offset, sizeof commit);
  media_.drain();
  // 3. apply in place.
  std::vector<Range> ranges;
  ranges.reserve(record_count);
  std::size_t at = 0;
  while (at < payload.size()) {
    auto rec = load_as<format::JournalRecord>(payload.data() + at);
    media_.store(rec.media_offset, payload.data() + at + sizeof rec, rec.length);
    ranges.push_back({rec.media_offset, rec.length});
    at += sizeof rec + pad8(rec.length);
  }
  flush_ranges(media_, ranges);
  media_.drain();
  if (verified_ != nullptr) {
    for (const auto& [offset, staged] : txn.staged()) {
      verified_->insert(offset, staged.bytes.size(), staged.kind);
    }
  }
  ++next_seq_;
  ++commits_;
  txn.committed();
  return ok_status();
}

void Journal::format(Media& media, const Geometry& g) {
  media.fill(g.journal_offset, 0, g.block_size);
  media.flush(g.journal_offset, g.block_size);
}

Result<Journal::Committed> Journal::read(const Media& media, const Geometry& g) {
  Committed out;
  const std::byte* base = media.data();
  std::span<const std::byte> header_bytes(base + g.journal_offset, sizeof(format::JournalHeader));
  std::uint64_t commit_offset = g.journal_offset + format::kJournalCommitOffset;
  std::span<const std::byte> commit_bytes(base + commit_offset, sizeof(format::JournalCommit));
  bool header_ok = record_valid(header_bytes, format::kKindJournalHeader, g.journal_offset, g.seed);
  bool commit_ok = record_valid(commit_bytes, format::kKindJournalCommit, commit_offset, g.seed);
  auto header = load_as<format::JournalHeader>(header_bytes.data());
  auto commit = load_as<format::JournalCommit>(commit_bytes.data());
  if (header_ok) out.last_seq = std::max<std::uint64_t>(out.last_seq, header.seq);
  if (commit_ok) out.last_seq = std::max<std::uint64_t>(out.last_seq, commit.seq);
  if (!header_ok || !commit_ok || header.seq.get() != commit.seq.get() ||
      header.payload_crc.get() != commit.payload_crc.get()) {
    return out;  // empty, or a transaction torn before its commit record
  }
  std::uint64_t payload_bytes = header.payload_bytes;
  if (payload_bytes > g.journal_payload_capacity()) {
    return corrupt("read journal", "[journal]",
                   fmt::format("committed transaction {} claims {} bytes of payload, more "
                               "than the journal holds",
                               commit.seq.get(), payload_bytes));
  }
  const std::byte* payload = base + g.journal_offset + g.block_size;
  if (payload_crc(g, header.seq, payload, payload_bytes) != header.payload_crc.get()) {
    // The next transaction began overwriting the payload before its header
    // landed: the committed one was applied before that began.
    return out;
  }
  std::uint64_t at = 0;
  std::uint32_t records = 0;
  std::uint64_t journal_end = g.journal_offset + g.journal_bytes;
  while (at < payload_bytes) {
    if (payload_bytes - at < sizeof(format::JournalRecord)) {
      return corrupt("read journal", "[journal]", "committed payload ends inside a record");
    }
    auto rec = load_as<format::JournalRecord>(payload + at);
    std::uint64_t off = rec.media_offset;
    std::uint64_t len = rec.length;
    at += sizeof rec;
    if (len == 0 || len > payload_bytes - at || off > media.size_bytes() ||
        len > media.size_bytes() - off || (off < journal_end && off + len > g.journal_offset)) {
      return corrupt("read journal", "[journal]",
                     fmt::format("committed record {} targets [{}, +{}), outside the metadata "
                                 "it may change",
                                 records, off, len));
    }
    std::vector<std::byte> bytes(payload + at, payload + at + len);
    if (!out.records.put(off, std::move(bytes))) {
      return corrupt("read journal", "[journal]",
                     fmt::format("committed record {} overlaps another", records));
    }
    at += pad8(len);
    ++records;
  }
  if (at != payload_bytes || records != header.record_count.get()) {
    return corrupt("read journal", "[journal]",
                   fmt::format("committed transaction holds {} records, its header says {}",
                               records, header.record_count.get()));
  }
  out.present = true;
  out.seq = commit.seq;
  return out;
}

void Journal::replay(Media& media, const Overlay& records) {
  std::vector<Range> ranges;
  for (const auto& [offset, bytes] : records.segments()) {
    media.store(offset, bytes.data(), bytes.size());
    ranges.push_back({offset, bytes.size()});
  }
  flush_ranges(media, ranges);
  media.drain();
}

}  // namespace pinfs::fs
