#include "pin/interval_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <tuple>
#include <vector>

namespace pinfs::pin {
namespace {

using Interval = std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>;  // start, end, id

std::vector<Interval> overlapping(const IntervalIndex& index, std::uint64_t a, std::uint64_t b) {
  std::vector<Interval> out;
  index.for_each_overlapping(a, b, [&](std::uint64_t start, std::uint64_t end, std::uint64_t id) {
    out.emplace_back(start, end, id);
  });
  return out;
}

TEST(IntervalIndexTest, FindsIntervalsThatStartBeforeTheQueryAndReachIntoIt) {
  IntervalIndex index;
  index.insert(0, 100, 1);   // long, starts far before
  index.insert(10, 20, 2);   // ends before the query
  index.insert(50, 60, 3);   // inside
  index.insert(70, 200, 4);  // starts inside, ends after
  index.insert(80, 90, 5);   // starts at the query's end: not overlapping
  EXPECT_EQ(overlapping(index, 40, 80),
            (std::vector<Interval>{{0, 100, 1}, {50, 60, 3}, {70, 200, 4}}));
  EXPECT_TRUE(index.any_overlapping(15, 16));
  EXPECT_FALSE(IntervalIndex().any_overlapping(0, 1));
  EXPECT_TRUE(overlapping(index, 300, 400).empty());
  EXPECT_FALSE(index.any_overlapping(300, 400));
  EXPECT_FALSE(index.any_overlapping(40, 40));  // an empty query overlaps nothing
}

TEST(IntervalIndexTest, EraseRemovesOnlyTheNamedInterval) {
  IntervalIndex index;
  index.insert(0, 10, 1);
  index.insert(0, 10, 2);  // same range, other id
  EXPECT_TRUE(index.erase(0, 1));
  EXPECT_FALSE(index.erase(0, 1));
  EXPECT_FALSE(index.erase(5, 2));  // wrong start
  EXPECT_EQ(overlapping(index, 0, 10), (std::vector<Interval>{{0, 10, 2}}));
  EXPECT_EQ(index.size(), 1u);
}

// The index against a brute-force list, over seeded random inserts, erases
// and queries.
TEST(IntervalIndexTest, AgreesWithABruteForceListOverRandomOperations) {
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    std::mt19937_64 rng(seed);
    IntervalIndex index;
    std::vector<Interval> model;
    std::uint64_t next_id = 1;
    for (int step = 0; step < 20000; ++step) {
      int op = static_cast<int>(rng() % 10);
      if (op < 4 || model.empty()) {
        std::uint64_t start = rng() % 10000;
        std::uint64_t length = 1 + (rng() % 8 == 0 ? rng() % 5000 : rng() % 50);
        index.insert(start, start + length, next_id);
        model.emplace_back(start, start + length, next_id);
        ++next_id;
      } else if (op < 7) {
        std::size_t victim = rng() % model.size();
        auto [start, end, id] = model[victim];
        ASSERT_TRUE(index.erase(start, id));
        model.erase(model.begin() + static_cast<std::ptrdiff_t>(victim));
      } else {
        std::uint64_t a = rng() % 11000;
        std::uint64_t b = a + 1 + rng() % 200;
        std::vector<Interval> expected;
        for (const Interval& i : model) {
          if (std::get<0>(i) < b && std::get<1>(i) > a) expected.push_back(i);
        }
        std::sort(expected.begin(), expected.end());
        std::vector<Interval> got = overlapping(index, a, b);
        std::sort(got.begin(), got.end());
        ASSERT_EQ(got, expected) << "seed " << seed << " step " << step << " query [" << a << ", " << b << ")";
        ASSERT_EQ(index.any_overlapping(a, b), !expected.empty());
      }
      ASSERT_EQ(index.size(), model.size());
    }
  }
}

}  // namespace
}  // namespace pinfs::pin
