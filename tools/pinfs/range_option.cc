#include "tools/pinfs/range_option.h"

#include "fs/units.h"

namespace pinfs::tools {

Result<FileRange> parse_range_option(const std::string& text) {
  if (text.empty()) return FileRange{};
  const auto colon = text.find(':');
  if (colon == std::string::npos) {
    return Error(EINVAL, "parse --range", text, "expected OFFSET:LENGTH, e.g. 0:2M (or 2M: to the end)");
  }
  // A bad size names the whole option, not only its half.
  auto size_of = [&](const std::string& part) -> Result<std::uint64_t> {
    auto size = fs::parse_size(part);
    if (!size.ok()) return Error(EINVAL, "parse --range", text, size.error().message());
    return size;
  };
  FileRange range;
  PINFS_ASSIGN_OR_RETURN(range.offset, size_of(text.substr(0, colon)));
  const std::string length = text.substr(colon + 1);
  if (!length.empty() && length != "end") {
    PINFS_ASSIGN_OR_RETURN(range.length, size_of(length));
    if (range.length == 0) return Error(EINVAL, "parse --range", text, "the length is 0");
    if (range.length > kToEndOfFile - range.offset) {
      return Error(EINVAL, "parse --range", text, "the range runs past the largest file offset");
    }
  }
  return range;
}

}  // namespace pinfs::tools
