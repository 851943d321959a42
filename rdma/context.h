// Context: an open RDMA device (ibv_context).
#pragma once

#include <infiniband/verbs.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pinfs/error.h"

namespace pinfs::rdma {

class ProtectionDomain;

// Move-only handle to an open device.
//
// Ownership: the device stays open while this Context or any
// ProtectionDomain allocated on it (and so any MemoryRegion registered
// there) exists. Dependents hold the device alive, so destroying objects in
// the wrong order can never leave a PD or MR pointing into a closed device;
// close() refuses (EBUSY) while dependents exist instead of closing under
// them, as ibv_dealloc_pd does for a PD with MRs.
//
// Thread safety: one object must not be used from two threads at once;
// distinct objects (a Context and the PDs allocated on it) may be.
class Context {
 public:
  // Opens the device called `device_name`. A device that does not exist
  // (including on a kernel without RDMA support) is ENODEV, with the devices
  // that do exist in the detail.
  [[nodiscard]] static Result<Context> open(std::string_view device_name);

  Context(Context&&) noexcept = default;
  Context& operator=(Context&&) noexcept = default;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  // Drops this handle's share of the device; the device is closed once no
  // dependent is left. A failure to close is not reported here: call close().
  ~Context() = default;

  // Closes the device now and reports the outcome. EBUSY while protection
  // domains allocated on it still exist (the Context stays open). Closing a
  // closed or moved-from Context does nothing.
  [[nodiscard]] Status close();

  bool is_open() const { return device_ != nullptr; }
  // The name the device was opened by; empty once closed.
  const std::string& device_name() const;
  // See DeviceInfo::kernel_index.
  std::optional<uint32_t> kernel_index() const;
  // For verbs the wrappers do not cover (ibv_query_port, ibv_create_cq).
  // Owned by this object; nullptr once closed.
  ibv_context* get() const { return device_ ? device_->context : nullptr; }

 private:
  // The open device, shared with every dependent (see class comment).
  struct Device {
    Device(ibv_context* context, std::string name, std::optional<uint32_t> kernel_index)
        : context(context), name(std::move(name)), kernel_index(kernel_index) {}
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;
    // Closes the device if close() has not; the result is ignored because no
    // caller is left to hear it.
    ~Device();

    ibv_context* context;  // nullptr once closed by Context::close()
    const std::string name;
    const std::optional<uint32_t> kernel_index;
  };

  explicit Context(std::shared_ptr<Device> device) : device_(std::move(device)) {}

  friend class ProtectionDomain;
  std::shared_ptr<Device> device_;
};

}  // namespace pinfs::rdma
