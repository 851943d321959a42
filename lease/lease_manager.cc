#include "lease/lease_manager.h"

#include <algorithm>
#include <cassert>

namespace pinfs::lease {
namespace {

// The operation's name in errors. fs::to_string(LayoutChangeKind) belongs to
// the file system library, which lease/ does not link.
const char* operation_name(fs::LayoutChangeKind kind) {
  switch (kind) {
    case fs::LayoutChangeKind::truncate_down: return "truncate";
    case fs::LayoutChangeKind::punch_hole: return "punch";
    case fs::LayoutChangeKind::collapse_range: return "collapse range";
    case fs::LayoutChangeKind::insert_range: return "insert range";
    case fs::LayoutChangeKind::final_unlink: return "unlink";
    case fs::LayoutChangeKind::make_mappable: return "make mappable";
  }
  return "change layout";
}

std::string lease_object(LeaseId id) { return "<lease " + std::to_string(id) + ">"; }

}  // namespace

ByteRange effective_range(const fs::LayoutChange& change) {
  switch (change.kind) {
    case fs::LayoutChangeKind::punch_hole:
      return ByteRange{change.offset, change.length};
    case fs::LayoutChangeKind::truncate_down:
    case fs::LayoutChangeKind::collapse_range:
    case fs::LayoutChangeKind::insert_range:
      // Everything past the offset is freed or shifts to other file offsets.
      return ByteRange{change.offset, fs::kToEnd};
    case fs::LayoutChangeKind::final_unlink:
    case fs::LayoutChangeKind::make_mappable:
      return ByteRange{0, fs::kToEnd};
  }
  return ByteRange{0, fs::kToEnd};
}

LeaseManager::LeaseManager(LeaseManagerOptions options) : options_(std::move(options)) {}

LeaseManager::~LeaseManager() {
  std::lock_guard lock(mu_);
  for ([[maybe_unused]] const auto& [ino, inode] : inodes_) {
    assert(inode.changes.empty() &&
           "LeaseManager destroyed while a layout change is in progress");
  }
}

void LeaseManager::deliver(Outbox& outbox) {
  for (auto& [sink, event] : outbox.events) sink->on_lease_event(event);
  outbox.events.clear();
  if (!outbox.ended_pins.empty() && options_.recorder != nullptr) {
    options_.recorder->erase(outbox.ended_pins);
  }
  outbox.ended_pins.clear();
  if (!outbox.released_quarantine.empty() && options_.on_quarantine_released) {
    options_.on_quarantine_released(outbox.released_quarantine);
  }
  outbox.released_quarantine.clear();
}

void LeaseManager::sync_point(std::string_view point) const {
  if (options_.sync_point) options_.sync_point(point);
}

LeaseManager::InodeState& LeaseManager::inode_locked(fs::InodeNumber ino) {
  auto [it, inserted] = inodes_.try_emplace(ino);
  if (inserted) it->second.layout_stamp = layout_clock_;
  return it->second;
}

void LeaseManager::forget_inode_if_idle_locked(fs::InodeNumber ino) {
  auto it = inodes_.find(ino);
  if (it != inodes_.end() && it->second.leases.empty() && it->second.changes.empty()) {
    inodes_.erase(it);
  }
}

void LeaseManager::erase_lease_locked(LeaseId id) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return;
  const Lease& lease = it->second;
  auto inode = inodes_.find(lease.ino);
  if (inode != inodes_.end()) inode->second.leases.erase(lease.range.offset, id);
  auto client = clients_.find(lease.client);
  if (client != clients_.end()) client->second.leases.erase(id);
  const fs::InodeNumber ino = lease.ino;
  leases_.erase(it);
  forget_inode_if_idle_locked(ino);
}

std::string LeaseManager::holder_locked(const Lease& lease) const {
  auto client = clients_.find(lease.client);
  if (client == clients_.end()) return "client " + std::to_string(lease.client);
  return pin::describe(client->second.identity);
}

