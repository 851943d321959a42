// Every message of the control protocol survives an encode/decode round
// trip, and every malformed body is refused with an error naming the field.
#include "pin/protocol/message_codec.h"

#include <gtest/gtest.h>

#include "pin/protocol/limits.h"

namespace pinfs::protocol {
namespace {

// The frame an encoder produced, as the assembler would hand it out.
Frame to_frame(const std::vector<std::byte>& bytes) {
  FrameAssembler assembler(kMaxMessageBytes);
  assembler.append(bytes);
  auto next = assembler.next();
  EXPECT_TRUE(next.ok() && next->has_value());
  return std::move(**next);
}

template <typename M>
void expect_request_round_trip(const M& message) {
  Frame frame = to_frame(encode_request(77, message));
  EXPECT_EQ(frame.kind, static_cast<std::uint16_t>(M::kKind));
  EXPECT_EQ(frame.request_id, 77u);
  auto decoded = decode_request<M>(frame);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_TRUE(*decoded == message);
}

template <typename M>
void expect_reply_round_trip(MessageKind request, const M& message) {
  Frame frame = to_frame(encode_reply(9, request, message));
  auto decoded = decode_reply<M>(frame, request);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_FALSE(decoded->error.has_value());
  EXPECT_TRUE(decoded->value == message);
}

TEST(MessageCodecTest, RequestsRoundTrip) {
  expect_request_round_trip(Hello{kMagic, 1, 3, "example_pin_rdma"});
  expect_request_round_trip(OpenRequest{"/mnt/pinfs/data/f1"});
  expect_request_round_trip(CloseRequest{5});
  expect_request_round_trip(LeaseAcquireRequest{5, LeaseKind::unbreakable, {4096, kToEnd}});
  expect_request_round_trip(LeaseDowngradeRequest{12, LeaseKind::read});
  expect_request_round_trip(LeaseReleaseRequest{12});
  expect_request_round_trip(MapRequest{5});
  expect_request_round_trip(AllocateRequest{12, {0, 8u << 20}});
  expect_request_round_trip(PinCreateRequest{12, {0, 2u << 20}, kPinAllocate, LeaseKind::unbreakable});
  expect_request_round_trip(PinReleaseRequest{33});
  expect_request_round_trip(RegistrationReport{33, "rxe0", 0x1234, 0x5678, 0x7f0000000000, 6u << 20, 7});
  expect_request_round_trip(RegistrationWithdraw{33, "rxe0", 0x5678});
  expect_request_round_trip(ListPinsRequest{});
  expect_request_round_trip(ListLeasesRequest{});
  expect_request_round_trip(StatRequest{});
  expect_request_round_trip(BreakRequest{"data/f1", {0, kToEnd}});
}

TEST(MessageCodecTest, RepliesRoundTrip) {
  expect_reply_round_trip(MessageKind::hello,
                          HelloReply{1, 42, 5000, "pinfsd 0.1.0", "/mnt/pinfs"});
  expect_reply_round_trip(MessageKind::open, OpenReply{1, 17, 12345, 0100644, 1000, 1000});
  expect_reply_round_trip(MessageKind::lease_acquire, LeaseAcquireReply{8});
  expect_reply_round_trip(MessageKind::map,
                          MapReply{2u << 20, 6u << 20, 1u << 30,
                                   {{0, 4u << 20, 2u << 20}, {2u << 20, 10u << 20, 4u << 20}}});
  expect_reply_round_trip(MessageKind::pin_create,
                          PinCreateReply{3, LeaseKind::read, {0, 4096}, {{0, 8192, 4096}}});
  expect_reply_round_trip(MessageKind::list_pins, JsonReply{R"({"pins":[]})"});
  expect_reply_round_trip(MessageKind::lease_release, EmptyReply{});
}

TEST(MessageCodecTest, ErrorRepliesCarryTheDaemonsError) {
  Error sent(ETXTBSY, "punch", "/mnt/data/f1", "pinned by pid 4242, unbreakable lease 3");
  Frame frame = to_frame(encode_error_reply(4, static_cast<std::uint16_t>(MessageKind::pin_create), sent));
  auto decoded = decode_reply<PinCreateReply>(frame, MessageKind::pin_create);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  ASSERT_TRUE(decoded->error.has_value());
  EXPECT_EQ(decoded->error->errnum(), ETXTBSY);
  EXPECT_EQ(decoded->error->message(), sent.message());
}

TEST(MessageCodecTest, ErrorTextsAreCutToTheLimit) {
  Error sent(EINVAL, "open", std::string(kMaxErrorTextBytes + 100, 'x'));
  Frame frame = to_frame(encode_error_reply(4, static_cast<std::uint16_t>(MessageKind::open), sent));
  auto decoded = decode_reply<OpenReply>(frame, MessageKind::open);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  ASSERT_TRUE(decoded->error.has_value());
  EXPECT_EQ(decoded->error->object().size(), kMaxErrorTextBytes);
}

TEST(MessageCodecTest, EventsRoundTrip) {
  LeaseEventMessage event;
  event.kind = MessageKind::event_revoked;
  event.sequence = 99;
  event.lease = 3;
  event.ino = 17;
  event.path = "/mnt/pinfs/f";
  event.lease_range = {0, kToEnd};
  event.ranges = {{4096, 8192}};
  event.change = "punch";
  event.requester_pid = 4242;
  event.deadline_ms = 0;
  event.revoked_pins = {7, 8, 9};
  Frame frame = to_frame(encode_event(event));
  EXPECT_EQ(frame.request_id, 0u);
  auto decoded = decode_event(frame);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_TRUE(*decoded == event);
}

// --- Malformed bodies ------------------------------------------------------

// A frame of `kind` and request id 1 whose body is exactly `body`.
Frame raw_frame(MessageKind kind, std::vector<std::uint8_t> body, std::uint64_t id = 1) {
  Frame frame;
  frame.kind = static_cast<std::uint16_t>(kind);
  frame.request_id = id;
  for (std::uint8_t b : body) frame.body.push_back(static_cast<std::byte>(b));
  return frame;
}

std::vector<std::uint8_t> le(std::uint64_t v, int width) {
  std::vector<std::uint8_t> out;
  for (int i = 0; i < width; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  return out;
}

std::vector<std::uint8_t> cat(std::initializer_list<std::vector<std::uint8_t>> parts) {
  std::vector<std::uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

template <typename M>
void expect_malformed(const Frame& frame, int errnum, const std::string& words) {
  auto decoded = decode_request<M>(frame);
  ASSERT_FALSE(decoded.ok()) << "decoded a malformed " << kind_name(frame.kind);
  EXPECT_EQ(decoded.error().errnum(), errnum) << decoded.error().message();
  EXPECT_NE(decoded.error().message().find(words), std::string::npos)
      << "'" << words << "' not in: " << decoded.error().message();
}

TEST(MessageCodecTest, RefusesATruncatedField) {
  // LEASE_ACQUIRE: handle, kind, then a range of which only 3 bytes came.
  Frame frame = raw_frame(MessageKind::lease_acquire, cat({le(5, 8), le(1, 1), le(0, 3)}));
  expect_malformed<LeaseAcquireRequest>(frame, EBADMSG, "field 'range.offset': needs 8 bytes, 3 left");
}

TEST(MessageCodecTest, RefusesTrailingBytes) {
  Frame frame = raw_frame(MessageKind::close, cat({le(5, 8), le(0, 1)}));
  expect_malformed<CloseRequest>(frame, EBADMSG, "1 unexpected trailing bytes");
}

TEST(MessageCodecTest, RefusesAStringLongerThanWhatIsLeft) {
  Frame frame = raw_frame(MessageKind::open, cat({le(100, 4), le('a', 1)}));
  expect_malformed<OpenRequest>(frame, EBADMSG, "length 100 exceeds the 1 bytes left");
}

TEST(MessageCodecTest, RefusesAStringAboveItsLimit) {
  Frame frame = raw_frame(MessageKind::open, cat({le(kMaxPathBytes + 1, 4)}));
  expect_malformed<OpenRequest>(frame, EBADMSG, "exceeds the limit of 4095 bytes");
}

TEST(MessageCodecTest, RefusesAStringWithANul) {
  Frame frame = raw_frame(MessageKind::open, cat({le(3, 4), {'a', 0, 'b'}}));
  expect_malformed<OpenRequest>(frame, EBADMSG, "contains a NUL byte");
}

TEST(MessageCodecTest, RefusesAnEmptyPath) {
  Frame frame = raw_frame(MessageKind::open, le(0, 4));
  expect_malformed<OpenRequest>(frame, EBADMSG, "field 'path': empty");
}

TEST(MessageCodecTest, RefusesAnUndefinedLeaseKind) {
  Frame frame = raw_frame(MessageKind::lease_acquire, cat({le(5, 8), le(7, 1), le(0, 8), le(1, 8)}));
  expect_malformed<LeaseAcquireRequest>(frame, EBADMSG, "field 'kind': value 7 is not defined");
}

TEST(MessageCodecTest, RefusesADowngradeToWrite) {
  Frame frame = raw_frame(MessageKind::lease_downgrade, cat({le(5, 8), le(3, 1)}));
  expect_malformed<LeaseDowngradeRequest>(frame, EBADMSG, "field 'to': value 3");
}

TEST(MessageCodecTest, RefusesUndefinedPinFlags) {
  Frame frame = raw_frame(MessageKind::pin_create,
                          cat({le(5, 8), le(0, 8), le(4096, 8), le(2, 1), le(1, 1)}));
  expect_malformed<PinCreateRequest>(frame, EBADMSG, "field 'flags': value 2");
}

TEST(MessageCodecTest, RefusesABadMagic) {
  Frame frame = raw_frame(MessageKind::hello, cat({le(0x12345678, 4), le(1, 2), le(1, 2), le(0, 4)}));
  expect_malformed<Hello>(frame, EBADMSG, "wrong magic");
}

TEST(MessageCodecTest, RefusesAnInvertedVersionRange) {
  Frame frame = raw_frame(MessageKind::hello, cat({le(kMagic, 4), le(3, 2), le(1, 2), le(0, 4)}));
  expect_malformed<Hello>(frame, EBADMSG, "above max_version");
}

TEST(MessageCodecTest, RefusesRequestIdZero) {
  Frame frame = raw_frame(MessageKind::close, le(5, 8), /*id=*/0);
  expect_malformed<CloseRequest>(frame, EBADMSG, "request id 0 is reserved");
}

TEST(MessageCodecTest, RefusesAFrameOfAnotherKind) {
  Frame frame = raw_frame(MessageKind::close, le(5, 8));
  expect_malformed<MapRequest>(frame, EPROTO, "the frame is a CLOSE");
}

TEST(MessageCodecTest, RefusesAnExtentCountAboveTheLimit) {
  Frame frame;
  frame.kind = static_cast<std::uint16_t>(MessageKind::map) | kReplyBit;
  frame.request_id = 1;
  for (auto b : cat({le(0, 4), le(4096, 8), le(0, 8), le(0, 8), le(kMaxExtents + 1, 4)}))
    frame.body.push_back(static_cast<std::byte>(b));
  auto decoded = decode_reply<MapReply>(frame, MessageKind::map);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().message().find("exceeds the limit of 65536"), std::string::npos)
      << decoded.error().message();
}

TEST(MessageCodecTest, RefusesAnExtentCountThatDoesNotFit) {
  // 2 extents announced, 1 present: never reserve what the count claims.
  Frame frame;
  frame.kind = static_cast<std::uint16_t>(MessageKind::map) | kReplyBit;
  frame.request_id = 1;
  for (auto b : cat({le(0, 4), le(4096, 8), le(0, 8), le(0, 8), le(2, 4), le(0, 24)}))
    frame.body.push_back(static_cast<std::byte>(b));
  auto decoded = decode_reply<MapReply>(frame, MessageKind::map);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().message().find("2 elements of 24 bytes do not fit in the 24 bytes left"),
            std::string::npos)
      << decoded.error().message();
}

TEST(MessageCodecTest, RefusesAnAlignmentThatIsNotAPowerOfTwo) {
  Frame frame;
  frame.kind = static_cast<std::uint16_t>(MessageKind::map) | kReplyBit;
  frame.request_id = 1;
  for (auto b : cat({le(0, 4), le(3000, 8), le(0, 8), le(0, 8), le(0, 4)}))
    frame.body.push_back(static_cast<std::byte>(b));
  auto decoded = decode_reply<MapReply>(frame, MessageKind::map);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().message().find("not a power of two"), std::string::npos);
}

TEST(MessageCodecTest, RefusesANegativeErrno) {
  Frame frame;
  frame.kind = static_cast<std::uint16_t>(MessageKind::open) | kReplyBit;
  frame.request_id = 1;
  for (auto b : cat({le(static_cast<std::uint32_t>(-5), 4), le(0, 4), le(0, 4), le(0, 4)}))
    frame.body.push_back(static_cast<std::byte>(b));
  auto decoded = decode_reply<OpenReply>(frame, MessageKind::open);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().message().find("negative errno"), std::string::npos);
}

