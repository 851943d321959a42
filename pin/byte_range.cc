#include "pin/byte_range.h"

#include <algorithm>

#include "fs/units.h"

namespace pinfs::pin {

ByteRange ByteRange::intersection(const ByteRange& other) const {
  if (!overlaps(other)) return ByteRange{std::max(offset, other.offset), 0};
  return from_bounds(std::max(offset, other.offset), std::min(end(), other.end()));
}

std::string format_range(const ByteRange& range) {
  // fs::format_size rounds ("1.5 MiB"); an offset that is not a whole unit
  // prints exactly, so that a range in an error can be found again.
  auto format_offset = [](std::uint64_t bytes) {
    if (bytes == 0) return std::string("0");
    std::string rounded = fs::format_size(bytes);
    if (rounded.find('.') == std::string::npos) return rounded;
    return std::to_string(bytes);
  };
  // Appended piece by piece: GCC 12 at -O3 warns falsely (-Wrestrict) on
  // "literal" + std::string temporaries here.
  std::string out(1, '[');
  out += format_offset(range.offset);
  out += ", ";
  out += range.length == fs::kToEnd || range.end() == UINT64_MAX ? std::string("end")
                                                                   : format_offset(range.end());
  out += ')';
  return out;
}

std::string describe_file(fs::InodeNumber ino, const std::string& path) {
  // Angle brackets keep pinfs::Error from quoting it as if it were a path.
  if (path.empty()) return "<inode " + std::to_string(ino) + ">";
  return "'" + path + "'";
}

}  // namespace pinfs::pin
