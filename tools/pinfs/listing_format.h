// How the listings of `pinfs` write values for people: sizes in binary
// units, ranges as errors print them, ages and deadlines in seconds,
// registrations as `rdma resource show mr` names them. The JSON documents
// keep the raw numbers; only the tables use these.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "pinfs/error.h"
#include "tools/pinfs/table.h"

namespace pinfs::tools {

// "0 B", "4 KiB", "1.5 MiB" (fs::format_size).
std::string format_bytes(std::uint64_t bytes);
// "[0, 2 MiB)", "[4 KiB, end)" (pin::format_range) from a listing entry's
// "offset" and "length" (null: to the end of the file).
std::string format_entry_range(const nlohmann::json& entry);
// "42s", "2m05s", "3h07m", "2d04h": how long ago something began.
std::string format_age(std::int64_t seconds);
// "3.5s left", "overdue 0.2s": a break deadline as milliseconds from now.
std::string format_time_left(std::int64_t milliseconds);
// "rxe0 lkey 0x1234 rkey 0x5678 access 0x7" for one registration entry.
std::string format_registration(const nlohmann::json& registration);
// A listing's path, made absolute: the daemon lists paths as the holder
// opened them, and a relative one is relative to the file system's root,
// that is, to the mount point.
std::string absolute_listing_path(const std::string& path, const std::string& mountpoint);

// The columns every row of `pins` and `leases` starts with — the entry's
// id (headed id_heading), PID, COMMAND, UID, PATH, RANGE — and their cells.
std::vector<Table::Column> leading_columns(const char* id_heading);
std::vector<std::string> leading_cells(const nlohmann::json& entry);

// A listing's entries ordered by their "id".
nlohmann::json sorted_by_id(nlohmann::json list);

// Runs `read` over a listing: a JSON text that does not parse, or a field
// that is missing or of the wrong type, becomes EBADMSG naming `what`
// ("LIST_PINS") and nlohmann's description of the problem.
template <typename Read>
auto read_listing(const char* what, Read&& read) -> Result<decltype(read())> {
  try {
    return read();
  } catch (const nlohmann::json::exception& e) {
    return Error(EBADMSG, "read listing", what, e.what());
  }
}

}  // namespace pinfs::tools
