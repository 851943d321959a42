// Layout leases: what a client holds on a file range before it may pin it,
// and how it asks for one (DESIGN.md §4).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fs/filesystem.h"
#include "pin/byte_range.h"
#include "pin/client_identity.h"
#include "pin/file_pin.h"

namespace pinfs::lease {

using pin::ByteRange;
using pin::ClientId;
using pin::ClientIdentity;
using pin::LeaseId;
using pin::PinId;

enum class LeaseType {
  // Shared and breakable: a layout change over it sends the holder a BREAK
  // and waits (up to lease_break_ms) for the holder to release it.
  read,
  // Shared and unbreakable: a layout change over it fails at once with
  // ETXTBSY (EDEADLK when the holder itself asks); the holder is told.
  unbreakable,
  // Exclusive: its holder may change the layout of the range itself, then
  // downgrade atomically to read or unbreakable before pinning. Anyone
  // else's layout change breaks it like a read lease.
  write,
};
const char* to_string(LeaseType type);

struct LeaseRequest {
  ClientId client = 0;  // a connected client (LeaseManager::connect_client)
  fs::InodeNumber ino = 0;
  std::string path;  // for events, errors and `pinfs leases`
  // The byte range, or {0, fs::kToEnd} for the whole file (as a pNFS layout).
  ByteRange range{0, fs::kToEnd};
  LeaseType type = LeaseType::read;
};

// A pin over [range) of the lease's file. Protocol: take the lease, read
// layout_generation(ino), read the extents of the range from the file system
// (fs::FileSystem::extents), then pin; a layout change in between makes the
// pin fail with EAGAIN rather than pin extents the file no longer owns.
struct PinRequest {
  ClientId client = 0;
  LeaseId lease = 0;
  ByteRange range;
  std::vector<fs::Extent> extents;
  std::uint64_t layout_generation = 0;
};

// What `pinfs leases` shows of a lease.
struct LeaseInfo {
  LeaseId id = 0;
  ClientIdentity holder;
  fs::InodeNumber ino = 0;
  std::string path;
  ByteRange range;
  LeaseType type = LeaseType::read;
  // A layout change is waiting for the holder to release it.
  bool breaking = false;
  std::optional<std::chrono::steady_clock::time_point> break_deadline;
  std::size_t pins = 0;
  std::chrono::system_clock::time_point acquired_at;
};

}  // namespace pinfs::lease
