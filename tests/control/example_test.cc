// The example program of docs/client.md survives a lease break: it tears
// down in order when the BREAK arrives, the punch completes, and it maps,
// leases, pins (and registers) again.
//
// Natively there is no RDMA device, so it runs with --no-rdma (everything
// but ibv_reg_mr); in the VM (PINFS_VM=1) the rxe devices are promised and
// it registers for real.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/control/control_test_fixture.h"
#include "tests/control/file_ops.h"
#include "tests/mount/subprocess.h"
#include "tests/test_env.h"

#ifndef PINFS_CONTROL_TEST_EXAMPLE
#define PINFS_CONTROL_TEST_EXAMPLE "example_pin_rdma"
#endif

namespace pinfs::control_test {
namespace {

using ExampleTest = ControlTest;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool has_rdma_device() {
  std::error_code ec;
  return std::filesystem::exists("/sys/class/infiniband", ec) &&
         !std::filesystem::is_empty("/sys/class/infiniband", ec);
}

TEST_F(ExampleTest, ExampleSurvivesALeaseBreakAndPinsAgain) {
  std::string example = testing::env_or_empty("PINFS_TEST_EXAMPLE");
  if (example.empty()) example = PINFS_CONTROL_TEST_EXAMPLE;
  const bool rdma = has_rdma_device();
  if (testing::in_vm()) {
    ASSERT_TRUE(rdma) << "the VM must provide an RDMA device (rxe)";
  }
  if (!rdma) std::printf("note: no RDMA device here; the example runs with --no-rdma\n");

  const std::uint64_t bytes = 4ull << 20;
  ASSERT_EQ(write_pattern(path("f"), bytes, 41), 0);
  const std::string out = std::filesystem::path(fs().mountpoint()).parent_path().string() + "/example.out";
  std::vector<std::string> argv = {example, "--socket", socket_path(), "--breaks", "1",
                                   "--timeout-s", "60", path("f")};
  if (!rdma) argv.insert(argv.end() - 1, "--no-rdma");
  mount_test::Process process = mount_test::Process::spawn(argv, out, out);
  ASSERT_TRUE(process.started());

  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (slurp(out).find("ready") == std::string::npos) {
    ASSERT_TRUE(process.alive()) << "the example ended early:\n" << slurp(out);
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << slurp(out);
    std::this_thread::sleep_for(20ms);
  }
  // The holder answers the BREAK, so the punch goes through (not ETXTBSY).
  EXPECT_EQ(punch_hole(path("f"), 0, 2ull << 20), 0);
  auto status = process.wait_for(60s);
  ASSERT_TRUE(status.has_value()) << "the example did not finish:\n" << slurp(out);
  const std::string output = slurp(out);
  EXPECT_TRUE(status->success()) << status->describe() << "\n" << output;
  EXPECT_NE(output.find("event: break"), std::string::npos) << output;
  EXPECT_NE(output.find("re-pinned after 1 break(s)"), std::string::npos) << output;
  if (rdma) {
    EXPECT_NE(output.find("registered on"), std::string::npos) << output;
  }
}

}  // namespace
}  // namespace pinfs::control_test
