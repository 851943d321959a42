#include "rdma/context.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cerrno>

#include "rdma/device_list.h"

namespace pinfs::rdma {

namespace {

constexpr const char* kOpenOp = "open RDMA device";

}  // namespace

Result<Context> Context::open(std::string_view device_name) {
  std::string name(device_name);
  Result<DeviceList> list = DeviceList::open();
  if (!list.ok()) {
    // Without RDMA in the kernel no device of any name exists: that is the
    // answer to "open rxe0", and the reason goes in the detail.
    if (list.error().errnum() == ENOSYS)
      return Error(ENODEV, kOpenOp, name, list.error().message());
    return Error(list.error().errnum(), kOpenOp, name, list.error().message());
  }

  ibv_device* device = list->find(name);
  if (device == nullptr) {
    std::vector<std::string> names = list->names();
    std::string detail = names.empty() ? "no RDMA devices present"
                                       : fmt::format("present: {}", fmt::join(names, ", "));
    return Error(ENODEV, kOpenOp, name, std::move(detail));
  }

  std::optional<uint32_t> kernel_index;
  if (int index = ibv_get_device_index(device); index >= 0)
    kernel_index = static_cast<uint32_t>(index);

  ibv_context* context = ibv_open_device(device);
  if (context == nullptr) return Error::from_errno(kOpenOp, name);
  // The list is freed on return; the opened context does not depend on it.
  return Context(std::make_shared<Device>(context, std::move(name), kernel_index));
}

Context::Device::~Device() {
  if (context != nullptr) (void)ibv_close_device(context);
}

Status Context::close() {
  if (device_ == nullptr) return ok_status();
  // Every other owner of the device is a ProtectionDomain (see context.h).
  if (long dependents = device_.use_count() - 1; dependents > 0) {
    return Error(EBUSY, "close RDMA device", device_->name,
                 fmt::format("{} protection domain(s) still allocated on it; destroy them first",
                             dependents));
  }
  // ibv_close_device(3): 0 on success, -1 with errno set on failure.
  if (ibv_close_device(device_->context) != 0)
    return Error::from_errno("close RDMA device", device_->name);
  device_->context = nullptr;
  device_.reset();
  return ok_status();
}

const std::string& Context::device_name() const {
  static const std::string kNone;
  return device_ ? device_->name : kNone;
}

std::optional<uint32_t> Context::kernel_index() const {
  return device_ ? device_->kernel_index : std::nullopt;
}

}  // namespace pinfs::rdma
