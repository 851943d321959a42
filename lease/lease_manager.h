// LeaseManager: layout leases per file, the break engine with its deadline
// and policy, downgrade, and the pins held under leases — the semantics of
// DESIGN.md §4, which docs/leases.md restates with the decisions below.
//
// The file system sees it only as fs::LayoutHooks:
//  - begin_layout_change() decides, per §4's table, whether a layout change
//    may proceed, and waits (only this call ever waits) while holders are
//    asked to release their leases;
//  - end_layout_change() marks the change done;
//  - is_pinned() answers from the pin registry and records the quarantine.
// The control server (a later step) calls the client side: connect_client,
// acquire/release/downgrade, pin/unpin, add_registration, drop_client.
//
// Pins are recorded durably through options().recorder (invariant 3,
// docs/leases.md "Daemon restart"), always with no lock held: a pin before
// pin() returns its id, a registration change before it is acknowledged,
// and a pin's erase after it ended and before its quarantine is handed
// back. After a restart, restore_orphaned_pins() brings the records back
// as orphans.
//
// Decisions (docs/leases.md, "Decisions"):
//  - Which leases a change breaks: every read or write lease whose range
//    overlaps the change's effective range, pinned or not (a lease also
//    covers the client's mapping of the extents), except a write lease
//    held by the calling process. Truncate, collapse and insert affect
//    everything from their offset to the end of the file; final unlink and
//    make-mappable affect the whole file.
//  - Write-lease window: a competing change that arrives while a write lease
//    is held breaks it like a read lease and waits. If the holder then
//    downgrades to unbreakable, the waiting change fails with ETXTBSY; if it
//    releases, the change proceeds; if the deadline passes, the policy
//    applies. A downgrade takes effect atomically under the manager's lock,
//    so no competing change can slip between the holder's allocation and
//    its pin. Pins are refused under a write lease (EPERM): the holder
//    downgrades first, as §4 says.
//  - A change in progress vs new leases and pins: fail at once with EAGAIN,
//    never wait (the control server must not block behind a break). A new
//    lease whose range overlaps a change that has entered
//    begin_layout_change and not yet ended fails (else new leases could
//    keep a waiting change from ever finishing). A pin fails when its lease
//    is being broken, or when a change past begin_layout_change (executing)
//    overlaps its range. Pins also carry the layout generation their
//    extents were read at; any change of the file's layout since then makes
//    the pin fail. So no pin can sneak in between the hooks' check and the
//    allocator freeing blocks, nor pin extents the file has given up.
//  - A new lease over a range held by another client's write lease, or a
//    write lease over a range another client holds any lease on: EAGAIN
//    (like F_SETLEASE; a lease request never breaks another lease).
//
// Thread-safe. Lock order: mu_, then the pin registry's own mutex (taken
// inside pins_ calls). The file system calls is_pinned() under its lock,
// which takes only the registry's mutex, and calls begin/end with no fs lock
// held; the manager never calls the file system. Event sinks, the
// quarantine callback and sync points are called with no lock held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fs/filesystem.h"
#include "lease/lease.h"
#include "lease/lease_event.h"
#include "lease/lease_options.h"
#include "lease/lease_stats.h"
#include "pin/interval_index.h"
#include "pin/pin_registry.h"
#include "pin/reclaim_probes.h"
#include "pin/registration.h"
#include "pinfs/error.h"

namespace pinfs::lease {

// Sync point: a layout change has sent its BREAK events (if any) and is
// about to wait for holders. Called on every pass of the wait loop.
inline constexpr std::string_view kSyncPointBeforeBreakWait =
    "LeaseManager::begin_layout_change:before_break_wait";

// The bytes a layout change affects, as the manager reads LayoutChange.
ByteRange effective_range(const fs::LayoutChange& change);

class LeaseManager final : public fs::LayoutHooks {
 public:
  explicit LeaseManager(LeaseManagerOptions options = {});
  ~LeaseManager() override;
  LeaseManager(const LeaseManager&) = delete;
  LeaseManager& operator=(const LeaseManager&) = delete;

  const LeaseManagerOptions& options() const { return options_; }

