// The messages of the control protocol, version 1 (docs/protocol.md).
//
// A connection starts with HELLO (the client's only allowed first message)
// and its reply. After that the client sends requests, each with a fresh
// non-zero request id, and the daemon answers each with exactly one reply
// of kind (request kind | kReplyBit) carrying the same id. Replies start
// with an i32 errno: 0 means the typed body follows; otherwise the body is
// the op, object and detail of the daemon's pinfs::Error, so the client
// reports exactly what the daemon saw. Events (BREAK, REVOKED, ...) flow
// from the daemon at any time, with request id 0.
//
// Each message type below names its kind (kKind); message_codec.h encodes
// and decodes them. Wire layouts are listed next to each field in order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pinfs::protocol {

enum class MessageKind : std::uint16_t {
  hello = 1,
  open = 2,
  close = 3,
  lease_acquire = 4,
  lease_downgrade = 5,
  lease_release = 6,
  map = 7,
  allocate = 8,
  pin_create = 9,
  pin_release = 10,
  registration_report = 11,
  registration_withdraw = 12,
  list_pins = 13,
  list_leases = 14,
  stat = 15,
  break_leases = 16,

  // Events, daemon -> client, request id 0.
  event_break = 0x4001,
  event_break_abandoned = 0x4002,
  event_revoked = 0x4003,
  event_break_denied = 0x4004,
};

// A reply's kind is its request's kind with this bit set.
inline constexpr std::uint16_t kReplyBit = 0x8000;

// "LEASE_ACQUIRE", "LEASE_ACQUIRE reply", "kind 0x1234" for unknown kinds.
std::string kind_name(std::uint16_t kind);
bool is_request_kind(std::uint16_t kind);
bool is_event_kind(std::uint16_t kind);

// u8 on the wire.
enum class LeaseKind : std::uint8_t { read = 1, unbreakable = 2, write = 3 };
const char* to_string(LeaseKind kind);

// u64 offset, u64 length. length UINT64_MAX: to the end of the file.
struct WireRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  friend bool operator==(const WireRange&, const WireRange&) = default;
};
inline constexpr std::uint64_t kToEnd = UINT64_MAX;

// u64 file_offset, u64 media_offset, u64 length.
struct WireExtent {
  std::uint64_t file_offset = 0;
  std::uint64_t media_offset = 0;
  std::uint64_t length = 0;
  friend bool operator==(const WireExtent&, const WireExtent&) = default;
};

// --- Handshake -----------------------------------------------------------

struct Hello {
  static constexpr MessageKind kKind = MessageKind::hello;
  std::uint32_t magic = 0;         // u32 kMagic
  std::uint16_t min_version = 0;   // u16
  std::uint16_t max_version = 0;   // u16
  std::string client_name;         // string, <= kMaxNameBytes, for logs
  friend bool operator==(const Hello&, const Hello&) = default;
};
struct HelloReply {
  static constexpr MessageKind kKind = MessageKind::hello;
  std::uint16_t version = 0;          // u16, the version both speak
  std::uint64_t client_id = 0;        // u64, this connection's id in listings
  std::uint32_t lease_break_ms = 0;   // u32, the daemon's break deadline
  std::string daemon_version;         // string <= kMaxNameBytes
  std::string mountpoint;             // string <= kMaxPathBytes
  friend bool operator==(const HelloReply&, const HelloReply&) = default;
};

// --- Files ---------------------------------------------------------------

// A path under the daemon's mount point (absolute), or relative to the
// file system's root. Symbolic links are not followed.
struct OpenRequest {
  static constexpr MessageKind kKind = MessageKind::open;
  std::string path;  // string <= kMaxPathBytes
  friend bool operator==(const OpenRequest&, const OpenRequest&) = default;
};
struct OpenReply {
  static constexpr MessageKind kKind = MessageKind::open;
  std::uint64_t handle = 0;  // u64, != 0
  std::uint64_t ino = 0;     // u64
  std::uint64_t size = 0;    // u64, bytes at open
  std::uint32_t mode = 0;    // u32 st_mode
  std::uint32_t uid = 0;     // u32
  std::uint32_t gid = 0;     // u32
  friend bool operator==(const OpenReply&, const OpenReply&) = default;
};
struct CloseRequest {
  static constexpr MessageKind kKind = MessageKind::close;
  std::uint64_t handle = 0;  // u64
  friend bool operator==(const CloseRequest&, const CloseRequest&) = default;
};

