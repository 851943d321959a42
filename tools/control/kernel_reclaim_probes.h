// KernelReclaimProbes: the daemon's answers to the pin registry's two
// questions about a dead client (DESIGN.md §4, invariant 2).
//
// process_gone: the pidfd the server holds for the client's process (taken
//   at connect; SO_PEERPIDFD or pidfd_open) is readable once the process has
//   exited. Without a pidfd, /proc/<pid>/stat decides: no such process, or a
//   different start time (the pid was reused), means gone.
// registration_alive: the kernel's RDMA resource table (rdma netlink, what
//   `rdma resource show mr` reads). A registration whose MR id was found
//   when it was reported is asked for by id (find_kernel_mr: exact);
//   otherwise two dumps must both miss it (a dump can skip a live entry).
//   Matched on device, length, and rkey where the kernel reports keys.
//   A kernel without RDMA (EPROTONOSUPPORT: no ib_core, as on the CI host)
//   has no registrations at all: the check is then pidfd-only, which the
//   daemon logs once.
//
// Used on the loop thread only (the server calls LeaseManager::reclaim
// there).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>

#include "pin/file_pin.h"
#include "pin/reclaim_probes.h"

namespace pinfs::control {

class KernelReclaimProbes final : public pin::ReclaimProbes {
 public:
  // The server's pidfds of client processes (not owned): client id -> fd.
  void watch_process(pin::ClientId client, int pidfd) { pidfds_[client] = pidfd; }
  void unwatch_process(pin::ClientId client) { pidfds_.erase(client); }

  // Looks the reported registration up in the kernel's table and remembers
  // its MR id (best effort: without RDMA, or without a match, nothing).
  void record_registration(pin::ClientId client, pin::PinId pin, const pin::Registration& registration,
                           pid_t pid);
  void forget_registration(pin::ClientId client, pin::PinId pin, const std::string& device,
                           std::uint32_t rkey);
  void forget_pin(pin::ClientId client, pin::PinId pin);

  Result<bool> process_gone(const pin::ClientIdentity& client) override;
  Result<bool> registration_alive(const pin::ClientIdentity& client,
                                  const pin::Registration& registration) override;

  // True once a probe found the kernel has no RDMA (for the log line).
  bool rdma_absent() const { return rdma_absent_; }

 private:
  struct KernelId {
    std::uint32_t device_index = 0;
    std::uint32_t mr_id = 0;
  };
  using Key = std::tuple<pin::ClientId, pin::PinId, std::string, std::uint32_t>;

  std::unordered_map<pin::ClientId, int> pidfds_;
  std::map<Key, KernelId> kernel_ids_;
  bool rdma_absent_ = false;
};

}  // namespace pinfs::control
