// Sizes as people write and read them: "64M" in, "2 MiB" out (binary units).
#pragma once

#include <cstdint>
#include <string>

#include "pinfs/error.h"

namespace pinfs::fs {

// "4096", "64K", "2M", "2G", "1T" (also "2MiB", "2m"); overflow and junk are
// EINVAL errors naming the text.
Result<std::uint64_t> parse_size(const std::string& text);
// "0 B", "4 KiB", "1.5 MiB".
std::string format_size(std::uint64_t bytes);

}  // namespace pinfs::fs