void LeaseManager::queue_event_locked(const Lease& lease, LeaseEventKind kind,
                                      const Change& change, Outbox& outbox,
                                      std::vector<PinId> revoked_pins) {
  auto client = clients_.find(lease.client);
  if (client == clients_.end() || !client->second.sink) return;
  LeaseEvent event;
  event.kind = kind;
  event.sequence = ++event_sequence_;
  event.lease = lease.id;
  event.ino = lease.ino;
  event.path = lease.path;
  event.lease_range = lease.range;
  event.ranges.push_back(change.range.intersection(lease.range));
  event.change = change.change.kind;
  event.requester_pid = change.requester_pid;
  event.deadline = change.deadline;
  event.revoked_pins = std::move(revoked_pins);
  outbox.events.emplace_back(client->second.sink, std::move(event));
}

void LeaseManager::abandon_change_locked(InodeState& inode, ChangeId id, Outbox& outbox) {
  auto change = inode.changes.find(id);
  assert(change != inode.changes.end());
  // Only leases overlapping the change can carry its mark.
  const ByteRange range = change->second.range;
  inode.leases.for_each_overlapping(
      range.offset, range.end(), [&](std::uint64_t, std::uint64_t, std::uint64_t lease_id) {
        Lease& lease = leases_.at(lease_id);
        if (lease.breaking.erase(id) == 0) return;
        if (lease.breaking.empty() && lease.type != LeaseType::unbreakable) {
          queue_event_locked(lease, LeaseEventKind::break_abandoned, change->second, outbox);
        }
      });
  const fs::InodeNumber ino = change->second.change.ino;
  inode.changes.erase(change);
  forget_inode_if_idle_locked(ino);  // may invalidate `inode`
  ++state_version_;
  state_changed_.notify_all();
}

void LeaseManager::start_change_locked(InodeState& inode, ChangeId id) {
  Change& change = inode.changes.at(id);
  change.executing = true;
  // Whatever still carries this change's mark no longer conflicts with it.
  inode.leases.for_each_overlapping(change.range.offset, change.range.end(),
                                    [&](std::uint64_t, std::uint64_t, std::uint64_t lease_id) {
                                      leases_.at(lease_id).breaking.erase(id);
                                    });
  inode.layout_stamp = ++layout_clock_;
}

Status LeaseManager::connect_client(ClientIdentity identity,
                                    std::shared_ptr<LeaseEventSink> sink) {
  if (identity.id == 0) return Error(EINVAL, "connect", "<client 0>", "client id 0 is reserved");
  std::lock_guard lock(mu_);
  const ClientId id = identity.id;
  auto [it, inserted] = clients_.try_emplace(id);
  if (!inserted) {
    return Error(EEXIST, "connect", "<client " + std::to_string(id) + ">",
                 "already connected as " + pin::describe(it->second.identity));
  }
  it->second.identity = std::move(identity);
  it->second.sink = std::move(sink);
  return ok_status();
}

void LeaseManager::drop_client(ClientId client_id) {
  std::lock_guard lock(mu_);
  auto client = clients_.find(client_id);
  if (client == clients_.end()) return;
  const std::set<LeaseId> leases = client->second.leases;
  for (LeaseId id : leases) erase_lease_locked(id);
  // Its pins stay, orphaned: the process may live on (only the socket
  // closed) and its registrations may outlive it (a child holds the uverbs
  // file). reclaim() ends them once both are known gone.
  pins_.orphan_client_pins(client_id);
  clients_.erase(client);
  ++state_version_;
  state_changed_.notify_all();
}

