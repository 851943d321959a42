#include "fs/deferred_times.h"

namespace pinfs::fs {
namespace {

bool newer(const Timespec& a, const Timespec& b) {
  return a.sec > b.sec || (a.sec == b.sec && a.nsec > b.nsec);
}

}  // namespace

void DeferredTimes::note(InodeNumber ino, std::uint64_t generation, const Timespec& t) {
  std::lock_guard lock(mutex_);
  if (entries_.empty()) oldest_ = std::chrono::steady_clock::now();
  auto [it, inserted] = entries_.try_emplace(ino, Value{generation, t, t});
  if (!inserted) {
    if (it->second.generation != generation) {
      it->second = Value{generation, t, t};
    } else {
      if (newer(t, it->second.mtime)) it->second.mtime = t;
      if (newer(t, it->second.ctime)) it->second.ctime = t;
    }
  }
  count_.store(entries_.size(), std::memory_order_relaxed);
}

void DeferredTimes::overlay(Attr& attr) const {
  if (empty()) return;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(attr.ino);
  if (it == entries_.end() || it->second.generation != attr.generation) return;
  if (newer(it->second.mtime, attr.mtime)) attr.mtime = it->second.mtime;
  if (newer(it->second.ctime, attr.ctime)) attr.ctime = it->second.ctime;
}

void DeferredTimes::forget(InodeNumber ino) {
  if (empty()) return;
  std::lock_guard lock(mutex_);
  entries_.erase(ino);
  count_.store(entries_.size(), std::memory_order_relaxed);
}

std::vector<DeferredTimes::Entry> DeferredTimes::take_all() {
  std::lock_guard lock(mutex_);
  std::vector<Entry> out;
  out.reserve(entries_.size());
  for (const auto& [ino, v] : entries_) out.push_back({ino, v.generation, v.mtime, v.ctime});
  entries_.clear();
  count_.store(0, std::memory_order_relaxed);
  return out;
}

bool DeferredTimes::older_than(std::chrono::steady_clock::duration age) const {
  if (empty()) return false;
  std::lock_guard lock(mutex_);
  return !entries_.empty() && std::chrono::steady_clock::now() - oldest_ > age;
}

}  // namespace pinfs::fs
