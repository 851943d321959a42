// LeaseEvent and LeaseEventSink: what the lease manager tells a lease
// holder, and how. The daemon's sink turns events into messages on the
// client's socket; tests plug in their own.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "fs/filesystem.h"
#include "lease/lease.h"

namespace pinfs::lease {

enum class LeaseEventKind {
  // A layout change over `ranges` waits for the holder to release its pins
  // and the lease, until `deadline`.
  break_requested,
  // The change that asked for the break gave up (it failed under the `fail`
  // policy, or met an unbreakable lease): the lease is usable again.
  break_abandoned,
  // The deadline passed under the `revoke` policy: the lease is gone and
  // `revoked_pins` no longer hold it. Their extents stay quarantined until
  // the client unpins them (after deregistering) or is gone.
  revoked,
  // A layout change over `ranges` was refused with ETXTBSY because of this
  // unbreakable lease. Nothing waits; this is for the holder's information.
  break_denied,
};
const char* to_string(LeaseEventKind kind);

struct LeaseEvent {
  LeaseEventKind kind = LeaseEventKind::break_requested;
  // Increases with every event the manager emits: two events reaching one
  // client from two threads can be put back in order.
  std::uint64_t sequence = 0;
  LeaseId lease = 0;
  fs::InodeNumber ino = 0;
  std::string path;
  ByteRange lease_range;
  // The parts of the lease the change covers.
  std::vector<ByteRange> ranges;
  fs::LayoutChangeKind change = fs::LayoutChangeKind::punch_hole;
  pid_t requester_pid = 0;
  // break_requested only: when the break policy applies.
  std::chrono::steady_clock::time_point deadline;
  // revoked only.
  std::vector<PinId> revoked_pins;
};

// Called WITHOUT any lease-manager lock held, from the thread whose request
// caused the event (a layout change, usually a FUSE thread): a sink may call
// back into the manager (release the lease at once, for instance), and a
// slow sink delays only that request. It must not block on that request's
// completion.
class LeaseEventSink {
 public:
  virtual ~LeaseEventSink() = default;
  virtual void on_lease_event(const LeaseEvent& event) = 0;
};

}  // namespace pinfs::lease
