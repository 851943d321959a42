// A sample tree with one of everything a file system has to keep: nested
// and empty directories; files from 0 bytes to several MiB (across the
// 2 MiB aligned unit); sparse files with holes made by truncate and by
// punching; hard links (three names), relative, absolute, dangling and long
// symlinks; a FIFO and a character device; xattrs (empty, text, binary);
// unusual modes (0000, 0600, 04755, 02755, 01777), other owners, explicit
// nanosecond times; a 255-byte name and a non-ASCII one.
#pragma once

#include <cstdint>
#include <string>

namespace pinfs::mount_test {

// Builds the tree under `root` (which must exist, empty). Returns "" or a
// description of the first step that failed.
std::string build_sample_tree(const std::string& root, std::uint64_t seed);

// Changes an existing sample tree the way a user would: deletes, renames
// across directories, truncates, overwrites in the middle, appends, removes
// an xattr and a link. Returns "" or the first failure.
std::string mutate_sample_tree(const std::string& root, std::uint64_t seed);

}  // namespace pinfs::mount_test
