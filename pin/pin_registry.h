// PinRegistry: every file_pin the daemon knows of, which file ranges and
// which media extents they hold, by whom, with which registrations.
//
// It is the pinned-extent side of invariant 1 (DESIGN.md §4): the file
// system asks is_pinned() (through fs::LayoutHooks) under its lock whenever
// an extent leaves a file, and sends pinned extents to quarantine instead of
// the free pool. The registry remembers each range it answered "pinned" for
// and, once no byte of such a range is pinned any more, hands it back so the
// owner can call fs::FileSystem::release_quarantined (the removal calls
// return those ranges; the registry never calls the file system itself).
//
// A pin leaves the registry in one of three ways:
//  - remove()/remove_owned() or remove_lease_pins(): its connected client
//    unpins it or releases its lease. The client deregistered first (STYLE:
//    deregister, then unpin, then release the lease); map-group members are
//    trusted on that point (DESIGN.md §4).
//  - reclaim_orphans(): its client is gone (orphan_client_pins), and the
//    probes say the process has exited and the kernel lists none of the
//    registrations reported on it (invariant 2).
//  Revoked pins (revoke_lease_pins) stay until one of the two happens.
//  Pins recorded on the media before a daemon restart come back through
//  restore_orphan() as orphans of their recorded owner (invariant 3) and
//  end only through reclaim_orphans(). The registry itself never touches
//  the media: the lease manager's PinRecorder does (pin/pin_recorder.h).
//
// Data structures and their costs (n pins):
//  - pins_: id -> pin, O(1).
//  - per inode, an IntervalIndex of file ranges: overlapping(), O(log n + k).
//  - MediaCoverage of all pins' media extents: is_pinned(), O(log n);
//    adding or removing a pin O(e log n) for its e extents.
//  - quarantine_marks_: the ranges answered "pinned", disjoint, by start.
//  - per client and per lease, the ids.
//
// Thread-safe. Lock order: a caller's locks (the lease manager's mutex, the
// file system's lock) come before mu_; the registry calls out to nothing
// while holding mu_, and calls the ReclaimProbes with no lock held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fs/filesystem.h"
#include "pin/byte_range.h"
#include "pin/client_identity.h"
#include "pin/file_pin.h"
#include "pin/interval_index.h"
#include "pin/media_coverage.h"
#include "pin/reclaim_probes.h"
#include "pin/registration.h"
#include "pinfs/error.h"

namespace pinfs::pin {

// Registrations one pin may carry: a pin registered on a few devices and
// protection domains, re-registered a few times. Past it: E2BIG.
inline constexpr std::size_t kMaxRegistrationsPerPin = 64;

// What a new pin is made of. The extents are the file system's answer for
// file_range (fs::FileSystem::extents), read while the lease is held; they
// may stick out of the range (they are clipped) but must cover it.
struct PinSpec {
  ClientIdentity client;
  LeaseId lease_id = 0;
  fs::InodeNumber ino = 0;
  std::string path;
  ByteRange file_range;
  std::vector<fs::Extent> extents;
};

struct ReclaimReport {
  std::vector<PinId> reclaimed;                // orphaned pins that ended
  std::vector<ByteRange> released_quarantine;  // for fs::FileSystem::release_quarantined
  std::size_t still_waiting = 0;               // orphaned pins that stay
};

struct PinRegistryStats {
  std::size_t pins = 0;
  std::size_t active_pins = 0;
  std::size_t revoked_pins = 0;
  std::size_t orphaned_pins = 0;
  std::uint64_t pinned_media_bytes = 0;   // media bytes under at least one pin
  std::uint64_t quarantined_bytes = 0;    // answered "pinned" and not yet handed back
};

class PinRegistry {
 public:
  PinRegistry() = default;
  PinRegistry(const PinRegistry&) = delete;
  PinRegistry& operator=(const PinRegistry&) = delete;