// --- Leases --------------------------------------------------------------

struct LeaseAcquireRequest {
  static constexpr MessageKind kKind = MessageKind::lease_acquire;
  std::uint64_t handle = 0;           // u64
  LeaseKind kind = LeaseKind::read;   // u8
  WireRange range;                    // range, length != 0
  friend bool operator==(const LeaseAcquireRequest&, const LeaseAcquireRequest&) = default;
};
struct LeaseAcquireReply {
  static constexpr MessageKind kKind = MessageKind::lease_acquire;
  std::uint64_t lease = 0;  // u64
  friend bool operator==(const LeaseAcquireReply&, const LeaseAcquireReply&) = default;
};
struct LeaseDowngradeRequest {
  static constexpr MessageKind kKind = MessageKind::lease_downgrade;
  std::uint64_t lease = 0;          // u64
  LeaseKind to = LeaseKind::read;   // u8, read or unbreakable
  friend bool operator==(const LeaseDowngradeRequest&, const LeaseDowngradeRequest&) = default;
};
struct LeaseReleaseRequest {
  static constexpr MessageKind kKind = MessageKind::lease_release;
  std::uint64_t lease = 0;  // u64
  friend bool operator==(const LeaseReleaseRequest&, const LeaseReleaseRequest&) = default;
};

// --- Mapping -------------------------------------------------------------

struct MapRequest {
  static constexpr MessageKind kKind = MessageKind::map;
  std::uint64_t handle = 0;  // u64
  friend bool operator==(const MapRequest&, const MapRequest&) = default;
};
// Sent with the media's descriptor as SCM_RIGHTS on its first byte.
struct MapReply {
  static constexpr MessageKind kKind = MessageKind::map;
  std::uint64_t alignment = 0;   // u64, the media's map alignment (power of 2)
  std::uint64_t file_size = 0;   // u64
  std::uint64_t media_size = 0;  // u64
  std::vector<WireExtent> extents;  // count (<= kMaxExtents), extents
  friend bool operator==(const MapReply&, const MapReply&) = default;
};
// Allocates the holes of a range under the client's write lease (a
// fallocate that may extend the file), then makes the file mappable.
struct AllocateRequest {
  static constexpr MessageKind kKind = MessageKind::allocate;
  std::uint64_t lease = 0;  // u64
  WireRange range;          // range, bounded
  friend bool operator==(const AllocateRequest&, const AllocateRequest&) = default;
};

// --- Pins ----------------------------------------------------------------

inline constexpr std::uint8_t kPinAllocate = 1;  // PinCreateRequest::flags

