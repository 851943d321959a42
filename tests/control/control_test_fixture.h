// ControlTest: the fixture of the control-plane tests. Each test gets a fresh
// pinfs served by a real pinfsd (tests/mount's MountedFs: a pool file in
// /dev/shm natively, the device in the VM) with its control socket; the
// test drives one side with real system calls on the mount and the other
// with the client library. At the end the daemon must still be alive, exit
// 0 after unmounting, and `pinfs check` must be clean.
//
// Derived fixtures choose the daemon's options by overriding daemon_args()
// (--lease-break-ms, --on-break-timeout, --map-group).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pinfs/client.h"
#include "tests/mount/mounted_fs.h"

namespace pinfs::control_test {

using namespace std::chrono_literals;

// The gid the permission tests put into --map-group (no name needed).
inline constexpr gid_t kMapGroupGid = 4242;

// Collects a lease's events as its callback receives them.
class EventLog {
 public:
  LeaseCallback callback();
  std::vector<LeaseEvent> events() const;
  std::size_t count(LeaseEventKind kind) const;

 private:
  std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<LeaseEvent>> events_ = std::make_shared<std::vector<LeaseEvent>>();
};

class ControlTest : public ::testing::Test {
 protected:
  // Extra pinfsd arguments. The default: break deadline break_ms(), policy
  // fail.
  virtual std::vector<std::string> daemon_args() const;
  // The default break deadline: 2 s natively, 20 s in the VM, where TCG
  // makes every round trip slow. Bounds on "at once" are fractions of it.
  static std::chrono::milliseconds break_ms();

  void SetUp() override;
  void TearDown() override;

  mount_test::MountedFs& fs() { return *fs_; }
  std::string path(const std::string& relative) const;
  std::string socket_path() const;
  // Connects the test process (root) to the daemon.
  Result<Client> connect();
  // Waits (processing events) until `log` has seen an event of `kind`.
  ::testing::AssertionResult wait_for_event(Client& client, const EventLog& log, LeaseEventKind kind,
                                            std::chrono::milliseconds timeout = 10s);
  // Waits until the daemon's socket accepts connections (after a start).
  void wait_for_socket();

 private:
  std::unique_ptr<mount_test::MountedFs> fs_;
};

// Asserts a Result is ok, printing its error otherwise.
#define PINFS_ASSERT_OK(expr)                                                         \
  do {                                                                                \
    const auto& pinfs_assert_result_ = (expr);                                        \
    ASSERT_TRUE(pinfs_assert_result_.ok()) << pinfs_assert_result_.error().message(); \
  } while (0)

}  // namespace pinfs::control_test