TEST(MessageCodecTest, RefusesAReplyToAnotherRequest) {
  Frame frame = to_frame(encode_reply(3, MessageKind::lease_acquire, LeaseAcquireReply{1}));
  auto decoded = decode_reply<PinCreateReply>(frame, MessageKind::pin_create);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().errnum(), EPROTO);
}

TEST(MessageCodecTest, RefusesAnEventWithARequestId) {
  LeaseEventMessage event;
  Frame frame = to_frame(encode_event(event));
  frame.request_id = 5;
  auto decoded = decode_event(frame);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().errnum(), EBADMSG);
}

TEST(MessageCodecTest, RefusesAnEventWithTooManyRanges) {
  LeaseEventMessage event;
  event.ranges.resize(kMaxEventRanges + 1);
  Frame frame = to_frame(encode_event(event));
  auto decoded = decode_event(frame);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().message().find("field 'ranges'"), std::string::npos);
}

TEST(MessageCodecTest, NamesKindsForLogs) {
  EXPECT_EQ(kind_name(static_cast<std::uint16_t>(MessageKind::pin_create)), "PIN_CREATE");
  EXPECT_EQ(kind_name(static_cast<std::uint16_t>(MessageKind::map) | kReplyBit), "MAP reply");
  EXPECT_EQ(kind_name(0x1234), "kind 0x1234");
  EXPECT_TRUE(is_request_kind(static_cast<std::uint16_t>(MessageKind::break_leases)));
  EXPECT_FALSE(is_request_kind(static_cast<std::uint16_t>(MessageKind::event_break)));
  EXPECT_TRUE(is_event_kind(static_cast<std::uint16_t>(MessageKind::event_break_denied)));
}

}  // namespace
}  // namespace pinfs::protocol
