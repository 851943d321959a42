// Registration: a memory registration (ibv_reg_mr) that a client reports on
// one of its pins, so that the daemon can tell when the kernel no longer has
// it (rdma/resource_table.h). Registration lifetime follows the uverbs file,
// not the process: an MR outlives its registering process for as long as
// any process holds that file (DESIGN.md §4).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "pinfs/error.h"

namespace pinfs::pin {

// IB_DEVICE_NAME_MAX: the kernel's limit on an RDMA device name.
inline constexpr std::size_t kDeviceNameMaxBytes = 64;

struct Registration {
  std::string device_name;  // "rxe0", "mlx5_0"
  std::uint32_t lkey = 0;
  std::uint32_t rkey = 0;
  std::uint64_t iova = 0;  // the address the client registered
  std::uint64_t length_bytes = 0;
  int access_flags = 0;  // IBV_ACCESS_* bits

  friend bool operator==(const Registration&, const Registration&) = default;
};

// EINVAL for an empty or overlong device name or a zero length: a malformed
// report from a client, said plainly.
[[nodiscard]] Status validate(const Registration& registration);

}  // namespace pinfs::pin
