// Plain types of the pinfs client API: lease kinds, file ranges, extents,
// registrations and the events a lease holder receives. docs/client.md
// describes the API as a whole.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pinfs {

// Where pinfsd listens unless started with --socket.
inline constexpr const char* kDefaultSocketPath = "/run/pinfs/pinfsd.sock";

// A length that reaches to the end of the file (a whole-file lease).
inline constexpr std::uint64_t kToEndOfFile = UINT64_MAX;

// The layout leases of DESIGN.md §4.
enum class LeaseKind {
  // Shared, breakable: a layout change over it sends a BREAK event and waits
  // (the daemon's --lease-break-ms) for the holder to release.
  read,
  // Shared, unbreakable: layout changes over it fail with ETXTBSY at once.
  unbreakable,
  // Exclusive: the holder may allocate, then downgrade() to read or
  // unbreakable before pinning.
  write,
};
const char* to_string(LeaseKind kind);

// [offset, offset + length) of a file; length kToEndOfFile: to the end.
struct FileRange {
  std::uint64_t offset = 0;
  std::uint64_t length = kToEndOfFile;
  friend bool operator==(const FileRange&, const FileRange&) = default;
};

// A piece of a file on the media: file bytes [file_offset, +length) are the
// media's bytes [media_offset, +length).
struct Extent {
  std::uint64_t file_offset = 0;
  std::uint64_t media_offset = 0;
  std::uint64_t length = 0;
  friend bool operator==(const Extent&, const Extent&) = default;
};

// A memory registration (ibv_reg_mr) made over a pinned range, reported to
// the daemon so that it can tell when the kernel no longer has it.
struct Registration {
  std::string device;  // "rxe0", "mlx5_0"
  std::uint32_t lkey = 0;
  std::uint32_t rkey = 0;
  std::uint64_t iova = 0;  // the registered address
  std::uint64_t length = 0;
  int access = 0;  // IBV_ACCESS_* bits
};

enum class LeaseEventKind {
  // A layout change over `ranges` waits until `deadline` for this lease (and
  // its pins) to be released: deregister, unpin, release.
  break_requested,
  // The change that asked for the break gave up; the lease is usable again.
  break_abandoned,
  // The deadline passed under the daemon's `revoke` policy: the lease is
  // gone. The pins in `revoked_pins` keep their extents out of the free pool
  // until they are released: deregister, then release them.
  revoked,
  // A layout change over `ranges` was refused (ETXTBSY) because of this
  // unbreakable lease. For information; nothing waits.
  break_denied,
  // The connection to the daemon closed (it stopped or restarted): the
  // lease is gone and nothing protects the pinned ranges any more.
  connection_lost,
};
const char* to_string(LeaseEventKind kind);

struct LeaseEvent {
  LeaseEventKind kind = LeaseEventKind::break_requested;
  std::uint64_t lease_id = 0;
  std::string path;  // as the file was opened
  FileRange lease_range;
  std::vector<FileRange> ranges;  // the parts of the lease the change covers
  std::string change;             // "punch", "truncate", "unlink", ...
  pid_t requester_pid = 0;
  // break_requested: when the daemon's break policy applies.
  std::chrono::steady_clock::time_point deadline;
  std::vector<std::uint64_t> revoked_pins;  // revoked
};

// Called from Client::process_events() (never from inside another call of
// the library), so it may call anything on the client, including releasing
// the lease it is told about.
using LeaseCallback = std::function<void(const LeaseEvent&)>;

}  // namespace pinfs
