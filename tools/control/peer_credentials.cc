#include "tools/control/peer_credentials.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77  // <asm-generic/socket.h> since Linux 6.5
#endif

namespace pinfs::control {

bool PeerCredentials::in_group(gid_t group) const {
  return gid == group || std::find(groups.begin(), groups.end(), group) != groups.end();
}

pin::ClientIdentity PeerCredentials::identity(pin::ClientId id) const {
  pin::ClientIdentity out;
  out.id = id;
  out.pid = pid;
  out.uid = uid;
  out.command = command;
  out.start_time_ticks = start_time_ticks;
  return out;
}

std::optional<std::uint64_t> read_start_time_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const auto close_paren = line.rfind(')');
  if (close_paren == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close_paren + 1));
  std::string field;
  // After "pid (comm)" comes field 3 (state); start time is field 22.
  for (int index = 3; index <= 22; ++index) {
    if (!(fields >> field)) return std::nullopt;
  }
  try {
    return std::stoull(field);
  } catch (...) {
    return std::nullopt;
  }
}

Result<bool> pidfd_exited(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, 0);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return Error::from_errno("poll pidfd", std::to_string(pidfd));
  return rc > 0;
}

Result<PeerCredentials> read_peer_credentials(int socket_fd) {
  PeerCredentials out;
  ucred cred{};
  socklen_t length = sizeof cred;
  if (::getsockopt(socket_fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
    return Error::from_errno("read peer credentials", "control socket", "SO_PEERCRED");
  }
  out.pid = cred.pid;
  out.uid = cred.uid;
  out.gid = cred.gid;

  // Supplementary groups as they were at connect(), from the kernel.
  // ERANGE says how much room the list needs; any other failure leaves the
  // client with its primary group only (never more rights than it has).
  std::vector<gid_t> groups(64);
  length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
  int rc = ::getsockopt(socket_fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length);
  if (rc != 0 && errno == ERANGE) {
    groups.resize(length / sizeof(gid_t));
    length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    rc = ::getsockopt(socket_fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length);
  }
  groups.resize(rc == 0 ? length / sizeof(gid_t) : 0);
  out.groups = std::move(groups);

  int pidfd = -1;
  length = sizeof pidfd;
  if (::getsockopt(socket_fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &length) != 0) {
    pidfd = static_cast<int>(::syscall(SYS_pidfd_open, out.pid, 0));
  }
  out.pidfd = pidfd;

  std::ifstream comm("/proc/" + std::to_string(out.pid) + "/comm");
  std::getline(comm, out.command);
  out.start_time_ticks = read_start_time_ticks(out.pid).value_or(0);
  // Read while the pidfd still shows the process alive, the start time is
  // that process's; read after it exited, it may be a successor's.
  if (pidfd >= 0) {
    auto exited = pidfd_exited(pidfd);
    if (!exited.ok() || *exited) out.start_time_ticks = 0;
  }
  return out;
}

}  // namespace pinfs::control
