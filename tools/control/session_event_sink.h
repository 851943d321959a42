// SessionEventSink: the lease manager's LeaseEventSink for one client. It
// runs on whatever thread raised the event (a FUSE thread doing a punch, a
// worker doing a BREAK), so it only encodes the event and posts it to the
// loop, which queues it on the client's socket. It never blocks, as the
// manager requires.
#pragma once

#include <memory>

#include "lease/lease_event.h"
#include "pin/protocol/message.h"
#include "tools/control/loop_mailbox.h"

namespace pinfs::control {

class ControlServer;

// The name a layout change has in events and errors ("punch").
const char* change_name(fs::LayoutChangeKind kind);

// What goes on the wire for an event.
protocol::LeaseEventMessage to_message(const lease::LeaseEvent& event);

class SessionEventSink final : public lease::LeaseEventSink {
 public:
  // deliver: called on the loop thread with the encoded event.
  using Deliver = std::function<void(pin::ClientId, std::vector<std::byte>)>;
  SessionEventSink(pin::ClientId client, std::shared_ptr<LoopMailbox> mailbox, Deliver deliver)
      : client_(client), mailbox_(std::move(mailbox)), deliver_(std::move(deliver)) {}

  void on_lease_event(const lease::LeaseEvent& event) override;

 private:
  const pin::ClientId client_;
  const std::shared_ptr<LoopMailbox> mailbox_;
  const Deliver deliver_;
};

}  // namespace pinfs::control
