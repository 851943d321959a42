#include "tools/control/file_access.h"

#include <unistd.h>

#include <cstdio>

namespace pinfs::control {

std::string format_mode(std::uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

Status check_access(const fs::Attr& attr, const PeerCredentials& peer, int want,
                    const std::string& op, const std::string& object) {
  // Root passes read and write checks whatever the bits (CAP_DAC_OVERRIDE);
  // search on a directory too.
  if (peer.uid == 0) return ok_status();
  unsigned bits;
  if (peer.uid == attr.uid) {
    bits = (attr.mode >> 6) & 7;
  } else if (peer.in_group(attr.gid)) {
    bits = (attr.mode >> 3) & 7;
  } else {
    bits = attr.mode & 7;
  }
  const unsigned needed = ((want & R_OK) ? 4u : 0u) | ((want & W_OK) ? 2u : 0u) |
                          ((want & X_OK) ? 1u : 0u);
  if ((bits & needed) == needed) return ok_status();
  const char* what = (want & W_OK) ? "write" : (want & R_OK) ? "read" : "search";
  return Error(EACCES, op, object,
               "uid " + std::to_string(peer.uid) + " has no " + what + " permission on mode " +
                   format_mode(attr.mode) + " owned by " + std::to_string(attr.uid) + ":" +
                   std::to_string(attr.gid));
}

}  // namespace pinfs::control
