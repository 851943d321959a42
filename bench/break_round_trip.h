// The lease-break round trip of lease_break_bench: a layout change over a
// range a cooperative holder has leased, timed from the call to its return,
// on pinfs (fallocate PUNCH_HOLE over a pinned range through the mount)
// and on the kernel (open(O_TRUNC) of a tmpfs file under a F_SETLEASE read
// lease), each also without any lease (the floor: what the call costs when
// nothing has to be broken). The four run interleaved, round by round,
// rotating which goes first.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/holder_channel.h"
#include "pinfs/error.h"

namespace pinfs::bench {

struct BreakRoundTripConfig {
  std::string pinfs_leased_file;   // on the mount; a holder pins [0, range_bytes)
  std::string pinfs_plain_file;    // on the mount; nobody leases it
  std::string kernel_leased_file;  // on tmpfs; a holder has a read lease
  std::string kernel_plain_file;   // on tmpfs; nobody leases it
  std::uint64_t range_bytes = 1 << 20;
  unsigned rounds = 200;
  unsigned warmup_rounds = 10;
  // How long a holder may take to report; far above any cooperative answer,
  // far below the kernel's 45 s lease-break-time.
  std::chrono::milliseconds holder_timeout{10000};
};

// One timed call per round, in microseconds. For the leased subjects also
// its two parts, from the holder's clock readings (the same CLOCK_MONOTONIC
// in both processes): notify (call → the holder's break callback / SIGIO
// handler starts) and answer (callback starts → the call returned: the
// holder's release plus the waiter's wake-up), and holder_release (inside
// the holder: unpin + release lease, or F_UNLCK).
struct BreakSamples {
  std::vector<double> call_us;
  std::vector<double> notify_us;
  std::vector<double> answer_us;
  std::vector<double> holder_release_us;
};

struct BreakRoundTripResults {
  BreakSamples pinfs_break;
  BreakSamples kernel_break;
  BreakSamples pinfs_no_lease;
  BreakSamples kernel_no_lease;
};

// Writes the four files (range_bytes each). Before the holders start.
[[nodiscard]] Status prepare_break_files(const BreakRoundTripConfig& config);

// Runs the rounds. Each holder must have reported kReady once already; after
// the last round both are told to quit.
[[nodiscard]] Result<BreakRoundTripResults> measure_break_round_trip(
    const BreakRoundTripConfig& config, const MeasurerEnd& pinfs_holder,
    const MeasurerEnd& kernel_holder, const std::function<void(const std::string&)>& progress);

}  // namespace pinfs::bench
