#include "lease/lease_event.h"

namespace pinfs::lease {

const char* to_string(LeaseEventKind kind) {
  switch (kind) {
    case LeaseEventKind::break_requested: return "break_requested";
    case LeaseEventKind::break_abandoned: return "break_abandoned";
    case LeaseEventKind::revoked: return "revoked";
    case LeaseEventKind::break_denied: return "break_denied";
  }
  return "unknown";
}

}  // namespace pinfs::lease
