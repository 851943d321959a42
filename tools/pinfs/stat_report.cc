// `pinfs stat`: the file system the daemon serves and its leases, pins and
// breaks (listings.h).
#include <fmt/format.h>

#include <algorithm>

#include "tools/pinfs/listing_format.h"
#include "tools/pinfs/listings.h"
#include "tools/pinfs/table.h"

namespace pinfs::tools {
namespace {
using nlohmann::json;

std::uint64_t u64(const json& object, const char* key) { return object.at(key).get<std::uint64_t>(); }
}  // namespace

Result<json> stat_document(const std::string& stat_json) {
  PINFS_ASSIGN_OR_RETURN(json doc, read_listing("STAT", [&] {
    json parsed = json::parse(stat_json);
    json& fs = parsed.at("fs");
    const std::uint64_t block = u64(fs, "block_size");
    const std::uint64_t capacity = u64(fs, "total_blocks") * block;
    const std::uint64_t free = u64(fs, "free_blocks") * block;
    fs["capacity_bytes"] = capacity;
    fs["free_bytes"] = free;
    fs["used_bytes"] = capacity - std::min(capacity, free);
    return parsed;
  }));
  // Every field the report prints must be there, --json or not: a document
  // missing one fails here rather than half-way through printing.
  PINFS_TRY(stat_report(doc));
  return doc;
}

Result<std::string> stat_report(const json& doc) {
  return read_listing("stat document", [&] {
    const json& d = doc.at("daemon");
    const json& l = doc.at("leases");
    const json& fs = doc.at("fs");
    using A = Table::Align;
    // One row per file system the daemon serves (one today).
    Table table({{"MOUNTPOINT"}, {"CAPACITY", A::right}, {"USED", A::right}, {"FREE", A::right},
                 {"PINNED", A::right}, {"QUARANTINED", A::right}, {"CLIENTS", A::right},
                 {"LEASES", A::right}, {"PINS", A::right}});
    table.add_row({d.at("mountpoint").get<std::string>(), format_bytes(u64(fs, "capacity_bytes")),
                   format_bytes(u64(fs, "used_bytes")), format_bytes(u64(fs, "free_bytes")),
                   format_bytes(u64(l, "pinned_bytes")), format_bytes(u64(fs, "quarantined_bytes")),
                   std::to_string(u64(l, "clients")), std::to_string(u64(l, "leases")),
                   std::to_string(u64(l, "pins"))});
    std::string out = table.render();
    out += '\n';
    const json& group = d.at("map_group");
    Table facts({{""}, {""}});
    facts.add_row({"daemon", fmt::format("{}, socket {}, {} connection{}", d.at("version").get<std::string>(),
                                         d.at("socket").get<std::string>(), u64(d, "connections"),
                                         u64(d, "connections") == 1 ? "" : "s")});
    facts.add_row({"break deadline", fmt::format("{} ms, then {}", u64(d, "lease_break_ms"),
                                                 d.at("on_break_timeout").get<std::string>())});
    facts.add_row({"breaks since start",
                   fmt::format("{} completed, {} timed out, {} failed (BREAK events sent: {}, leases revoked: {})",
                               u64(l, "breaks_completed"), u64(l, "breaks_timed_out"), u64(l, "breaks_failed"),
                               u64(l, "break_events_sent"), u64(l, "leases_revoked"))});
    facts.add_row({"leases", fmt::format("{} read, {} unbreakable, {} write; {} layout changes in progress",
                                         u64(l, "read_leases"), u64(l, "unbreakable_leases"),
                                         u64(l, "write_leases"), u64(l, "layout_changes_in_progress"))});
    facts.add_row({"pins", fmt::format("{} ({} revoked, {} orphaned), {} pinned, {} waiting in quarantine",
                                       u64(l, "pins"), u64(l, "revoked_pins"), u64(l, "orphaned_pins"),
                                       format_bytes(u64(l, "pinned_bytes")),
                                       format_bytes(u64(l, "quarantined_bytes")))});
    facts.add_row({"mapping", fmt::format("map group {}, alignment {}",
                                          group.is_null() ? "none (root only)" : group.get<std::string>(),
                                          format_bytes(u64(d, "map_alignment_bytes")))});
    facts.add_row({"geometry", fmt::format("block size {}, aligned unit {}, {} of {} inodes free",
                                           format_bytes(u64(fs, "block_size")),
                                           format_bytes(u64(fs, "aligned_unit_bytes")),
                                           u64(fs, "free_inodes"), u64(fs, "total_inodes"))});
    out += facts.render(/*with_header=*/false);
    return out;
  });
}

}  // namespace pinfs::tools