  // A client connected. EEXIST: the id is in use; EINVAL: id 0. The sink
  // (may be null) receives this client's events.
  [[nodiscard]] Status connect_client(ClientIdentity identity,
                                      std::shared_ptr<LeaseEventSink> sink);
  // The client's connection closed (it died, or hung up): its leases go at
  // once (waiting layout changes proceed), its pins become orphaned and keep
  // their extents pinned until reclaim() finds the process and its
  // registrations gone. Unknown ids are ignored (idempotent close path).
  void drop_client(ClientId client);

  // ENOTCONN: unknown client; EINVAL: an empty range; ENOLCK: past
  // max_leases_per_client; EAGAIN: a layout change is in progress over the
  // range, or another client's lease conflicts (write vs anything).
  [[nodiscard]] Result<LeaseId> acquire(const LeaseRequest& request);
  // Releases the lease's pins, then the lease (the pin holds the lease).
  // ENOENT: no such lease (it may have been revoked); EPERM: not the client's.
  [[nodiscard]] Status release(ClientId client, LeaseId lease);
  // Atomically turns a write lease into a read or unbreakable one. EINVAL:
  // not a write lease, or `to` is write; ENOENT/EPERM as release().
  [[nodiscard]] Status downgrade(ClientId client, LeaseId lease, LeaseType to);

  // The file's layout generation: read it after taking the lease and before
  // reading the extents to pin (PinRequest).
  std::uint64_t layout_generation(fs::InodeNumber ino) const;
  // ENOTCONN: unknown client. EPERM: no such lease (a file_pin needs a
  // layout lease), another client's lease, a write lease (downgrade first),
  // or a range the lease does not cover. EAGAIN: the lease is being broken,
  // a layout change is in progress over the range, or the layout changed
  // since layout_generation was read. ENOMEM: past max_pins_per_client.
  // EINVAL: extents that do not cover the range (PinRegistry::add).
  [[nodiscard]] Result<PinId> pin(const PinRequest& request);
  // ENOTCONN, ENOENT (no such pin), EPERM (not the client's).
  [[nodiscard]] Status unpin(ClientId client, PinId pin);
  [[nodiscard]] Status add_registration(ClientId client, PinId pin,
                                        pin::Registration registration);
  [[nodiscard]] Status remove_registration(ClientId client, PinId pin,
                                           std::string_view device_name, std::uint32_t rkey);

  // Ends the orphaned pins whose process and registrations are gone (the
  // daemon calls it when a pidfd fires and periodically); the quarantine
  // they release goes to on_quarantine_released as well as into the report.
  [[nodiscard]] pin::ReclaimReport reclaim(pin::ReclaimProbes& probes);

  // After a daemon restart: the pins recorded on the media, as orphaned
  // pins of their recorded owners (each with a client id no connection
  // uses), so that reclaim() ends them once their owner and registrations
  // are gone (DESIGN.md §4, invariant 3). Then the quarantine entries found
  // on the media: those a restored pin covers wait for it; the others are
  // returned, for the caller to release at once. Call before clients
  // connect. Errors: as PinRegistry::restore_orphan (nothing is restored
  // past the first).
  [[nodiscard]] Status restore_orphaned_pins(std::vector<pin::FilePin> pins);
  std::vector<ByteRange> adopt_quarantine(const std::vector<ByteRange>& quarantined);

  std::vector<LeaseInfo> leases() const;  // by id
  std::vector<LeaseInfo> leases_of(ClientId client) const;
  std::optional<LeaseInfo> find_lease(LeaseId lease) const;
  const pin::PinRegistry& pins() const { return pins_; }
  LeaseStats stats() const;

  // fs::LayoutHooks.
  // OK: proceed (after any breaks). ETXTBSY: an unbreakable lease of
  // another process overlaps the change, or a holder did not release in
  // time under `fail`. EDEADLK: the caller's own process holds an
  // unbreakable lease over the change.
  Status begin_layout_change(const fs::LayoutChange& change) override;
  void end_layout_change(const fs::LayoutChange& change) override;
  bool is_pinned(std::uint64_t media_offset, std::uint64_t length) const override;