Result<LeaseId> LeaseManager::acquire(const LeaseRequest& request) {
  const std::string object =
      pin::describe_file(request.ino, request.path) + " " + pin::format_range(request.range);
  const std::string op = std::string("take ") + to_string(request.type) + " lease";
  if (request.range.empty()) return Error(EINVAL, op, object, "the range is empty");

  std::lock_guard lock(mu_);
  auto client = clients_.find(request.client);
  if (client == clients_.end()) {
    return Error(ENOTCONN, op, object, "client " + std::to_string(request.client) + " is not connected");
  }
  if (client->second.leases.size() >= options_.max_leases_per_client) {
    return Error(ENOLCK, op, object,
                 "a client holds at most " + std::to_string(options_.max_leases_per_client) +
                     " leases");
  }
  auto inode = inodes_.find(request.ino);
  if (inode != inodes_.end()) {
    for (const auto& [id, change] : inode->second.changes) {
      if (change.range.overlaps(request.range)) {
        return Error(EAGAIN, op, object,
                     std::string("a ") + operation_name(change.change.kind) + " by pid " +
                         std::to_string(change.requester_pid) + " over " +
                         pin::format_range(change.range) + " is in progress; try again");
      }
    }
    const Lease* conflict = nullptr;
    inode->second.leases.for_each_overlapping(
        request.range.offset, request.range.end(),
        [&](std::uint64_t, std::uint64_t, std::uint64_t id) {
          const Lease& lease = leases_.at(id);
          if (conflict == nullptr && lease.client != request.client &&
              (request.type == LeaseType::write || lease.type == LeaseType::write)) {
            conflict = &lease;
          }
        });
    if (conflict != nullptr) {
      return Error(EAGAIN, op, object,
                   std::string("conflicts with ") + to_string(conflict->type) + " lease " +
                       std::to_string(conflict->id) + " over " + pin::format_range(conflict->range) +
                       " held by " + holder_locked(*conflict));
    }
  }

  InodeState& state = inode_locked(request.ino);
  const LeaseId id = next_lease_id_++;
  Lease lease;
  lease.id = id;
  lease.client = request.client;
  lease.pid = client->second.identity.pid;
  lease.ino = request.ino;
  lease.path = request.path;
  lease.range = request.range;
  lease.type = request.type;
  lease.acquired_at = std::chrono::system_clock::now();
  state.leases.insert(lease.range.offset, lease.range.end(), id);
  client->second.leases.insert(id);
  leases_.emplace(id, std::move(lease));
  return id;
}

Result<const LeaseManager::Lease*> LeaseManager::owned_lease_locked(ClientId client, LeaseId id,
                                                                    const char* op) const {
  auto it = leases_.find(id);
  if (it == leases_.end()) {
    return Error(ENOENT, op, lease_object(id), "no such lease (released, revoked or never taken)");
  }
  if (it->second.client != client) {
    return Error(EPERM, op, lease_object(id),
                 "held by " + holder_locked(it->second) + ", not client " + std::to_string(client));
  }
  return &it->second;
}

Status LeaseManager::release(ClientId client, LeaseId id) {
  Outbox outbox;
  {
    std::lock_guard lock(mu_);
    PINFS_ASSIGN_OR_RETURN(const Lease* lease, owned_lease_locked(client, id, "release lease"));
    (void)lease;
    // The pin holds the lease: its pins go first.
    for (const pin::FilePin& pin : pins_.by_lease(id)) outbox.ended_pins.push_back(pin.id);
    outbox.released_quarantine = pins_.remove_lease_pins(id);
    erase_lease_locked(id);
    ++state_version_;
    state_changed_.notify_all();
  }
  deliver(outbox);
  return ok_status();
}

Status LeaseManager::downgrade(ClientId client, LeaseId id, LeaseType to) {
  std::lock_guard lock(mu_);
  PINFS_ASSIGN_OR_RETURN(const Lease* found, owned_lease_locked(client, id, "downgrade lease"));
  Lease& lease = leases_.at(found->id);
  if (lease.type != LeaseType::write) {
    return Error(EINVAL, "downgrade lease", lease_object(id),
                 std::string("only a write lease can be downgraded; this one is ") +
                     to_string(lease.type));
  }
  if (to == LeaseType::write) {
    return Error(EINVAL, "downgrade lease", lease_object(id), "downgrade to read or unbreakable");
  }
  // Atomic under mu_: a change waiting to break this lease sees either the
  // write lease or the downgraded one, never a moment without a lease.
  lease.type = to;
  ++state_version_;
  state_changed_.notify_all();
  return ok_status();
}

std::uint64_t LeaseManager::layout_generation(fs::InodeNumber ino) const {
  std::lock_guard lock(mu_);
  auto it = inodes_.find(ino);
  return it == inodes_.end() ? layout_clock_ : it->second.layout_stamp;
}

