#include "pin/file_pin.h"

namespace pinfs::pin {

const char* to_string(PinState state) {
  switch (state) {
    case PinState::active: return "active";
    case PinState::revoked: return "revoked";
    case PinState::orphaned: return "orphaned";
  }
  return "unknown";
}

}  // namespace pinfs::pin
