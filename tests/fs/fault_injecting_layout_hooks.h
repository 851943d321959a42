// FaultInjectingLayoutHooks: LayoutHooks for tests that inject the faults the
// lease manager and pin registry produce: extents reported pinned, layout
// changes refused. It records every call so tests can assert which
// operations asked.
#pragma once

#include <mutex>
#include <vector>

#include "fs/filesystem.h"

namespace pinfs::fs::testing {

class FaultInjectingLayoutHooks : public LayoutHooks {
 public:
  Status begin_layout_change(const LayoutChange& change) override {
    std::lock_guard lock(mutex_);
    begun.push_back(change);
    if (refuse_errno != 0) {
      refused.push_back(change);
      begun.pop_back();
      return Error(refuse_errno, to_string(change.kind), "[test hooks]", "refused by the test");
    }
    return ok_status();
  }
  void end_layout_change(const LayoutChange& change) override {
    std::lock_guard lock(mutex_);
    ended.push_back(change);
  }
  bool is_pinned(std::uint64_t media_offset, std::uint64_t length) const override {
    std::lock_guard lock(mutex_);
    asked.push_back({media_offset, length});
    if (pin_everything) return true;
    for (const auto& [off, len] : pinned)
      if (media_offset < off + len && off < media_offset + length) return true;
    return false;
  }

  void pin(std::uint64_t offset, std::uint64_t length) {
    std::lock_guard lock(mutex_);
    pinned.push_back({offset, length});
  }
  void unpin_all() {
    std::lock_guard lock(mutex_);
    pinned.clear();
    pin_everything = false;
  }

  mutable std::mutex mutex_;
  bool pin_everything = false;
  int refuse_errno = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> pinned;
  std::vector<LayoutChange> begun, ended, refused;
  mutable std::vector<std::pair<std::uint64_t, std::uint64_t>> asked;
};

}  // namespace pinfs::fs::testing
