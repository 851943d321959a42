#include "fs/durability_tracker.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace pinfs::fs {

namespace {
struct LineRange {
  std::uint64_t first;
  std::uint64_t end;
};
LineRange lines_of(std::uint64_t offset, std::size_t length) {
  constexpr auto kLine = DurabilityTracker::kCacheLineBytes;
  return {offset / kLine, (offset + length + kLine - 1) / kLine};
}
}  // namespace

DurabilityTracker::DurabilityTracker(const std::byte* live, std::size_t size_bytes)
    : live_(live),
      size_bytes_(size_bytes),
      persisted_(live, live + size_bytes),
      is_dirty_((size_bytes + kCacheLineBytes - 1) / kCacheLineBytes, false) {}

DurabilityTracker::Line DurabilityTracker::read_live(std::uint64_t line) const {
  Line out{};
  std::uint64_t begin = line * kCacheLineBytes;
  std::size_t n = std::min<std::size_t>(kCacheLineBytes, size_bytes_ - begin);
  std::memcpy(out.data(), live_ + begin, n);
  return out;
}

void DurabilityTracker::note_store(std::uint64_t offset, std::size_t length) {
  if (length == 0) return;
  assert(offset + length <= size_bytes_);
  auto [first, end] = lines_of(offset, length);
  for (std::uint64_t l = first; l < end; ++l) {
    if (!is_dirty_[l]) {
      is_dirty_[l] = true;
      dirty_.push_back(l);
    }
  }
}

void DurabilityTracker::note_flush(std::uint64_t offset, std::size_t length) {
  if (length == 0) return;
  assert(offset + length <= size_bytes_);
  auto [first, end] = lines_of(offset, length);
  for (std::uint64_t l = first; l < end; ++l) {
    // A flush writes back whatever the line holds now, dirty or not.
    flushed_[l] = read_live(l);
    is_dirty_[l] = false;
  }
  // Keep dirty_ exactly the lines with is_dirty_ set, so a later store to a
  // flushed line is listed once. Few lines are in flight between persists.
  std::erase_if(dirty_, [this](std::uint64_t l) { return !is_dirty_[l]; });
}

void DurabilityTracker::note_drain() {
  if (hook_) hook_(persist_points_);
  ++persist_points_;
  for (const auto& [line, content] : flushed_) {
    std::uint64_t begin = line * kCacheLineBytes;
    std::size_t n = std::min<std::size_t>(kCacheLineBytes, size_bytes_ - begin);
    std::memcpy(persisted_.data() + begin, content.data(), n);
  }
  flushed_.clear();
}

std::size_t DurabilityTracker::pending_lines() const {
  std::size_t n = flushed_.size();
  for (std::uint64_t l : dirty_) {
    if (!flushed_.contains(l)) ++n;
  }
  return n;
}

std::vector<std::byte> DurabilityTracker::crash_image(std::mt19937_64& rng) const {
  std::vector<std::byte> image = persisted_;
  auto write_line = [&](std::uint64_t line, const Line& content) {
    std::uint64_t begin = line * kCacheLineBytes;
    std::size_t n = std::min<std::size_t>(kCacheLineBytes, size_bytes_ - begin);
    std::memcpy(image.data() + begin, content.data(), n);
  };
  // Each pending line independently: lost, or written back with one of the
  // versions it had. Iterate in a fixed order so a seed replays exactly.
  std::vector<std::uint64_t> pending;
  pending.reserve(flushed_.size() + dirty_.size());
  for (const auto& entry : flushed_) pending.push_back(entry.first);
  pending.insert(pending.end(), dirty_.begin(), dirty_.end());
  std::sort(pending.begin(), pending.end());
  pending.erase(std::unique(pending.begin(), pending.end()), pending.end());
  for (std::uint64_t l : pending) {
    auto f = flushed_.find(l);
    bool has_flushed = f != flushed_.end();
    bool has_dirty = is_dirty_[l];
    std::uint64_t choices = 1 + (has_flushed ? 1 : 0) + (has_dirty ? 1 : 0);
    std::uint64_t pick = rng() % choices;
    if (pick == 0) continue;
    if (has_flushed && pick == 1) {
      write_line(l, f->second);
    } else {
      write_line(l, read_live(l));
    }
  }
  return image;
}

}  // namespace pinfs::fs
