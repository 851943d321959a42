// `pinfs pin` from the shell, with real programs on the mount: what an
// operator does to reproduce "why does my truncate hang or fail?".
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "tests/admin/admin_test_fixture.h"
#include "tests/control/file_ops.h"

namespace pinfs::admin_test {
namespace {

using namespace std::chrono_literals;
using control_test::Background;
using control_test::write_pattern;
using mount_test::Process;
using nlohmann::json;

constexpr std::uint64_t kMiB = 1ull << 20;

class PinScenarioTest : public AdminTest {
 protected:
  // Starts `pinfs pin ARGS... --socket S FILE` and waits for its "pinned"
  // line.
  void start_holder(const std::string& file, std::vector<std::string> args) {
    holder_out_ = fs().scratch_dir() + "/holder.out";
    holder_err_ = fs().scratch_dir() + "/holder.err";
    std::vector<std::string> argv{fs().programs().pinfs, "pin", "--socket", socket_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(file);
    holder_ = Process::spawn(argv, holder_out_, holder_err_);
    ASSERT_TRUE(wait_for_output("pinned '" + file + "'", 30s))
        << "stdout: " << holder_output() << "\nstderr: " << read_file(holder_err_);
  }

  static std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::string holder_output() const { return read_file(holder_out_); }

  bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (holder_output().find(needle) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= deadline || !holder_.alive()) {
        return holder_output().find(needle) != std::string::npos;
      }
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }

