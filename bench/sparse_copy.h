// copy_sparse: copies a pool file's data regions only (SEEK_DATA/SEEK_HOLE),
// so a snapshot of a mostly empty multi-GiB pool costs what it holds.
#pragma once

#include <string>

#include "pinfs/error.h"

namespace pinfs::bench {

// Creates `to` (it must not exist) with the size of `from` and the bytes of
// every data region of `from`. Reading a pool file that a FileSystem in this
// process has mapped shared sees every store made so far: with no operation
// in flight, the copy is what a power cut at this instant would leave
// behind (on a plain pool file, whose page cache is the media).
Status copy_sparse(const std::string& from, const std::string& to);

}  // namespace pinfs::bench
