// DurabilityTracker: the crash-test half of the media layer (DESIGN.md §5).
//
// It keeps a second image that holds only what was explicitly persisted, and
// the cache lines stored since: a line that was stored but not yet drained may
// or may not have reached the media when the power failed, in any order. A
// crash image is the persisted image plus a seeded random subset of those
// lines, which is what catches a commit record that reaches the media before
// the data it covers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <array>
#include <functional>
#include <random>
#include <unordered_map>
#include <vector>

namespace pinfs::fs {

class DurabilityTracker {
 public:
  static constexpr std::size_t kCacheLineBytes = 64;

  // live is the media's mapping; the tracker reads it to learn what a store
  // wrote. initial is the state that is already durable (the media's bytes
  // when tracking began).
  DurabilityTracker(const std::byte* live, std::size_t size_bytes);

  // Called by the media layer, in program order.
  void note_store(std::uint64_t offset, std::size_t length);
  void note_flush(std::uint64_t offset, std::size_t length);
  void note_drain();

  // A persist point is each drain. The hook runs before the drain takes
  // effect, so it sees the last moment at which the flushed lines may still
  // be lost. It must not store to the media.
  void set_persist_hook(std::function<void(std::uint64_t persist_point)> hook) {
    hook_ = std::move(hook);
  }
  std::uint64_t persist_points() const { return persist_points_; }

  // The bytes known to be durable: what survives a crash in which no pending
  // line was written back.
  const std::vector<std::byte>& persisted_image() const { return persisted_; }

  // How many cache lines are in flight (stored or flushed, not drained).
  std::size_t pending_lines() const;

  // The persisted image plus, for each pending line, a random choice among
  // "not written back" and each version the line had when stored or flushed.
  std::vector<std::byte> crash_image(std::mt19937_64& rng) const;

 private:
  using Line = std::array<std::byte, kCacheLineBytes>;
  Line read_live(std::uint64_t line) const;

  const std::byte* live_;
  std::size_t size_bytes_;
  std::vector<std::byte> persisted_;
  // Lines stored since their last flush; their version is the live content.
  std::vector<std::uint64_t> dirty_;
  std::vector<bool> is_dirty_;
  // Lines flushed but not drained, with the content they had at the flush: a
  // store after the flush is not covered by it.
  std::unordered_map<std::uint64_t, Line> flushed_;
  std::function<void(std::uint64_t)> hook_;
  std::uint64_t persist_points_ = 0;
};

}  // namespace pinfs::fs
