// The subcommands of `pinfs`. Each registers itself on the CLI11 app and runs
// from its callback, leaving its exit code in exit_code().
#pragma once

#include <CLI/CLI.hpp>

namespace pinfs::tools {

// Exit codes, shared by every subcommand (docs/pinfs.1.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings = 1;   // check found inconsistencies
inline constexpr int kExitFailed = 2;     // could not run: missing device, I/O error, refused
inline constexpr int kExitUsage = 64;     // bad command line (EX_USAGE)

void add_mkfs_command(CLI::App& app);
void add_check_command(CLI::App& app);

int exit_code();
void set_exit_code(int code);

}  // namespace pinfs::tools
