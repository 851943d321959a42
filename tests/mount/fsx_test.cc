// Runs the random exerciser (fsx.cc) on the mount: natively 100,000
// operations, in the VM 5,000 (TCG is ~20x slower). PINFS_FSX_OPS and
// PINFS_FSX_SEED override the count and the seed; the seed is printed
// either way, so a failure can be replayed by hand with
//   fsx --seed S --ops N MNT/fsx.file
#include <chrono>
#include <cstdlib>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/mount/mount_test_fixture.h"
#include "tests/mount/subprocess.h"
#include "tests/test_env.h"

namespace pinfs::mount_test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kNativeOps = 100000;
constexpr std::uint64_t kVmOps = 5000;
constexpr std::uint64_t kDefaultSeed = 20240501;

std::string env_number_or(const char* name, std::uint64_t fallback) {
  std::string v = pinfs::testing::env_or_empty(name);
  return v.empty() ? std::to_string(fallback) : v;
}

using FsxTest = MountTest;

TEST_F(FsxTest, RandomOperationsMatchAnInMemoryModel) {
  const std::string ops =
      env_number_or("PINFS_FSX_OPS", pinfs::testing::in_vm() ? kVmOps : kNativeOps);
  const std::string seed = env_number_or("PINFS_FSX_SEED", kDefaultSeed);
  std::vector<std::string> argv = {fs().programs().fsx, "--ops", ops, "--seed", seed,
                                   path("fsx.file")};
  const auto start = std::chrono::steady_clock::now();
  Output out = run(argv, 30min);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("fsx_ops", ops);
  RecordProperty("fsx_seed", seed);
  RecordProperty("fsx_seconds", fmt::format("{:.1f}", seconds));
  fmt::print("fsx: {} ops, seed {}, {:.1f} s\n{}", ops, seed, seconds, out.out);
  EXPECT_TRUE(out.status.success()) << describe_run(argv, out);
}

}  // namespace
}  // namespace pinfs::mount_test