Result<PinId> LeaseManager::pin(const PinRequest& request) {
  PINFS_ASSIGN_OR_RETURN(PinId id, pin_locked(request));
  if (options_.recorder == nullptr) return id;
  // Recorded before the client hears of it: until then it has registered
  // nothing, so a crash before the record is durable loses nothing.
  if (Status recorded = record_pin(id, "pin"); !recorded.ok()) {
    Outbox outbox;
    if (auto released = pins_.remove(id); released.ok()) {
      outbox.released_quarantine = std::move(*released);
      outbox.ended_pins.push_back(id);
    }
    deliver(outbox);
    return std::move(recorded).error();
  }
  return id;
}

Status LeaseManager::record_pin(PinId id, const char* op) {
  std::optional<pin::FilePin> pin = pins_.find(id);
  if (!pin) {
    return Error(EAGAIN, op, "<pin " + std::to_string(id) + ">",
                 "the pin ended while it was being recorded (its lease was released)");
  }
  PINFS_TRY(options_.recorder->record(*pin));
  // Ended meanwhile (its lease released by another thread): its erase may
  // have run before this record landed.
  if (!pins_.find(id)) options_.recorder->erase({id});
  return ok_status();
}

Result<PinId> LeaseManager::pin_locked(const PinRequest& request) {
  std::lock_guard lock(mu_);
  auto client = clients_.find(request.client);
  auto lease_it = leases_.find(request.lease);
  // Built only on the error paths: pinning is hot.
  auto object = [&] {
    if (lease_it == leases_.end()) return lease_object(request.lease) + " " + pin::format_range(request.range);
    return pin::describe_file(lease_it->second.ino, lease_it->second.path) + " " +
           pin::format_range(request.range);
  };
  if (client == clients_.end()) {
    return Error(ENOTCONN, "pin", object(),
                 "client " + std::to_string(request.client) + " is not connected");
  }
  if (lease_it == leases_.end()) {
    return Error(EPERM, "pin", object(),
                 "no lease " + std::to_string(request.lease) + ": a file_pin needs a layout lease");
  }
  const Lease& lease = lease_it->second;
  if (lease.client != request.client) {
    return Error(EPERM, "pin", object(),
                 "lease " + std::to_string(lease.id) + " is held by " + holder_locked(lease));
  }
  if (lease.type == LeaseType::write) {
    return Error(EPERM, "pin", object(),
                 "lease " + std::to_string(lease.id) +
                     " is a write lease: downgrade it to read or unbreakable before pinning");
  }
  if (!lease.range.contains(request.range)) {
    return Error(EPERM, "pin", object(),
                 "lease " + std::to_string(lease.id) + " covers only " +
                     pin::format_range(lease.range));
  }
  // A change still waiting for breaks cannot proceed past this lease without
  // it being released (it is marked breaking) or being unbreakable (the
  // change will fail): pending changes need no check here. A change past
  // begin_layout_change may be freeing blocks of this range right now.
  if (is_breaking(lease)) {
    return Error(EAGAIN, "pin", object(),
                 "lease " + std::to_string(lease.id) +
                     " is being broken: release its pins and the lease");
  }
  const InodeState& inode = inodes_.at(lease.ino);
  for (const auto& [id, change] : inode.changes) {
    if (change.executing && change.range.overlaps(request.range)) {
      return Error(EAGAIN, "pin", object(),
                   std::string("a ") + operation_name(change.change.kind) + " by pid " +
                       std::to_string(change.requester_pid) + " over " +
                       pin::format_range(change.range) + " is in progress; try again");
    }
  }
  if (request.layout_generation != inode.layout_stamp) {
    return Error(EAGAIN, "pin", object(),
                 "the file's layout changed since its extents were read (generation " +
                     std::to_string(request.layout_generation) + ", now " +
                     std::to_string(inode.layout_stamp) + "); read them again");
  }
  if (pins_.count_for_client(request.client) >= options_.max_pins_per_client) {
    return Error(ENOMEM, "pin", object(),
                 "a client holds at most " + std::to_string(options_.max_pins_per_client) + " pins");
  }
  pin::PinSpec spec;
  spec.client = client->second.identity;
  spec.lease_id = lease.id;
  spec.ino = lease.ino;
  spec.path = lease.path;
  spec.file_range = request.range;
  spec.extents = request.extents;
  return pins_.add(std::move(spec));
}

