// Who may do what over the control socket: the file's mode against the
// client's SO_PEERCRED uid/gid for leases and pins, the map group for
// mapping. Each client runs in a child that dropped to uid 65534.
#include <unistd.h>

#include <cstring>

#include "tests/control/control_test_fixture.h"
#include "tests/control/file_ops.h"
#include "tests/mount/other_user.h"

namespace pinfs::control_test {
namespace {

using mount_test::kNobodyUid;
using mount_test::run_as;

constexpr std::uint64_t kBytes = 2ull << 20;

// pinfsd --map-group 4242: the socket is root:4242 0660, members map.
class MapGroupTest : public ControlTest {
 protected:
  std::vector<std::string> daemon_args() const override {
    return {"--lease-break-ms", std::to_string(break_ms().count()), "--map-group", std::to_string(kMapGroupGid)};
  }
  // As uid 65534, gid 4242: connects, opens `file`, then runs `op` and
  // returns its errno (0 on success).
  int as_group_member(const std::string& file, const std::function<int(Client&, File&)>& op) {
    const std::string socket = socket_path();
    return run_as(kNobodyUid, kMapGroupGid, [&] {
      auto client = Client::connect(socket);
      if (!client.ok()) return 1000 + client.error().errnum();
      auto opened = client->open(file);
      if (!opened.ok()) return 2000 + opened.error().errnum();
      return op(*client, *opened);
    });
  }
};

TEST_F(MapGroupTest, UserWithoutReadPermissionCannotTakeALease) {
  ASSERT_EQ(write_pattern(path("secret"), kBytes, 1), 0);
  ASSERT_EQ(change_mode(path("secret"), 0600), 0);
  EXPECT_EQ(as_group_member(path("secret"), [](Client&, File& f) {
              auto lease = f.lease(LeaseKind::read);
              if (lease.ok()) return 0;
              // The error names the file and says why.
              const std::string m = lease.error().message();
              if (m.find("secret") == std::string::npos || m.find("no read permission") == std::string::npos) return -2;
              return lease.error().errnum();
            }),
            EACCES);
}

TEST_F(MapGroupTest, UserWithoutReadPermissionCannotPin) {
  // The file is the user's own: it takes a read lease, then removes its own
  // read permission; the pin checks the mode at the time it is asked for.
  ASSERT_EQ(write_pattern(path("mine"), kBytes, 2), 0);
  ASSERT_EQ(::chown(path("mine").c_str(), kNobodyUid, kMapGroupGid), 0);
  const std::string file = path("mine");
  EXPECT_EQ(as_group_member(file, [&](Client&, File& f) {
              auto lease = f.lease(LeaseKind::read);
              if (!lease.ok()) return 3000 + lease.error().errnum();
              if (change_mode(file, 0200) != 0) return -3;
              auto pin = lease->pin({0, kBytes});
              return pin.ok() ? 0 : pin.error().errnum();
            }),
            EACCES);
}

TEST_F(MapGroupTest, UserWithoutWritePermissionCannotTakeAWriteLease) {
  ASSERT_EQ(write_pattern(path("shared"), kBytes, 3), 0);
  ASSERT_EQ(change_mode(path("shared"), 0644), 0);
  EXPECT_EQ(as_group_member(path("shared"), [](Client&, File& f) {
              auto lease = f.lease(LeaseKind::write);
              return lease.ok() ? 0 : lease.error().errnum();
            }),
            EACCES);
  // Read access is enough for a read lease and a pin.
  EXPECT_EQ(as_group_member(path("shared"), [](Client&, File& f) {
              auto lease = f.lease(LeaseKind::read);
              if (!lease.ok()) return lease.error().errnum();
              auto pin = lease->pin({0, kBytes});
              return pin.ok() ? 0 : pin.error().errnum();
            }),
            0);
}

TEST_F(MapGroupTest, MapGroupMemberCanMap) {
  ASSERT_EQ(write_pattern(path("f"), kBytes, 4), 0);
  EXPECT_EQ(as_group_member(path("f"), [](Client&, File& f) {
              auto mapping = f.map();
              if (!mapping.ok()) return mapping.error().errnum();
              const auto expected = expected_pattern(0, 16, 4);
              return std::memcmp(mapping->data(), expected.data(), 16) == 0 ? 0 : -4;
            }),
            0);
}

// pinfsd without --map-group: only root maps. The socket is root:root
// 0660, so the client runs with gid 0 to reach it.
using RootOnlyMapTest = ControlTest;

TEST_F(RootOnlyMapTest, UserOutsideTheMapGroupCannotMap) {
  ASSERT_EQ(write_pattern(path("f"), kBytes, 5), 0);
  const std::string socket = socket_path();
  const std::string file = path("f");
  const int result = run_as(kNobodyUid, 0, [&] {
    auto client = Client::connect(socket);
    if (!client.ok()) return 1000 + client.error().errnum();
    auto opened = client->open(file);
    if (!opened.ok()) return 2000 + opened.error().errnum();
    auto mapping = opened->map();
    if (mapping.ok()) return 0;
    // The message says why: the descriptor grants the whole device.
    const std::string m = mapping.error().message();
    if (m.find("map group") == std::string::npos || m.find("whole device") == std::string::npos) return -2;
    return mapping.error().errnum();
  });
  EXPECT_EQ(result, EPERM);
}

}  // namespace
}  // namespace pinfs::control_test
