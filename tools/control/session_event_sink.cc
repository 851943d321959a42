#include "tools/control/session_event_sink.h"

#include <algorithm>

#include "pin/protocol/limits.h"
#include "pin/protocol/message_codec.h"

namespace pinfs::control {

const char* change_name(fs::LayoutChangeKind kind) {
  switch (kind) {
    case fs::LayoutChangeKind::truncate_down: return "truncate";
    case fs::LayoutChangeKind::punch_hole: return "punch";
    case fs::LayoutChangeKind::collapse_range: return "collapse range";
    case fs::LayoutChangeKind::insert_range: return "insert range";
    case fs::LayoutChangeKind::final_unlink: return "unlink";
    case fs::LayoutChangeKind::make_mappable: return "make mappable";
  }
  return "change layout";
}

protocol::LeaseEventMessage to_message(const lease::LeaseEvent& event) {
  protocol::LeaseEventMessage m;
  switch (event.kind) {
    case lease::LeaseEventKind::break_requested: m.kind = protocol::MessageKind::event_break; break;
    case lease::LeaseEventKind::break_abandoned: m.kind = protocol::MessageKind::event_break_abandoned; break;
    case lease::LeaseEventKind::revoked: m.kind = protocol::MessageKind::event_revoked; break;
    case lease::LeaseEventKind::break_denied: m.kind = protocol::MessageKind::event_break_denied; break;
  }
  m.sequence = event.sequence;
  m.lease = event.lease;
  m.ino = event.ino;
  m.path = event.path.substr(0, protocol::kMaxPathBytes);
  m.lease_range = {event.lease_range.offset, event.lease_range.length};
  for (const auto& r : event.ranges) {
    if (m.ranges.size() == protocol::kMaxEventRanges) break;
    m.ranges.push_back({r.offset, r.length});
  }
  m.change = change_name(event.change);
  m.requester_pid = event.requester_pid;
  if (event.kind == lease::LeaseEventKind::break_requested) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        event.deadline - std::chrono::steady_clock::now());
    m.deadline_ms = static_cast<std::uint32_t>(std::max<std::int64_t>(0, left.count()));
  }
  m.revoked_pins.assign(event.revoked_pins.begin(),
                        event.revoked_pins.begin() +
                            static_cast<std::ptrdiff_t>(std::min(event.revoked_pins.size(), protocol::kMaxRevokedPins)));
  return m;
}

void SessionEventSink::on_lease_event(const lease::LeaseEvent& event) {
  std::vector<std::byte> bytes = protocol::encode_event(to_message(event));
  mailbox_->post([client = client_, deliver = deliver_, bytes = std::move(bytes)]() mutable {
    deliver(client, std::move(bytes));
  });
}

}  // namespace pinfs::control