Status LeaseManager::unpin(ClientId client, PinId id) {
  Outbox outbox;
  {
    std::lock_guard lock(mu_);
    if (clients_.find(client) == clients_.end()) {
      return Error(ENOTCONN, "unpin", "<pin " + std::to_string(id) + ">",
                   "client " + std::to_string(client) + " is not connected");
    }
    PINFS_ASSIGN_OR_RETURN(outbox.released_quarantine, pins_.remove_owned(client, id));
    outbox.ended_pins.push_back(id);
  }
  deliver(outbox);
  return ok_status();
}

Status LeaseManager::add_registration(ClientId client, PinId pin,
                                      pin::Registration registration) {
  PINFS_TRY(pins_.add_registration(client, pin, std::move(registration)));
  // Recorded before the report is answered: after a restart, the pin waits
  // for this registration to leave the kernel's table. On failure the
  // registration stays known in memory (safe) and the client is told.
  if (options_.recorder != nullptr) PINFS_TRY(record_pin(pin, "report registration"));
  return ok_status();
}

Status LeaseManager::remove_registration(ClientId client, PinId pin, std::string_view device_name,
                                         std::uint32_t rkey) {
  PINFS_TRY(pins_.remove_registration(client, pin, device_name, rkey));
  if (options_.recorder != nullptr) PINFS_TRY(record_pin(pin, "report deregistration"));
  return ok_status();
}

pin::ReclaimReport LeaseManager::reclaim(pin::ReclaimProbes& probes) {
  pin::ReclaimReport report = pins_.reclaim_orphans(probes);
  if (!report.reclaimed.empty() && options_.recorder != nullptr) {
    options_.recorder->erase(report.reclaimed);
  }
  if (!report.released_quarantine.empty() && options_.on_quarantine_released) {
    options_.on_quarantine_released(report.released_quarantine);
  }
  return report;
}

Status LeaseManager::restore_orphaned_pins(std::vector<pin::FilePin> pins) {
  for (pin::FilePin& pin : pins) PINFS_TRY(pins_.restore_orphan(std::move(pin)));
  return ok_status();
}

std::vector<ByteRange> LeaseManager::adopt_quarantine(const std::vector<ByteRange>& quarantined) {
  std::vector<ByteRange> unpinned;
  for (const ByteRange& range : quarantined) {
    if (!pins_.adopt_quarantine(range)) unpinned.push_back(range);
  }
  return unpinned;
}

LeaseInfo LeaseManager::info_locked(const Lease& lease) const {
  LeaseInfo info;
  info.id = lease.id;
  auto client = clients_.find(lease.client);
  if (client != clients_.end()) info.holder = client->second.identity;
  info.ino = lease.ino;
  info.path = lease.path;
  info.range = lease.range;
  info.type = lease.type;
  info.breaking = is_breaking(lease);
  if (info.breaking) {
    const InodeState& inode = inodes_.at(lease.ino);
    for (ChangeId id : lease.breaking) {
      auto change = inode.changes.find(id);
      if (change == inode.changes.end()) continue;
      if (!info.break_deadline || change->second.deadline < *info.break_deadline) {
        info.break_deadline = change->second.deadline;
      }
    }
  }
  info.pins = pins_.count_for_lease(lease.id);
  info.acquired_at = lease.acquired_at;
  return info;
}

std::vector<LeaseInfo> LeaseManager::leases() const {
  std::lock_guard lock(mu_);
  std::vector<LeaseInfo> out;
  out.reserve(leases_.size());
  for (const auto& [id, lease] : leases_) out.push_back(info_locked(lease));
  std::sort(out.begin(), out.end(), [](const LeaseInfo& a, const LeaseInfo& b) { return a.id < b.id; });
  return out;
}

