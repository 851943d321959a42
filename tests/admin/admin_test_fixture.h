// AdminTest: tests/control's fixture (a real pinfsd on a pool file with its
// FUSE mount and control socket) plus running the real `pinfs` binary
// against it, the way an operator would.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/control/control_test_fixture.h"
#include "tests/mount/subprocess.h"

namespace pinfs::admin_test {

using control_test::ControlTest;
using mount_test::Output;

// The exit codes of docs/pinfs.1.md, spelled out again here on purpose: a
// test that imported them from the tool could not notice them changing.
inline constexpr int kExitFailed = 2;
inline constexpr int kExitNoDaemon = 3;
inline constexpr int kExitDenied = 4;
inline constexpr int kExitNotPinfsd = 5;
inline constexpr int kExitBusy = 6;
inline constexpr int kExitPolicy = 7;
inline constexpr int kExitUsage = 64;

// Whether `err` is exactly one line "pinfs: ...\n" (what every failure of
// the tool prints) containing `needle`.
::testing::AssertionResult is_one_line_error(const std::string& err, const std::string& needle);

// Parses what `pinfs ... --json` printed; a test failure if it does not.
nlohmann::json parse_json_output(const Output& output);

class AdminTest : public ControlTest {
 protected:
  // Runs `pinfs SUBCOMMAND ARGS... --socket <the daemon's socket>`.
  Output pinfs(const std::vector<std::string>& args);
  // The same without adding --socket.
  Output pinfs_without_socket(const std::vector<std::string>& args);
  // pinfs(args + --json), which must exit 0 and print JSON.
  nlohmann::json pinfs_json(std::vector<std::string> args);
};

}  // namespace pinfs::admin_test
