// Invariant 3 (DESIGN.md §4) across a daemon crash: the pins are recorded
// on the media, so after a SIGKILL and a restart the extents a live client
// had pinned stay out of the free pool — a punch sends them to quarantine
// and a refill of the whole file system never gets them — until the holder
// exits; then they return to the free pool.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <nlohmann/json.hpp>
#include <thread>

#include "tests/control/control_test_fixture.h"
#include "tests/control/file_ops.h"

namespace pinfs::control_test {
namespace {

using PinRestartTest = ControlTest;

constexpr std::uint64_t kFileBytes = 8ull << 20;
constexpr std::uint32_t kSeed = 77;

// A child process that maps, leases and pins the whole file, sends the
// pin's extents up a pipe, and then waits (holding the pin) until killed.
struct Holder {
  pid_t pid = -1;
  std::vector<Extent> extents;
  int hold_fd = -1;  // closing it lets the child exit on its own

  void kill_now() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
  }
  ~Holder() {
    kill_now();
    if (hold_fd >= 0) ::close(hold_fd);
  }
};

// Forked before the test process makes any thread of its own.
void start_holder(const std::string& socket, const std::string& file_path, Holder& holder) {
  int report[2], hold[2];
  ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(hold, O_CLOEXEC), 0);
  holder.pid = ::fork();
  ASSERT_GE(holder.pid, 0);
  if (holder.pid == 0) {
    ::close(report[0]);
    ::close(hold[1]);
    auto client = Client::connect(socket);
    if (!client.ok()) ::_exit(1);
    auto file = client->open(file_path);
    if (!file.ok()) ::_exit(2);
    auto mapping = file->map();
    if (!mapping.ok()) ::_exit(3);
    auto lease = file->lease(LeaseKind::unbreakable);
    if (!lease.ok()) ::_exit(4);
    auto pin = lease->pin({0, kFileBytes});
    if (!pin.ok()) ::_exit(5);
    const std::uint64_t count = pin->extents().size();
    (void)!::write(report[1], &count, sizeof count);
    for (const Extent& e : pin->extents()) (void)!::write(report[1], &e, sizeof e);
    char byte = 0;
    (void)!::read(hold[0], &byte, 1);  // until the test lets go, or kills us
    ::_exit(0);
  }
  ::close(report[1]);
  ::close(hold[0]);
  holder.hold_fd = hold[1];
  std::uint64_t count = 0;
  const bool got = ::read(report[0], &count, sizeof count) == sizeof count;
  for (std::uint64_t i = 0; got && i < count; ++i) {
    Extent e;
    if (::read(report[0], &e, sizeof e) != sizeof e) break;
    holder.extents.push_back(e);
  }
  ::close(report[0]);
  ASSERT_TRUE(got && holder.extents.size() == count && count > 0)
      << "the holder failed to pin (see its exit status)";
}

// The media bytes behind the pinned extents, read from the pool itself.
// Read past pinfsd (no media lock: the bytes are what a NIC would see). A
// device-DAX device has no read(2), only mmap at its alignment.
std::vector<unsigned char> media_bytes(const std::string& target, const Extent& e) {
  std::vector<unsigned char> out(e.length);
  const int fd = ::open(target.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0;
  if (ok && S_ISCHR(st.st_mode)) {
    constexpr std::uint64_t kAlign = 2ull << 20;  // the VM's devdax alignment
    const std::uint64_t start = e.media_offset / kAlign * kAlign;
    const std::uint64_t end = (e.media_offset + e.length + kAlign - 1) / kAlign * kAlign;
    void* map = ::mmap(nullptr, end - start, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(start));
    ok = map != MAP_FAILED;
    if (ok) {
      std::memcpy(out.data(), static_cast<const unsigned char*>(map) + (e.media_offset - start),
                  e.length);
      ::munmap(map, end - start);
    }
  } else if (ok) {
    ok = ::pread(fd, out.data(), out.size(), static_cast<off_t>(e.media_offset)) ==
         static_cast<ssize_t>(out.size());
  }
  ::close(fd);
  return ok ? out : std::vector<unsigned char>{};
}

// Writes files of `chunk` bytes until the file system is full: every block
// the allocator has to give ends up holding this pattern.
std::uint64_t refill(const std::string& dir, std::uint32_t seed) {
  constexpr std::uint64_t kChunk = 32ull << 20;
  std::uint64_t written = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string name = dir + "/refill-" + std::to_string(i);
    if (write_pattern(name, kChunk, seed + static_cast<std::uint32_t>(i)) != 0) {
      (void)unlink_file(name);
      break;  // ENOSPC: whatever was written of it is gone again
    }
    written += kChunk;
  }
  // Top up with small files for the last scraps.
  for (int i = 0; i < 100000; ++i) {
    const std::string name = dir + "/scrap-" + std::to_string(i);
    if (write_pattern(name, 1ull << 20, seed) != 0) {
      (void)unlink_file(name);
      break;
    }
    written += 1ull << 20;
  }
  return written;
}

