// File::map(): the media's descriptor over SCM_RIGHTS, every extent mapped
// at its media offset inside one aligned reservation.
#include <sys/stat.h>

#include <cstring>

#include "tests/control/control_test_fixture.h"
#include "tests/control/file_ops.h"

namespace pinfs::control_test {
namespace {

using MappingTest = ControlTest;

TEST_F(MappingTest, MapShowsTheFileInFileOrderInOneAlignedRange) {
  // 5 MiB written in small blocks: mapping moves it into aligned extents
  // first, then maps a 6 MiB range (three aligned units).
  const std::uint64_t bytes = 5ull << 20;
  ASSERT_EQ(write_pattern(path("f"), bytes, 21), 0);
  auto client = connect();
  PINFS_ASSERT_OK(client);
  auto file = client->open(path("f"));
  PINFS_ASSERT_OK(file);
  auto mapping = file->map();
  PINFS_ASSERT_OK(mapping);
  ASSERT_NE(mapping->data(), nullptr);
  EXPECT_EQ(mapping->file_size(), bytes);
  EXPECT_EQ(mapping->length() % mapping->alignment(), 0u);
  EXPECT_GE(mapping->length(), bytes);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(mapping->data()) % mapping->alignment(), 0u);
  for (const Extent& e : mapping->extents()) {
    EXPECT_EQ(e.media_offset % mapping->alignment(), 0u);
    EXPECT_EQ(e.length % mapping->alignment(), 0u);
  }
  const auto expected = expected_pattern(0, bytes, 21);
  EXPECT_EQ(std::memcmp(mapping->data(), expected.data(), bytes), 0);
  // The data moved, not the contents: the mount reads the same bytes.
  EXPECT_EQ(read_range(path("f"), 0, bytes), expected);
}

TEST_F(MappingTest, StoresThroughTheMappingAreSeenThroughTheMount) {
  const std::uint64_t bytes = 2ull << 20;
  ASSERT_EQ(write_pattern(path("f"), bytes, 22), 0);
  auto client = connect();
  PINFS_ASSERT_OK(client);
  auto file = client->open(path("f"));
  PINFS_ASSERT_OK(file);
  auto mapping = file->map();
  PINFS_ASSERT_OK(mapping);
  std::memcpy(mapping->data() + 4096, "stored directly", 15);
  const auto seen = read_range(path("f"), 4096, 15);
  EXPECT_EQ(std::string(seen.begin(), seen.end()), "stored directly");
}

TEST_F(MappingTest, PinExtentsMatchTheMappingTakenBeforeTheLease) {
  const std::uint64_t bytes = 4ull << 20;
  ASSERT_EQ(write_pattern(path("f"), bytes, 23), 0);
  auto client = connect();
  PINFS_ASSERT_OK(client);
  auto file = client->open(path("f"));
  PINFS_ASSERT_OK(file);
  auto mapping = file->map();
  PINFS_ASSERT_OK(mapping);
  auto lease = file->lease(LeaseKind::read);
  PINFS_ASSERT_OK(lease);
  auto pin = lease->pin({0, bytes});
  PINFS_ASSERT_OK(pin);
  EXPECT_TRUE(mapping->matches(pin->extents()));
}

TEST_F(MappingTest, MappingAnUnalignedFileUnderOwnReadLeaseIsBusy) {
  ASSERT_EQ(write_pattern(path("f"), 1 << 20, 24), 0);
  auto client = connect();
  PINFS_ASSERT_OK(client);
  auto file = client->open(path("f"));
  PINFS_ASSERT_OK(file);
  auto lease = file->lease(LeaseKind::read);
  PINFS_ASSERT_OK(lease);
  auto mapping = file->map();
  ASSERT_FALSE(mapping.ok());
  EXPECT_EQ(mapping.error().errnum(), EBUSY);
  EXPECT_NE(mapping.error().message().find("map before taking"), std::string::npos)
      << mapping.error().message();
}

TEST_F(MappingTest, PathsOutsideTheMountAndSymlinksAreRefused) {
  ASSERT_EQ(write_pattern(path("f"), 4096, 25), 0);
  ASSERT_EQ(::symlink("f", path("link").c_str()), 0);
  auto client = connect();
  PINFS_ASSERT_OK(client);
  auto outside = client->open("/etc/passwd");
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.error().errnum(), EXDEV);
  auto link = client->open(path("link"));
  ASSERT_FALSE(link.ok());
  EXPECT_EQ(link.error().errnum(), ELOOP);
  // Relative paths start at the file system's root.
  auto relative = client->open("./f");
  PINFS_ASSERT_OK(relative);
  auto missing = client->open("dir/../nothing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errnum(), ENOENT);
}

}  // namespace
}  // namespace pinfs::control_test
