// FilePin: the record that a client holds a range of a file, and with it the
// media extents behind that range, pinned for DMA (the 2019 kernel
// proposal's file_pin). While any pin covers a media byte, that byte is
// never freed, reused or moved (DESIGN.md §4, invariant 1).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "fs/filesystem.h"
#include "pin/byte_range.h"
#include "pin/client_identity.h"
#include "pin/registration.h"

namespace pinfs::pin {

using PinId = std::uint64_t;    // never 0, never reused while the daemon runs
using LeaseId = std::uint64_t;  // the lease a pin was taken under; 0 = none

// What a pin's extents are waiting for.
enum class PinState {
  // Held under a live lease by a connected client.
  active,
  // Its lease was revoked (break policy `revoke`). The client is still
  // connected; its unpin (after deregistering) ends the pin.
  revoked,
  // Its client is gone (connection closed). The pin ends only when the
  // process has exited and the kernel no longer lists its registrations
  // (PinRegistry::reclaim_orphans, invariant 2).
  orphaned,
};
const char* to_string(PinState state);

struct FilePin {
  PinId id = 0;
  ClientIdentity client;
  LeaseId lease_id = 0;  // kept after a revoke, for people reading the listing
  fs::InodeNumber ino = 0;
  std::string path;
  ByteRange file_range;
  // The media behind file_range, clipped to it and in file order; they cover
  // it exactly (a hole cannot be pinned).
  std::vector<fs::Extent> extents;
  std::chrono::system_clock::time_point created_at;
  std::vector<Registration> registrations;
  PinState state = PinState::active;
};

}  // namespace pinfs::pin