std::vector<LeaseInfo> LeaseManager::leases_of(ClientId client_id) const {
  std::lock_guard lock(mu_);
  std::vector<LeaseInfo> out;
  auto client = clients_.find(client_id);
  if (client == clients_.end()) return out;
  for (LeaseId id : client->second.leases) out.push_back(info_locked(leases_.at(id)));
  return out;
}

std::optional<LeaseInfo> LeaseManager::find_lease(LeaseId id) const {
  std::lock_guard lock(mu_);
  auto it = leases_.find(id);
  if (it == leases_.end()) return std::nullopt;
  return info_locked(it->second);
}

LeaseStats LeaseManager::stats() const {
  std::lock_guard lock(mu_);
  LeaseStats stats = counters_;
  stats.clients = clients_.size();
  stats.leases = leases_.size();
  for (const auto& [id, lease] : leases_) {
    switch (lease.type) {
      case LeaseType::read: ++stats.read_leases; break;
      case LeaseType::unbreakable: ++stats.unbreakable_leases; break;
      case LeaseType::write: ++stats.write_leases; break;
    }
  }
  for (const auto& [ino, inode] : inodes_) stats.layout_changes_in_progress += inode.changes.size();
  const pin::PinRegistryStats pins = pins_.stats();
  stats.pins = pins.pins;
  stats.revoked_pins = pins.revoked_pins;
  stats.orphaned_pins = pins.orphaned_pins;
  stats.pinned_bytes = pins.pinned_media_bytes;
  stats.quarantined_bytes = pins.quarantined_bytes;
  return stats;
}

