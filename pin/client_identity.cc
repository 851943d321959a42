#include "pin/client_identity.h"

#include <cstdio>
#include <memory>

namespace pinfs::pin {

std::string describe(const ClientIdentity& client) {
  std::string out = "pid " + std::to_string(client.pid) + " (";
  if (!client.command.empty()) out += "'" + client.command + "', ";
  return out + "client " + std::to_string(client.id) + ")";
}

pid_t process_of_thread(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(tid));
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path, "re"), &std::fclose);
  if (f == nullptr) return tid;
  char line[256];
  pid_t tgid = tid;
  while (std::fgets(line, sizeof line, f.get()) != nullptr) {
    int value = 0;
    if (std::sscanf(line, "Tgid: %d", &value) == 1) {
      tgid = value;
      break;
    }
  }
  return tgid;
}

}  // namespace pinfs::pin
