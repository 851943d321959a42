#include "lease/lease_options.h"

namespace pinfs::lease {

const char* to_string(BreakPolicy policy) {
  switch (policy) {
    case BreakPolicy::fail: return "fail";
    case BreakPolicy::revoke: return "revoke";
  }
  return "unknown";
}

}  // namespace pinfs::lease
