// FrameAssembler: cutting a byte stream into frames, and refusing every
// malformed header before buffering the frame it announces.
#include "pin/protocol/frame.h"

#include <gtest/gtest.h>

#include <cstring>

#include "pin/protocol/limits.h"
#include "pin/protocol/message_codec.h"

namespace pinfs::protocol {
namespace {

std::vector<std::byte> sample_frame(std::uint64_t id, const std::string& path) {
  return encode_request(id, OpenRequest{path});
}

void put_u32(std::vector<std::byte>& bytes, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<std::byte>(v >> (8 * i));
}

TEST(FrameAssemblerTest, ReturnsFramesFedOneByteAtATime) {
  std::vector<std::byte> stream = sample_frame(1, "a/b");
  const std::vector<std::byte> second = sample_frame(2, "/mnt/c");
  stream.insert(stream.end(), second.begin(), second.end());
  FrameAssembler assembler(kMaxRequestBytes);
  std::vector<Frame> frames;
  for (std::byte b : stream) {
    assembler.append({&b, 1});
    auto next = assembler.next();
    ASSERT_TRUE(next.ok()) << next.error().message();
    if (*next) frames.push_back(std::move(**next));
  }
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].request_id, 1u);
  EXPECT_EQ(frames[1].request_id, 2u);
  EXPECT_EQ(frames[0].kind, static_cast<std::uint16_t>(MessageKind::open));
  auto open = decode_request<OpenRequest>(frames[1]);
  ASSERT_TRUE(open.ok()) << open.error().message();
  EXPECT_EQ(open->path, "/mnt/c");
  EXPECT_EQ(assembler.buffered_bytes(), 0u);
}

TEST(FrameAssemblerTest, ReturnsSeveralFramesFromOneReceive) {
  std::vector<std::byte> stream;
  for (std::uint64_t id = 1; id <= 5; ++id) {
    auto f = sample_frame(id, "f" + std::to_string(id));
    stream.insert(stream.end(), f.begin(), f.end());
  }
  FrameAssembler assembler(kMaxRequestBytes);
  assembler.append(stream);
  for (std::uint64_t id = 1; id <= 5; ++id) {
    auto next = assembler.next();
    ASSERT_TRUE(next.ok() && next->has_value());
    EXPECT_EQ((*next)->request_id, id);
  }
  auto none = assembler.next();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(FrameAssemblerTest, RefusesAnOversizedLengthBeforeTheFrameArrives) {
  std::vector<std::byte> header(4);
  put_u32(header, 0, kMaxRequestBytes + 1);
  FrameAssembler assembler(kMaxRequestBytes);
  assembler.append(header);  // only the length: nothing of the body yet
  auto next = assembler.next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.error().errnum(), EMSGSIZE);
  EXPECT_NE(next.error().message().find("exceeds the limit of 8192 bytes"), std::string::npos)
      << next.error().message();
}

TEST(FrameAssemblerTest, RefusesALengthShorterThanTheHeader) {
  std::vector<std::byte> frame = sample_frame(1, "x");
  put_u32(frame, 0, kFrameHeaderBytes - 1);
  FrameAssembler assembler(kMaxRequestBytes);
  assembler.append(frame);
  auto next = assembler.next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.error().errnum(), EBADMSG);
}

TEST(FrameAssemblerTest, RefusesUndefinedFlags) {
  std::vector<std::byte> frame = sample_frame(1, "x");
  frame[6] = std::byte{1};
  FrameAssembler assembler(kMaxRequestBytes);
  assembler.append(frame);
  auto next = assembler.next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.error().errnum(), EBADMSG);
  EXPECT_NE(next.error().message().find("flags 1"), std::string::npos);
}

TEST(FrameAssemblerTest, WaitsForATruncatedFrame) {
  std::vector<std::byte> frame = sample_frame(1, "some/path");
  FrameAssembler assembler(kMaxRequestBytes);
  assembler.append(std::span(frame).first(frame.size() - 1));
  auto next = assembler.next();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
  EXPECT_EQ(assembler.buffered_bytes(), frame.size() - 1);
}

TEST(FrameAssemblerTest, AcceptsAFrameOfExactlyTheLimit) {
  // An OPEN whose path fills the frame to the byte.
  const std::size_t path_bytes = 512 - kFrameHeaderBytes - 4;
  std::vector<std::byte> frame = sample_frame(1, std::string(path_bytes, 'p'));
  ASSERT_EQ(frame.size(), 512u);
  FrameAssembler assembler(512);
  assembler.append(frame);
  auto next = assembler.next();
  ASSERT_TRUE(next.ok()) << next.error().message();
  EXPECT_TRUE(next->has_value());
}

}  // namespace
}  // namespace pinfs::protocol
