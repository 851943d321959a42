// DeferredTimes: the mtime and ctime of in-place overwrites, held in memory
// until they are written back in a transaction of their own.
//
// A write that changes no metadata but the times (every byte already
// mapped, inside the file, no privilege to remove) stores and persists its
// data and returns without a journal commit: a 4 KiB overwrite through the
// mount was two thirds journal work. Its times land here and reach the media
// at the next fsync, at close (FUSE release), within a second through the
// front end's timer, at unmount, or when the oldest is a second old and
// another write comes. Until then every getattr sees them (overlay). A power
// failure may lose the times of the last second of overwrites, never their
// data: ext4's lazytime trade, documented in docs/mount.md.
//
// Keyed by inode number and generation: an entry for an inode that was freed
// (and maybe reused) since is ignored. Thread-safe (own leaf mutex).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "fs/filesystem.h"

namespace pinfs::fs {

class DeferredTimes {
 public:
  struct Entry {
    InodeNumber ino = 0;
    std::uint64_t generation = 0;
    Timespec mtime;
    Timespec ctime;
  };

  // An overwrite of (ino, generation) at time t.
  void note(InodeNumber ino, std::uint64_t generation, const Timespec& t);
  // Raises attr's mtime and ctime to what is deferred for it, if newer.
  void overlay(Attr& attr) const;
  // Drops what is deferred for ino: its mtime was set explicitly (utimens),
  // which must not be overridden by an older overwrite's later write-back.
  void forget(InodeNumber ino);
  // Takes every entry out, for writing back.
  std::vector<Entry> take_all();
  // Is anything deferred for longer than `age`?
  bool older_than(std::chrono::steady_clock::duration age) const;
  bool empty() const { return count_.load(std::memory_order_relaxed) == 0; }

 private:
  struct Value {
    std::uint64_t generation;
    Timespec mtime;
    Timespec ctime;
  };
  mutable std::mutex mutex_;
  std::unordered_map<InodeNumber, Value> entries_;  // GUARDED_BY(mutex_)
  // When the oldest entry now held was noted; GUARDED_BY(mutex_).
  std::chrono::steady_clock::time_point oldest_{};
  // entries_.size(), read without the mutex by the fast checks.
  std::atomic<std::size_t> count_{0};
};

}  // namespace pinfs::fs
