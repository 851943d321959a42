// How the control server finds the file a client names (docs/protocol.md,
// "Paths"): an absolute path must lie under the daemon's mount point; any
// other path is relative to the file system's root (not to the client's
// working directory, which the daemon cannot see). "." and ".." are
// resolved by name (".." of the root is the root, as at "/"); symbolic
// links are never followed (ELOOP), so a path cannot lead out of the mount
// or around a permission check; every directory passed needs search
// permission for the client.
#pragma once

#include <string>

#include "fs/filesystem.h"
#include "pinfs/error.h"
#include "tools/control/peer_credentials.h"

namespace pinfs::control {

struct ResolvedFile {
  fs::Attr attr;
  std::string relative_path;  // from the root, "" for the root itself
};

// op names the request in errors ("open", "break").
[[nodiscard]] Result<ResolvedFile> resolve_path(fs::FileSystem& fs, const std::string& mountpoint,
                                                const std::string& path,
                                                const PeerCredentials& peer, const std::string& op);

}  // namespace pinfs::control
