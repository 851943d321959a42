#include "rdma/device_list.h"

#include <endian.h>
#include <fmt/format.h>

#include <cerrno>
#include <utility>

namespace pinfs::rdma {

std::string format_guid(uint64_t node_guid) {
  return fmt::format("{:04x}:{:04x}:{:04x}:{:04x}", (node_guid >> 48) & 0xffff,
                     (node_guid >> 32) & 0xffff, (node_guid >> 16) & 0xffff,
                     node_guid & 0xffff);
}

Result<DeviceList> DeviceList::open() {
  int count = 0;
  ibv_device** devices = ibv_get_device_list(&count);
  if (devices == nullptr) {
    // ENOSYS is what a machine without RDMA in its kernel gives; say so,
    // because "Function not implemented" alone sends people looking for a
    // bug in pinfs.
    const int errnum = errno;
    std::string detail = errnum == ENOSYS
                             ? "the running kernel has no RDMA user verbs: is ib_uverbs loaded?"
                             : "";
    errno = errnum;  // building the detail may have overwritten it
    return Error::from_errno("list RDMA devices", "", std::move(detail));
  }
  return DeviceList(devices, count > 0 ? static_cast<size_t>(count) : 0);
}

DeviceList::DeviceList(DeviceList&& other) noexcept
    : devices_(std::exchange(other.devices_, nullptr)), count_(std::exchange(other.count_, 0)) {}

DeviceList& DeviceList::operator=(DeviceList&& other) noexcept {
  if (this != &other) {
    if (devices_ != nullptr) ibv_free_device_list(devices_);
    devices_ = std::exchange(other.devices_, nullptr);
    count_ = std::exchange(other.count_, 0);
  }
  return *this;
}

DeviceList::~DeviceList() {
  if (devices_ != nullptr) ibv_free_device_list(devices_);
}

std::vector<DeviceInfo> DeviceList::describe() const {
  std::vector<DeviceInfo> out;
  out.reserve(count_);
  for (size_t i = 0; i < count_; ++i) {
    DeviceInfo info;
    info.name = ibv_get_device_name(devices_[i]);
    info.node_guid = be64toh(ibv_get_device_guid(devices_[i]));
    int index = ibv_get_device_index(devices_[i]);
    if (index >= 0) info.kernel_index = static_cast<uint32_t>(index);
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<std::string> DeviceList::names() const {
  std::vector<std::string> out;
  out.reserve(count_);
  for (size_t i = 0; i < count_; ++i) out.emplace_back(ibv_get_device_name(devices_[i]));
  return out;
}

ibv_device* DeviceList::find(std::string_view name) const {
  for (size_t i = 0; i < count_; ++i) {
    if (name == ibv_get_device_name(devices_[i])) return devices_[i];
  }
  return nullptr;
}

}  // namespace pinfs::rdma
