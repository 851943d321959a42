// DeviceList: the RDMA devices the kernel exposes through uverbs.
#pragma once

#include <infiniband/verbs.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pinfs/error.h"

namespace pinfs::rdma {

// What a user needs to pick a device.
struct DeviceInfo {
  std::string name;
  // Node GUID in host byte order (libibverbs hands it out big-endian).
  uint64_t node_guid = 0;
  // The kernel's device index: what rdma netlink (`rdma dev`, the resource
  // table) identifies the device by. Absent when the kernel does not report
  // it (ibv_get_device_index returns -1 on kernels without the ioctl ABI).
  std::optional<uint32_t> kernel_index;
};

// "0002:c903:0043:bc8e": the grouping ibv_devinfo and `rdma link` print.
std::string format_guid(uint64_t node_guid);

// Move-only owner of the array ibv_get_device_list() returns.
//
// The ibv_device pointers that find() returns live only as long as this
// list; a device opened from one (Context) stays valid after the list is
// freed, which is rdma-core's rule for ibv_free_device_list(3).
class DeviceList {
 public:
  // Fails with ENOSYS when the running kernel has no uverbs support (no
  // ib_uverbs module, or an ABI rdma-core does not speak), EPERM or ENOMEM
  // as ibv_get_device_list(3) describes. No devices is an empty list, not an
  // error.
  [[nodiscard]] static Result<DeviceList> open();

  DeviceList(DeviceList&& other) noexcept;
  DeviceList& operator=(DeviceList&& other) noexcept;
  DeviceList(const DeviceList&) = delete;
  DeviceList& operator=(const DeviceList&) = delete;
  ~DeviceList();

  size_t size() const { return count_; }
  std::vector<DeviceInfo> describe() const;
  std::vector<std::string> names() const;
  // The device called `name`, or nullptr.
  ibv_device* find(std::string_view name) const;

 private:
  DeviceList(ibv_device** devices, size_t count) : devices_(devices), count_(count) {}

  ibv_device** devices_ = nullptr;
  size_t count_ = 0;
};

}  // namespace pinfs::rdma
