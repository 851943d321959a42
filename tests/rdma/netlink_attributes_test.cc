#include "rdma/netlink_attributes.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "netlink_message_builder.h"

namespace pinfs::rdma::netlink {
namespace {

using test::AttributeBuilder;

TEST(NetlinkAttributesTest, SplitsARunAndStripsTheNestedFlagFromTypes) {
  AttributeBuilder inner;
  inner.u32(7, 42);
  AttributeBuilder run;
  run.u32(1, 3).string(2, "rxe0").nested(static_cast<uint16_t>(9 | NLA_F_NESTED), inner);

  Result<std::vector<Attribute>> attributes = parse_attributes(run.bytes());
  ASSERT_TRUE(attributes.ok()) << attributes.error().message();
  ASSERT_EQ(attributes->size(), 3u);
  EXPECT_EQ((*attributes)[2].type, 9);
  ASSERT_NE(find_attribute(*attributes, 1), nullptr);
  EXPECT_EQ(*read_u32(*find_attribute(*attributes, 1)), 3u);
  EXPECT_EQ(*read_string(*find_attribute(*attributes, 2), 63), "rxe0");
  EXPECT_EQ(find_attribute(*attributes, 5), nullptr);
}

TEST(NetlinkAttributesTest, AcceptsAFinalAttributeWithoutItsPadding) {
  AttributeBuilder run;
  run.string(2, "ab");  // 4 + 3 bytes, padded to 8
  run.bytes().pop_back();
  Result<std::vector<Attribute>> attributes = parse_attributes(run.bytes());
  ASSERT_TRUE(attributes.ok()) << attributes.error().message();
  EXPECT_EQ(*read_string((*attributes)[0], 63), "ab");
}

TEST(NetlinkAttributesTest, AnAttributeLongerThanItsBufferIsEprotoNotAnOverread) {
  AttributeBuilder run;
  run.u32(1, 3).u64(2, 5);
  run.bytes().resize(run.bytes().size() - 4);  // cut the u64 in half
  Result<std::vector<Attribute>> attributes = parse_attributes(run.bytes());
  ASSERT_FALSE(attributes.ok());
  EXPECT_EQ(attributes.error().errnum(), EPROTO);
  EXPECT_EQ(attributes.error().message(),
            "decode rdma netlink reply <attribute 2>: Protocol error "
            "(length 12 at offset 8 with 8 bytes left)");
}

TEST(NetlinkAttributesTest, ALengthShorterThanTheHeaderIsEproto) {
  AttributeBuilder run;
  run.u32(1, 3);
  const uint16_t bogus_length = 2;
  std::memcpy(run.bytes().data(), &bogus_length, sizeof bogus_length);
  Result<std::vector<Attribute>> attributes = parse_attributes(run.bytes());
  ASSERT_FALSE(attributes.ok());
  EXPECT_EQ(attributes.error().errnum(), EPROTO);
}

TEST(NetlinkAttributesTest, TrailingBytesTooShortForAHeaderAreEproto) {
  AttributeBuilder run;
  run.u32(1, 3);
  run.bytes().resize(run.bytes().size() + 2);
  Result<std::vector<Attribute>> attributes = parse_attributes(run.bytes());
  ASSERT_FALSE(attributes.ok());
  EXPECT_EQ(attributes.error().errnum(), EPROTO);
}

TEST(NetlinkAttributesTest, AValueOfTheWrongSizeIsEproto) {
  AttributeBuilder run;
  run.u64(1, 3).u32(2, 4);
  Result<std::vector<Attribute>> attributes = parse_attributes(run.bytes());
  ASSERT_TRUE(attributes.ok()) << attributes.error().message();

  Result<uint32_t> narrow = read_u32((*attributes)[0]);
  ASSERT_FALSE(narrow.ok());
  EXPECT_EQ(narrow.error().errnum(), EPROTO);
  EXPECT_EQ(narrow.error().detail(), "payload is 8 bytes, expected 4");
  Result<uint64_t> wide = read_u64((*attributes)[1]);
  ASSERT_FALSE(wide.ok());
  EXPECT_EQ(wide.error().errnum(), EPROTO);
}

TEST(NetlinkAttributesTest, AStringWithoutNulWithinItsLimitIsEproto) {
  AttributeBuilder run;
  run.raw(2, "rxe0", 4);  // no NUL
  run.string(3, "a-name-longer-than-eight");
  Result<std::vector<Attribute>> attributes = parse_attributes(run.bytes());
  ASSERT_TRUE(attributes.ok()) << attributes.error().message();

  Result<std::string> unterminated = read_string((*attributes)[0], 63);
  ASSERT_FALSE(unterminated.ok());
  EXPECT_EQ(unterminated.error().errnum(), EPROTO);
  Result<std::string> too_long = read_string((*attributes)[1], 8);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().errnum(), EPROTO);
}

}  // namespace
}  // namespace pinfs::rdma::netlink