struct PinCreateRequest {
  static constexpr MessageKind kKind = MessageKind::pin_create;
  std::uint64_t lease = 0;   // u64
  WireRange range;           // range; kToEnd: to the file's size
  std::uint8_t flags = 0;    // u8: kPinAllocate or 0
  // u8: with kPinAllocate the lease must be a write lease; the daemon
  // allocates, downgrades it to this kind (read or unbreakable), then pins.
  LeaseKind downgrade_to = LeaseKind::read;
  friend bool operator==(const PinCreateRequest&, const PinCreateRequest&) = default;
};
struct PinCreateReply {
  static constexpr MessageKind kKind = MessageKind::pin_create;
  std::uint64_t pin = 0;                  // u64
  LeaseKind lease_kind = LeaseKind::read;  // u8, the lease's kind now
  WireRange range;                        // range, as pinned (bounded)
  std::vector<WireExtent> extents;        // count, extents (clipped to the range)
  friend bool operator==(const PinCreateReply&, const PinCreateReply&) = default;
};
struct PinReleaseRequest {
  static constexpr MessageKind kKind = MessageKind::pin_release;
  std::uint64_t pin = 0;  // u64
  friend bool operator==(const PinReleaseRequest&, const PinReleaseRequest&) = default;
};
struct RegistrationReport {
  static constexpr MessageKind kKind = MessageKind::registration_report;
  std::uint64_t pin = 0;       // u64
  std::string device;          // string <= kMaxNameBytes
  std::uint32_t lkey = 0;      // u32
  std::uint32_t rkey = 0;      // u32
  std::uint64_t iova = 0;      // u64
  std::uint64_t length = 0;    // u64
  std::uint32_t access = 0;    // u32 IBV_ACCESS_* bits
  friend bool operator==(const RegistrationReport&, const RegistrationReport&) = default;
};
struct RegistrationWithdraw {
  static constexpr MessageKind kKind = MessageKind::registration_withdraw;
  std::uint64_t pin = 0;   // u64
  std::string device;      // string <= kMaxNameBytes
  std::uint32_t rkey = 0;  // u32
  friend bool operator==(const RegistrationWithdraw&, const RegistrationWithdraw&) = default;
};

// --- Administration ------------------------------------------------------

// No body. The reply is JsonReply.
struct ListPinsRequest {
  static constexpr MessageKind kKind = MessageKind::list_pins;
  friend bool operator==(const ListPinsRequest&, const ListPinsRequest&) = default;
};
struct ListLeasesRequest {
  static constexpr MessageKind kKind = MessageKind::list_leases;
  friend bool operator==(const ListLeasesRequest&, const ListLeasesRequest&) = default;
};
struct StatRequest {
  static constexpr MessageKind kKind = MessageKind::stat;
  friend bool operator==(const StatRequest&, const StatRequest&) = default;
};
// The reply to the three above; its kind is the request's (JsonReply is
// decoded for any of them).
struct JsonReply {
  std::string json;  // string <= kMaxJsonBytes
  friend bool operator==(const JsonReply&, const JsonReply&) = default;
};
// Breaks the leases over a range of a file as a layout change would, and
// waits for the outcome (root or the file's owner only).
struct BreakRequest {
  static constexpr MessageKind kKind = MessageKind::break_leases;
  std::string path;  // string <= kMaxPathBytes
  WireRange range;   // range
  friend bool operator==(const BreakRequest&, const BreakRequest&) = default;
};

// A successful reply with no body (CLOSE, LEASE_RELEASE, ...).
struct EmptyReply {
  friend bool operator==(const EmptyReply&, const EmptyReply&) = default;
};

// A failed reply: i32 errno (!= 0), strings op, object, detail
// (<= kMaxErrorTextBytes each).
struct ErrorReply {
  std::int32_t errnum = 0;
  std::string op;
  std::string object;
  std::string detail;
  friend bool operator==(const ErrorReply&, const ErrorReply&) = default;
};

// --- Events --------------------------------------------------------------

// One layout of all four event kinds; fields that a kind does not use are
// zero or empty.
struct LeaseEventMessage {
  MessageKind kind = MessageKind::event_break;  // the frame's kind
  std::uint64_t sequence = 0;         // u64, increases per daemon
  std::uint64_t lease = 0;            // u64
  std::uint64_t ino = 0;              // u64
  std::string path;                   // string <= kMaxPathBytes, as the client opened it
  WireRange lease_range;              // range
  std::vector<WireRange> ranges;      // count <= kMaxEventRanges, ranges: what the change covers
  std::string change;                 // string <= kMaxNameBytes: "punch", "truncate", ...
  std::int32_t requester_pid = 0;     // i32
  std::uint32_t deadline_ms = 0;      // u32, ms left when sent (BREAK only)
  std::vector<std::uint64_t> revoked_pins;  // count <= kMaxRevokedPins, u64 each (REVOKED)
  friend bool operator==(const LeaseEventMessage&, const LeaseEventMessage&) = default;
};

}  // namespace pinfs::protocol
