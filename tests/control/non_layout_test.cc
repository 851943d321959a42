// DESIGN.md §4: reads, writes inside allocated space, appends and chmod are
// not layout changes, so they never break a lease, pinned or not.
#include "tests/control/control_test_fixture.h"
#include "tests/control/file_ops.h"

namespace pinfs::control_test {
namespace {

using NonLayoutTest = ControlTest;

TEST_F(NonLayoutTest, ReadsWritesAppendsAndChmodNeverBreakALease) {
  const std::uint64_t bytes = 4ull << 20;
  const std::string file_path = path("f");
  ASSERT_EQ(write_pattern(file_path, bytes, 11), 0);
  auto client = connect();
  PINFS_ASSERT_OK(client);
  auto file = client->open(file_path);
  PINFS_ASSERT_OK(file);
  EventLog log;
  auto lease = file->lease(LeaseKind::unbreakable, {}, log.callback());
  PINFS_ASSERT_OK(lease);
  auto pin = lease->pin({0, bytes});
  PINFS_ASSERT_OK(pin);

  // Unbreakable: any of these, were it a layout change, would fail at once
  // with ETXTBSY (and send BREAK_DENIED) instead of succeeding.
  EXPECT_EQ(read_range(file_path, 4096, 8192), expected_pattern(4096, 8192, 11));
  EXPECT_EQ(in_child_process([&] { return write_at(file_path, 12345, "in place"); }), 0);
  EXPECT_EQ(in_child_process([&] { return append(file_path, std::string(100000, 'a')); }), 0);
  EXPECT_EQ(in_child_process([&] { return change_mode(file_path, 0640); }), 0);
  EXPECT_EQ(in_child_process([&] { return truncate_to(file_path, bytes + 200000); }), 0)
      << "growing a file is not a layout change";

  auto processed = client->wait_for_events(200ms);
  PINFS_ASSERT_OK(processed);
  EXPECT_TRUE(log.events().empty()) << log.events().size() << " events, first: "
                                    << to_string(log.events().front().kind);
  EXPECT_TRUE(lease->held());
  EXPECT_FALSE(lease->breaking());
  EXPECT_EQ(read_range(file_path, 12345, 8), std::vector<unsigned char>({'i', 'n', ' ', 'p', 'l', 'a', 'c', 'e'}));
}

}  // namespace
}  // namespace pinfs::control_test
