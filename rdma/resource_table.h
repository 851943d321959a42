// The kernel's table of memory registrations, read through rdma netlink:
// what `rdma resource show mr` prints.
//
// pinfs needs it to know when a registration is gone from the kernel, not
// merely from the process that made it: an MR lives as long as any process
// holds the uverbs file it was made through (a child that inherited it, a
// process it was passed to), and it stays a live DMA target until then. So
// quarantined extents return to the free pool only once the table no longer
// lists their registrations (DESIGN.md, section 4).
//
// What the kernel reports, and what follows for a caller:
//  - The keys (rkey, lkey) only to a reader with CAP_NET_ADMIN; without it
//    an entry cannot be told apart from another MR of the same length on the
//    same device, and must be presumed to be the one looked for.
//  - The pid only while the owning process lives (and only if it is in the
//    reader's pid namespace).
//  - Only resources of the reader's own pid namespace: a reader in another
//    namespace than the registering process sees nothing, which looks like
//    "gone". The daemon must run in the clients' (normally the initial) pid
//    namespace.
//  - No iova on the 6.1 kernel: match on device, rkey and length.
//  - A dump is not a snapshot. The kernel resumes each reply message at a
//    position in its table, so an entry removed during the dump can make the
//    dump skip a live entry that followed it. An absence seen in a dump is
//    therefore only a hint; confirm it with find_kernel_mr(), which asks for
//    one MR by id and has no such race.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pinfs/error.h"

namespace pinfs::rdma {

// One row of the table.
struct KernelMr {
  uint32_t device_index = 0;  // the kernel's device index (DeviceInfo::kernel_index)
  std::string device_name;
  // The MR's id in the kernel's resource tracker (the "mrn" of `rdma
  // resource show mr`): the key for find_kernel_mr(). Ids are allocated
  // cyclically, so one is not reused soon, but it can be: compare rkey and
  // length too.
  std::optional<uint32_t> mr_id;
  std::optional<uint32_t> rkey;  // only for readers with CAP_NET_ADMIN
  std::optional<uint32_t> lkey;  // only for readers with CAP_NET_ADMIN
  std::optional<uint64_t> iova;  // not reported by every kernel (not 6.1)
  uint64_t length_bytes = 0;
  std::optional<uint32_t> pd_id;  // absent for MRs the kernel itself owns
  std::optional<pid_t> pid;       // absent once the owner has exited
  std::string kernel_owner;       // the owning kernel module, for kernel MRs
};

// Limits on what one call accepts from the kernel, so that a runaway table
// costs an error instead of unbounded memory.
inline constexpr size_t kMaxRdmaDevices = 4096;
inline constexpr size_t kMaxKernelMrs = 1 << 20;  // at most about 140 MiB of KernelMr

// Every MR of every RDMA device visible to this process. Errors name the
// device being read; EPROTONOSUPPORT when the kernel has no RDMA core, E2BIG
// past kMaxKernelMrs. A device removed while being read is left out (its MRs
// are gone with it); any other failure fails the whole call, because a
// partial table would report live registrations as gone.
[[nodiscard]] Result<std::vector<KernelMr>> list_kernel_mrs();

// The MR with tracker id `mr_id` on the device with kernel index
// `device_index`, or nullopt if the kernel no longer has it. Unlike a dump,
// this answer is exact at the moment the kernel gives it.
[[nodiscard]] Result<std::optional<KernelMr>> find_kernel_mr(uint32_t device_index,
                                                             uint32_t mr_id);

// Decoders for the kernel's replies, exposed so that tests can feed them
// crafted and malformed messages. `attributes` is one reply message's
// payload (after the netlink header).
//
// A RDMA_NLDEV_CMD_RES_MR_GET dump message: the device handle, then the MR
// table nested as RES_MR > RES_MR_ENTRY > entry attributes.
[[nodiscard]] Result<std::vector<KernelMr>> decode_mr_dump_message(
    std::span<const std::byte> attributes);
// A RDMA_NLDEV_CMD_RES_MR_GET get reply: the device handle and one entry's
// attributes, unnested.
[[nodiscard]] Result<KernelMr> decode_mr_get_reply(std::span<const std::byte> attributes);

}  // namespace pinfs::rdma
