// pinfs: the admin tool. One subcommand per file (or family) in this folder;
// exit codes are documented in docs/pinfs.1.md and shared by every
// subcommand (commands.h).
#include <CLI/CLI.hpp>

#include "tools/pinfs/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"pinfs: make, check and inspect pinfs file systems, their pins and leases"};
  app.set_version_flag("--version", "pinfs 0.1.0");
  app.require_subcommand(1);
  pinfs::tools::add_mkfs_command(app);
  pinfs::tools::add_check_command(app);
  pinfs::tools::add_devices_command(app);
  pinfs::tools::add_stat_command(app);
  pinfs::tools::add_pins_command(app);
  pinfs::tools::add_leases_command(app);
  pinfs::tools::add_break_commands(app);
  pinfs::tools::add_pin_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    // CLI11 answers --help with 0 and bad usage with its own codes; ours is
    // one code for every usage error.
    return rc == 0 ? 0 : pinfs::tools::kExitUsage;
  }
  return pinfs::tools::exit_code();
}
