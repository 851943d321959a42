#include "lease/lease.h"

namespace pinfs::lease {

const char* to_string(LeaseType type) {
  switch (type) {
    case LeaseType::read: return "read";
    case LeaseType::unbreakable: return "unbreakable";
    case LeaseType::write: return "write";
  }
  return "unknown";
}

}  // namespace pinfs::lease
