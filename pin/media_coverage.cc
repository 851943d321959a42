#include "pin/media_coverage.h"

#include <cassert>
#include <iterator>

namespace pinfs::pin {

void MediaCoverage::split_at(std::uint64_t offset) {
  auto it = segments_.upper_bound(offset);
  if (it == segments_.begin()) return;
  --it;
  if (it->first < offset && offset < it->second.end) {
    Segment upper{it->second.end, it->second.count};
    it->second.end = offset;
    segments_.emplace_hint(std::next(it), offset, upper);
  }
}

void MediaCoverage::join_at(std::uint64_t offset) {
  auto it = segments_.find(offset);
  if (it == segments_.end() || it == segments_.begin()) return;
  auto before = std::prev(it);
  if (before->second.end == it->first && before->second.count == it->second.count) {
    before->second.end = it->second.end;
    segments_.erase(it);
  }
}

void MediaCoverage::add(const ByteRange& range) {
  assert(!range.empty() && range.end() - range.offset == range.length &&
         "MediaCoverage: a pinned media range is bounded and not empty");
  const std::uint64_t begin = range.offset;
  const std::uint64_t end = range.end();
  split_at(begin);
  split_at(end);
  std::uint64_t cursor = begin;
  auto it = segments_.lower_bound(begin);
  while (cursor < end) {
    if (it == segments_.end() || it->first > cursor) {
      // A gap: bytes nobody pinned so far.
      std::uint64_t gap_end = (it == segments_.end() || it->first > end) ? end : it->first;
      segments_.emplace_hint(it, cursor, Segment{gap_end, 1});
      covered_bytes_ += gap_end - cursor;
      cursor = gap_end;
      continue;
    }
    ++it->second.count;
    cursor = it->second.end;
    ++it;
  }
  join_at(begin);
  join_at(end);
}

std::vector<ByteRange> MediaCoverage::remove(const ByteRange& range) {
  const std::uint64_t begin = range.offset;
  const std::uint64_t end = range.end();
  split_at(begin);
  split_at(end);
  std::vector<ByteRange> dropped;
  std::uint64_t cursor = begin;
  auto it = segments_.lower_bound(begin);
  while (cursor < end) {
    assert(it != segments_.end() && it->first == cursor &&
           "MediaCoverage: removing a pin from bytes it never covered");
    if (it == segments_.end() || it->first != cursor) break;  // release builds: stop, keep the rest
    cursor = it->second.end;
    if (--it->second.count > 0) {
      ++it;
      continue;
    }
    covered_bytes_ -= it->second.end - it->first;
    if (!dropped.empty() && dropped.back().end() == it->first) {
      dropped.back().length += it->second.end - it->first;
    } else {
      dropped.push_back(ByteRange::from_bounds(it->first, it->second.end));
    }
    it = segments_.erase(it);
  }
  join_at(begin);
  join_at(end);
  // Inside the range no join is needed: neighbours that differed before
  // differ by the same amount after, and emptied segments are gone.
  return dropped;
}

bool MediaCoverage::any(const ByteRange& range) const {
  if (range.empty()) return false;
  auto it = segments_.lower_bound(range.offset);
  if (it != segments_.end() && it->first < range.end()) return true;
  if (it == segments_.begin()) return false;
  return std::prev(it)->second.end > range.offset;
}

std::uint64_t MediaCoverage::count_at(std::uint64_t offset) const {
  auto it = segments_.upper_bound(offset);
  if (it == segments_.begin()) return 0;
  --it;
  return offset < it->second.end ? it->second.count : 0;
}

}  // namespace pinfs::pin
