#include "pin/registration.h"

namespace pinfs::pin {

Status validate(const Registration& registration) {
  const std::string object = "'" + registration.device_name + "' rkey " +
                             std::to_string(registration.rkey);
  if (registration.device_name.empty() ||
      registration.device_name.size() > kDeviceNameMaxBytes) {
    return Error(EINVAL, "report registration", object,
                 "device name must be 1 to " + std::to_string(kDeviceNameMaxBytes) + " bytes");
  }
  if (registration.length_bytes == 0) {
    return Error(EINVAL, "report registration", object, "length is 0");
  }
  return ok_status();
}

}  // namespace pinfs::pin
