// pinfs pins, pinfs leases, pinfs stat: what pinfsd holds, for people
// (tables) and scripts (--json). The documents are built in listings.h.
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "tools/pinfs/commands.h"
#include "tools/pinfs/daemon_connection.h"
#include "tools/pinfs/listings.h"

namespace pinfs::tools {
namespace {

using nlohmann::json;

struct ListingArgs {
  std::string socket;
  bool json = false;
  std::string file;                 // --file: only this file's entries
  std::optional<std::int64_t> pid;  // --pid: only this process's
};

ListingContext context_of(const Client& client) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return ListingContext{client.mountpoint(), std::chrono::duration_cast<std::chrono::seconds>(now).count()};
}

// The filter, with --file turned into the inode the daemon knows it by (so
// that a pin taken through another path to the same file still matches).
Result<ListingFilter> filter_of(Client& client, const ListingArgs& a) {
  ListingFilter filter;
  filter.pid = a.pid;
  if (!a.file.empty()) {
    PINFS_ASSIGN_OR_RETURN(File file, client.open(absolute_path(a.file)));
    filter.ino = file.ino();
  }
  return filter;
}

// --json prints the document, otherwise `render` prints it for people.
Status print_document(const json& document, bool as_json, Result<std::string> (*render)(const json&)) {
  if (as_json) {
    fmt::print("{}\n", document.dump(2));
    return ok_status();
  }
  PINFS_ASSIGN_OR_RETURN(std::string text, render(document));
  fmt::print("{}", text);
  return ok_status();
}

Status run_pins(const ListingArgs& a) {
  PINFS_ASSIGN_OR_RETURN(Client client, connect_to_daemon(a.socket));
  PINFS_ASSIGN_OR_RETURN(ListingFilter filter, filter_of(client, a));
  // Pins first: a pin listed has its lease in the later listing unless the
  // lease went in between (its pin then shows no lease kind).
  PINFS_ASSIGN_OR_RETURN(std::string pins, client.list_pins_json());
  PINFS_ASSIGN_OR_RETURN(std::string leases, client.list_leases_json());
  PINFS_ASSIGN_OR_RETURN(json document, pins_document(pins, leases, context_of(client), filter));
  return print_document(document, a.json, pins_table);
}

Status run_leases(const ListingArgs& a) {
  PINFS_ASSIGN_OR_RETURN(Client client, connect_to_daemon(a.socket));
  PINFS_ASSIGN_OR_RETURN(ListingFilter filter, filter_of(client, a));
  PINFS_ASSIGN_OR_RETURN(std::string leases, client.list_leases_json());
  PINFS_ASSIGN_OR_RETURN(json document, leases_document(leases, context_of(client), filter));
  return print_document(document, a.json, leases_table);
}

Status run_stat(const ListingArgs& a) {
  PINFS_ASSIGN_OR_RETURN(Client client, connect_to_daemon(a.socket));
  PINFS_ASSIGN_OR_RETURN(std::string stat, client.stat_json());
  PINFS_ASSIGN_OR_RETURN(json document, stat_document(stat));
  return print_document(document, a.json, stat_report);
}

// Registers a listing subcommand; `filters` adds --file and --pid.
void add_listing_command(CLI::App& app, const char* name, const char* description, bool filters,
                         Status (*run)(const ListingArgs&)) {
  auto args = std::make_shared<ListingArgs>();
  CLI::App* cmd = app.add_subcommand(name, description);
  add_socket_option(cmd, args->socket);
  cmd->add_flag("--json", args->json, "print JSON (fields in docs/pinfs.1.md) instead of a table");
  if (filters) {
    cmd->add_option("--file", args->file, "only the entries of this file (a path on the mount)");
    cmd->add_option("--pid", args->pid, "only the entries of this process");
  }
  cmd->callback([args, run] {
    if (Status st = run(*args); !st.ok()) report_failure(st.error());
  });
}

}  // namespace

void add_pins_command(CLI::App& app) {
  add_listing_command(app, "pins",
                      "list file pins: holder, file, range, lease and its break state, age, RDMA registrations",
                      true, run_pins);
}

void add_leases_command(CLI::App& app) {
  add_listing_command(app, "leases", "list layout leases with their break state and deadline", true,
                      run_leases);
}

void add_stat_command(CLI::App& app) {
  add_listing_command(app, "stat",
                      "show the served file system's space, pinned and quarantined bytes, clients, "
                      "leases, pins and break counters",
                      false, run_stat);
}

}  // namespace pinfs::tools