TEST_F(PinRestartTest, PinnedExtentsStayOutOfTheFreePoolAfterADaemonCrashUntilTheHolderExits) {
  ASSERT_EQ(write_pattern(path("pinned"), kFileBytes, kSeed), 0);
  Holder holder;
  ASSERT_NO_FATAL_FAILURE(start_holder(socket_path(), path("pinned"), holder));
  std::uint64_t pinned_bytes = 0;
  for (const Extent& e : holder.extents) pinned_bytes += e.length;
  ASSERT_EQ(pinned_bytes, kFileBytes);

  ASSERT_NO_FATAL_FAILURE(fs().kill_daemon());
  ASSERT_NO_FATAL_FAILURE(fs().start());
  ASSERT_NO_FATAL_FAILURE(wait_for_socket());
  EXPECT_NE(fs().daemon_log().find("restored 1 pin(s) of 1 process(es)"), std::string::npos)
      << fs().daemon_log();

  // The holder lives: the punch sends its extents to quarantine, and a
  // refill of the whole file system gets none of them.
  const std::uint64_t free_before_punch = free_bytes(fs().mountpoint());
  ASSERT_EQ(punch_hole(path("pinned"), 0, kFileBytes), 0);
  EXPECT_LT(free_bytes(fs().mountpoint()), free_before_punch + pinned_bytes)
      << "the punched extents went to the free pool while pinned";
  const std::uint64_t refilled = refill(fs().mountpoint(), 1000);
  EXPECT_GT(refilled, 0u);
  EXPECT_LT(free_bytes(fs().mountpoint()), 2ull << 20) << "the refill did not fill the file system";
  for (const Extent& e : holder.extents) {
    EXPECT_EQ(media_bytes(fs().target(), e), expected_pattern(e.file_offset, e.length, kSeed))
        << "pinned media [" << e.media_offset << ", +" << e.length
        << ") was handed out to the refill while its holder lives";
  }

  // The holder exits: its pins end (no RDMA here: pidfd and /proc decide)
  // and the quarantined extents return to the free pool.
  const std::uint64_t free_full = free_bytes(fs().mountpoint());
  holder.kill_now();
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (free_bytes(fs().mountpoint()) < free_full + pinned_bytes) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "the quarantine was not released after the holder exited; free "
        << free_bytes(fs().mountpoint()) << " bytes\n"
        << fs().daemon_log();
    std::this_thread::sleep_for(50ms);
  }
  auto client = connect();
  PINFS_ASSERT_OK(client);
  auto pins = client->list_pins_json();
  PINFS_ASSERT_OK(pins);
  EXPECT_TRUE(nlohmann::json::parse(*pins)["pins"].empty()) << *pins;
}

TEST_F(PinRestartTest, ARecordedPinWhoseHolderDiedWhileTheDaemonWasDownEndsAtTheRestart) {
  ASSERT_EQ(write_pattern(path("pinned"), kFileBytes, kSeed), 0);
  Holder holder;
  ASSERT_NO_FATAL_FAILURE(start_holder(socket_path(), path("pinned"), holder));
  ASSERT_NO_FATAL_FAILURE(fs().kill_daemon());
  holder.kill_now();
  ASSERT_NO_FATAL_FAILURE(fs().start());
  ASSERT_NO_FATAL_FAILURE(wait_for_socket());

  const std::uint64_t free_before = free_bytes(fs().mountpoint());
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  for (;;) {
    // The restored pin ends at the first reclaim; until then a punch would
    // quarantine, so punch only once nothing is pinned any more.
    auto client = connect();
    PINFS_ASSERT_OK(client);
    auto pins = client->list_pins_json();
    PINFS_ASSERT_OK(pins);
    if (nlohmann::json::parse(*pins)["pins"].empty()) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the dead holder's pin stayed: " << *pins;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(punch_hole(path("pinned"), 0, kFileBytes), 0);
  EXPECT_GE(free_bytes(fs().mountpoint()), free_before + kFileBytes);
}

}  // namespace
}  // namespace pinfs::control_test
