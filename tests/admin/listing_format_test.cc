// The pieces the tables are made of: columns, ages, deadlines, ranges.
#include <gtest/gtest.h>

#include "tools/pinfs/listing_format.h"
#include "tools/pinfs/range_option.h"
#include "tools/pinfs/table.h"

namespace pinfs::tools {
namespace {

TEST(TableTest, AlignsColumnsTwoSpacesApartWithoutTrailingBlanks) {
  Table table({{"ID", Table::Align::right}, {"NAME"}, {"NOTE"}});
  table.add_row({"7", "a", "x"});
  table.add_row({"1234", "longer name", ""});
  EXPECT_EQ(table.render(),
            "  ID  NAME         NOTE\n"
            "   7  a            x\n"
            "1234  longer name\n");
  EXPECT_EQ(table.render(/*with_header=*/false),
            "   7  a            x\n"
            "1234  longer name\n");
}

TEST(TableTest, CountsCodePointsNotBytes) {
  Table table({{"PATH"}, {"N", Table::Align::right}});
  table.add_row({"/mnt/ü", "1"});
  table.add_row({"/mnt/u", "2"});
  EXPECT_EQ(table.render(), "PATH    N\n/mnt/ü  1\n/mnt/u  2\n");
}

TEST(ListingFormatTest, AgesCountSecondsMinutesHoursDays) {
  EXPECT_EQ(format_age(-3), "0s");
  EXPECT_EQ(format_age(59), "59s");
  EXPECT_EQ(format_age(125), "2m05s");
  EXPECT_EQ(format_age(3 * 3600 + 7 * 60 + 9), "3h07m");
  EXPECT_EQ(format_age(2 * 86400 + 4 * 3600), "2d04h");
}

TEST(ListingFormatTest, TimeLeftRoundsTowardsLaterAndShowsOverdue) {
  EXPECT_EQ(format_time_left(3500), "3.5s left");
  EXPECT_EQ(format_time_left(1), "0.1s left") << "a deadline not yet passed never shows as 0";
  EXPECT_EQ(format_time_left(0), "0.0s left");
  EXPECT_EQ(format_time_left(-250), "overdue 0.3s");
}

TEST(ListingFormatTest, RelativePathsAreUnderTheMountPoint) {
  EXPECT_EQ(absolute_listing_path("data/f", "/mnt/pinfs"), "/mnt/pinfs/data/f");
  EXPECT_EQ(absolute_listing_path("/mnt/pinfs/f", "/mnt/pinfs"), "/mnt/pinfs/f");
  EXPECT_EQ(absolute_listing_path("f", "/"), "/f");
}

TEST(RangeOptionTest, ParsesOffsetAndLengthWithUnits) {
  auto whole = parse_range_option("");
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(*whole, (FileRange{0, kToEndOfFile}));
  auto bounded = parse_range_option("4K:2M");
  ASSERT_TRUE(bounded.ok()) << bounded.error().message();
  EXPECT_EQ(*bounded, (FileRange{4096, 2u << 20}));
  auto to_end = parse_range_option("2M:");
  ASSERT_TRUE(to_end.ok());
  EXPECT_EQ(*to_end, (FileRange{2u << 20, kToEndOfFile}));
  auto to_end_named = parse_range_option("2M:end");
  ASSERT_TRUE(to_end_named.ok());
  EXPECT_EQ(*to_end_named, (FileRange{2u << 20, kToEndOfFile}));
}

TEST(RangeOptionTest, RejectsWhatIsNotARangeWithEinvalNamingIt) {
  for (const char* bad : {"2M", "x:1M", "0:0", "0:1Q"}) {
    auto r = parse_range_option(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().errnum(), EINVAL) << bad;
    EXPECT_NE(r.error().message().find(bad), std::string::npos) << r.error().message();
  }
}

}  // namespace
}  // namespace pinfs::tools
