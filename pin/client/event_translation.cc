#include "pin/client/event_translation.h"

namespace pinfs::client_detail {

protocol::LeaseKind to_wire(LeaseKind kind) {
  switch (kind) {
    case LeaseKind::read: return protocol::LeaseKind::read;
    case LeaseKind::unbreakable: return protocol::LeaseKind::unbreakable;
    case LeaseKind::write: return protocol::LeaseKind::write;
  }
  return protocol::LeaseKind::read;
}

LeaseKind from_wire(protocol::LeaseKind kind) {
  switch (kind) {
    case protocol::LeaseKind::read: return LeaseKind::read;
    case protocol::LeaseKind::unbreakable: return LeaseKind::unbreakable;
    case protocol::LeaseKind::write: return LeaseKind::write;
  }
  return LeaseKind::read;
}

protocol::WireRange to_wire(FileRange range) { return {range.offset, range.length}; }
FileRange from_wire(protocol::WireRange range) { return {range.offset, range.length}; }
Extent from_wire(const protocol::WireExtent& e) { return {e.file_offset, e.media_offset, e.length}; }

LeaseEvent to_lease_event(const protocol::LeaseEventMessage& message) {
  LeaseEvent event;
  switch (message.kind) {
    case protocol::MessageKind::event_break_abandoned:
      event.kind = LeaseEventKind::break_abandoned;
      break;
    case protocol::MessageKind::event_revoked:
      event.kind = LeaseEventKind::revoked;
      break;
    case protocol::MessageKind::event_break_denied:
      event.kind = LeaseEventKind::break_denied;
      break;
    default:
      event.kind = LeaseEventKind::break_requested;
      break;
  }
  event.lease_id = message.lease;
  event.path = message.path;
  event.lease_range = from_wire(message.lease_range);
  for (const auto& range : message.ranges) event.ranges.push_back(from_wire(range));
  event.change = message.change;
  event.requester_pid = message.requester_pid;
  // The daemon sends the milliseconds left when it sent the event, so this
  // deadline is later than the daemon's by the event's time in transit:
  // answer well before it.
  event.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(message.deadline_ms);
  event.revoked_pins = message.revoked_pins;
  return event;
}

void apply_event(LeaseState& lease, const LeaseEvent& event) {
  switch (event.kind) {
    case LeaseEventKind::break_requested:
      lease.breaking = true;
      break;
    case LeaseEventKind::break_abandoned:
      lease.breaking = false;
      break;
    case LeaseEventKind::revoked:
    case LeaseEventKind::connection_lost:
      lease.held = false;
      lease.breaking = false;
      break;
    case LeaseEventKind::break_denied:
      break;
  }
}

}  // namespace pinfs::client_detail
