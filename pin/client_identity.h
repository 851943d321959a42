// ClientIdentity: who holds a lease or a pin. A client is one connection to
// the daemon (its id is never reused while the daemon runs) made by one
// process (pid, uid and command name from SO_PEERCRED and /proc).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace pinfs::pin {

using ClientId = std::uint64_t;

struct ClientIdentity {
  ClientId id = 0;
  pid_t pid = 0;
  uid_t uid = 0;
  std::string command;  // /proc/<pid>/comm, for people reading `pinfs pins`
  // The process's start time (field 22 of /proc/<pid>/stat, in clock ticks),
  // 0 when unknown. A pid alone can be reused by an unrelated process; pid
  // plus start time cannot (DESIGN.md §4, invariant 3).
  std::uint64_t start_time_ticks = 0;

  friend bool operator==(const ClientIdentity&, const ClientIdentity&) = default;
};

// "pid 4242 ('rdma_app', client 7)": how errors name a holder.
std::string describe(const ClientIdentity& client);

// The process (thread group) a thread belongs to, from /proc/<tid>/status;
// the tid itself when the thread is gone (no lease can be its anyway).
pid_t process_of_thread(pid_t tid);

}  // namespace pinfs::pin