  // Polls `pinfs pins --json` until it lists `count` pins.
  ::testing::AssertionResult wait_for_pins(std::size_t count, std::chrono::milliseconds timeout = 15s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    json pins;
    do {
      pins = pinfs_json({"pins"})["pins"];
      if (pins.size() == count) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(50ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return ::testing::AssertionFailure() << "still " << pins.size() << " pins:\n" << pins.dump(2);
  }

  static Output punch(const std::string& file) {
    return mount_test::run({"fallocate", "-p", "-o", "0", "-l", "1M", file}, 60s);
  }

  Process holder_;
  std::string holder_out_, holder_err_;
};

TEST_F(PinScenarioTest, UnbreakablePinMakesPunchFailUntilTheHolderIsKilled) {
  const std::string file = path("data");
  ASSERT_EQ(write_pattern(file, 4 * kMiB, 1), 0);
  ASSERT_NO_FATAL_FAILURE(start_holder(file, {"--lease", "unbreakable"}));

  const Output refused = punch(file);
  EXPECT_NE(refused.status.code, 0) << refused.out;
  EXPECT_NE(refused.err.find("Text file busy"), std::string::npos) << refused.err;
  EXPECT_TRUE(wait_for_output("refused with ETXTBSY (unbreakable lease): punch", 10s)) << holder_output();

  const json pins = pinfs_json({"pins"})["pins"];
  ASSERT_EQ(pins.size(), 1u) << pins.dump(2);
  EXPECT_EQ(pins[0]["pid"], holder_.pid());
  EXPECT_EQ(pins[0]["command"], "pinfs");
  EXPECT_EQ(pins[0]["path"], file);
  EXPECT_EQ(pins[0]["bytes"], 4 * kMiB);
  EXPECT_EQ(pins[0]["lease_type"], "unbreakable");
  EXPECT_EQ(pins[0]["lease_state"], "held");
  const Output table = pinfs({"pins", "--pid", std::to_string(holder_.pid())});
  EXPECT_NE(table.out.find("unbreakable"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(file), std::string::npos) << table.out;

  const json stat = pinfs_json({"stat"});
  EXPECT_EQ(stat["leases"]["pinned_bytes"], 4 * kMiB);
  EXPECT_EQ(stat["leases"]["breaks_failed"], 1);
  const Output stat_table = pinfs({"stat"});
  EXPECT_NE(stat_table.out.find("4 MiB"), std::string::npos) << stat_table.out;

  ASSERT_TRUE(holder_.send_signal(SIGKILL));
  ASSERT_TRUE(holder_.wait_for(10s).has_value());
  // The pin ends once the daemon sees the process gone (pidfd; no RDMA
  // registration was reported).
  ASSERT_TRUE(wait_for_pins(0));
  const Output punched = punch(file);
  EXPECT_EQ(punched.status.code, 0) << punched.err;
  EXPECT_EQ(pinfs_json({"stat"})["leases"]["pinned_bytes"], 0);
}

TEST_F(PinScenarioTest, InterruptReleasesThePinAndExitsZero) {
  const std::string file = path("data");
  ASSERT_EQ(write_pattern(file, 4 * kMiB, 2), 0);
  ASSERT_NO_FATAL_FAILURE(start_holder(file, {"--range", "0:2M"}));
  const json pins = pinfs_json({"pins"})["pins"];
  ASSERT_EQ(pins.size(), 1u);
  EXPECT_EQ(pins[0]["bytes"], 2 * kMiB);
  EXPECT_EQ(pins[0]["lease_type"], "read");

  ASSERT_TRUE(holder_.send_signal(SIGINT));
  const auto status = holder_.wait_for(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->success()) << status->describe() << "\n" << read_file(holder_err_);
  EXPECT_NE(holder_output().find("released pin"), std::string::npos) << holder_output();
  // Released by the holder itself: gone at once, not reclaimed later.
  EXPECT_TRUE(pinfs_json({"pins"})["pins"].empty());
  EXPECT_TRUE(pinfs_json({"leases"})["leases"].empty());
}

TEST_F(PinScenarioTest, AReadPinIsReleasedWhenPinfsBreakAsksForTheFile) {
  const std::string file = path("data");
  ASSERT_EQ(write_pattern(file, 2 * kMiB, 3), 0);
  ASSERT_NO_FATAL_FAILURE(start_holder(file, {"--lease", "read"}));
  const Output broken = pinfs({"break", "--file", file});
  EXPECT_EQ(broken.status.code, 0) << broken.err;
  EXPECT_NE(broken.out.find(": 1 lease holder released in time"), std::string::npos) << broken.out;
  const auto status = holder_.wait_for(10s);
  ASSERT_TRUE(status.has_value()) << "the holder did not end after answering the break";
  EXPECT_TRUE(status->success()) << status->describe();
  EXPECT_NE(holder_output().find("(break: punch"), std::string::npos) << holder_output();
  EXPECT_EQ(pinfs_json({"stat"})["leases"]["breaks_completed"], 1);
}

TEST_F(PinScenarioTest, AHolderIgnoringBreaksMakesPunchFailAtTheDeadline) {
  const std::string file = path("data");
  ASSERT_EQ(write_pattern(file, 2 * kMiB, 4), 0);
  ASSERT_NO_FATAL_FAILURE(start_holder(file, {"--ignore-breaks"}));
  const auto started = std::chrono::steady_clock::now();
  const Output refused = punch(file);
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_NE(refused.status.code, 0);
  EXPECT_NE(refused.err.find("Text file busy"), std::string::npos) << refused.err;
  EXPECT_GE(waited, break_ms() - 100ms) << "the punch waited for the deadline";
  EXPECT_TRUE(wait_for_output("ignoring a break: punch", 10s)) << holder_output();
  EXPECT_TRUE(holder_.alive()) << "still holding";
  EXPECT_EQ(pinfs_json({"stat"})["leases"]["breaks_timed_out"], 1);
  EXPECT_EQ(pinfs_json({"pins"})["pins"].size(), 1u);
}

TEST_F(PinScenarioTest, AWriteLeaseAllocatesThenPinsUnderTheDowngradedKind) {
  const std::string file = path("fresh");
  ASSERT_EQ(mount_test::run({"touch", file}).status.code, 0);
  ASSERT_NO_FATAL_FAILURE(start_holder(file, {"--lease", "write", "--range", "0:2M", "--downgrade-to",
                                              "unbreakable"}));
  const json pins = pinfs_json({"pins"})["pins"];
  ASSERT_EQ(pins.size(), 1u);
  EXPECT_EQ(pins[0]["bytes"], 2 * kMiB);
  EXPECT_EQ(pins[0]["lease_type"], "unbreakable");
  const Output refused = punch(file);
  EXPECT_NE(refused.err.find("Text file busy"), std::string::npos) << refused.err;
}

TEST_F(PinScenarioTest, AWriteLeaseOverAnotherHoldersLeaseIsBusy) {
  // A write lease conflicts with any other client's lease (EAGAIN).
  const std::string file = path("data");
  ASSERT_EQ(write_pattern(file, 2 * kMiB, 5), 0);
  ASSERT_NO_FATAL_FAILURE(start_holder(file, {"--lease", "unbreakable"}));
  const Output second = pinfs({"pin", "--lease", "write", file});
  EXPECT_EQ(second.status.code, kExitBusy) << second.err;
  EXPECT_TRUE(is_one_line_error(second.err, "Resource temporarily unavailable"));
}

}  // namespace
}  // namespace pinfs::admin_test
