// Pin/unpin throughput through the real daemon and client library, with
// and without many live pins (lease_break_bench). Does the pin registry
// scale?
//
// One file on the mount, allocated up front, cut into slots of pin_bytes:
// the live pins take the even slots, the timed pin+unpin pairs the odd ones
// (disjoint from every live pin, spread over the file in a fixed
// pseudo-random order, the same order in both states). Each client holds one
// read lease over the whole file; the live pins are spread round-robin over
// as many clients as the daemon's per-client pin limit needs. Per round:
//
//   pairs, no other live pins      `pairs` × (pin + unpin), client 0
//   fill                           live_pins pins (0 → live_pins)
//   pairs, live_pins live pins     the same pairs again
//   drain                          the live pins released (live_pins → 0)
//
// If pinfsd refuses a fill pin with ENOSPC (a file-system-wide limit, which
// more clients would not lift), the first fill stops there, releases one
// pin, and every state is measured with what it could hold: reported, never
// silently.
//
// Odd rounds start with the fill, so neither state always goes first. Each
// phase records wall time and the CPU time pinfsd used (all its threads),
// from its process CPU clock: per operation, that is the daemon's own cost,
// which a socket round trip of ~tens of µs would otherwise hide.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pinfs/error.h"

namespace pinfs::bench {

struct PinThroughputConfig {
  std::string socket_path;
  std::string file_path;  // on the mount; created here
  std::uint64_t live_pins = 100000;
  std::uint64_t pairs = 20000;
  std::uint64_t pin_bytes = 4096;
  unsigned rounds = 3;
  std::uint64_t max_pins_per_client = 0;  // the daemon's limit
  pid_t daemon_pid = 0;
};

// Per phase and round: operations per second (a pair counts as two
// operations, pin and unpin) and pinfsd's CPU time per operation (negative
// when its CPU clock could not be read).
struct PhaseFigures {
  std::vector<double> ops_per_s;
  std::vector<double> daemon_cpu_us_per_op;
};

struct PinThroughputResults {
  // The live pins the loaded state held: live_pins, unless pinfsd refused
  // a pin below that for lack of room (ENOSPC: its pin table is full), in
  // which case one fewer than it accepted (the pairs need room for theirs)
  // and capacity_error says what it answered.
  std::uint64_t live_pins_count = 0;
  std::string capacity_error;
  std::uint64_t clients_count = 0;
  std::uint64_t file_bytes = 0;
  PhaseFigures pairs_without_live_pins;
  PhaseFigures pairs_with_live_pins;
  PhaseFigures fill;
  PhaseFigures drain;
};

[[nodiscard]] Result<PinThroughputResults> measure_pin_throughput(
    const PinThroughputConfig& config, const std::function<void(const std::string&)>& progress);

}  // namespace pinfs::bench
