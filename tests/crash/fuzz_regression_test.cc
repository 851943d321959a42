// Replays every input the image fuzzer once crashed on
// (tests/fuzz/regressions/, PINFS_FUZZ_REGRESSIONS) and the fuzzer's seed
// inputs through its own input handler, in the g++ build of the native suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/fuzz/image_fuzz_target.h"
#include "tests/test_env.h"

namespace pinfs::fuzz {
namespace {

TEST(FuzzRegressionTest, EverySeedInputIsHandledWithoutAProblem) {
  auto seeds = seed_inputs();
  ASSERT_GE(seeds.size(), 3u);
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    EXPECT_EQ(run_image_input(seeds[i]), "") << "seed input " << i;
  }
}

TEST(FuzzRegressionTest, EveryRecordedCrashInputIsHandledWithoutAProblem) {
  std::string dir = pinfs::testing::env_or_empty("PINFS_FUZZ_REGRESSIONS");
  ASSERT_FALSE(dir.empty()) << "PINFS_FUZZ_REGRESSIONS is set by tests/crash/meson.build";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  std::vector<std::filesystem::path> inputs;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().filename().string().rfind("crash-", 0) == 0) {
      inputs.push_back(entry.path());
    }
  }
  std::sort(inputs.begin(), inputs.end());
  for (const auto& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
    std::printf("fuzz-regressions: %s (%zu bytes)\n", path.filename().c_str(), bytes.size());
    std::fflush(stdout);
    EXPECT_EQ(run_image_input(bytes), "") << path;
  }
  std::printf("fuzz-regressions: %zu recorded inputs replayed\n", inputs.size());
}

}  // namespace
}  // namespace pinfs::fuzz
