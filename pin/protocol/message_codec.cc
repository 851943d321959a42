#include "pin/protocol/message_codec.h"

#include "pin/protocol/limits.h"

namespace pinfs::protocol {
namespace {

constexpr std::size_t kRangeWireBytes = 16;
constexpr std::size_t kExtentWireBytes = 24;

void write_range(WireWriter& w, const WireRange& r) {
  w.u64(r.offset);
  w.u64(r.length);
}
WireRange read_range(WireReader& r) {
  WireRange out;
  out.offset = r.u64("range.offset");
  out.length = r.u64("range.length");
  return out;
}

void write_extents(WireWriter& w, const std::vector<WireExtent>& extents) {
  w.count(extents.size());
  for (const WireExtent& e : extents) {
    w.u64(e.file_offset);
    w.u64(e.media_offset);
    w.u64(e.length);
  }
}
std::vector<WireExtent> read_extents(WireReader& r) {
  std::vector<WireExtent> out(r.count("extents", kMaxExtents, kExtentWireBytes));
  for (WireExtent& e : out) {
    e.file_offset = r.u64("extent.file_offset");
    e.media_offset = r.u64("extent.media_offset");
    e.length = r.u64("extent.length");
  }
  return out;
}

LeaseKind read_lease_kind(WireReader& r, const char* field, bool write_allowed = true) {
  const std::uint8_t v = write_allowed ? r.u8_in(field, {1, 2, 3}) : r.u8_in(field, {1, 2});
  return static_cast<LeaseKind>(v == 0 ? 1 : v);
}

std::string cut(const std::string& text) {
  if (text.size() <= kMaxErrorTextBytes) return text;
  return text.substr(0, kMaxErrorTextBytes - 3) + "...";
}

}  // namespace

// --- Handshake -----------------------------------------------------------

void write_body(WireWriter& w, const Hello& m) {
  w.u32(m.magic);
  w.u16(m.min_version);
  w.u16(m.max_version);
  w.string(m.client_name);
}
void read_body(WireReader& r, Hello& m) {
  m.magic = r.u32("magic");
  if (r.ok() && m.magic != kMagic) r.fail("magic", "this is not a pinfs client (wrong magic)");
  m.min_version = r.u16("min_version");
  m.max_version = r.u16("max_version");
  if (r.ok() && m.min_version > m.max_version) r.fail("min_version", "above max_version");
  m.client_name = r.string("client_name", kMaxNameBytes);
}

void write_body(WireWriter& w, const HelloReply& m) {
  w.u16(m.version);
  w.u64(m.client_id);
  w.u32(m.lease_break_ms);
  w.string(m.daemon_version);
  w.string(m.mountpoint);
}
void read_body(WireReader& r, HelloReply& m) {
  m.version = r.u16("version");
  m.client_id = r.u64("client_id");
  m.lease_break_ms = r.u32("lease_break_ms");
  m.daemon_version = r.string("daemon_version", kMaxNameBytes);
  m.mountpoint = r.string("mountpoint", kMaxPathBytes);
}

// --- Files ---------------------------------------------------------------

void write_body(WireWriter& w, const OpenRequest& m) { w.string(m.path); }
void read_body(WireReader& r, OpenRequest& m) {
  m.path = r.string("path", kMaxPathBytes);
  if (r.ok() && m.path.empty()) r.fail("path", "empty");
}

void write_body(WireWriter& w, const OpenReply& m) {
  w.u64(m.handle);
  w.u64(m.ino);
  w.u64(m.size);
  w.u32(m.mode);
  w.u32(m.uid);
  w.u32(m.gid);
}
void read_body(WireReader& r, OpenReply& m) {
  m.handle = r.u64("handle");
  m.ino = r.u64("ino");
  m.size = r.u64("size");
  m.mode = r.u32("mode");
  m.uid = r.u32("uid");
  m.gid = r.u32("gid");
}

void write_body(WireWriter& w, const CloseRequest& m) { w.u64(m.handle); }
void read_body(WireReader& r, CloseRequest& m) { m.handle = r.u64("handle"); }

// --- Leases --------------------------------------------------------------

void write_body(WireWriter& w, const LeaseAcquireRequest& m) {
  w.u64(m.handle);
  w.u8(static_cast<std::uint8_t>(m.kind));
  write_range(w, m.range);
}
void read_body(WireReader& r, LeaseAcquireRequest& m) {
  m.handle = r.u64("handle");
  m.kind = read_lease_kind(r, "kind");
  m.range = read_range(r);
}

void write_body(WireWriter& w, const LeaseAcquireReply& m) { w.u64(m.lease); }
void read_body(WireReader& r, LeaseAcquireReply& m) { m.lease = r.u64("lease"); }

void write_body(WireWriter& w, const LeaseDowngradeRequest& m) {
  w.u64(m.lease);
  w.u8(static_cast<std::uint8_t>(m.to));
}
void read_body(WireReader& r, LeaseDowngradeRequest& m) {
  m.lease = r.u64("lease");
  m.to = read_lease_kind(r, "to", /*write_allowed=*/false);
}

void write_body(WireWriter& w, const LeaseReleaseRequest& m) { w.u64(m.lease); }
void read_body(WireReader& r, LeaseReleaseRequest& m) { m.lease = r.u64("lease"); }

// --- Mapping -------------------------------------------------------------

void write_body(WireWriter& w, const MapRequest& m) { w.u64(m.handle); }
void read_body(WireReader& r, MapRequest& m) { m.handle = r.u64("handle"); }

void write_body(WireWriter& w, const MapReply& m) {
  w.u64(m.alignment);
  w.u64(m.file_size);
  w.u64(m.media_size);
  write_extents(w, m.extents);
}
void read_body(WireReader& r, MapReply& m) {
  m.alignment = r.u64("alignment");
  if (r.ok() && (m.alignment == 0 || (m.alignment & (m.alignment - 1)) != 0)) {
    r.fail("alignment", std::to_string(m.alignment) + " is not a power of two");
  }
  m.file_size = r.u64("file_size");
  m.media_size = r.u64("media_size");
  m.extents = read_extents(r);
}

void write_body(WireWriter& w, const AllocateRequest& m) {
  w.u64(m.lease);
  write_range(w, m.range);
}
void read_body(WireReader& r, AllocateRequest& m) {
  m.lease = r.u64("lease");
  m.range = read_range(r);
}

// --- Pins ----------------------------------------------------------------

void write_body(WireWriter& w, const PinCreateRequest& m) {
  w.u64(m.lease);
  write_range(w, m.range);
  w.u8(m.flags);
  w.u8(static_cast<std::uint8_t>(m.downgrade_to));
}
void read_body(WireReader& r, PinCreateRequest& m) {
  m.lease = r.u64("lease");
  m.range = read_range(r);
  m.flags = r.u8_in("flags", {0, kPinAllocate});
  m.downgrade_to = read_lease_kind(r, "downgrade_to", /*write_allowed=*/false);
}

void write_body(WireWriter& w, const PinCreateReply& m) {
  w.u64(m.pin);
  w.u8(static_cast<std::uint8_t>(m.lease_kind));
  write_range(w, m.range);
  write_extents(w, m.extents);
}
void read_body(WireReader& r, PinCreateReply& m) {
  m.pin = r.u64("pin");
  m.lease_kind = read_lease_kind(r, "lease_kind");
  m.range = read_range(r);
  m.extents = read_extents(r);
}

void write_body(WireWriter& w, const PinReleaseRequest& m) { w.u64(m.pin); }
void read_body(WireReader& r, PinReleaseRequest& m) { m.pin = r.u64("pin"); }

void write_body(WireWriter& w, const RegistrationReport& m) {
  w.u64(m.pin);
  w.string(m.device);
  w.u32(m.lkey);
  w.u32(m.rkey);
  w.u64(m.iova);
  w.u64(m.length);
  w.u32(m.access);
}
void read_body(WireReader& r, RegistrationReport& m) {
  m.pin = r.u64("pin");
  m.device = r.string("device", kMaxNameBytes);
  m.lkey = r.u32("lkey");
  m.rkey = r.u32("rkey");
  m.iova = r.u64("iova");
  m.length = r.u64("length");
  m.access = r.u32("access");
}

void write_body(WireWriter& w, const RegistrationWithdraw& m) {
  w.u64(m.pin);
  w.string(m.device);
  w.u32(m.rkey);
}
void read_body(WireReader& r, RegistrationWithdraw& m) {
  m.pin = r.u64("pin");
  m.device = r.string("device", kMaxNameBytes);
  m.rkey = r.u32("rkey");
}

// --- Administration ------------------------------------------------------

void write_body(WireWriter&, const ListPinsRequest&) {}
void read_body(WireReader&, ListPinsRequest&) {}
void write_body(WireWriter&, const ListLeasesRequest&) {}
void read_body(WireReader&, ListLeasesRequest&) {}
void write_body(WireWriter&, const StatRequest&) {}
void read_body(WireReader&, StatRequest&) {}
void write_body(WireWriter& w, const JsonReply& m) { w.string(m.json); }
void read_body(WireReader& r, JsonReply& m) { m.json = r.string("json", kMaxJsonBytes); }

void write_body(WireWriter& w, const BreakRequest& m) {
  w.string(m.path);
  write_range(w, m.range);
}
void read_body(WireReader& r, BreakRequest& m) {
  m.path = r.string("path", kMaxPathBytes);
  if (r.ok() && m.path.empty()) r.fail("path", "empty");
  m.range = read_range(r);
}

void write_body(WireWriter&, const EmptyReply&) {}
void read_body(WireReader&, EmptyReply&) {}

// --- Replies -------------------------------------------------------------

std::vector<std::byte> encode_error_reply(std::uint64_t request_id, std::uint16_t request_kind,
                                          const Error& error) {
  WireWriter w(static_cast<std::uint16_t>(request_kind | kReplyBit), request_id);
  w.i32(error.errnum() != 0 ? error.errnum() : EIO);
  w.string(cut(error.op()));
  w.string(cut(error.object()));
  w.string(cut(error.detail()));
  return std::move(w).finish();
}

Status check_reply_frame(const Frame& frame, MessageKind request_kind) {
  const auto expected = static_cast<std::uint16_t>(static_cast<std::uint16_t>(request_kind) | kReplyBit);
  if (frame.kind != expected) {
    return Error(EPROTO, "decode " + kind_name(expected), "",
                 "the frame is a " + kind_name(frame.kind));
  }
  return ok_status();
}

Result<std::optional<Error>> read_reply_status(WireReader& r) {
  const std::int32_t errnum = r.i32("errno");
  if (!r.ok()) return r.status().error();
  if (errnum == 0) return std::optional<Error>();
  if (errnum < 0) r.fail("errno", "negative errno " + std::to_string(errnum));
  ErrorReply reply;
  reply.errnum = errnum;
  reply.op = r.string("op", kMaxErrorTextBytes);
  reply.object = r.string("object", kMaxErrorTextBytes);
  reply.detail = r.string("detail", kMaxErrorTextBytes);
  if (!r.ok()) return r.status().error();
  return std::optional<Error>(to_error(reply));
}

Error to_error(const ErrorReply& reply) {
  return Error(reply.errnum, reply.op, reply.object, reply.detail);
}

// --- Events --------------------------------------------------------------

void write_body(WireWriter& w, const LeaseEventMessage& m) {
  w.u64(m.sequence);
  w.u64(m.lease);
  w.u64(m.ino);
  w.string(m.path);
  write_range(w, m.lease_range);
  w.count(m.ranges.size());
  for (const WireRange& range : m.ranges) write_range(w, range);
  w.string(m.change);
  w.i32(m.requester_pid);
  w.u32(m.deadline_ms);
  w.count(m.revoked_pins.size());
  for (std::uint64_t pin : m.revoked_pins) w.u64(pin);
}
void read_body(WireReader& r, LeaseEventMessage& m) {
  m.sequence = r.u64("sequence");
  m.lease = r.u64("lease");
  m.ino = r.u64("ino");
  m.path = r.string("path", kMaxPathBytes);
  m.lease_range = read_range(r);
  m.ranges.resize(r.count("ranges", kMaxEventRanges, kRangeWireBytes));
  for (WireRange& range : m.ranges) range = read_range(r);
  m.change = r.string("change", kMaxNameBytes);
  m.requester_pid = r.i32("requester_pid");
  m.deadline_ms = r.u32("deadline_ms");
  m.revoked_pins.resize(r.count("revoked_pins", kMaxRevokedPins, 8));
  for (std::uint64_t& pin : m.revoked_pins) pin = r.u64("revoked_pin");
}

std::vector<std::byte> encode_event(const LeaseEventMessage& event) {
  WireWriter w(static_cast<std::uint16_t>(event.kind), 0);
  write_body(w, event);
  return std::move(w).finish();
}

Result<LeaseEventMessage> decode_event(const Frame& frame) {
  if (!is_event_kind(frame.kind)) {
    return Error(EPROTO, "decode event", "", "the frame is a " + kind_name(frame.kind));
  }
  if (frame.request_id != 0) {
    return Error(EBADMSG, "decode " + kind_name(frame.kind), "",
                 "an event carries request id 0, not " + std::to_string(frame.request_id));
  }
  WireReader r(frame.body, kind_name(frame.kind));
  LeaseEventMessage event;
  event.kind = static_cast<MessageKind>(frame.kind);
  read_body(r, event);
  r.expect_end();
  PINFS_TRY(r.status());
  return event;
}

}  // namespace pinfs::protocol
