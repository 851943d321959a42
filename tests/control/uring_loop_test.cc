// UringLoop: every wait of the control server goes through it.
#include "tools/control/uring_loop.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace pinfs::control {
namespace {

using namespace std::chrono_literals;

TEST(UringLoopTest, RunsTheHandlerOfACompletedReceive) {
  auto loop = UringLoop::create(8);
  ASSERT_TRUE(loop.ok()) << loop.error().message();
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  std::array<std::byte, 16> buffer{};
  int received = -1;
  (*loop)->receive(fds[0], buffer, [&](int result) { received = result; });
  ASSERT_EQ(::write(fds[1], "hello", 5), 5);
  while (received == -1) ASSERT_TRUE((*loop)->run_once().ok());
  EXPECT_EQ(received, 5);
  EXPECT_EQ((*loop)->pending(), 0u);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(UringLoopTest, CancelledOperationsReportEcanceled) {
  auto loop = UringLoop::create(8);
  ASSERT_TRUE(loop.ok());
  int fd = ::eventfd(0, EFD_CLOEXEC);
  int polled = 1;
  int slept = 1;
  auto token = (*loop)->poll_readable(fd, [&](int result) { polled = result; });
  (*loop)->sleep_for(1h, [&](int result) { slept = result; });
  (*loop)->cancel(token);
  while (polled == 1) ASSERT_TRUE((*loop)->run_once().ok());
  EXPECT_EQ(polled, -ECANCELED);
  (*loop)->cancel_all();
  while (slept == 1) ASSERT_TRUE((*loop)->run_once().ok());
  EXPECT_EQ(slept, -ECANCELED);
  EXPECT_EQ((*loop)->pending(), 0u);
  ::close(fd);
}

TEST(UringLoopTest, TimersFire) {
  auto loop = UringLoop::create(8);
  ASSERT_TRUE(loop.ok());
  int fired = 1;
  const auto start = std::chrono::steady_clock::now();
  (*loop)->sleep_for(20ms, [&](int result) { fired = result; });
  while (fired == 1) ASSERT_TRUE((*loop)->run_once().ok());
  EXPECT_EQ(fired, -ETIME);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
}

}  // namespace
}  // namespace pinfs::control
