// What the admin tool asks over the socket: the listings behind `pinfs
// pins`, `pinfs leases` and `pinfs stat`, and BREAK.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/control/control_test_fixture.h"
#include "tests/control/file_ops.h"

namespace pinfs::control_test {
namespace {

using AdminTest = ControlTest;

TEST_F(AdminTest, ListingsShowPinsAndLeasesWithTheirHolders) {
  ASSERT_EQ(write_pattern(path("f"), 2 << 20, 3), 0);
  auto client = connect();
  PINFS_ASSERT_OK(client);
  auto file = client->open(path("f"));
  PINFS_ASSERT_OK(file);
  auto lease = file->lease(LeaseKind::read, {0, 2 << 20});
  PINFS_ASSERT_OK(lease);
  auto pin = lease->pin({0, 1 << 20});
  PINFS_ASSERT_OK(pin);
  PINFS_ASSERT_OK(pin->report_registration({"mlx5_0", 1, 2, 0x1000, 1 << 20, 7}));

  auto leases = client->list_leases_json();
  PINFS_ASSERT_OK(leases);
  auto l = nlohmann::json::parse(*leases)["leases"];
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0]["path"], path("f"));
  EXPECT_EQ(l[0]["pid"], ::getpid());
  EXPECT_EQ(l[0]["type"], "read");
  EXPECT_EQ(l[0]["end"], 2 << 20);
  EXPECT_EQ(l[0]["pins"], 1);

  auto pins = client->list_pins_json();
  PINFS_ASSERT_OK(pins);
  auto p = nlohmann::json::parse(*pins)["pins"];
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["lease"], lease->id());
  EXPECT_EQ(p[0]["length"], 1 << 20);
  EXPECT_EQ(p[0]["registrations"][0]["device"], "mlx5_0");

  auto stat = client->stat_json();
  PINFS_ASSERT_OK(stat);
  auto s = nlohmann::json::parse(*stat);
  EXPECT_EQ(s["leases"]["pins"], 1);
  EXPECT_EQ(s["daemon"]["lease_break_ms"], break_ms().count());
  EXPECT_EQ(s["daemon"]["on_break_timeout"], "fail");
}

TEST_F(AdminTest, BreakMakesAHolderReleaseAndReturnsOnceItHas) {
  ASSERT_EQ(write_pattern(path("f"), 2 << 20, 4), 0);
  auto holder = connect();
  PINFS_ASSERT_OK(holder);
  auto file = holder->open(path("f"));
  PINFS_ASSERT_OK(file);
  EventLog log;
  auto lease = file->lease(LeaseKind::read, {}, log.callback());
  PINFS_ASSERT_OK(lease);

  auto admin = connect();
  PINFS_ASSERT_OK(admin);
  Background broken([&] {
    Status st = admin->break_leases("f");
    return st.ok() ? 0 : st.error().errnum();
  });
  ASSERT_TRUE(wait_for_event(*holder, log, LeaseEventKind::break_requested));
  EXPECT_FALSE(broken.finished_within(0ms));
  PINFS_ASSERT_OK(lease->release());
  EXPECT_EQ(broken.result(), 0);
  // Nothing changed in the file.
  EXPECT_EQ(read_range(path("f"), 0, 2 << 20), expected_pattern(0, 2 << 20, 4));
}

TEST_F(AdminTest, BreakOfAnUnbreakableLeaseFailsWithEtxtbsy) {
  ASSERT_EQ(write_pattern(path("f"), 2 << 20, 5), 0);
  auto holder = connect();
  PINFS_ASSERT_OK(holder);
  auto file = holder->open(path("f"));
  PINFS_ASSERT_OK(file);
  auto lease = file->lease(LeaseKind::unbreakable);
  PINFS_ASSERT_OK(lease);
  const int result = in_child_process([&] {
    auto admin = Client::connect(socket_path());
    if (!admin.ok()) return -2;
    Status st = admin->break_leases(path("f"), {0, 4096});
    return st.ok() ? 0 : st.error().errnum();
  });
  EXPECT_EQ(result, ETXTBSY);
  EXPECT_TRUE(lease->held());
}

}  // namespace
}  // namespace pinfs::control_test
