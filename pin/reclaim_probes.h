// ReclaimProbes: how the pin registry learns that an orphaned pin's
// extents may go back to the free pool (DESIGN.md §4, invariant 2): the
// client's process has exited AND the kernel no longer lists any of the
// registrations the client reported on the pin. Registration lifetime
// follows the uverbs file, not the process, so the first answer alone is
// not enough.
//
// The daemon plugs in a pidfd (pidfd_open + poll, with the start time
// checked against pid reuse) and the rdma netlink resource table
// (rdma/resource_table.h: match on device, rkey and length, and confirm an
// absence with find_kernel_mr because a dump can skip a live entry). Tests
// plug in fault-injecting fakes.
//
// Both may be slow (a netlink dump): the registry calls them with no lock
// held. An error means "do not know": the pin stays, which is always safe.
#pragma once

#include "pin/client_identity.h"
#include "pin/registration.h"
#include "pinfs/error.h"

namespace pinfs::pin {

class ReclaimProbes {
 public:
  virtual ~ReclaimProbes() = default;
  // Has this client's process exited (and not merely closed its socket)?
  [[nodiscard]] virtual Result<bool> process_gone(const ClientIdentity& client) = 0;
  // Does the kernel still list this registration? Asked only once the
  // process is gone.
  [[nodiscard]] virtual Result<bool> registration_alive(const ClientIdentity& client,
                                                        const Registration& registration) = 0;
};

}  // namespace pinfs::pin
