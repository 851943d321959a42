// `pinfs leases`: one row per layout lease (listings.h).
#include <algorithm>

#include "tools/pinfs/listing_format.h"
#include "tools/pinfs/listings.h"
#include "tools/pinfs/table.h"

namespace pinfs::tools {
namespace {
using nlohmann::json;
}  // namespace

Result<json> leases_document(const std::string& leases_json, const ListingContext& context,
                             const ListingFilter& filter) {
  return read_listing("LIST_LEASES", [&] {
    json out = json::array();
    for (json lease : sorted_by_id(json::parse(leases_json).at("leases"))) {
      if (!filter.keeps(lease)) continue;
      lease["path"] = absolute_listing_path(lease.at("path").get<std::string>(), context.mountpoint);
      lease["state"] = lease.at("breaking").get<bool>() ? "breaking" : "held";
      lease["age_s"] =
          std::max<std::int64_t>(0, context.now_unix_s - lease.at("acquired_at").get<std::int64_t>());
      out.push_back(std::move(lease));
    }
    return json{{"leases", out}};
  });
}

Result<std::string> leases_table(const json& document) {
  return read_listing("leases document", [&] {
    using A = Table::Align;
    std::vector<Table::Column> columns = leading_columns("LEASE");
    columns.insert(columns.end(), {{"TYPE"}, {"PINS", A::right}, {"STATE"}, {"DEADLINE"}, {"AGE", A::right}});
    Table table(std::move(columns));
    for (const json& l : document.at("leases")) {
      const json& deadline = l.at("break_deadline_ms");
      std::vector<std::string> row = leading_cells(l);
      row.insert(row.end(), {l.at("type").get<std::string>(), std::to_string(l.at("pins").get<std::uint64_t>()),
                             l.at("state").get<std::string>(),
                             deadline.is_null() ? "-" : format_time_left(deadline.get<std::int64_t>()),
                             format_age(l.at("age_s").get<std::int64_t>())});
      table.add_row(std::move(row));
    }
    return table.render();
  });
}

}  // namespace pinfs::tools