Status LeaseManager::begin_layout_change(const fs::LayoutChange& request) {
  const ByteRange range = effective_range(request);
  const std::string op = operation_name(request.kind);
  Outbox outbox;
  std::unique_lock lock(mu_);

  InodeState* inode = &inode_locked(request.ino);
  // The FUSE front end names the calling thread; leases belong to processes.
  // Finding the process costs a /proc read, so it is done only when the
  // inode has a lease to compare it with (decided under the lock, so a lease
  // granted meanwhile cannot be missed).
  const pid_t requester = request.caller.pid_is_thread && !inode->leases.empty()
                              ? pin::process_of_thread(request.caller.pid)
                              : request.caller.pid;
  const ChangeId change_id = next_change_id_++;
  {
    Change change;
    change.id = change_id;
    change.change = request;
    change.requester_pid = requester;
    change.range = range;
    change.deadline = Clock::now() + std::chrono::milliseconds(options_.lease_break_ms);
    inode->changes.emplace(change_id, std::move(change));
  }
  bool had_to_break = false;

  // Each pass looks at the leases the change overlaps as they are now: a
  // holder may have released, downgraded or died since the last pass.
  for (;;) {
    const Change& change = inode->changes.at(change_id);
    std::string object;
    std::vector<Lease*> to_break;
    std::vector<Lease*> unbreakable;
    Lease* own_unbreakable = nullptr;
    inode->leases.for_each_overlapping(
        range.offset, range.end(), [&](std::uint64_t, std::uint64_t, std::uint64_t id) {
          Lease& lease = leases_.at(id);
          if (object.empty()) object = pin::describe_file(lease.ino, lease.path) + " " + pin::format_range(range);
          // The write-lease holder changes its own layout without breaking it.
          if (lease.type == LeaseType::write && lease.pid == requester) return;
          if (lease.type == LeaseType::unbreakable) {
            if (lease.pid == requester) {
              own_unbreakable = &lease;
            } else {
              unbreakable.push_back(&lease);
            }
            return;
          }
          to_break.push_back(&lease);
        });

    if (own_unbreakable != nullptr) {
      Error error(EDEADLK, op, object,
                  "pid " + std::to_string(requester) + " holds unbreakable lease " +
                      std::to_string(own_unbreakable->id) + " over " +
                      pin::format_range(own_unbreakable->range) +
                      " and asked to change that layout itself: a process cannot break its own "
                      "unbreakable lease");
      ++counters_.breaks_failed;
      abandon_change_locked(*inode, change_id, outbox);
      lock.unlock();
      deliver(outbox);
      return error;
    }
    if (!unbreakable.empty()) {
      const Lease& blocker = *unbreakable.front();
      Error error(ETXTBSY, op, object,
                  std::string(pins_.count_for_lease(blocker.id) > 0 ? "pinned by " : "leased by ") +
                      holder_locked(blocker) + ", unbreakable lease " + std::to_string(blocker.id));
      for (Lease* lease : unbreakable) {
        queue_event_locked(*lease, LeaseEventKind::break_denied, change, outbox);
      }
      ++counters_.breaks_failed;
      abandon_change_locked(*inode, change_id, outbox);
      lock.unlock();
      deliver(outbox);
      return error;
    }
    if (to_break.empty()) {
      if (had_to_break) ++counters_.breaks_completed;
      start_change_locked(*inode, change_id);
      return ok_status();
    }

    bool sent = false;
    for (Lease* lease : to_break) {
      if (!lease->breaking.insert(change_id).second) continue;
      queue_event_locked(*lease, LeaseEventKind::break_requested, change, outbox);
      ++counters_.break_events_sent;
      sent = true;
    }
    had_to_break = true;
    // Every holder gets its BREAK before the deadline can apply, even with a
    // deadline of 0 ms.
    if (!sent && Clock::now() >= change.deadline) {
      ++counters_.breaks_timed_out;
      std::string holder = holder_locked(*to_break.front());
      LeaseId first = to_break.front()->id;
      if (options_.break_policy == BreakPolicy::fail) {
        Error error(ETXTBSY, op, object,
                    "lease " + std::to_string(first) + " held by " + holder +
                        " was not released within " + std::to_string(options_.lease_break_ms) +
                        " ms (break policy: fail)");
        ++counters_.breaks_failed;
        abandon_change_locked(*inode, change_id, outbox);
        lock.unlock();
        deliver(outbox);
        return error;
      }
      // revoke: the leases go; their pins stay recorded (revoked), so
      // is_pinned() keeps their extents out of the free pool.
      for (Lease* lease : to_break) {
        std::vector<PinId> revoked = pins_.revoke_lease_pins(lease->id);
        queue_event_locked(*lease, LeaseEventKind::revoked, change, outbox, std::move(revoked));
        ++counters_.leases_revoked;
        erase_lease_locked(lease->id);  // the inode keeps its entry: this change is in it
      }
      ++state_version_;
      state_changed_.notify_all();
      start_change_locked(*inode, change_id);
      lock.unlock();
      deliver(outbox);
      return ok_status();
    }

    const std::uint64_t version = state_version_;
    const Clock::time_point deadline = change.deadline;
    lock.unlock();
    deliver(outbox);
    sync_point(kSyncPointBeforeBreakWait);
    lock.lock();
    state_changed_.wait_until(lock, deadline, [&] { return state_version_ != version; });
    inode = &inodes_.at(request.ino);  // still there: this change's record keeps it
  }
}

void LeaseManager::end_layout_change(const fs::LayoutChange& request) {
  std::lock_guard lock(mu_);
  auto inode = inodes_.find(request.ino);
  bool found = false;
  if (inode != inodes_.end()) {
    for (auto it = inode->second.changes.begin(); it != inode->second.changes.end(); ++it) {
      const fs::LayoutChange& change = it->second.change;
      if (it->second.executing && change.kind == request.kind && change.offset == request.offset &&
          change.length == request.length && change.caller.pid == request.caller.pid &&
          change.caller.uid == request.caller.uid && change.caller.gid == request.caller.gid) {
        inode->second.changes.erase(it);
        found = true;
        break;
      }
    }
  }
  assert(found && "end_layout_change without a matching successful begin_layout_change");
  if (!found) return;
  inode->second.layout_stamp = ++layout_clock_;
  forget_inode_if_idle_locked(request.ino);
  ++state_version_;
  state_changed_.notify_all();
}

bool LeaseManager::is_pinned(std::uint64_t media_offset, std::uint64_t length) const {
  return pins_.quarantine_if_pinned(ByteRange{media_offset, length});
}

}  // namespace pinfs::lease
