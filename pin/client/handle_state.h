// The shared state behind the client's move-only handles. Each handle holds
// a shared_ptr to its state; the state's destructor releases the daemon-side
// object, so an object lives on the daemon exactly as long as some handle
// (or a dependent: a Pin keeps its Lease, a Lease keeps its File) needs it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pin/client/connection.h"
#include "pinfs/client_types.h"

namespace pinfs::client_detail {

struct FileState {
  ~FileState();  // CLOSE

  std::shared_ptr<Connection> connection;
  std::uint64_t handle = 0;
  std::string path;
  std::uint64_t ino = 0;
  std::uint64_t size_at_open = 0;
};

struct LeaseState {
  ~LeaseState();  // LEASE_RELEASE while held

  std::shared_ptr<Connection> connection;
  std::shared_ptr<FileState> file;
  std::uint64_t id = 0;
  FileRange range;
  // Set once before the state is shared; called by process_events() from a
  // copy, so that a callback may destroy its own Lease.
  std::shared_ptr<const LeaseCallback> callback;
  // Changed by the handle's calls and by events; read anywhere.
  std::atomic<LeaseKind> kind{LeaseKind::read};
  std::atomic<bool> held{true};
  std::atomic<bool> breaking{false};
  // Released by this client (LEASE_RELEASE answered): the daemon released
  // its pins with it, so their handles need no PIN_RELEASE of their own. A
  // revoked lease is not: its pins still hold quarantined extents until
  // they are released.
  std::atomic<bool> released{false};
};

struct PinState {
  ~PinState();  // PIN_RELEASE while held

  std::shared_ptr<LeaseState> lease;  // the pin holds the lease
  std::uint64_t id = 0;
  FileRange range;
  std::vector<Extent> extents;
  std::atomic<bool> held{true};
};

}  // namespace pinfs::client_detail
