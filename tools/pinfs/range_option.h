// --range OFF:LEN, as `pinfs pin`, `pinfs break` and `pinfs revoke` take it:
// sizes as mkfs takes them ("0:2M", "4K:8K"); an empty or "end" length
// reaches to the end of the file ("2M:", "2M:end"); no option at all is the
// whole file.
#pragma once

#include <string>

#include "pinfs/client_types.h"
#include "pinfs/error.h"

namespace pinfs::tools {

[[nodiscard]] Result<FileRange> parse_range_option(const std::string& text);

}  // namespace pinfs::tools
