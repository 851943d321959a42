// DESIGN.md §4, row "write layout lease": the holder allocates, then
// downgrades atomically before pinning; a competing process that tries to
// change the layout in between never gets in.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "tests/control/control_test_fixture.h"
#include "tests/control/file_ops.h"

namespace pinfs::control_test {
namespace {

constexpr std::uint64_t kBytes = 4ull << 20;

using WriteLeaseTest = ControlTest;

int create_empty(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

bool covers(const std::vector<Extent>& extents, std::uint64_t length) {
  std::uint64_t covered = 0;
  for (const Extent& e : extents) {
    if (e.file_offset != covered) return false;
    covered += e.length;
  }
  return covered == length;
}

TEST_F(WriteLeaseTest, AllocateThenDowngradeNeverLetsACompetingPunchIn) {
  const std::string file_path = path("f");
  ASSERT_EQ(create_empty(file_path), 0);
  auto client = connect();
  PINFS_ASSERT_OK(client);
  auto file = client->open(file_path);
  PINFS_ASSERT_OK(file);
  EventLog log;
  auto lease = file->lease(LeaseKind::write, {}, log.callback());
  PINFS_ASSERT_OK(lease);
  PINFS_ASSERT_OK(lease->allocate({0, kBytes}));

  // Another process asks to punch the freshly allocated range: it must wait
  // behind the write lease (which it breaks)...
  Background competitor([&] { return in_child_process([&] { return punch_hole(file_path, 0, kBytes); }); });
  ASSERT_TRUE(wait_for_event(*client, log, LeaseEventKind::break_requested));
  EXPECT_FALSE(competitor.finished_within(0ms));
  // ...and the holder's atomic downgrade to unbreakable ends its attempt.
  PINFS_ASSERT_OK(lease->downgrade(LeaseKind::unbreakable));
  EXPECT_EQ(competitor.result(), ETXTBSY);
  EXPECT_EQ(lease->kind(), LeaseKind::unbreakable);

  auto pin = lease->pin({0, kBytes});
  PINFS_ASSERT_OK(pin);
  EXPECT_TRUE(covers(pin->extents(), kBytes)) << "the allocation was taken away before the pin";
  // The allocation extended the file. The kernel learns the new size when
  // its cached attributes expire (the mount's attr_timeout, 1 s here): the
  // change was made through the control socket, not through the mount.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  struct stat st {};
  while (::stat(file_path.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) != kBytes &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), kBytes);
  EXPECT_EQ(read_range(file_path, 0, kBytes), std::vector<unsigned char>(kBytes, 0));
}

TEST_F(WriteLeaseTest, PinWithAllocationDowngradesAndPinsInOneRequest) {
  const std::string file_path = path("f");
  ASSERT_EQ(create_empty(file_path), 0);
  auto client = connect();
  PINFS_ASSERT_OK(client);
  auto file = client->open(file_path);
  PINFS_ASSERT_OK(file);
  auto lease = file->lease(LeaseKind::write);
  PINFS_ASSERT_OK(lease);
  auto pin = lease->pin({0, kBytes}, /*allocate=*/true, LeaseKind::unbreakable);
  PINFS_ASSERT_OK(pin);
  EXPECT_EQ(lease->kind(), LeaseKind::unbreakable);
  EXPECT_TRUE(covers(pin->extents(), kBytes));

  EXPECT_EQ(in_child_process([&] { return punch_hole(file_path, 0, kBytes); }), ETXTBSY);
  EXPECT_EQ(in_child_process([&] { return truncate_to(file_path, 0); }), ETXTBSY);
}

TEST_F(WriteLeaseTest, PinUnderAWriteLeaseWithoutAllocationIsRefused) {
  const std::string file_path = path("f");
  ASSERT_EQ(write_pattern(file_path, kBytes, 9), 0);
  auto client = connect();
  PINFS_ASSERT_OK(client);
  auto file = client->open(file_path);
  PINFS_ASSERT_OK(file);
  auto lease = file->lease(LeaseKind::write);
  PINFS_ASSERT_OK(lease);
  auto pin = lease->pin({0, kBytes});
  ASSERT_FALSE(pin.ok());
  EXPECT_EQ(pin.error().errnum(), EPERM);
  EXPECT_NE(pin.error().message().find("downgrade"), std::string::npos) << pin.error().message();
}

TEST_F(WriteLeaseTest, AHoleCannotBePinnedWithoutAllocation) {
  const std::string file_path = path("f");
  ASSERT_EQ(write_pattern(file_path, kBytes, 10), 0);
  ASSERT_EQ(punch_hole(file_path, 0, 1 << 20), 0);
  auto client = connect();
  PINFS_ASSERT_OK(client);
  auto file = client->open(file_path);
  PINFS_ASSERT_OK(file);
  auto lease = file->lease(LeaseKind::read);
  PINFS_ASSERT_OK(lease);
  auto pin = lease->pin({0, kBytes});
  ASSERT_FALSE(pin.ok());
  EXPECT_EQ(pin.error().errnum(), EINVAL);
  EXPECT_NE(pin.error().message().find("is a hole"), std::string::npos) << pin.error().message();
}

}  // namespace
}  // namespace pinfs::control_test
