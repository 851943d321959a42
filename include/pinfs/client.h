// The pinfs client library: map files of a pinfs mount directly and pin
// them for RDMA under layout leases (DESIGN.md §3, §4; docs/client.md).
//
//   auto client = pinfs::Client::connect("/run/pinfs/pinfsd.sock");
//   auto file = client->open("/mnt/pinfs/data/f1");
//   auto mapping = file->map();                      // map group only
//   auto lease = file->lease(pinfs::LeaseKind::read, {}, on_break);
//   auto pin = lease->pin({0, 8 << 20});
//   ... ibv_reg_mr(mapping->data(), ...); pin->report_registration(...);
//   poll(client->event_fd()) ... client->process_events();  // runs on_break
//
// Events: the library starts no thread. Lease events are read from the
// socket by whatever call of the library is running and queued; they are
// delivered only by process_events(), which runs the callbacks on the
// calling thread. event_fd() becomes readable (POLLIN) when something may be
// waiting, so an event loop polls it with its other descriptors. A callback
// may call anything on the client, including releasing its lease.
//
// Thread safety: a Client and every object made from it may be used from
// several threads; requests are serialised on the connection.
//
// Every handle is move-only RAII and keeps the connection alive: a Lease or
// Pin outliving its Client still releases itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "pinfs/client_types.h"
#include "pinfs/error.h"
#include "pinfs/lease.h"
#include "pinfs/mapping.h"

namespace pinfs {

namespace client_detail {
class Connection;
struct FileState;
}  // namespace client_detail

class File;

class Client {
 public:
  // Connects and performs the version handshake. ENOENT/ECONNREFUSED: no
  // daemon there; EACCES: not allowed to use the socket (root and the map
  // group are); EPROTONOSUPPORT: no protocol version in common.
  [[nodiscard]] static Result<Client> connect(const std::string& socket_path = kDefaultSocketPath);

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  // Opens a file: a path under the daemon's mount point, or a path relative
  // to the file system's root. No access is checked here; each lease, pin
  // and map checks the file's permissions against this process's uid/gid.
  [[nodiscard]] Result<File> open(const std::string& path);

  // Readable when events may be waiting; see the file comment.
  int event_fd() const;
  // Reads what has arrived without blocking and runs the callbacks of the
  // queued events. Returns how many were delivered. ECONNRESET once the
  // daemon closed the connection (after delivering connection_lost).
  [[nodiscard]] Result<std::size_t> process_events();
  // Waits up to timeout for events (poll on event_fd()), then processes.
  [[nodiscard]] Result<std::size_t> wait_for_events(std::chrono::milliseconds timeout);

  // Administration (`pinfs pins`, `pinfs leases`, `pinfs stat`): JSON text,
  // docs/protocol.md describes the fields.
  [[nodiscard]] Result<std::string> list_pins_json();
  [[nodiscard]] Result<std::string> list_leases_json();
  [[nodiscard]] Result<std::string> stat_json();
  // Breaks the leases over a range of a file as a layout change would, and
  // waits for the outcome (root or the file's owner).
  [[nodiscard]] Status break_leases(const std::string& path, FileRange range = {});

  std::uint64_t client_id() const;
  const std::string& mountpoint() const;  // the daemon's
  std::uint32_t lease_break_ms() const;   // the daemon's break deadline
  bool connected() const;

  // Closes the connection now: the daemon drops this client's leases and
  // pins. Handles made from it report ENOTCONN afterwards.
  void disconnect();

 private:
  explicit Client(std::shared_ptr<client_detail::Connection> connection);
  std::shared_ptr<client_detail::Connection> connection_;
};

class File {
 public:
  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  const std::string& path() const;
  std::uint64_t ino() const;
  std::uint64_t size_at_open() const;

  // Takes a layout lease on range. The callback receives its events (see
  // LeaseEvent). EACCES: no read permission (write permission for a write
  // lease); EAGAIN: a conflicting lease or a layout change in progress.
  [[nodiscard]] Result<Lease> lease(LeaseKind kind, FileRange range = {},
                                    LeaseCallback callback = {});
  // Maps the whole file (see mapping.h). Moves the file's data into aligned
  // extents first if needed, which is a layout change: map before taking a
  // read lease on a file that was never mapped, or under a write lease.
  // EPERM: not a member of the daemon's map group.
  [[nodiscard]] Result<Mapping> map();

 private:
  friend class Client;
  explicit File(std::shared_ptr<client_detail::FileState> state);
  std::shared_ptr<client_detail::FileState> state_;
};

}  // namespace pinfs
