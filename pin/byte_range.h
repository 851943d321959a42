// ByteRange: a half-open range [offset, offset + length) of bytes, of a file
// or of the media. The one range type of pin/ and lease/.
#pragma once

#include <cstdint>
#include <string>

#include "fs/filesystem.h"

namespace pinfs::pin {

struct ByteRange {
  std::uint64_t offset = 0;
  // fs::kToEnd means "to the end of the file" (a whole-file lease, a
  // truncate); end() saturates instead of wrapping.
  std::uint64_t length = 0;

  std::uint64_t end() const {
    return length > UINT64_MAX - offset ? UINT64_MAX : offset + length;
  }
  bool empty() const { return length == 0; }
  bool overlaps(const ByteRange& other) const {
    return !empty() && !other.empty() && offset < other.end() && other.offset < end();
  }
  bool contains(const ByteRange& other) const {
    return offset <= other.offset && other.end() <= end();
  }
  // The common part, empty when they do not overlap.
  ByteRange intersection(const ByteRange& other) const;
  static ByteRange from_bounds(std::uint64_t begin, std::uint64_t end) {
    return ByteRange{begin, end > begin ? end - begin : 0};
  }

  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// "[0, 2 MiB)", "[4 KiB, end)": how errors and tools print a range.
std::string format_range(const ByteRange& range);

// "'/mnt/data/f1'" or, when no path is known, "<inode 42>": the object of an
// Error about a file.
std::string describe_file(fs::InodeNumber ino, const std::string& path);

}  // namespace pinfs::pin
