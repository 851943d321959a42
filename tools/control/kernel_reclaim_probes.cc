#include "tools/control/kernel_reclaim_probes.h"

#include <vector>

#include "rdma/resource_table.h"
#include "tools/control/peer_credentials.h"

namespace pinfs::control {
namespace {

bool same_registration(const rdma::KernelMr& mr, const pin::Registration& r) {
  if (mr.device_name != r.device_name || mr.length_bytes != r.length_bytes) return false;
  // Without CAP_NET_ADMIN the kernel hides the keys: an MR of the same
  // device and length must then be presumed to be ours (resource_table.h).
  return !mr.rkey || *mr.rkey == r.rkey;
}

}  // namespace

void KernelReclaimProbes::record_registration(pin::ClientId client, pin::PinId pin,
                                              const pin::Registration& registration, pid_t pid) {
  auto table = rdma::list_kernel_mrs();
  if (!table.ok()) {
    if (table.error().errnum() == EPROTONOSUPPORT) rdma_absent_ = true;
    return;
  }
  for (const rdma::KernelMr& mr : *table) {
    if (!same_registration(mr, registration) || !mr.mr_id) continue;
    if (mr.pid && *mr.pid != pid) continue;
    kernel_ids_[Key{client, pin, registration.device_name, registration.rkey}] =
        KernelId{mr.device_index, *mr.mr_id};
    return;
  }
}

void KernelReclaimProbes::forget_registration(pin::ClientId client, pin::PinId pin,
                                              const std::string& device, std::uint32_t rkey) {
  kernel_ids_.erase(Key{client, pin, device, rkey});
}

void KernelReclaimProbes::forget_pin(pin::ClientId client, pin::PinId pin) {
  auto it = kernel_ids_.lower_bound(Key{client, pin, std::string(), 0});
  while (it != kernel_ids_.end() && std::get<0>(it->first) == client && std::get<1>(it->first) == pin) {
    it = kernel_ids_.erase(it);
  }
}

Result<bool> KernelReclaimProbes::process_gone(const pin::ClientIdentity& client) {
  auto watched = pidfds_.find(client.id);
  if (watched != pidfds_.end() && watched->second >= 0) return pidfd_exited(watched->second);
  // No pidfd: the pid and its start time against reuse.
  const auto start = read_start_time_ticks(client.pid);
  if (!start) return true;
  if (client.start_time_ticks == 0) return false;  // cannot tell: keep the pin
  return *start != client.start_time_ticks;
}

Result<bool> KernelReclaimProbes::registration_alive(const pin::ClientIdentity& client,
                                                     const pin::Registration& registration) {
  // The probe does not say which pin asks: search by client, device, rkey.
  auto known = kernel_ids_.end();
  for (auto it = kernel_ids_.begin(); it != kernel_ids_.end(); ++it) {
    if (std::get<0>(it->first) == client.id && std::get<2>(it->first) == registration.device_name &&
        std::get<3>(it->first) == registration.rkey) {
      known = it;
      break;
    }
  }
  if (known != kernel_ids_.end()) {
    auto found = rdma::find_kernel_mr(known->second.device_index, known->second.mr_id);
    if (!found.ok()) {
      if (found.error().errnum() == EPROTONOSUPPORT) {
        rdma_absent_ = true;
        return false;
      }
      return std::move(found).error();
    }
    return found->has_value() && same_registration(**found, registration);
  }
  for (int pass = 0; pass < 2; ++pass) {
    auto table = rdma::list_kernel_mrs();
    if (!table.ok()) {
      // No RDMA core in this kernel: no MR can exist, so the registration
      // is certainly gone (the check is pidfd-only here).
      if (table.error().errnum() == EPROTONOSUPPORT) {
        rdma_absent_ = true;
        return false;
      }
      return std::move(table).error();
    }
    for (const rdma::KernelMr& mr : *table) {
      if (same_registration(mr, registration)) return true;
    }
  }
  return false;
}

}  // namespace pinfs::control
