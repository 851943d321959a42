// Frame: one length-prefixed message of the control protocol, and the
// FrameAssembler that cuts a byte stream (a Unix stream socket) into frames.
//
// Header (16 bytes, little-endian):
//   u32 length      the whole frame, header included: 16 <= length <= limit
//   u16 kind        MessageKind (message.h)
//   u16 flags       0; no flag is defined in version 1
//   u64 request_id  chosen by the client, != 0, echoed by the reply;
//                   0 on events (daemon -> client)
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "pinfs/error.h"

namespace pinfs::protocol {

struct Frame {
  std::uint16_t kind = 0;
  std::uint64_t request_id = 0;
  std::vector<std::byte> body;  // the bytes after the header
};

// Cuts frames out of a stream. The announced length is checked against
// max_frame_bytes as soon as the 4 bytes of it have arrived, before any of
// the frame is buffered, so a peer can never make the reader hold more than
// one frame of at most that size (plus what one receive brought).
//
// After an error the stream cannot be resynchronised: the connection must
// be closed. Not thread-safe.
class FrameAssembler {
 public:
  explicit FrameAssembler(std::size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

  void append(std::span<const std::byte> bytes);
  // The next complete frame, nullopt if more bytes are needed. EMSGSIZE for
  // a length above the limit, EBADMSG for one below the header's size or
  // for flags that are not 0.
  [[nodiscard]] Result<std::optional<Frame>> next();
  // Bytes received and not yet returned as frames.
  std::size_t buffered_bytes() const { return buffer_.size() - consumed_; }

 private:
  std::size_t max_frame_bytes_;
  std::vector<std::byte> buffer_;
  std::size_t consumed_ = 0;  // bytes at the front already returned
};

// The frame's announced length, read from its first 4 bytes.
std::uint32_t read_frame_length(std::span<const std::byte> header);

}  // namespace pinfs::protocol
