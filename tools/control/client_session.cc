#include "tools/control/client_session.h"

#include <unistd.h>

namespace pinfs::control {

ClientSession::~ClientSession() { ::close(socket_fd); }

std::string ClientSession::describe() const {
  return "client " + std::to_string(id) + " (pid " + std::to_string(peer.pid) + " '" +
         peer.command + "', uid " + std::to_string(peer.uid) + ")";
}

}  // namespace pinfs::control
