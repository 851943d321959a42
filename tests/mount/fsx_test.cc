// Runs the random exerciser (fsx.cc) on the mount. The main run does
// 100,000 operations natively and 5,000 in the VM (TCG is ~50x slower);
// PINFS_FSX_OPS and PINFS_FSX_SEED override that run's count and seed. The
// seed is printed either way, so a failure can be replayed by hand with
//   fsx --seed S --ops N [--max-size B --max-op B] MNT/FILE
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
using pinfs::testing::in_vm;

struct FsxRun {
  std::uint64_t native_ops;
  std::uint64_t vm_ops;
  std::uint64_t seed;
  std::uint64_t max_size;
  std::uint64_t max_op;
};

std::string env_or(const char* name, std::uint64_t fallback) {
  std::string v = pinfs::testing::env_or_empty(name);
  return v.empty() ? std::to_string(fallback) : v;
}

class FsxTest : public MountTest {
 protected:
  std::vector<std::string> argv(const FsxRun& r, const std::string& file, std::string ops,
                                std::string seed) {
    return {fs().programs().fsx, "--ops",    std::move(ops),
            "--seed",            std::move(seed), "--max-size",
            std::to_string(r.max_size), "--max-op", std::to_string(r.max_op),
            path(file)};
  }
  std::string ops_of(const FsxRun& r) { return std::to_string(in_vm() ? r.vm_ops : r.native_ops); }

  // Runs the exercisers at once, one per file, and requires each to pass.
  void run_all(const std::vector<std::vector<std::string>>& commands) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<Process> procs;
    for (std::size_t i = 0; i < commands.size(); ++i) {
      procs.push_back(Process::spawn(commands[i], scratch(fmt::format("fsx-{}.log", i)),
                                     scratch(fmt::format("fsx-{}.log", i))));
      ASSERT_TRUE(procs.back().started());
    }
    for (std::size_t i = 0; i < procs.size(); ++i) {
      auto status = procs[i].wait_for(in_vm() ? 60min : 20min);
      const std::string log = read_log(i);
      fmt::print("{}", log);
      ASSERT_TRUE(status.has_value()) << quote_command(commands[i]) << " did not finish";
      EXPECT_TRUE(status->success())
          << quote_command(commands[i]) << ": " << status->describe() << "\n" << log;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("fsx: {} exerciser(s) done in {:.1f} s\n", commands.size(), seconds);
    RecordProperty("fsx_seconds", fmt::format("{:.1f}", seconds));
  }

 private:
  std::string read_log(std::size_t i) {
    Output cat = run({"cat", scratch(fmt::format("fsx-{}.log", i))});
    return cat.out;
  }
};

// File sizes up to 3 MiB (across the 2 MiB aligned unit), operations up to
// 256 KiB.
constexpr FsxRun kMainRun = {100000, 5000, 20240501, 3u << 20, 256u << 10};
// A small file and small operations: every operation overlaps earlier ones
// and most are partial blocks and pages.
constexpr FsxRun kSmallFileRun = {100000, 1000, 7, 128u << 10, 16u << 10};
// Two large files at once (up to 12 MiB, operations up to 1 MiB): the
// allocator and the journal serve two inodes' layout changes concurrently.
constexpr FsxRun kLargeFilesRun = {25000, 500, 99, 12u << 20, 1u << 20};

TEST_F(FsxTest, RandomOperationsMatchAnInMemoryModel) {
  const std::string ops = env_or("PINFS_FSX_OPS", in_vm() ? kMainRun.vm_ops : kMainRun.native_ops);
  const std::string seed = env_or("PINFS_FSX_SEED", kMainRun.seed);
  RecordProperty("fsx_ops", ops);
  RecordProperty("fsx_seed", seed);
  ASSERT_NO_FATAL_FAILURE(run_all({argv(kMainRun, "fsx.file", ops, seed)}));
}

TEST_F(FsxTest, RandomOperationsOnASmallFileMatchAnInMemoryModel) {
  ASSERT_NO_FATAL_FAILURE(run_all(
      {argv(kSmallFileRun, "small.file", ops_of(kSmallFileRun), std::to_string(kSmallFileRun.seed))}));
}

TEST_F(FsxTest, TwoExercisersOnLargeFilesAtOnceBothMatchTheirModels) {
  ASSERT_NO_FATAL_FAILURE(run_all(
      {argv(kLargeFilesRun, "large-1.file", ops_of(kLargeFilesRun),
            std::to_string(kLargeFilesRun.seed)),
       argv(kLargeFilesRun, "large-2.file", ops_of(kLargeFilesRun),
            std::to_string(kLargeFilesRun.seed + 1))}));
}

}  // namespace
}  // namespace pinfs::mount_test
