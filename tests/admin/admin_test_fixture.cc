#include "tests/admin/admin_test_fixture.h"

#include <algorithm>

namespace pinfs::admin_test {

::testing::AssertionResult is_one_line_error(const std::string& err, const std::string& needle) {
  if (std::count(err.begin(), err.end(), '\n') != 1 || err.back() != '\n' || !err.starts_with("pinfs: ")) {
    return ::testing::AssertionFailure() << "not one line 'pinfs: ...': [" << err << "]";
  }
  if (err.find(needle) == std::string::npos) {
    return ::testing::AssertionFailure() << "[" << err << "] does not say '" << needle << "'";
  }
  return ::testing::AssertionSuccess();
}

nlohmann::json parse_json_output(const Output& output) {
  try {
    return nlohmann::json::parse(output.out);
  } catch (const nlohmann::json::exception& e) {
    ADD_FAILURE() << "not JSON (" << e.what() << "):\n" << output.out << "\nstderr: " << output.err;
    return nullptr;
  }
}

Output AdminTest::pinfs(const std::vector<std::string>& args) {
  std::vector<std::string> with_socket = args;
  with_socket.push_back("--socket");
  with_socket.push_back(socket_path());
  return pinfs_without_socket(with_socket);
}

Output AdminTest::pinfs_without_socket(const std::vector<std::string>& args) {
  std::vector<std::string> argv{fs().programs().pinfs};
  argv.insert(argv.end(), args.begin(), args.end());
  return mount_test::run(argv, std::chrono::seconds(60));
}

nlohmann::json AdminTest::pinfs_json(std::vector<std::string> args) {
  args.push_back("--json");
  const Output output = pinfs(args);
  EXPECT_EQ(output.status.code, 0) << mount_test::describe_run(args, output);
  return parse_json_output(output);
}

}  // namespace pinfs::admin_test
