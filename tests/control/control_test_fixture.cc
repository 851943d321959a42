#include "tests/control/control_test_fixture.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "pin/protocol/unix_socket.h"
#include "tests/test_env.h"

namespace pinfs::control_test {

LeaseCallback EventLog::callback() {
  return [mu = mu_, events = events_](const LeaseEvent& event) {
    std::lock_guard lock(*mu);
    events->push_back(event);
  };
}

std::vector<LeaseEvent> EventLog::events() const {
  std::lock_guard lock(*mu_);
  return *events_;
}

std::size_t EventLog::count(LeaseEventKind kind) const {
  std::lock_guard lock(*mu_);
  return static_cast<std::size_t>(std::count_if(events_->begin(), events_->end(),
                                                [&](const LeaseEvent& e) { return e.kind == kind; }));
}

std::chrono::milliseconds ControlTest::break_ms() { return testing::in_vm() ? 20s : 2s; }

std::vector<std::string> ControlTest::daemon_args() const {
  return {"--lease-break-ms", std::to_string(break_ms().count()), "--on-break-timeout", "fail"};
}

void ControlTest::SetUp() {
  PINFS_REQUIRE(access("/dev/fuse", R_OK | W_OK) == 0, "/dev/fuse");
  PINFS_REQUIRE(geteuid() == 0, "root (allow_other and the other-user tests)");
  mount_test::MountConfig config;
  config.daemon_args = daemon_args();
  // The map and pin tests work in 2 MiB units; 1 GiB is plenty and keeps the
  // pool (and, in the VM, the device format) small.
  config.pool_size_bytes = 1ull << 30;
  fs_ = std::make_unique<mount_test::MountedFs>(mount_test::Programs::from_environment(), config);
  ASSERT_NO_FATAL_FAILURE(fs_->create());
  ASSERT_NO_FATAL_FAILURE(fs_->start());
  ASSERT_NO_FATAL_FAILURE(wait_for_socket());
}

void ControlTest::TearDown() {
  if (!fs_) return;
  if (fs_->mounted()) {
    EXPECT_TRUE(fs_->daemon_alive()) << "pinfsd died during the test:\n" << fs_->daemon_log();
    EXPECT_NO_FATAL_FAILURE(fs_->stop());
  }
  if (HasFailure()) std::fprintf(stderr, "pinfsd's log:\n%s\n", fs_->daemon_log().c_str());
  fs_.reset();
}

std::string ControlTest::path(const std::string& relative) const {
  return fs_->mountpoint() + "/" + relative;
}

std::string ControlTest::socket_path() const {
  // MountedFs starts pinfsd with --socket next to the mount point.
  return std::filesystem::path(fs_->mountpoint()).parent_path().string() + "/pinfsd.sock";
}

void ControlTest::wait_for_socket() {
  const auto deadline = std::chrono::steady_clock::now() + mount_test::daemon_timeout();
  for (;;) {
    auto fd = protocol::connect_unix(socket_path());
    if (fd.ok()) {
      ::close(*fd);
      return;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "the control socket never answered: " << fd.error().message() << "\n"
        << fs_->daemon_log();
    std::this_thread::sleep_for(10ms);
  }
}

Result<Client> ControlTest::connect() { return Client::connect(socket_path()); }

::testing::AssertionResult ControlTest::wait_for_event(Client& client, const EventLog& log,
                                                       LeaseEventKind kind,
                                                       std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (log.count(kind) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return ::testing::AssertionFailure() << "no '" << to_string(kind) << "' event within "
                                           << timeout.count() << " ms";
    }
    auto processed = client.wait_for_events(50ms);
    if (!processed.ok()) {
      return ::testing::AssertionFailure() << "processing events: " << processed.error().message();
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace pinfs::control_test
