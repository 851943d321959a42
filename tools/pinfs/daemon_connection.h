// How the subcommands that talk to pinfsd reach it: the --socket option they
// share, and a connection that tells the three ways of not reaching the
// daemon apart (exit_code_for() turns each into its own exit code):
//   nothing listens there     ENOENT, ECONNREFUSED  (kExitNoDaemon)
//   not allowed to connect    EACCES                (kExitDenied)
//   the socket is not pinfsd  ENOTSOCK, ETIMEDOUT, a HELLO that fails (kExitNotPinfsd)
// Every such error has the op "connect" and the socket as its object.
#pragma once

#include <chrono>
#include <string>

#include <CLI/CLI.hpp>

#include "pinfs/client.h"
#include "pinfs/error.h"

namespace pinfs::tools {

// How long pinfsd may take to answer HELLO. The daemon answers it on its
// event loop at once; a socket that stays silent this long belongs to some
// other program (or to a daemon that is hung, which is no better).
inline constexpr std::chrono::seconds kHelloTimeout{10};

// Adds --socket PATH (default pinfs::kDefaultSocketPath) to a subcommand.
void add_socket_option(CLI::App* command, std::string& socket_path);

// Connects and says HELLO. If no answer comes within kHelloTimeout the
// process reports that (kExitNotPinfsd) and exits: the client library's
// blocking handshake cannot be cancelled, and a tool that hangs on a wrong
// socket is worse than one that says so.
[[nodiscard]] Result<Client> connect_to_daemon(const std::string& socket_path);

// A path as the user typed it, made absolute against the current directory
// (the daemon resolves relative paths against the file system's root, which
// is not what a user at a shell means).
std::string absolute_path(const std::string& path);

}  // namespace pinfs::tools
