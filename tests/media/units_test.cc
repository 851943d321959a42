#include "fs/units.h"

#include <gtest/gtest.h>

namespace pinfs::fs {
namespace {

TEST(UnitsTest, ParseSizeAcceptsBinarySuffixes) {
  EXPECT_EQ(*parse_size("4096"), 4096u);
  EXPECT_EQ(*parse_size("64K"), 64u << 10);
  EXPECT_EQ(*parse_size("2m"), 2u << 20);
  EXPECT_EQ(*parse_size("2MiB"), 2u << 20);
  EXPECT_EQ(*parse_size("3G"), 3ull << 30);
  EXPECT_EQ(*parse_size("1T"), 1ull << 40);
}

TEST(UnitsTest, ParseSizeRejectsJunkAndOverflowWithEINVAL) {
  for (const char* bad : {"", "M", "12Q", "-1", "99999999999999999999", "20000000T"}) {
    auto r = parse_size(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().errnum(), EINVAL) << bad;
    EXPECT_EQ(r.error().object(), bad);
  }
}

TEST(UnitsTest, FormatSizePrintsHumanUnits) {
  EXPECT_EQ(format_size(0), "0 B");
  EXPECT_EQ(format_size(4096), "4 KiB");
  EXPECT_EQ(format_size(2 << 20), "2 MiB");
  EXPECT_EQ(format_size(3 << 19), "1.5 MiB");
}

}  // namespace
}  // namespace pinfs::fs
