#include "pin/pin_registry.h"

#include <algorithm>
#include <cassert>
#include <iterator>
#include <utility>

namespace pinfs::pin {
namespace {

std::string pin_object(PinId id) { return "<pin " + std::to_string(id) + ">"; }

// Clips the extents to `range`, sorts them by file offset and checks that
// they cover it exactly once.
Result<std::vector<fs::Extent>> clip_extents(const PinSpec& spec) {
  const ByteRange& range = spec.file_range;
  const std::string object = describe_file(spec.ino, spec.path) + " " + format_range(range);
  std::vector<fs::Extent> clipped;
  clipped.reserve(spec.extents.size());
  for (const fs::Extent& extent : spec.extents) {
    if (extent.length == 0) continue;
    if (extent.file_offset > UINT64_MAX - extent.length ||
        extent.media_offset > UINT64_MAX - extent.length) {
      return Error(EINVAL, "pin", object,
                   "extent at file offset " + std::to_string(extent.file_offset) +
                       " wraps around the address space");
    }
    ByteRange in_file{extent.file_offset, extent.length};
    ByteRange kept = in_file.intersection(range);
    if (kept.empty()) continue;
    clipped.push_back(fs::Extent{kept.offset,
                                 extent.media_offset + (kept.offset - extent.file_offset),
                                 kept.length});
  }
  std::sort(clipped.begin(), clipped.end(),
            [](const fs::Extent& a, const fs::Extent& b) { return a.file_offset < b.file_offset; });
  std::uint64_t cursor = range.offset;
  for (const fs::Extent& extent : clipped) {
    if (extent.file_offset > cursor) {
      return Error(EINVAL, "pin", object,
                   "the range has a hole at " +
                       format_range(ByteRange::from_bounds(cursor, extent.file_offset)) +
                       "; allocate it (under a write lease) before pinning");
    }
    if (extent.file_offset < cursor) {
      return Error(EINVAL, "pin", object,
                   "extents overlap at file offset " + std::to_string(extent.file_offset));
    }
    cursor = extent.file_offset + extent.length;
  }
  if (cursor < range.end()) {
    return Error(EINVAL, "pin", object,
                 "the range has a hole at " +
                     format_range(ByteRange::from_bounds(cursor, range.end())) +
                     "; allocate it (under a write lease) before pinning");
  }
  return clipped;
}

}  // namespace

Result<PinId> PinRegistry::add(PinSpec spec) {
  const ByteRange& range = spec.file_range;
  if (range.empty() || range.length == fs::kToEnd || range.offset > UINT64_MAX - range.length) {
    return Error(EINVAL, "pin", describe_file(spec.ino, spec.path) + " " + format_range(range),
                 "a pin covers a bounded, non-empty range");
  }
  PINFS_ASSIGN_OR_RETURN(std::vector<fs::Extent> extents, clip_extents(spec));

  std::lock_guard lock(mu_);
  const PinId id = next_id_++;
  FilePin pin;
  pin.id = id;
  pin.client = std::move(spec.client);
  pin.lease_id = spec.lease_id;
  pin.ino = spec.ino;
  pin.path = std::move(spec.path);
  pin.file_range = range;
  pin.extents = std::move(extents);
  pin.created_at = std::chrono::system_clock::now();
  pin.state = PinState::active;

  for (const fs::Extent& extent : pin.extents) coverage_.add(ByteRange{extent.media_offset, extent.length});
  by_inode_[pin.ino].insert(range.offset, range.end(), id);
  by_client_[pin.client.id].insert(id);
  by_lease_[pin.lease_id].insert(id);
  pins_.emplace(id, std::move(pin));
  return id;
}

Status PinRegistry::restore_orphan(FilePin pin) {
  PinSpec spec;
  spec.ino = pin.ino;
  spec.path = pin.path;
  spec.file_range = pin.file_range;
  spec.extents = pin.extents;
  const ByteRange& range = pin.file_range;
  if (pin.id == 0 || range.empty() || range.offset > UINT64_MAX - range.length) {
    return Error(EINVAL, "restore pin", pin_object(pin.id), "pin id 0 or an empty range");
  }
  PINFS_ASSIGN_OR_RETURN(std::vector<fs::Extent> extents, clip_extents(spec));

  std::lock_guard lock(mu_);
  if (pins_.count(pin.id) != 0) return Error(EEXIST, "restore pin", pin_object(pin.id), "the id is in use");
  const PinId id = pin.id;
  next_id_ = std::max(next_id_, id + 1);
  pin.extents = std::move(extents);
  pin.state = PinState::orphaned;
  for (const fs::Extent& extent : pin.extents) coverage_.add(ByteRange{extent.media_offset, extent.length});
  by_inode_[pin.ino].insert(range.offset, range.end(), id);
  by_client_[pin.client.id].insert(id);
  orphaned_.insert(id);
  pins_.emplace(id, std::move(pin));
  return ok_status();
}

bool PinRegistry::adopt_quarantine(const ByteRange& media) { return quarantine_if_pinned(media); }

void PinRegistry::erase_locked(PinId id, std::vector<ByteRange>& released) {
  auto it = pins_.find(id);
  assert(it != pins_.end() && "PinRegistry: erasing a pin that is not registered");
  if (it == pins_.end()) return;
  FilePin& pin = it->second;

  auto inode = by_inode_.find(pin.ino);
  if (inode != by_inode_.end()) {
    inode->second.erase(pin.file_range.offset, id);
    if (inode->second.empty()) by_inode_.erase(inode);
  }
  auto client = by_client_.find(pin.client.id);
  if (client != by_client_.end()) {
    client->second.erase(id);
    if (client->second.empty()) by_client_.erase(client);
  }
  switch (pin.state) {
    case PinState::active: {
      auto lease = by_lease_.find(pin.lease_id);
      if (lease != by_lease_.end()) {
        lease->second.erase(id);
        if (lease->second.empty()) by_lease_.erase(lease);
      }
      break;
    }
    case PinState::revoked: --revoked_count_; break;
    case PinState::orphaned: orphaned_.erase(id); break;
  }
  for (const fs::Extent& extent : pin.extents) {
    for (const ByteRange& unpinned : coverage_.remove(ByteRange{extent.media_offset, extent.length})) {
      release_marks_locked(unpinned, released);
    }
  }
  pins_.erase(it);
}

void PinRegistry::release_marks_locked(const ByteRange& unpinned, std::vector<ByteRange>& released) {
  auto it = quarantine_marks_.upper_bound(unpinned.offset);
  if (it != quarantine_marks_.begin() && std::prev(it)->second > unpinned.offset) --it;
  while (it != quarantine_marks_.end() && it->first < unpinned.end()) {
    ByteRange mark = ByteRange::from_bounds(it->first, it->second);
    if (coverage_.any(mark)) {
      ++it;
      continue;
    }
    released.push_back(mark);
    quarantined_bytes_ -= mark.length;
    it = quarantine_marks_.erase(it);
  }
}

Result<std::vector<ByteRange>> PinRegistry::remove(PinId id) {
  std::lock_guard lock(mu_);
  if (pins_.find(id) == pins_.end()) return Error(ENOENT, "unpin", pin_object(id), "no such pin");
  std::vector<ByteRange> released;
  erase_locked(id, released);
  return released;
}

Result<std::vector<ByteRange>> PinRegistry::remove_owned(ClientId client, PinId id) {
  std::lock_guard lock(mu_);
  auto it = pins_.find(id);
  if (it == pins_.end()) return Error(ENOENT, "unpin", pin_object(id), "no such pin");
  if (it->second.client.id != client) {
    return Error(EPERM, "unpin", pin_object(id),
                 "held by " + describe(it->second.client) + ", not client " +
                     std::to_string(client));
  }
  std::vector<ByteRange> released;
  erase_locked(id, released);
  return released;
}

std::vector<ByteRange> PinRegistry::remove_lease_pins(LeaseId lease) {
  std::lock_guard lock(mu_);
  std::vector<ByteRange> released;
  auto it = by_lease_.find(lease);
  if (it == by_lease_.end()) return released;
  const std::vector<PinId> ids(it->second.begin(), it->second.end());  // erase_locked edits the set
  for (PinId id : ids) erase_locked(id, released);
  return released;
}

std::vector<PinId> PinRegistry::revoke_lease_pins(LeaseId lease) {
  std::lock_guard lock(mu_);
  std::vector<PinId> revoked;
  auto it = by_lease_.find(lease);
  if (it == by_lease_.end()) return revoked;
  for (PinId id : it->second) {
    pins_.at(id).state = PinState::revoked;
    ++revoked_count_;
    revoked.push_back(id);
  }
  std::sort(revoked.begin(), revoked.end());
  by_lease_.erase(it);
  return revoked;
}

void PinRegistry::orphan_client_pins(ClientId client) {
  std::lock_guard lock(mu_);
  auto it = by_client_.find(client);
  if (it == by_client_.end()) return;
  for (PinId id : it->second) {
    FilePin& pin = pins_.at(id);
    if (pin.state == PinState::orphaned) continue;
    if (pin.state == PinState::active) {
      auto lease = by_lease_.find(pin.lease_id);
      if (lease != by_lease_.end()) {
        lease->second.erase(id);
        if (lease->second.empty()) by_lease_.erase(lease);
      }
    } else {
      --revoked_count_;
    }
    pin.state = PinState::orphaned;
    orphaned_.insert(id);
  }
}

ReclaimReport PinRegistry::reclaim_orphans(ReclaimProbes& probes) {
  struct Candidate {
    PinId id;
    ClientIdentity client;
    std::vector<Registration> registrations;
  };
  std::vector<Candidate> candidates;
  {
    std::lock_guard lock(mu_);
    candidates.reserve(orphaned_.size());
    for (PinId id : orphaned_) {
      const FilePin& pin = pins_.at(id);
      candidates.push_back({id, pin.client, pin.registrations});
    }
  }

  // Probed without the lock: a netlink dump takes milliseconds, and the file
  // system's is_pinned() must not wait for it. The process first: while it
  // lives it can still register, so its registrations are not worth asking.
  std::unordered_map<ClientId, bool> gone_by_client;
  std::vector<PinId> ending;
  ReclaimReport report;
  for (const Candidate& candidate : candidates) {
    auto known = gone_by_client.find(candidate.client.id);
    if (known == gone_by_client.end()) {
      Result<bool> gone = probes.process_gone(candidate.client);
      known = gone_by_client.emplace(candidate.client.id, gone.ok() && *gone).first;
    }
    bool may_end = known->second;
    for (const Registration& registration : candidate.registrations) {
      if (!may_end) break;
      Result<bool> alive = probes.registration_alive(candidate.client, registration);
      if (!alive.ok() || *alive) may_end = false;
    }
    if (may_end) {
      ending.push_back(candidate.id);
    } else {
      ++report.still_waiting;
    }
  }

  std::lock_guard lock(mu_);
  for (PinId id : ending) {
    auto it = pins_.find(id);
    // Orphaned pins change only by being reclaimed; a concurrent reclaim may
    // have ended this one already.
    if (it == pins_.end() || it->second.state != PinState::orphaned) continue;
    erase_locked(id, report.released_quarantine);
    report.reclaimed.push_back(id);
  }
  return report;
}

Status PinRegistry::add_registration(ClientId client, PinId id, Registration registration) {
  PINFS_TRY(validate(registration));
  std::lock_guard lock(mu_);
  auto it = pins_.find(id);
  if (it == pins_.end()) return Error(ENOENT, "report registration", pin_object(id), "no such pin");
  FilePin& pin = it->second;
  if (pin.client.id != client) {
    return Error(EPERM, "report registration", pin_object(id), "held by " + describe(pin.client));
  }
  if (pin.registrations.size() >= kMaxRegistrationsPerPin) {
    return Error(E2BIG, "report registration", pin_object(id),
                 "a pin carries at most " + std::to_string(kMaxRegistrationsPerPin) +
                     " registrations");
  }
  pin.registrations.push_back(std::move(registration));
  return ok_status();
}

Status PinRegistry::remove_registration(ClientId client, PinId id, std::string_view device_name,
                                        std::uint32_t rkey) {
  std::lock_guard lock(mu_);
  auto it = pins_.find(id);
  if (it == pins_.end()) return Error(ENOENT, "report deregistration", pin_object(id), "no such pin");
  FilePin& pin = it->second;
  if (pin.client.id != client) {
    return Error(EPERM, "report deregistration", pin_object(id), "held by " + describe(pin.client));
  }
  auto found = std::find_if(pin.registrations.begin(), pin.registrations.end(),
                            [&](const Registration& r) {
                              return r.device_name == device_name && r.rkey == rkey;
                            });
  if (found == pin.registrations.end()) {
    return Error(ENOENT, "report deregistration", pin_object(id),
                 "no registration with rkey " + std::to_string(rkey) + " on '" +
                     std::string(device_name) + "'");
  }
  pin.registrations.erase(found);
  return ok_status();
}

bool PinRegistry::is_pinned(const ByteRange& media) const {
  std::lock_guard lock(mu_);
  return coverage_.any(media);
}

bool PinRegistry::quarantine_if_pinned(const ByteRange& media) {
  std::lock_guard lock(mu_);
  if (!coverage_.any(media)) return false;
  // The file system quarantines the whole range it asked about. Ranges it
  // quarantines are disjoint (a quarantined byte is in no file, so it is
  // never asked about again until released); joining overlaps anyway keeps
  // the marks disjoint should that ever change.
  std::uint64_t begin = media.offset;
  std::uint64_t end = media.end();
  auto it = quarantine_marks_.upper_bound(begin);
  if (it != quarantine_marks_.begin() && std::prev(it)->second > begin) --it;
  while (it != quarantine_marks_.end() && it->first < end) {
    begin = std::min(begin, it->first);
    end = std::max(end, it->second);
    quarantined_bytes_ -= it->second - it->first;
    it = quarantine_marks_.erase(it);
  }
  quarantine_marks_.emplace(begin, end);
  quarantined_bytes_ += end - begin;
  return true;
}

std::optional<FilePin> PinRegistry::find(PinId id) const {
  std::lock_guard lock(mu_);
  auto it = pins_.find(id);
  if (it == pins_.end()) return std::nullopt;
  return it->second;
}

std::vector<FilePin> PinRegistry::list() const {
  std::lock_guard lock(mu_);
  std::vector<FilePin> out;
  out.reserve(pins_.size());
  for (const auto& [id, pin] : pins_) out.push_back(pin);
  std::sort(out.begin(), out.end(), [](const FilePin& a, const FilePin& b) { return a.id < b.id; });
  return out;
}

std::vector<FilePin> PinRegistry::by_client(ClientId client) const {
  std::lock_guard lock(mu_);
  std::vector<FilePin> out;
  auto it = by_client_.find(client);
  if (it == by_client_.end()) return out;
  std::vector<PinId> ids(it->second.begin(), it->second.end());
  std::sort(ids.begin(), ids.end());
  for (PinId id : ids) out.push_back(pins_.at(id));
  return out;
}

std::vector<FilePin> PinRegistry::by_lease(LeaseId lease) const {
  std::lock_guard lock(mu_);
  std::vector<FilePin> out;
  auto it = by_lease_.find(lease);
  if (it == by_lease_.end()) return out;
  std::vector<PinId> ids(it->second.begin(), it->second.end());
  std::sort(ids.begin(), ids.end());
  for (PinId id : ids) out.push_back(pins_.at(id));
  return out;
}

std::vector<PinId> PinRegistry::overlapping(fs::InodeNumber ino, const ByteRange& range) const {
  std::lock_guard lock(mu_);
  std::vector<PinId> out;
  auto it = by_inode_.find(ino);
  if (it == by_inode_.end()) return out;
  it->second.for_each_overlapping(range.offset, range.end(),
                                  [&](std::uint64_t, std::uint64_t, std::uint64_t id) {
                                    out.push_back(id);
                                  });
  return out;
}

std::size_t PinRegistry::count_for_client(ClientId client) const {
  std::lock_guard lock(mu_);
  auto it = by_client_.find(client);
  return it == by_client_.end() ? 0 : it->second.size();
}

std::size_t PinRegistry::count_for_lease(LeaseId lease) const {
  std::lock_guard lock(mu_);
  auto it = by_lease_.find(lease);
  return it == by_lease_.end() ? 0 : it->second.size();
}

PinRegistryStats PinRegistry::stats() const {
  std::lock_guard lock(mu_);
  PinRegistryStats stats;
  stats.pins = pins_.size();
  stats.revoked_pins = revoked_count_;
  stats.orphaned_pins = orphaned_.size();
  stats.active_pins = pins_.size() - revoked_count_ - orphaned_.size();
  stats.pinned_media_bytes = coverage_.covered_bytes();
  stats.quarantined_bytes = quarantined_bytes_;
  return stats;
}

}  // namespace pinfs::pin