 private:
  using ChangeId = std::uint64_t;
  using Clock = std::chrono::steady_clock;

  struct Client {
    ClientIdentity identity;
    std::shared_ptr<LeaseEventSink> sink;
    std::set<LeaseId> leases;
  };
  struct Lease {
    LeaseId id = 0;
    ClientId client = 0;
    pid_t pid = 0;
    fs::InodeNumber ino = 0;
    std::string path;
    ByteRange range;
    LeaseType type = LeaseType::read;
    // The pending changes that sent this lease a BREAK and wait for it.
    std::set<ChangeId> breaking;
    std::chrono::system_clock::time_point acquired_at;
  };
  struct Change {
    ChangeId id = 0;
    fs::LayoutChange change;  // as asked: end_layout_change matches it
    pid_t requester_pid = 0;  // the process behind change.caller
    ByteRange range;
    Clock::time_point deadline;
    bool executing = false;  // past begin_layout_change
  };
  struct InodeState {
    pin::IntervalIndex leases;          // lease ranges, by lease id
    std::map<ChangeId, Change> changes;  // pending and executing
    std::uint64_t layout_stamp = 0;     // what layout_generation() returns
  };
  // Work collected under mu_ and done after it is released.
  struct Outbox {
    std::vector<std::pair<std::shared_ptr<LeaseEventSink>, LeaseEvent>> events;
    std::vector<ByteRange> released_quarantine;
    std::vector<PinId> ended_pins;  // for the recorder's erase, before the quarantine
  };
  Result<PinId> pin_locked(const PinRequest& request);
  // Records a new pin (or its changed registrations), with no lock held.
  Status record_pin(PinId id, const char* op);

  void deliver(Outbox& outbox);
  void sync_point(std::string_view point) const;
  InodeState& inode_locked(fs::InodeNumber ino);
  void forget_inode_if_idle_locked(fs::InodeNumber ino);
  void erase_lease_locked(LeaseId id);
  void queue_event_locked(const Lease& lease, LeaseEventKind kind, const Change& change,
                          Outbox& outbox, std::vector<PinId> revoked_pins = {});
  // Undoes a change that will not proceed: its BREAK marks, its record.
  void abandon_change_locked(InodeState& inode, ChangeId id, Outbox& outbox);
  // The change proceeds: clears what is left of its marks, stamps the file.
  void start_change_locked(InodeState& inode, ChangeId id);
  bool is_breaking(const Lease& lease) const {
    return lease.type != LeaseType::unbreakable && !lease.breaking.empty();
  }
  LeaseInfo info_locked(const Lease& lease) const;
  Result<const Lease*> owned_lease_locked(ClientId client, LeaseId id, const char* op) const;
  std::string holder_locked(const Lease& lease) const;

  const LeaseManagerOptions options_;

  mutable std::mutex mu_;
  // Signalled (notify_all) whenever state_version_ changes: a lease went,
  // was downgraded, or a change ended. Waiters: begin_layout_change.
  std::condition_variable state_changed_;
  // Everything below: GUARDED_BY(mu_), except pins_ (its own mutex).
  std::unordered_map<ClientId, Client> clients_;
  std::unordered_map<LeaseId, Lease> leases_;
  // Kept while the inode has leases or changes. References to elements stay
  // valid across rehashing; a begin_layout_change in progress keeps its
  // inode's entry alive through its Change record.
  std::unordered_map<fs::InodeNumber, InodeState> inodes_;
  LeaseId next_lease_id_ = 1;
  ChangeId next_change_id_ = 1;
  // Global so that an inode entry forgotten and made again never repeats a
  // generation a client may still hold.
  std::uint64_t layout_clock_ = 1;
  std::uint64_t state_version_ = 0;
  std::uint64_t event_sequence_ = 0;
  LeaseStats counters_;  // only the "since start" fields are kept here

  // mutable: is_pinned() is const in LayoutHooks, but a "pinned" answer
  // hands the range to quarantine, which the registry must remember.
  mutable pin::PinRegistry pins_;
};

}  // namespace pinfs::lease
