// MediaCoverage: how many pins cover each byte of the media, as sorted
// disjoint segments with a count. Answers "is any byte of this media range
// pinned?" — the question the file system asks under its lock every time an
// extent leaves a file (fs::LayoutHooks::is_pinned) — in O(log n), and says
// which bytes stop being pinned when a pin goes.
//
// Why counts over disjoint segments rather than an interval tree of pins:
// the hot query only needs "any?", and the removal path needs "which bytes
// dropped to zero?"; with counts both are a map lookup plus a walk over the
// segments of the range itself, and overlapping pins (two clients pinning
// the same file range) cost no extra segments. Neighbouring segments with
// equal counts are joined, so a file pinned in many adjacent pieces stays
// one segment. Adding or removing a range costs O(log n + s), s being the
// number of segments inside it.
//
// Not thread-safe: the owner's mutex guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "pin/byte_range.h"

namespace pinfs::pin {

class MediaCoverage {
 public:
  // Counts one more pin on every byte of range (not empty, no kToEnd).
  void add(const ByteRange& range);
  // Counts one pin fewer on every byte of range, which must be covered (an
  // assertion: removing what was never added is our bug). Returns the
  // pieces whose count dropped to zero, sorted and joined.
  std::vector<ByteRange> remove(const ByteRange& range);

  bool any(const ByteRange& range) const;
  // Pins covering the byte at offset (for tests and diagnostics).
  std::uint64_t count_at(std::uint64_t offset) const;
  // Media bytes covered by at least one pin.
  std::uint64_t covered_bytes() const { return covered_bytes_; }
  std::size_t segment_count() const { return segments_.size(); }

 private:
  struct Segment {
    std::uint64_t end;
    std::uint64_t count;  // >= 1: uncovered bytes have no segment
  };
  // Makes `offset` a segment boundary if it falls inside a segment.
  void split_at(std::uint64_t offset);
  // Joins the segment starting at `offset` with its left neighbour when they
  // touch and have the same count.
  void join_at(std::uint64_t offset);

  std::map<std::uint64_t, Segment> segments_;  // keyed by start
  std::uint64_t covered_bytes_ = 0;
};

}  // namespace pinfs::pin
