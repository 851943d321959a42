#include "tools/control/listing_json.h"

#include <nlohmann/json.hpp>

#include <chrono>

namespace pinfs::control {
namespace {

using nlohmann::json;

json range_json(const pin::ByteRange& r) {
  json out{{"offset", r.offset}, {"length", nullptr}, {"end", nullptr}};
  if (r.length != fs::kToEnd && r.end() != UINT64_MAX) {
    out["length"] = r.length;
    out["end"] = r.end();
  }
  return out;
}

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

json holder_json(const pin::ClientIdentity& c) {
  return {{"client", c.id}, {"pid", c.pid}, {"uid", c.uid}, {"command", c.command}};
}

}  // namespace

std::string pins_json(const std::vector<pin::FilePin>& pins) {
  json list = json::array();
  for (const pin::FilePin& p : pins) {
    json extents = json::array();
    for (const fs::Extent& e : p.extents) {
      extents.push_back({{"file_offset", e.file_offset}, {"media_offset", e.media_offset}, {"length", e.length}});
    }
    json registrations = json::array();
    for (const pin::Registration& r : p.registrations) {
      registrations.push_back({{"device", r.device_name}, {"lkey", r.lkey}, {"rkey", r.rkey},
                               {"iova", r.iova}, {"length", r.length_bytes}, {"access", r.access_flags}});
    }
    json entry = holder_json(p.client);
    entry.update({{"id", p.id}, {"lease", p.lease_id}, {"ino", p.ino}, {"path", p.path},
                  {"state", pin::to_string(p.state)}, {"created_at", unix_seconds(p.created_at)},
                  {"extents", extents}, {"registrations", registrations}});
    entry.update(range_json(p.file_range));
    list.push_back(std::move(entry));
  }
  return json{{"pins", list}}.dump();
}

std::string leases_json(const std::vector<lease::LeaseInfo>& leases) {
  json list = json::array();
  const auto now = std::chrono::steady_clock::now();
  for (const lease::LeaseInfo& l : leases) {
    json entry = holder_json(l.holder);
    entry.update({{"id", l.id}, {"ino", l.ino}, {"path", l.path}, {"type", lease::to_string(l.type)},
                  {"breaking", l.breaking}, {"pins", l.pins},
                  {"acquired_at", unix_seconds(l.acquired_at)}, {"break_deadline_ms", nullptr}});
    if (l.break_deadline) {
      entry["break_deadline_ms"] =
          std::chrono::duration_cast<std::chrono::milliseconds>(*l.break_deadline - now).count();
    }
    entry.update(range_json(l.range));
    list.push_back(std::move(entry));
  }
  return json{{"leases", list}}.dump();
}

std::string stat_json(const DaemonFacts& d, const lease::LeaseStats& s, const fs::FsStat& f) {
  json daemon{{"version", d.version},
              {"mountpoint", d.mountpoint},
              {"socket", d.socket},
              {"lease_break_ms", d.lease_break_ms},
              {"on_break_timeout", lease::to_string(d.break_policy)},
              {"map_group", d.map_group.empty() ? json(nullptr) : json(d.map_group)},
              {"map_alignment_bytes", d.map_alignment_bytes},
              {"connections", d.sessions}};
  json leases{{"clients", s.clients},
              {"leases", s.leases},
              {"read_leases", s.read_leases},
              {"unbreakable_leases", s.unbreakable_leases},
              {"write_leases", s.write_leases},
              {"layout_changes_in_progress", s.layout_changes_in_progress},
              {"pins", s.pins},
              {"revoked_pins", s.revoked_pins},
              {"orphaned_pins", s.orphaned_pins},
              {"pinned_bytes", s.pinned_bytes},
              {"quarantined_bytes", s.quarantined_bytes},
              {"break_events_sent", s.break_events_sent},
              {"breaks_completed", s.breaks_completed},
              {"breaks_timed_out", s.breaks_timed_out},
              {"breaks_failed", s.breaks_failed},
              {"leases_revoked", s.leases_revoked}};
  json fs{{"block_size", f.block_size},
          {"total_blocks", f.total_blocks},
          {"free_blocks", f.free_blocks},
          {"total_inodes", f.total_inodes},
          {"free_inodes", f.free_inodes},
          {"aligned_unit_bytes", f.aligned_unit_bytes},
          {"quarantined_bytes", f.quarantined_bytes}};
  return json{{"daemon", daemon}, {"leases", leases}, {"fs", fs}}.dump();
}

}  // namespace pinfs::control