  // EINVAL: an empty or unbounded range, extents that leave a hole in it
  // (a hole is allocated before it is pinned, never pinned as a hole),
  // overlap each other or wrap around the media's address space.
  [[nodiscard]] Result<PinId> add(PinSpec spec);
  // Ends a pin. Returns the quarantined ranges no longer pinned by anyone.
  // ENOENT: no such pin.
  [[nodiscard]] Result<std::vector<ByteRange>> remove(PinId id);
  // As remove(), for a client that must own the pin: EPERM otherwise.
  [[nodiscard]] Result<std::vector<ByteRange>> remove_owned(ClientId client, PinId id);
  // Ends every active pin held under the lease (the lease is being
  // released: the pin holds the lease, so its pins go first).
  std::vector<ByteRange> remove_lease_pins(LeaseId lease);
  // The lease was revoked: its active pins become revoked. They keep their
  // extents pinned (quarantined) until unpinned or reclaimed. Returns them.
  std::vector<PinId> revoke_lease_pins(LeaseId lease);
  // The client is gone: every pin of it becomes orphaned.
  void orphan_client_pins(ClientId client);
  // Ends the orphaned pins whose process has exited and whose
  // registrations the kernel no longer lists. Calls the probes without the
  // lock; a probe error keeps the pin.
  [[nodiscard]] ReclaimReport reclaim_orphans(ReclaimProbes& probes);

  // Restores a pin recorded on the media before a daemon restart, as an
  // orphaned pin of its recorded owner (DESIGN.md §4, invariant 3): it ends
  // only through reclaim_orphans(). Keeps its id; later ids are larger.
  // EEXIST: the id is in use; EINVAL: as add().
  [[nodiscard]] Status restore_orphan(FilePin pin);
  // A quarantine entry found on the media at restart: when some byte of it
  // is pinned, remembers it (as quarantine_if_pinned) so that it is handed
  // back once its pins end, and returns true. False: nothing pins it, the
  // owner may release it at once.
  bool adopt_quarantine(const ByteRange& media);

  // ENOENT: no such pin; EPERM: not the client's; E2BIG: past
  // kMaxRegistrationsPerPin; EINVAL: a malformed registration.
  [[nodiscard]] Status add_registration(ClientId client, PinId id, Registration registration);
  // The client deregistered it. ENOENT when the pin or the registration
  // (device, rkey) is not known; EPERM: not the client's.
  [[nodiscard]] Status remove_registration(ClientId client, PinId id,
                                           std::string_view device_name, std::uint32_t rkey);

  // Is any byte of the media range pinned (by a pin in any state)?
  bool is_pinned(const ByteRange& media) const;
  // is_pinned(), and when the answer is yes, remembers that the file system
  // now quarantines the whole range, to hand it back once nothing in it is
  // pinned. What fs::LayoutHooks::is_pinned calls.
  bool quarantine_if_pinned(const ByteRange& media);

  std::optional<FilePin> find(PinId id) const;
  std::vector<FilePin> list() const;  // by id
  std::vector<FilePin> by_client(ClientId client) const;
  std::vector<FilePin> by_lease(LeaseId lease) const;  // its active pins
  // Pins (any state) whose file range overlaps range of the inode, by start.
  std::vector<PinId> overlapping(fs::InodeNumber ino, const ByteRange& range) const;
  std::size_t count_for_client(ClientId client) const;
  std::size_t count_for_lease(LeaseId lease) const;
  PinRegistryStats stats() const;

 private:
  // Ends one pin; appends the quarantined ranges it released.
  void erase_locked(PinId id, std::vector<ByteRange>& released);
  // Hands back the quarantine marks inside `unpinned` that hold no pinned
  // byte any more.
  void release_marks_locked(const ByteRange& unpinned, std::vector<ByteRange>& released);

  mutable std::mutex mu_;
  // Everything below: GUARDED_BY(mu_).
  PinId next_id_ = 1;
  std::unordered_map<PinId, FilePin> pins_;
  std::unordered_map<fs::InodeNumber, IntervalIndex> by_inode_;  // file ranges
  // Hash sets: pinning and unpinning touch them every time; the listings
  // sort what they return.
  std::unordered_map<ClientId, std::unordered_set<PinId>> by_client_;
  std::unordered_map<LeaseId, std::unordered_set<PinId>> by_lease_;  // active pins only
  MediaCoverage coverage_;
  std::map<std::uint64_t, std::uint64_t> quarantine_marks_;  // start -> end, disjoint
  std::uint64_t quarantined_bytes_ = 0;
  std::size_t revoked_count_ = 0;
  std::set<PinId> orphaned_;  // reclaim_orphans() walks only these
};

}  // namespace pinfs::pin
