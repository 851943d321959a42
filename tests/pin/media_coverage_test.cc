#include "pin/media_coverage.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace pinfs::pin {
namespace {

TEST(MediaCoverageTest, CountsOverlappingPinsAndReportsBytesThatDropToZero) {
  MediaCoverage coverage;
  coverage.add({0, 100});
  coverage.add({50, 100});  // [50, 150)
  EXPECT_EQ(coverage.count_at(49), 1u);
  EXPECT_EQ(coverage.count_at(50), 2u);
  EXPECT_EQ(coverage.count_at(149), 1u);
  EXPECT_EQ(coverage.count_at(150), 0u);
  EXPECT_EQ(coverage.covered_bytes(), 150u);

  EXPECT_EQ(coverage.remove({0, 100}), (std::vector<ByteRange>{{0, 50}}));
  EXPECT_TRUE(coverage.any({99, 1}));
  EXPECT_FALSE(coverage.any({0, 50}));
  EXPECT_EQ(coverage.remove({50, 100}), (std::vector<ByteRange>{{50, 100}}));
  EXPECT_EQ(coverage.covered_bytes(), 0u);
  EXPECT_EQ(coverage.segment_count(), 0u);
}

TEST(MediaCoverageTest, AdjacentPinsWithEqualCountsStayOneSegment) {
  MediaCoverage coverage;
  for (std::uint64_t i = 0; i < 1000; ++i) coverage.add({i * 4096, 4096});
  EXPECT_EQ(coverage.segment_count(), 1u);
  EXPECT_EQ(coverage.remove({4096 * 500, 4096}), (std::vector<ByteRange>{{4096 * 500, 4096}}));
  EXPECT_EQ(coverage.segment_count(), 2u);
  EXPECT_FALSE(coverage.any({4096 * 500, 4096}));
  EXPECT_TRUE(coverage.any({4096 * 500 - 1, 2}));
}

TEST(MediaCoverageTest, AgreesWithAByteArrayOverRandomAddsAndRemoves) {
  constexpr std::uint64_t kMediaBytes = 4096;
  for (std::uint32_t seed : {7u, 8u, 9u}) {
    std::mt19937_64 rng(seed);
    MediaCoverage coverage;
    std::vector<std::uint64_t> counts(kMediaBytes, 0);
    std::vector<ByteRange> live;
    for (int step = 0; step < 20000; ++step) {
      if (live.empty() || rng() % 2 == 0) {
        std::uint64_t offset = rng() % (kMediaBytes - 1);
        std::uint64_t length = 1 + rng() % std::min<std::uint64_t>(64, kMediaBytes - offset);
        coverage.add({offset, length});
        for (std::uint64_t b = offset; b < offset + length; ++b) ++counts[b];
        live.push_back({offset, length});
      } else {
        std::size_t victim = rng() % live.size();
        ByteRange range = live[victim];
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(victim));
        std::vector<ByteRange> expected;
        for (std::uint64_t b = range.offset; b < range.end(); ++b) {
          if (--counts[b] != 0) continue;
          if (!expected.empty() && expected.back().end() == b) {
            ++expected.back().length;
          } else {
            expected.push_back({b, 1});
          }
        }
        ASSERT_EQ(coverage.remove(range), expected) << "seed " << seed << " step " << step;
      }
      std::uint64_t probe = rng() % kMediaBytes;
      std::uint64_t probe_length = 1 + rng() % 32;
      bool expected_any = false;
      for (std::uint64_t b = probe; b < std::min(kMediaBytes, probe + probe_length); ++b) {
        expected_any = expected_any || counts[b] != 0;
      }
      ASSERT_EQ(coverage.any({probe, probe_length}), expected_any) << "seed " << seed << " step " << step;
      ASSERT_EQ(coverage.count_at(probe), counts[probe]);
    }
    std::uint64_t covered = 0;
    for (std::uint64_t c : counts) covered += c != 0;
    EXPECT_EQ(coverage.covered_bytes(), covered);
  }
}

}  // namespace
}  // namespace pinfs::pin
