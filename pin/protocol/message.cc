#include "pin/protocol/message.h"

#include <cstdio>

namespace pinfs::protocol {
namespace {

const char* base_name(std::uint16_t kind) {
  switch (static_cast<MessageKind>(kind)) {
    case MessageKind::hello: return "HELLO";
    case MessageKind::open: return "OPEN";
    case MessageKind::close: return "CLOSE";
    case MessageKind::lease_acquire: return "LEASE_ACQUIRE";
    case MessageKind::lease_downgrade: return "LEASE_DOWNGRADE";
    case MessageKind::lease_release: return "LEASE_RELEASE";
    case MessageKind::map: return "MAP";
    case MessageKind::allocate: return "ALLOCATE";
    case MessageKind::pin_create: return "PIN_CREATE";
    case MessageKind::pin_release: return "PIN_RELEASE";
    case MessageKind::registration_report: return "REGISTRATION_REPORT";
    case MessageKind::registration_withdraw: return "REGISTRATION_WITHDRAW";
    case MessageKind::list_pins: return "LIST_PINS";
    case MessageKind::list_leases: return "LIST_LEASES";
    case MessageKind::stat: return "STAT";
    case MessageKind::break_leases: return "BREAK";
    case MessageKind::event_break: return "EVENT_BREAK";
    case MessageKind::event_break_abandoned: return "EVENT_BREAK_ABANDONED";
    case MessageKind::event_revoked: return "EVENT_REVOKED";
    case MessageKind::event_break_denied: return "EVENT_BREAK_DENIED";
  }
  return nullptr;
}

}  // namespace

bool is_request_kind(std::uint16_t kind) {
  return kind >= static_cast<std::uint16_t>(MessageKind::hello) &&
         kind <= static_cast<std::uint16_t>(MessageKind::break_leases);
}

bool is_event_kind(std::uint16_t kind) {
  return kind >= static_cast<std::uint16_t>(MessageKind::event_break) &&
         kind <= static_cast<std::uint16_t>(MessageKind::event_break_denied);
}

std::string kind_name(std::uint16_t kind) {
  if ((kind & kReplyBit) != 0) {
    const std::uint16_t request = kind & static_cast<std::uint16_t>(~kReplyBit);
    if (is_request_kind(request)) return std::string(base_name(request)) + " reply";
  } else if (const char* name = base_name(kind)) {
    return name;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "kind 0x%04x", static_cast<unsigned>(kind));
  return buf;
}

const char* to_string(LeaseKind kind) {
  switch (kind) {
    case LeaseKind::read: return "read";
    case LeaseKind::unbreakable: return "unbreakable";
    case LeaseKind::write: return "write";
  }
  return "unknown";
}

}  // namespace pinfs::protocol
