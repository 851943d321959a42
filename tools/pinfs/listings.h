// The documents behind `pinfs pins`, `pinfs leases` and `pinfs stat`: the
// daemon's listings (LIST_PINS, LIST_LEASES, STAT; docs/protocol.md,
// "Listings") turned into what the tool prints with --json — the daemon's
// fields unchanged, plus the ones a person asks for next (the lease's kind
// and break state on each pin, ages, bytes, capacity) — and the tables it
// prints for people. docs/pinfs.1.md documents every field.
//
// Pure functions of their inputs (the time included), so that the golden
// tests (tests/admin/golden_test.cc) can pin the output down exactly. A
// listing that does not parse, or lacks a field, is EBADMSG naming it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "pinfs/error.h"

namespace pinfs::tools {

// What the daemon told about itself and when the listing was taken.
struct ListingContext {
  std::string mountpoint;     // HELLO's: relative paths are made absolute against it
  std::int64_t now_unix_s = 0;  // ages are counted to this
};

// --file and --pid: keep only the entries of one inode or one process.
struct ListingFilter {
  std::optional<std::uint64_t> ino;
  std::optional<std::int64_t> pid;
  // Whether a pin or lease entry (its "ino" and "pid") passes.
  bool keeps(const nlohmann::json& entry) const;
};

// {"pins": [...]}, by pin id. Each pin adds to the daemon's fields:
//   bytes              the pinned length
//   lease_type         read | unbreakable | write, null when the lease is gone
//   lease_state        held | breaking | revoked | orphaned
//   break_deadline_ms  the lease's, null unless breaking
//   age_s              seconds since the pin was made
// leases_json is LIST_LEASES's reply, taken just after LIST_PINS's.
[[nodiscard]] Result<nlohmann::json> pins_document(const std::string& pins_json,
                                                   const std::string& leases_json,
                                                   const ListingContext& context,
                                                   const ListingFilter& filter);
// {"leases": [...]}, by lease id; each adds state (held | breaking) and age_s.
[[nodiscard]] Result<nlohmann::json> leases_document(const std::string& leases_json,
                                                     const ListingContext& context,
                                                     const ListingFilter& filter);
// STAT's document; "fs" gains capacity_bytes, used_bytes and free_bytes.
[[nodiscard]] Result<nlohmann::json> stat_document(const std::string& stat_json);

// The tables (header included) of the documents above.
[[nodiscard]] Result<std::string> pins_table(const nlohmann::json& pins_document);
[[nodiscard]] Result<std::string> leases_table(const nlohmann::json& leases_document);
[[nodiscard]] Result<std::string> stat_report(const nlohmann::json& stat_document);

}  // namespace pinfs::tools
