// The JSON payloads of LIST_PINS, LIST_LEASES and STAT, what `pinfs pins`,
// `pinfs leases` and `pinfs stat` print with --json (docs/protocol.md,
// "Listings", gives every field). Byte offsets and lengths are numbers;
// a range that runs to the end of the file has "end": null.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "fs/filesystem.h"
#include "lease/lease.h"
#include "lease/lease_options.h"
#include "lease/lease_stats.h"
#include "pin/file_pin.h"

namespace pinfs::control {

std::string pins_json(const std::vector<pin::FilePin>& pins);
std::string leases_json(const std::vector<lease::LeaseInfo>& leases);

struct DaemonFacts {
  std::string version;
  std::string mountpoint;
  std::string socket;
  std::uint32_t lease_break_ms = 0;
  lease::BreakPolicy break_policy = lease::BreakPolicy::fail;
  std::string map_group;  // "" when only root may map
  std::uint64_t map_alignment_bytes = 0;
  std::size_t sessions = 0;
};
std::string stat_json(const DaemonFacts& daemon, const lease::LeaseStats& leases,
                      const fs::FsStat& fs);

}  // namespace pinfs::control
