#include "pin/client_identity.h"

namespace pinfs::pin {

std::string describe(const ClientIdentity& client) {
  std::string out = "pid " + std::to_string(client.pid) + " (";
  if (!client.command.empty()) out += "'" + client.command + "', ";
  return out + "client " + std::to_string(client.id) + ")";
}

}  // namespace pinfs::pin
