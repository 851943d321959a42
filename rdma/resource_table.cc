#include "rdma/resource_table.h"

#include <fmt/format.h>
#include <rdma/rdma_netlink.h>

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <utility>

#include "rdma/netlink_attributes.h"
#include "rdma/netlink_socket.h"

namespace pinfs::rdma {

namespace {

using netlink::Attribute;
using netlink::find_attribute;
using netlink::parse_attributes;

// The kernel's own limits (IB_DEVICE_NAME_MAX - 1; kern_name is a module
// name), rounded up: a longer string is a malformed reply.
constexpr size_t kMaxDeviceNameBytes = 63;
constexpr size_t kMaxKernelOwnerBytes = 63;

// The device that every nldev reply names first (the kernel's
// fill_nldev_handle).
struct DeviceHandle {
  uint32_t index = 0;
  std::string name;
};

Error with_context(Error error, std::string context) {
  error.with_detail(std::move(context));
  return error;
}

Result<DeviceHandle> decode_device_handle(std::span<const Attribute> attributes) {
  const Attribute* index = find_attribute(attributes, RDMA_NLDEV_ATTR_DEV_INDEX);
  const Attribute* name = find_attribute(attributes, RDMA_NLDEV_ATTR_DEV_NAME);
  if (index == nullptr || name == nullptr) {
    return Error(EPROTO, "decode rdma netlink reply", "<device handle>",
                 "no device index or name in the reply");
  }
  DeviceHandle device;
  PINFS_ASSIGN_OR_RETURN(device.index, netlink::read_u32(*index));
  PINFS_ASSIGN_OR_RETURN(device.name, netlink::read_string(*name, kMaxDeviceNameBytes));
  return device;
}

template <typename T>
Status read_optional(std::span<const Attribute> attributes, uint16_t type,
                     Result<T> (*read)(const Attribute&), std::optional<T>& out) {
  if (const Attribute* attribute = find_attribute(attributes, type)) {
    PINFS_ASSIGN_OR_RETURN(out, read(*attribute));
  }
  return ok_status();
}

// One MR's attributes, laid out alike in a dump entry and a get reply (the
// kernel's fill_res_mr_entry).
Result<KernelMr> decode_mr_entry(const DeviceHandle& device,
                                 std::span<const Attribute> attributes) {
  KernelMr mr;
  mr.device_index = device.index;
  mr.device_name = device.name;

  const Attribute* length = find_attribute(attributes, RDMA_NLDEV_ATTR_RES_MRLEN);
  if (length == nullptr) {
    return Error(EPROTO, "decode rdma netlink reply", "<MR entry>",
                 fmt::format("MR on '{}' without a length", device.name));
  }
  PINFS_ASSIGN_OR_RETURN(mr.length_bytes, netlink::read_u64(*length));

  PINFS_TRY(read_optional(attributes, RDMA_NLDEV_ATTR_RES_MRN, &netlink::read_u32, mr.mr_id));
  PINFS_TRY(read_optional(attributes, RDMA_NLDEV_ATTR_RES_RKEY, &netlink::read_u32, mr.rkey));
  PINFS_TRY(read_optional(attributes, RDMA_NLDEV_ATTR_RES_LKEY, &netlink::read_u32, mr.lkey));
  PINFS_TRY(read_optional(attributes, RDMA_NLDEV_ATTR_RES_IOVA, &netlink::read_u64, mr.iova));
  PINFS_TRY(read_optional(attributes, RDMA_NLDEV_ATTR_RES_PDN, &netlink::read_u32, mr.pd_id));

  std::optional<uint32_t> pid;
  PINFS_TRY(read_optional(attributes, RDMA_NLDEV_ATTR_RES_PID, &netlink::read_u32, pid));
  // Older kernels put a pid of 0 for an owner that has exited; newer ones
  // leave the attribute out. Both mean "no live owner".
  if (pid.has_value() && *pid != 0) mr.pid = static_cast<pid_t>(*pid);

  if (const Attribute* owner = find_attribute(attributes, RDMA_NLDEV_ATTR_RES_KERN_NAME)) {
    PINFS_ASSIGN_OR_RETURN(mr.kernel_owner, netlink::read_string(*owner, kMaxKernelOwnerBytes));
  }
  return mr;
}

// Every RDMA device in this network namespace, from an RDMA_NLDEV_CMD_GET
// dump.
Result<std::vector<DeviceHandle>> list_devices(NldevSocket& socket) {
  std::vector<DeviceHandle> devices;
  NldevSocket::Request request{RDMA_NLDEV_CMD_GET, {}, "list RDMA devices", "rdma netlink"};
  Status dumped = socket.dump(request, [&](std::span<const std::byte> bytes) -> Status {
    PINFS_ASSIGN_OR_RETURN(std::vector<Attribute> attributes, parse_attributes(bytes));
    PINFS_ASSIGN_OR_RETURN(DeviceHandle device, decode_device_handle(attributes));
    if (devices.size() == kMaxRdmaDevices) {
      return Error(E2BIG, request.op, request.object,
                   fmt::format("more than {} devices", kMaxRdmaDevices));
    }
    devices.push_back(std::move(device));
    return ok_status();
  });
  if (!dumped.ok()) return std::move(dumped).error();
  return devices;
}

// Whether the device with kernel index `index` (and, if given, `name`) still
// exists, asked on a new socket because the one whose request just failed
// may be in any state.
Result<bool> device_exists(uint32_t index, std::string_view name = {}) {
  PINFS_ASSIGN_OR_RETURN(NldevSocket socket, NldevSocket::open());
  PINFS_ASSIGN_OR_RETURN(std::vector<DeviceHandle> devices, list_devices(socket));
  return std::any_of(devices.begin(), devices.end(), [&](const DeviceHandle& d) {
    return d.index == index && (name.empty() || d.name == name);
  });
}

}  // namespace

Result<std::vector<KernelMr>> decode_mr_dump_message(std::span<const std::byte> bytes) {
  PINFS_ASSIGN_OR_RETURN(std::vector<Attribute> attributes, parse_attributes(bytes));
  PINFS_ASSIGN_OR_RETURN(DeviceHandle device, decode_device_handle(attributes));
  std::vector<KernelMr> mrs;
  const Attribute* table = find_attribute(attributes, RDMA_NLDEV_ATTR_RES_MR);
  if (table == nullptr) return mrs;
  PINFS_ASSIGN_OR_RETURN(std::vector<Attribute> entries, parse_attributes(table->payload));
  for (const Attribute& entry : entries) {
    if (entry.type != RDMA_NLDEV_ATTR_RES_MR_ENTRY) continue;
    PINFS_ASSIGN_OR_RETURN(std::vector<Attribute> fields, parse_attributes(entry.payload));
    PINFS_ASSIGN_OR_RETURN(KernelMr mr, decode_mr_entry(device, fields));
    mrs.push_back(std::move(mr));
  }
  return mrs;
}

Result<KernelMr> decode_mr_get_reply(std::span<const std::byte> bytes) {
  PINFS_ASSIGN_OR_RETURN(std::vector<Attribute> attributes, parse_attributes(bytes));
  PINFS_ASSIGN_OR_RETURN(DeviceHandle device, decode_device_handle(attributes));
  return decode_mr_entry(device, attributes);
}

Result<std::vector<KernelMr>> list_kernel_mrs() {
  PINFS_ASSIGN_OR_RETURN(NldevSocket socket, NldevSocket::open());
  PINFS_ASSIGN_OR_RETURN(std::vector<DeviceHandle> devices, list_devices(socket));

  std::vector<KernelMr> mrs;
  for (const DeviceHandle& device : devices) {
    // The MR dump is per device: the kernel requires the device index.
    NldevSocket::Request request{RDMA_NLDEV_CMD_RES_MR_GET,
                                 {{RDMA_NLDEV_ATTR_DEV_INDEX, device.index}},
                                 "list MRs of RDMA device",
                                 device.name};
    const size_t before = mrs.size();
    Status dumped = socket.dump(request, [&](std::span<const std::byte> bytes) -> Status {
      Result<std::vector<KernelMr>> decoded = decode_mr_dump_message(bytes);
      if (!decoded.ok())
        return with_context(std::move(decoded).error(), "in the MR table of '" + device.name + "'");
      for (KernelMr& mr : *decoded) {
        if (mr.device_index != device.index) {
          return Error(EPROTO, request.op, request.object,
                       fmt::format("reply names device index {}, asked for {}",
                                   mr.device_index, device.index));
        }
        if (mrs.size() == kMaxKernelMrs) {
          return Error(E2BIG, request.op, request.object,
                       fmt::format("more than {} MRs", kMaxKernelMrs));
        }
        mrs.push_back(std::move(mr));
      }
      return ok_status();
    });
    if (dumped.ok()) continue;

    // The kernel answers EINVAL for a device that is gone. A device removed
    // since it was listed took its MRs with it, so leaving it out is exact;
    // any other failure must fail the call (see resource_table.h).
    PINFS_ASSIGN_OR_RETURN(bool exists, device_exists(device.index, device.name));
    if (exists) return std::move(dumped).error();
    mrs.resize(before);
    // The failed dump may have left the socket in any state.
    PINFS_ASSIGN_OR_RETURN(socket, NldevSocket::open());
  }
  return mrs;
}

Result<std::optional<KernelMr>> find_kernel_mr(uint32_t device_index, uint32_t mr_id) {
  PINFS_ASSIGN_OR_RETURN(NldevSocket socket, NldevSocket::open());
  NldevSocket::Request request{
      RDMA_NLDEV_CMD_RES_MR_GET,
      {{RDMA_NLDEV_ATTR_DEV_INDEX, device_index}, {RDMA_NLDEV_ATTR_RES_MRN, mr_id}},
      "look up MR",
      fmt::format("<device index {}, mr id {}>", device_index, mr_id)};
  std::optional<KernelMr> found;
  Status status = socket.get(request, [&](std::span<const std::byte> bytes) -> Status {
    PINFS_ASSIGN_OR_RETURN(KernelMr mr, decode_mr_get_reply(bytes));
    if (mr.device_index != device_index) {
      return Error(EPROTO, request.op, request.object,
                   fmt::format("reply names device index {}", mr.device_index));
    }
    found = std::move(mr);
    return ok_status();
  });
  if (status.ok()) {
    if (!found.has_value())
      return Error(EPROTO, request.op, request.object, "acknowledged without a reply");
    return found;
  }
  // ENOENT: no MR with that id (or not one visible from this pid namespace).
  if (status.error().errnum() == ENOENT) return std::optional<KernelMr>{};
  // EINVAL also answers a device index that no longer exists; a device that
  // is gone has no MRs.
  if (status.error().errnum() == EINVAL) {
    PINFS_ASSIGN_OR_RETURN(bool exists, device_exists(device_index));
    if (!exists) return std::optional<KernelMr>{};
  }
  return std::move(status).error();
}

}  // namespace pinfs::rdma
