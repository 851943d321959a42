// PeerCredentials: who is at the other end of a client connection, as the
// kernel says (SO_PEERCRED, SO_PEERGROUPS), plus what /proc adds (command
// name, start time) and a pidfd of the process.
//
// The pidfd comes from SO_PEERPIDFD where the kernel has it (6.5+): it names
// the very process that connected, even if it has exited since. Older
// kernels (the 6.1 of tests/vm) fall back to pidfd_open(pid), which names
// whatever process has that pid now; the start time read right after, while
// the pidfd shows the process alive, pins it to one process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pin/client_identity.h"
#include "pinfs/error.h"

namespace pinfs::control {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary, at connect time
  std::string command;        // /proc/<pid>/comm
  std::uint64_t start_time_ticks = 0;  // /proc/<pid>/stat field 22; 0 if unknown
  int pidfd = -1;             // owned by whoever takes it (ClientSession)

  bool in_group(gid_t group) const;
  pin::ClientIdentity identity(pin::ClientId id) const;
};

// Reads the credentials of the peer of a connected Unix socket. The pidfd is
// -1 when the process has already gone (or the kernel has no pidfds).
[[nodiscard]] Result<PeerCredentials> read_peer_credentials(int socket_fd);

// Field 22 of /proc/<pid>/stat (clock ticks after boot), or nullopt when the
// process does not exist. The command name may hold spaces and ')': the
// fields are counted from the last ')'.
std::optional<std::uint64_t> read_start_time_ticks(pid_t pid);

// Has the process behind this pidfd exited? (poll for POLLIN, no wait.)
[[nodiscard]] Result<bool> pidfd_exited(int pidfd);

}  // namespace pinfs::control
