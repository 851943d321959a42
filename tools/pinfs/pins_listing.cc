// `pinfs pins`: one row per file_pin (listings.h).
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "tools/pinfs/listing_format.h"
#include "tools/pinfs/listings.h"
#include "tools/pinfs/table.h"

namespace pinfs::tools {
namespace {

using nlohmann::json;

// held, breaking, revoked or orphaned: the pin's own state says whether the
// lease went (revoked) or its holder did (orphaned); an active pin's lease
// says whether a layout change waits for it.
std::string lease_state(const json& pin, const json* lease) {
  const std::string state = pin.at("state").get<std::string>();
  if (state != "active") return state;
  return lease != nullptr && lease->at("breaking").get<bool>() ? "breaking" : "held";
}

}  // namespace

Result<json> pins_document(const std::string& pins_json, const std::string& leases_json,
                           const ListingContext& context, const ListingFilter& filter) {
  return read_listing("LIST_PINS", [&] {
    const json leases = json::parse(leases_json).at("leases");
    std::map<std::uint64_t, const json*> lease_by_id;
    for (const json& l : leases) lease_by_id[l.at("id").get<std::uint64_t>()] = &l;

    json out = json::array();
    for (json pin : sorted_by_id(json::parse(pins_json).at("pins"))) {
      if (!filter.keeps(pin)) continue;
      auto found = lease_by_id.find(pin.at("lease").get<std::uint64_t>());
      const json* lease = found != lease_by_id.end() ? found->second : nullptr;
      const std::string state = lease_state(pin, lease);
      pin["path"] = absolute_listing_path(pin.at("path").get<std::string>(), context.mountpoint);
      pin["bytes"] = pin.at("length");
      pin["lease_type"] = lease != nullptr && state != "revoked" ? lease->at("type") : json(nullptr);
      pin["lease_state"] = state;
      pin["break_deadline_ms"] = state == "breaking" ? lease->at("break_deadline_ms") : json(nullptr);
      pin["age_s"] = std::max<std::int64_t>(0, context.now_unix_s - pin.at("created_at").get<std::int64_t>());
      out.push_back(std::move(pin));
    }
    return json{{"pins", out}};
  });
}

Result<std::string> pins_table(const json& document) {
  return read_listing("pins document", [&] {
    using A = Table::Align;
    std::vector<Table::Column> columns = leading_columns("PIN");
    columns.insert(columns.end(), {{"BYTES", A::right}, {"LEASE"}, {"STATE"}, {"AGE", A::right}, {"REGISTRATIONS"}});
    Table table(std::move(columns));
    for (const json& p : document.at("pins")) {
      std::string lease = std::to_string(p.at("lease").get<std::uint64_t>());
      if (!p.at("lease_type").is_null()) lease += " " + p.at("lease_type").get<std::string>();
      std::string state = p.at("lease_state").get<std::string>();
      if (state == "breaking" && !p.at("break_deadline_ms").is_null()) {
        state += ", " + format_time_left(p.at("break_deadline_ms").get<std::int64_t>());
      }
      std::string registrations;
      for (const json& r : p.at("registrations")) {
        if (!registrations.empty()) registrations += ", ";
        registrations += format_registration(r);
      }
      std::vector<std::string> row = leading_cells(p);
      row.insert(row.end(), {p.at("bytes").is_null() ? "-" : format_bytes(p.at("bytes").get<std::uint64_t>()),
                             lease, state, format_age(p.at("age_s").get<std::int64_t>()),
                             registrations.empty() ? "-" : registrations});
      table.add_row(std::move(row));
    }
    return table.render();
  });
}

}  // namespace pinfs::tools
