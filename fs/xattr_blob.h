// The payload of an inode's xattr blob (docs/format.md, "Extended
// attributes"): item_count items, each an XattrItem header, the name and the
// value, back to back, with nothing after the last. One parser for the file
// system and for check, so that check finds exactly what a read refuses.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "fs/blob.h"
#include "pinfs/error.h"

namespace pinfs::fs {

using XattrItems = std::vector<std::pair<std::string, std::vector<std::byte>>>;

// Parses and verifies the items: bounds, non-empty names, values within the
// limit, no name twice, no trailing bytes. Errors are EUCLEAN naming the
// inode and the item.
Result<XattrItems> parse_xattr_blob(const Blob& blob, InodeNumber owner);

// The payload that parse_xattr_blob reads back as `items`.
std::vector<std::byte> encode_xattr_blob(const XattrItems& items);

}  // namespace pinfs::fs
