// What the test environment offers, and the rule for tests that need
// hardware: outside the emulated-pmem VM they skip with a reason; inside it
// (PINFS_VM=1) the hardware is promised, so its absence is a failure.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace pinfs::testing {

inline bool in_vm() {
  const char* v = std::getenv("PINFS_VM");
  return v != nullptr && std::string(v) == "1";
}

inline std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

}  // namespace pinfs::testing

// Skips natively, fails in the VM, when `what` is not available.
#define PINFS_REQUIRE(available, what)                                             \
  do {                                                                             \
    if (!(available)) {                                                            \
      if (::pinfs::testing::in_vm()) FAIL() << "the VM must provide " << (what);   \
      GTEST_SKIP() << "needs " << (what) << ": runs in tests/vm (PINFS_VM=1)";     \
    }                                                                              \
  } while (0)
