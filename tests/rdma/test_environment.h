// What the rdma tests need from the machine, and the rule for when it is
// missing: outside the VM the test skips with a reason; inside it (PINFS_VM=1,
// set by tests/vm) every device is supposed to exist, so a missing one fails.
//
// Inside the VM, tests/vm sets
//   PINFS_TEST_RDMA_DEVICES=rxe0,rxe1     soft-RoCE devices over a veth pair
//   PINFS_TEST_DAX=/dev/dax0.0            device-DAX, 2 MiB alignment
//   PINFS_TEST_FSDAX_DIR=/mnt/pmem-dax    ext4 mounted -o dax
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace pinfs::rdma::test {

bool in_vm();

// PINFS_TEST_RDMA_DEVICES split at commas; empty when unset.
std::vector<std::string> test_device_names();

// nullopt when the first `count` test devices exist; otherwise why not, e.g.
// "no RDMA device 'rxe1' (present: rxe0)".
std::optional<std::string> missing_rdma_devices(size_t count);

// nullopt when environment variable `variable` names an existing path;
// otherwise why not, e.g. "no device-DAX (PINFS_TEST_DAX unset)".
std::optional<std::string> missing_path(const char* variable, const char* what);

// The value of `variable` (call after missing_path() said it is there).
std::string env_path(const char* variable);

}  // namespace pinfs::rdma::test

// Skips (outside the VM) or fails (inside it) the current test or SetUp()
// when `missing_expr`, a std::optional<std::string>, holds a reason.
#define PINFS_REQUIRE(missing_expr)                                              \
  do {                                                                          \
    if (std::optional<std::string> pinfs_missing_ = (missing_expr)) {           \
      if (::pinfs::rdma::test::in_vm())                                         \
        FAIL() << *pinfs_missing_ << ": required inside tests/vm (PINFS_VM=1)"; \
      GTEST_SKIP() << *pinfs_missing_ << ": runs in tests/vm";                  \
    }                                                                           \
  } while (0)
