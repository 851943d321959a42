#include "fs/xattr_blob.h"

#include <fmt/format.h>

#include <cstring>
#include <set>

#include "fs/filesystem.h"
#include "fs/format.h"
#include "fs/inode_table.h"
#include "fs/le.h"

namespace pinfs::fs {

Result<XattrItems> parse_xattr_blob(const Blob& blob, InodeNumber owner) {
  XattrItems out;
  const std::byte* p = blob.payload.data();
  const std::size_t size = blob.payload.size();
  std::size_t at = 0;
  std::set<std::string, std::less<>> seen;
  for (std::uint32_t i = 0; i < blob.item_count; ++i) {
    if (size - at < sizeof(format::XattrItem))
      return corrupt("read xattrs", InodeTable::name(owner),
                     fmt::format("item {} header beyond the blob", i));
    auto item = load_as<format::XattrItem>(p + at);
    at += sizeof item;
    std::size_t nl = item.name_length, vl = item.value_length;
    if (nl == 0 || vl > kXattrValueMaxBytes || nl + vl > size - at)
      return corrupt("read xattrs", InodeTable::name(owner), fmt::format("item {} out of bounds", i));
    std::string name(reinterpret_cast<const char*>(p + at), nl);
    if (!seen.insert(name).second)
      return corrupt("read xattrs", InodeTable::name(owner), fmt::format("'{}' appears twice", name));
    out.push_back({std::move(name), std::vector<std::byte>(p + at + nl, p + at + nl + vl)});
    at += nl + vl;
  }
  if (at != size)
    return corrupt("read xattrs", InodeTable::name(owner),
                   fmt::format("{} trailing bytes in the blob", size - at));
  return out;
}

std::vector<std::byte> encode_xattr_blob(const XattrItems& items) {
  std::vector<std::byte> payload;
  for (const auto& [name, value] : items) {
    format::XattrItem item{};
    item.name_length = static_cast<std::uint8_t>(name.size());
    item.value_length = static_cast<std::uint32_t>(value.size());
    std::size_t at = payload.size();
    payload.resize(at + sizeof item + name.size() + value.size());
    store_as(payload.data() + at, item);
    std::memcpy(payload.data() + at + sizeof item, name.data(), name.size());
    if (!value.empty())
      std::memcpy(payload.data() + at + sizeof item + name.size(), value.data(), value.size());
  }
  return payload;
}

}  // namespace pinfs::fs
