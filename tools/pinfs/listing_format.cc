#include "tools/pinfs/listing_format.h"

#include <fmt/format.h>

#include <algorithm>

#include "fs/units.h"
#include "pin/byte_range.h"
#include "tools/pinfs/listings.h"

namespace pinfs::tools {

std::string format_bytes(std::uint64_t bytes) { return fs::format_size(bytes); }

std::string format_entry_range(const nlohmann::json& entry) {
  const std::uint64_t offset = entry.at("offset").get<std::uint64_t>();
  const nlohmann::json& length = entry.at("length");
  return pin::format_range(pin::ByteRange{offset, length.is_null() ? fs::kToEnd : length.get<std::uint64_t>()});
}

std::string format_age(std::int64_t seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 60) return fmt::format("{}s", seconds);
  if (seconds < 3600) return fmt::format("{}m{:02}s", seconds / 60, seconds % 60);
  if (seconds < 86400) return fmt::format("{}h{:02}m", seconds / 3600, seconds % 3600 / 60);
  return fmt::format("{}d{:02}h", seconds / 86400, seconds % 86400 / 3600);
}

std::string format_time_left(std::int64_t milliseconds) {
  // Tenths, rounded towards "later": a deadline shown as "0.0s left" has
  // not passed yet.
  if (milliseconds >= 0) {
    const std::int64_t tenths = (milliseconds + 99) / 100;
    return fmt::format("{}.{}s left", tenths / 10, tenths % 10);
  }
  const std::int64_t tenths = (-milliseconds + 99) / 100;
  return fmt::format("overdue {}.{}s", tenths / 10, tenths % 10);
}

std::string format_registration(const nlohmann::json& r) {
  return fmt::format("{} lkey {:#x} rkey {:#x} access {:#x}", r.at("device").get<std::string>(),
                     r.at("lkey").get<std::uint32_t>(), r.at("rkey").get<std::uint32_t>(),
                     r.at("access").get<std::uint32_t>());
}

std::string absolute_listing_path(const std::string& path, const std::string& mountpoint) {
  if (path.empty() || path.front() == '/' || mountpoint.empty()) return path;
  std::string out = mountpoint;
  if (out.back() != '/') out += '/';
  out += path;
  return out;
}

std::vector<Table::Column> leading_columns(const char* id_heading) {
  using A = Table::Align;
  return {{id_heading, A::right}, {"PID", A::right}, {"COMMAND"}, {"UID", A::right}, {"PATH"}, {"RANGE"}};
}

std::vector<std::string> leading_cells(const nlohmann::json& entry) {
  return {std::to_string(entry.at("id").get<std::uint64_t>()), std::to_string(entry.at("pid").get<std::int64_t>()),
          entry.at("command").get<std::string>(), std::to_string(entry.at("uid").get<std::uint64_t>()),
          entry.at("path").get<std::string>(), format_entry_range(entry)};
}

nlohmann::json sorted_by_id(nlohmann::json list) {
  std::sort(list.begin(), list.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a.at("id").get<std::uint64_t>() < b.at("id").get<std::uint64_t>();
  });
  return list;
}

bool ListingFilter::keeps(const nlohmann::json& entry) const {
  if (ino && entry.at("ino").get<std::uint64_t>() != *ino) return false;
  if (pid && entry.at("pid").get<std::int64_t>() != *pid) return false;
  return true;
}

}  // namespace pinfs::tools
