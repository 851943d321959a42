#include "pin/protocol/frame.h"

#include <string>

#include "pin/protocol/limits.h"

namespace pinfs::protocol {
namespace {

std::uint64_t read_le(const std::byte* p, int width) {
  std::uint64_t v = 0;
  for (int i = 0; i < width; ++i) v |= static_cast<std::uint64_t>(std::to_integer<std::uint8_t>(p[i])) << (8 * i);
  return v;
}

}  // namespace

std::uint32_t read_frame_length(std::span<const std::byte> header) {
  return static_cast<std::uint32_t>(read_le(header.data(), 4));
}

void FrameAssembler::append(std::span<const std::byte> bytes) {
  // Drop what was handed out before growing, so the buffer stays about one
  // frame long however long the connection lives.
  if (consumed_ > 0 && (consumed_ == buffer_.size() || consumed_ >= 64 * 1024)) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

Result<std::optional<Frame>> FrameAssembler::next() {
  const std::size_t available = buffer_.size() - consumed_;
  if (available < 4) return std::optional<Frame>();
  const std::byte* p = buffer_.data() + consumed_;
  const std::uint32_t length = read_frame_length({p, 4});
  if (length > max_frame_bytes_) {
    return Error(EMSGSIZE, "receive frame", "",
                 "announced length " + std::to_string(length) + " exceeds the limit of " +
                     std::to_string(max_frame_bytes_) + " bytes");
  }
  if (length < kFrameHeaderBytes) {
    return Error(EBADMSG, "receive frame", "",
                 "announced length " + std::to_string(length) + " is shorter than the " +
                     std::to_string(kFrameHeaderBytes) + "-byte header");
  }
  if (available < length) return std::optional<Frame>();
  const auto flags = static_cast<std::uint16_t>(read_le(p + 6, 2));
  if (flags != 0) {
    return Error(EBADMSG, "receive frame", "",
                 "flags " + std::to_string(flags) + " are not defined in this version");
  }
  Frame frame;
  frame.kind = static_cast<std::uint16_t>(read_le(p + 4, 2));
  frame.request_id = read_le(p + 8, 8);
  frame.body.assign(p + kFrameHeaderBytes, p + length);
  consumed_ += length;
  return std::optional<Frame>(std::move(frame));
}

}  // namespace pinfs::protocol
