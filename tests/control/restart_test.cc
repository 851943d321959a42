// Invariant 3 (DESIGN.md §4), the part the control plane owns: a daemon
// restart with live clients closes their connections, loses no file data,
// and leaves `pinfs check` clean; clients can connect to the new daemon.
#include "tests/control/control_test_fixture.h"
#include "tests/control/file_ops.h"

namespace pinfs::control_test {
namespace {

using RestartTest = ControlTest;

TEST_F(RestartTest, LiveClientsSeeTheConnectionCloseAndNoDataIsLost) {
  const std::uint64_t bytes = 4ull << 20;
  ASSERT_EQ(write_pattern(path("f"), bytes, 31), 0);
  auto client = connect();
  PINFS_ASSERT_OK(client);
  auto file = client->open(path("f"));
  PINFS_ASSERT_OK(file);
  auto mapping = file->map();
  PINFS_ASSERT_OK(mapping);
  EventLog log;
  auto lease = file->lease(LeaseKind::read, {}, log.callback());
  PINFS_ASSERT_OK(lease);
  auto pin = lease->pin({0, bytes});
  PINFS_ASSERT_OK(pin);

  // Unmount: the daemon exits 0 with the client still connected, and
  // `pinfs check` is clean (stop() requires both).
  ASSERT_NO_FATAL_FAILURE(fs().stop());
  ASSERT_TRUE(wait_for_event(*client, log, LeaseEventKind::connection_lost));
  EXPECT_FALSE(client->connected());
  EXPECT_FALSE(lease->held());
  auto refused = file->lease(LeaseKind::read);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errnum(), ENOTCONN);

  ASSERT_NO_FATAL_FAILURE(fs().start());
  ASSERT_NO_FATAL_FAILURE(wait_for_socket());
  EXPECT_EQ(read_range(path("f"), 0, bytes), expected_pattern(0, bytes, 31));
  auto again = connect();
  PINFS_ASSERT_OK(again);
  auto reopened = again->open(path("f"));
  PINFS_ASSERT_OK(reopened);
  auto new_lease = reopened->lease(LeaseKind::read);
  PINFS_ASSERT_OK(new_lease);
  auto new_pin = new_lease->pin({0, bytes});
  PINFS_ASSERT_OK(new_pin);
}

}  // namespace
}  // namespace pinfs::control_test
