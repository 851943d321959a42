// The control socket: where it lives and who may connect (docs/protocol.md,
// "The socket").
//
// The directory is created (0755) if missing. A socket file left by a
// daemon that died is replaced, but a socket that still answers is another
// daemon's: EADDRINUSE. The socket is mode 0660, owned by root and, when
// pinfsd has --map-group, by that group: connecting takes the same
// membership as mapping, because most of what a client does leads to a
// mapping of the whole device.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "pinfs/error.h"

namespace pinfs::control {

// How many connections may wait for the loop to accept them.
inline constexpr int kListenBacklog = 128;

// Binds and listens. Returns the listening descriptor (close-on-exec).
[[nodiscard]] Result<int> listen_on(const std::string& path, std::optional<gid_t> group);

}  // namespace pinfs::control
