// pinfs break (PIN | --file PATH [--range OFF:LEN]): starts a break as a
// layout change over the range would, and waits for its outcome — for an
// operator who wants a file back. The holders are told (BREAK) and have the
// daemon's break deadline to release; then the daemon's policy applies.
//
// pinfs revoke: the same, for when the holders must lose their leases if
// they do not answer. Only where the daemon's policy is `revoke`: under
// `fail` a break never takes a lease away (DESIGN.md §4), so revoke is
// refused (kExitPolicy) rather than quietly doing a plain break.
#include <fmt/format.h>

#include <memory>
#include <optional>
#include <string>

#include "pin/byte_range.h"
#include "tools/pinfs/commands.h"
#include "tools/pinfs/daemon_connection.h"
#include "tools/pinfs/listing_format.h"
#include "tools/pinfs/range_option.h"

namespace pinfs::tools {
namespace {

using nlohmann::json;

struct BreakArgs {
  std::string socket;
  std::optional<std::uint64_t> pin;
  std::string file;
  std::string range;
  bool revoke = false;
};

struct BreakTarget {
  std::string path;
  FileRange range;
};

std::string describe(const BreakTarget& t) {
  return fmt::format("'{}' {}", t.path, pin::format_range(pin::ByteRange{t.range.offset, t.range.length}));
}

// PIN: the file and range of that pin, as the daemon lists it.
Result<BreakTarget> target_of_pin(Client& client, const char* op, std::uint64_t id) {
  PINFS_ASSIGN_OR_RETURN(std::string listing, client.list_pins_json());
  PINFS_ASSIGN_OR_RETURN(auto found, read_listing("LIST_PINS", [&]() -> std::optional<BreakTarget> {
    const json document = json::parse(listing);  // outlives the loop over its member
    for (const json& p : document.at("pins")) {
      if (p.at("id").get<std::uint64_t>() != id) continue;
      return BreakTarget{absolute_listing_path(p.at("path").get<std::string>(), client.mountpoint()),
                         FileRange{p.at("offset").get<std::uint64_t>(), p.at("length").get<std::uint64_t>()}};
    }
    return std::nullopt;
  }));
  if (!found) return Error(ENOENT, op, fmt::format("<pin {}>", id), "no such pin: see `pinfs pins`");
  return *found;
}

// STAT's document: the policy, the deadline and the counters a break moves.
Result<json> daemon_stat(Client& client) {
  PINFS_ASSIGN_OR_RETURN(std::string stat, client.stat_json());
  return read_listing("STAT", [&] { return json::parse(stat); });
}

std::uint64_t delta(const json& before, const json& after, const char* key) {
  const std::uint64_t a = before.at("leases").at(key).get<std::uint64_t>();
  const std::uint64_t b = after.at("leases").at(key).get<std::uint64_t>();
  return b > a ? b - a : 0;
}

// EPERM unless the daemon revokes leases whose holders miss the deadline.
Status revoke_allowed(const json& stat, const BreakTarget& target) {
  const std::string policy = stat.at("daemon").at("on_break_timeout").get<std::string>();
  if (policy == "revoke") return ok_status();
  return Error(EPERM, "revoke", target.path,
               fmt::format("pinfsd runs with --on-break-timeout {}: a holder that does not release in "
                           "time keeps its lease; revoking needs pinfsd --on-break-timeout revoke",
                           policy));
}

// Breaks, waits, and says what happened.
Status break_and_report(Client& client, const char* op, const BreakTarget& target, const json& before) {
  PINFS_TRY(client.break_leases(target.path, target.range));
  PINFS_ASSIGN_OR_RETURN(json after, daemon_stat(client));
  // The counters are the daemon's: a layout change running meanwhile moves
  // them too. Good enough to tell "nobody held it" from "they released"
  // from "revoked".
  auto reported = read_listing("STAT", [&] {
    const std::uint64_t sent = delta(before, after, "break_events_sent");
    const std::uint64_t revoked = delta(before, after, "leases_revoked");
    if (sent == 0) {
      fmt::print("{} {}: no lease to break\n", op, describe(target));
    } else if (revoked == 0) {
      fmt::print("{} {}: {} lease holder{} released in time\n", op, describe(target), sent,
                 sent == 1 ? "" : "s");
    } else {
      fmt::print("{} {}: {} lease{} revoked after the {} ms deadline; {} pins keep their extents "
                 "quarantined until released\n",
                 op, describe(target), revoked, revoked == 1 ? "" : "s",
                 before.at("daemon").at("lease_break_ms").get<std::uint64_t>(), revoked == 1 ? "its" : "their");
    }
    return true;
  });
  if (!reported.ok()) return reported.error();
  return ok_status();
}

void run(const BreakArgs& a) {
  const char* op = a.revoke ? "revoke" : "break";
  if (!a.pin && a.file.empty()) {
    return report_failure(Error(EINVAL, op, "", "give a PIN or --file PATH"), kExitUsage);
  }
  auto range = parse_range_option(a.range);
  if (!range.ok()) return report_failure(range.error(), kExitUsage);
  auto client = connect_to_daemon(a.socket);
  if (!client.ok()) return report_failure(client.error());
  auto target = a.pin ? target_of_pin(*client, op, *a.pin) : Result<BreakTarget>(BreakTarget{absolute_path(a.file), *range});
  if (!target.ok()) return report_failure(target.error());
  auto before = daemon_stat(*client);
  if (!before.ok()) return report_failure(before.error());
  if (a.revoke) {
    auto allowed = read_listing("STAT", [&] { return revoke_allowed(*before, *target); });
    if (!allowed.ok()) return report_failure(allowed.error());
    if (!allowed->ok()) return report_failure(allowed->error(), kExitPolicy);
  }
  if (Status st = break_and_report(*client, op, *target, *before); !st.ok()) report_failure(st.error());
}

void add_break_command(CLI::App& app, bool revoke) {
  auto args = std::make_shared<BreakArgs>();
  args->revoke = revoke;
  CLI::App* cmd = app.add_subcommand(
      revoke ? "revoke" : "break",
      revoke ? "break the leases over a pin or file, revoking those not released by the deadline "
               "(needs pinfsd --on-break-timeout revoke)"
             : "break the leases over a pin or file as a layout change would, and wait for the holders");
  add_socket_option(cmd, args->socket);
  auto* pin = cmd->add_option("PIN", args->pin, "a pin id (pinfs pins): its file and range");
  auto* file = cmd->add_option("--file", args->file, "a file on the mount");
  cmd->add_option("--range", args->range, "OFFSET:LENGTH of the file (default: all of it)")->needs(file);
  pin->excludes(file);
  cmd->callback([args] { run(*args); });
}

}  // namespace

void add_break_commands(CLI::App& app) {
  add_break_command(app, /*revoke=*/false);
  add_break_command(app, /*revoke=*/true);
}

}  // namespace pinfs::tools
