// The subcommands of `pinfs`. Each registers itself on the CLI11 app and runs
// from its callback, leaving its exit code in exit_code().
#pragma once

#include <CLI/CLI.hpp>

#include "pinfs/error.h"

namespace pinfs::tools {

// Exit codes, shared by every subcommand (docs/pinfs.1.md, "EXIT STATUS").
// A code says what kind of thing went wrong, so that a script can tell "the
// daemon is not there" from "the file is held" without parsing messages.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings = 1;   // check found inconsistencies
inline constexpr int kExitFailed = 2;     // could not run: missing device, I/O error, refused
inline constexpr int kExitNoDaemon = 3;   // nothing listens on the socket (no socket, or a stale one)
inline constexpr int kExitDenied = 4;     // permission denied (the socket, a file, a break)
inline constexpr int kExitNotPinfsd = 5;  // the socket is not pinfsd's: not a socket, no HELLO answer
inline constexpr int kExitBusy = 6;       // a lease or pin holds the layout (ETXTBSY, EDEADLK, EAGAIN)
inline constexpr int kExitPolicy = 7;     // the daemon's policy does not allow it (revoke under `fail`)
inline constexpr int kExitUsage = 64;     // bad command line (EX_USAGE)

void add_mkfs_command(CLI::App& app);
void add_check_command(CLI::App& app);
void add_pins_command(CLI::App& app);
void add_leases_command(CLI::App& app);
void add_stat_command(CLI::App& app);
void add_break_commands(CLI::App& app);  // break and revoke
void add_devices_command(CLI::App& app);
void add_pin_command(CLI::App& app);

int exit_code();
void set_exit_code(int code);

// The exit code an error means: by its errno, and for the connection to the
// daemon (op "connect") by what failed there.
int exit_code_for(const Error& error);
// Prints "pinfs: <message>" on stderr (one line) and sets exit_code_for().
void report_failure(const Error& error);
// The same with an explicit exit code.
void report_failure(const Error& error, int exit_code);

}  // namespace pinfs::tools
