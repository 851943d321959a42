// LeaseStats: the counters behind `pinfs stat`.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pinfs::lease {

struct LeaseStats {
  // Since start. A "break" is one layout change that had to break leases.
  std::uint64_t break_events_sent = 0;  // BREAK events (one per lease and change)
  std::uint64_t breaks_completed = 0;   // every holder released in time; the change went on
  std::uint64_t breaks_timed_out = 0;   // the deadline passed (then `fail` or `revoke`)
  // Layout changes refused: an unbreakable lease (ETXTBSY), its own holder
  // asking (EDEADLK), or a timeout under `fail` (ETXTBSY).
  std::uint64_t breaks_failed = 0;
  std::uint64_t leases_revoked = 0;

  // Now.
  std::size_t clients = 0;
  std::size_t leases = 0;
  std::size_t read_leases = 0;
  std::size_t unbreakable_leases = 0;
  std::size_t write_leases = 0;
  std::size_t layout_changes_in_progress = 0;  // waiting for breaks or executing
  std::size_t pins = 0;
  std::size_t revoked_pins = 0;
  std::size_t orphaned_pins = 0;
  std::uint64_t pinned_bytes = 0;       // media bytes under at least one pin
  std::uint64_t quarantined_bytes = 0;  // left a file while pinned, not yet released
};

}  // namespace pinfs::lease
