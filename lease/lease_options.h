// LeaseManagerOptions: the daemon options that shape the break engine, and
// the per-client limits. Every limit here is a named constant with a
// documented value (docs/leases.md).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "pin/byte_range.h"
#include "pin/pin_recorder.h"

namespace pinfs::lease {

// What a layout change does with a read or write lease whose holder has not
// released it by the deadline (DESIGN.md §4).
enum class BreakPolicy {
  // The change fails with ETXTBSY; the lease, its pins and the data stay.
  fail,
  // The lease is revoked and the change proceeds; the pins stay recorded,
  // so their extents are quarantined (never freed) until the pins end — the
  // analogue of pNFS fencing a client that does not return a layout.
  revoke,
};
const char* to_string(BreakPolicy policy);

// How long a layout change waits for a lease holder to answer a BREAK:
// 5 seconds.
//
// A lease holder is a process on this machine, not a client across a
// network: answering means receiving one message on a Unix socket, calling
// ibv_dereg_mr (milliseconds, even on soft-RoCE under emulation) and sending
// two requests back. 5 s is three orders of magnitude above that, enough
// for a loaded machine, a page-faulting or briefly descheduled client; a
// holder that has not answered in 5 s is stuck, not slow. The kernel's own
// lease-break-time is 45 s and nfsd waits two lease periods (90 s): both
// allow for network round trips and partitions we do not have, and both
// would make an administrator's `truncate` or `rm` hang for a minute or
// more, which people read as a hung file system. docs/leases.md says more.
inline constexpr std::uint32_t kDefaultLeaseBreakMs = 5000;

// Leases one client may hold at once. Past it: ENOLCK (as fcntl's lock table).
inline constexpr std::size_t kDefaultMaxLeasesPerClient = 4096;
// Pins one client may hold at once, revoked ones included. Past it: ENOMEM
// (what ibv_reg_mr answers past RLIMIT_MEMLOCK).
inline constexpr std::size_t kDefaultMaxPinsPerClient = 262144;

struct LeaseManagerOptions {
  std::uint32_t lease_break_ms = kDefaultLeaseBreakMs;
  // `fail` by default: nothing is lost and nobody's DMA silently lands in a
  // quarantined block; an administrator opts into `revoke`.
  BreakPolicy break_policy = BreakPolicy::fail;
  std::size_t max_leases_per_client = kDefaultMaxLeasesPerClient;
  std::size_t max_pins_per_client = kDefaultMaxPinsPerClient;
  // Quarantined media ranges that no pin holds any more: the owner passes
  // each to fs::FileSystem::release_quarantined. Called without any lease
  // or pin lock held, from the thread that ended the last pin.
  std::function<void(const std::vector<pin::ByteRange>&)> on_quarantine_released;
  // Where pins are recorded durably (not owned; null: nowhere, pins do not
  // survive a restart). A pin is recorded before pin() returns its id, again
  // whenever its registrations change, and erased once it ended, before the
  // quarantine it released goes to on_quarantine_released.
  pin::PinRecorder* recorder = nullptr;
  // Tests only: called with no lock held at the named points below, so that
  // a race test can order threads without sleeping (after RocksDB's
  // sync_point.h). Empty in production.
  std::function<void(std::string_view point)> sync_point;
};

}  // namespace pinfs::lease
