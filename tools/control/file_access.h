// The permission rule the control server applies to its clients: the
// kernel's own (owner, then group, then other bits; root may do anything),
// checked against the file's mode at the time of each request, with the
// peer's uid, gid and groups from SO_PEERCRED / SO_PEERGROUPS.
//
// read   (R_OK): read and unbreakable leases, pins, map
// write  (W_OK): write leases, allocation
// search (X_OK): every directory on the way to a file
#pragma once

#include <string>

#include "fs/filesystem.h"
#include "pinfs/error.h"
#include "tools/control/peer_credentials.h"

namespace pinfs::control {

// EACCES, e.g.
//   take read lease '/mnt/f': Permission denied (uid 65534 has no read
//   permission on mode 0600 owned by 0:0)
[[nodiscard]] Status check_access(const fs::Attr& attr, const PeerCredentials& peer, int want,
                                  const std::string& op, const std::string& object);

// "0644"
std::string format_mode(std::uint32_t mode);

}  // namespace pinfs::control
