// Encoding and decoding of the messages of message.h. Encoders produce a
// whole frame; decoders take a Frame from a FrameAssembler and check, besides
// every length (wire_reader.h), that the frame is of the expected kind, that
// a request carries a request id, and that nothing trails the last field.
//
// Decoding errors are EBADMSG (or EPROTO for a frame of the wrong kind) and
// name the message and field: the daemon logs them and closes that one
// connection; the client library closes its connection too.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "pin/protocol/frame.h"
#include "pin/protocol/message.h"
#include "pin/protocol/wire_reader.h"
#include "pin/protocol/wire_writer.h"
#include "pinfs/error.h"

namespace pinfs::protocol {

// Body encoders and decoders, one pair per message type.
#define PINFS_PROTOCOL_BODY(Type)             \
  void write_body(WireWriter& w, const Type& m); \
  void read_body(WireReader& r, Type& m);
PINFS_PROTOCOL_BODY(Hello)
PINFS_PROTOCOL_BODY(HelloReply)
PINFS_PROTOCOL_BODY(OpenRequest)
PINFS_PROTOCOL_BODY(OpenReply)
PINFS_PROTOCOL_BODY(CloseRequest)
PINFS_PROTOCOL_BODY(LeaseAcquireRequest)
PINFS_PROTOCOL_BODY(LeaseAcquireReply)
PINFS_PROTOCOL_BODY(LeaseDowngradeRequest)
PINFS_PROTOCOL_BODY(LeaseReleaseRequest)
PINFS_PROTOCOL_BODY(MapRequest)
PINFS_PROTOCOL_BODY(MapReply)
PINFS_PROTOCOL_BODY(AllocateRequest)
PINFS_PROTOCOL_BODY(PinCreateRequest)
PINFS_PROTOCOL_BODY(PinCreateReply)
PINFS_PROTOCOL_BODY(PinReleaseRequest)
PINFS_PROTOCOL_BODY(RegistrationReport)
PINFS_PROTOCOL_BODY(RegistrationWithdraw)
PINFS_PROTOCOL_BODY(ListPinsRequest)
PINFS_PROTOCOL_BODY(ListLeasesRequest)
PINFS_PROTOCOL_BODY(StatRequest)
PINFS_PROTOCOL_BODY(JsonReply)
PINFS_PROTOCOL_BODY(BreakRequest)
PINFS_PROTOCOL_BODY(EmptyReply)
PINFS_PROTOCOL_BODY(LeaseEventMessage)
#undef PINFS_PROTOCOL_BODY

// --- Encoding ------------------------------------------------------------

template <typename M>
std::vector<std::byte> encode_request(std::uint64_t request_id, const M& message) {
  WireWriter w(static_cast<std::uint16_t>(M::kKind), request_id);
  write_body(w, message);
  return std::move(w).finish();
}

// A successful reply to a request of request_kind.
template <typename M>
std::vector<std::byte> encode_reply(std::uint64_t request_id, MessageKind request_kind,
                                    const M& message) {
  WireWriter w(static_cast<std::uint16_t>(static_cast<std::uint16_t>(request_kind) | kReplyBit),
               request_id);
  w.i32(0);
  write_body(w, message);
  return std::move(w).finish();
}

// A failed reply. Texts longer than kMaxErrorTextBytes are cut (with "...")
// so that what is sent always decodes.
std::vector<std::byte> encode_error_reply(std::uint64_t request_id, std::uint16_t request_kind,
                                          const Error& error);
std::vector<std::byte> encode_event(const LeaseEventMessage& event);

// --- Decoding ------------------------------------------------------------

// The body of a request frame of M's kind.
template <typename M>
[[nodiscard]] Result<M> decode_request(const Frame& frame) {
  const std::string name = kind_name(static_cast<std::uint16_t>(M::kKind));
  if (frame.kind != static_cast<std::uint16_t>(M::kKind)) {
    return Error(EPROTO, "decode " + name, "", "the frame is a " + kind_name(frame.kind));
  }
  if (frame.request_id == 0) {
    return Error(EBADMSG, "decode " + name, "", "request id 0 is reserved for events");
  }
  WireReader r(frame.body, name);
  M message;
  read_body(r, message);
  r.expect_end();
  PINFS_TRY(r.status());
  return message;
}

// A reply as received: either the daemon's error or the typed body.
template <typename M>
struct ReplyOf {
  std::optional<Error> error;  // the daemon refused; value is empty
  M value{};
};

// Checks the frame is the reply to request_kind and decodes it. The outer
// Result fails only for a malformed frame; the daemon's refusal is in
// ReplyOf::error.
Status check_reply_frame(const Frame& frame, MessageKind request_kind);
[[nodiscard]] Result<std::optional<Error>> read_reply_status(WireReader& r);

template <typename M>
[[nodiscard]] Result<ReplyOf<M>> decode_reply(const Frame& frame, MessageKind request_kind) {
  PINFS_TRY(check_reply_frame(frame, request_kind));
  WireReader r(frame.body, kind_name(frame.kind));
  ReplyOf<M> out;
  PINFS_ASSIGN_OR_RETURN(out.error, read_reply_status(r));
  if (!out.error) read_body(r, out.value);
  r.expect_end();
  PINFS_TRY(r.status());
  return out;
}

[[nodiscard]] Result<LeaseEventMessage> decode_event(const Frame& frame);

// The reply's ErrorReply fields as an Error (for decode_reply), and back.
Error to_error(const ErrorReply& reply);

}  // namespace pinfs::protocol
