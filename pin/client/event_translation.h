// From the protocol's LEASE event messages to the public LeaseEvent, and
// what each event does to the client's view of its lease.
#pragma once

#include "pin/client/handle_state.h"
#include "pin/protocol/message.h"
#include "pinfs/client_types.h"

namespace pinfs::client_detail {

LeaseEvent to_lease_event(const protocol::LeaseEventMessage& message);
// break_requested marks the lease breaking; break_abandoned clears it;
// revoked and connection_lost mean it is no longer held.
void apply_event(LeaseState& lease, const LeaseEvent& event);

// Conversions shared by the handles.
protocol::LeaseKind to_wire(LeaseKind kind);
LeaseKind from_wire(protocol::LeaseKind kind);
protocol::WireRange to_wire(FileRange range);
FileRange from_wire(protocol::WireRange range);
Extent from_wire(const protocol::WireExtent& extent);

}  // namespace pinfs::client_detail
