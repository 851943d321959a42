#include "tools/control/socket_listener.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

namespace pinfs::control {
namespace {

// Does a daemon answer on this socket?
bool someone_listens(const sockaddr_un& address) {
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return false;
  const bool answered =
      ::connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(probe);
  return answered;
}

}  // namespace

Result<int> listen_on(const std::string& path, std::optional<gid_t> group) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path) {
    return Error(ENAMETOOLONG, "listen", path,
                 "a socket path has 1 to " + std::to_string(sizeof address.sun_path - 1) + " bytes");
  }
  std::memcpy(address.sun_path, path.data(), path.size());

  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return Error(ec.value(), "create directory", parent.string(), "for the control socket");
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Error(EEXIST, "listen", path, "exists and is not a socket; not replacing it");
    }
    if (someone_listens(address)) {
      return Error(EADDRINUSE, "listen", path, "another pinfsd is serving this socket");
    }
    ::unlink(path.c_str());  // a dead daemon's
  }

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::from_errno("listen", path, "socket(AF_UNIX)");
  auto fail = [&](const char* what) {
    Error e = Error::from_errno("listen", path, what);
    ::close(fd);
    return e;
  };
  // Bind under a umask that leaves no window with the socket open to all.
  const mode_t old_mask = ::umask(0177);
  const int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::umask(old_mask);
  if (bound != 0) return fail("bind");
  if (group && ::chown(path.c_str(), static_cast<uid_t>(-1), *group) != 0) return fail("chown to the map group");
  if (::chmod(path.c_str(), 0660) != 0) return fail("chmod 0660");
  if (::listen(fd, kListenBacklog) != 0) return fail("listen");
  return fd;
}

}  // namespace pinfs::control
