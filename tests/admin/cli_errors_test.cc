// The ways of not reaching pinfsd — nothing there, a stale socket, a socket
// that is not pinfsd's, one the user may not use — each a one-line message
// and its own exit code; and the command line itself: --help everywhere,
// one exit code for every usage error.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/admin/admin_test_fixture.h"
#include "tests/control/file_ops.h"
#include "tests/mount/mounted_fs.h"
#include "tests/mount/other_user.h"

namespace pinfs::admin_test {
namespace {

using namespace std::chrono_literals;

std::string pinfs_program() { return mount_test::Programs::from_environment().pinfs; }

Output run_pinfs(std::vector<std::string> args) {
  args.insert(args.begin(), pinfs_program());
  return mount_test::run(args, 60s);
}

// A scratch directory of its own, removed at the end.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/pinfs-admin-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // A Unix socket bound at dir/name; listening or not.
  std::string bound_socket(const std::string& name, bool listening) {
    const std::string path = dir_ + "/" + name;
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << strerror(errno);
    if (listening) {
      EXPECT_EQ(::listen(fd, 8), 0);
    }
    fds_.push_back(fd);
    return path;
  }

  std::string dir_;
  std::vector<int> fds_;
};

TEST_F(CliTest, NoSocketMeansTheDaemonIsNotRunning) {
  const std::string socket = dir_ + "/pinfsd.sock";
  for (const char* command : {"pins", "leases", "stat"}) {
    const Output out = run_pinfs({command, "--socket", socket});
    EXPECT_EQ(out.status.code, kExitNoDaemon) << command << ": " << out.err;
    EXPECT_TRUE(is_one_line_error(out.err, "connect '" + socket + "': No such file or directory (is pinfsd running"));
    EXPECT_TRUE(out.out.empty()) << out.out;
  }
}

TEST_F(CliTest, AStaleSocketMeansTheDaemonIsNotRunning) {
  // Bound, never listened on: what a daemon that died leaves behind.
  const std::string socket = bound_socket("stale.sock", /*listening=*/false);
  const Output out = run_pinfs({"stat", "--socket", socket});
  EXPECT_EQ(out.status.code, kExitNoDaemon) << out.err;
  EXPECT_TRUE(is_one_line_error(out.err, "Connection refused"));
}

TEST_F(CliTest, AFileThatIsNotASocketIsTheWrongSocket) {
  const std::string file = dir_ + "/not-a-socket";
  std::ofstream(file) << "x";
  const Output out = run_pinfs({"pins", "--socket", file});
  EXPECT_EQ(out.status.code, kExitNotPinfsd) << out.err;
  EXPECT_TRUE(is_one_line_error(out.err, "Socket operation on non-socket (not a socket"));
}

TEST_F(CliTest, ASocketThatHangsUpAtHelloIsTheWrongSocket) {
  const std::string socket = bound_socket("other.sock", /*listening=*/true);
  const int listener = fds_.back();
  std::thread server([listener] {
    int peer = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (peer >= 0) ::close(peer);
  });
  const Output out = run_pinfs({"stat", "--socket", socket});
  server.join();
  EXPECT_EQ(out.status.code, kExitNotPinfsd) << out.err;
  EXPECT_TRUE(is_one_line_error(out.err, "is this pinfsd's control socket?"));
}

TEST_F(CliTest, ASocketThatNeverAnswersIsTheWrongSocketAfterTheHelloTimeout) {
  // Listening, never accepting: the connection completes in the backlog and
  // HELLO is never answered. The tool gives up after kHelloTimeout (10 s).
  const std::string socket = bound_socket("silent.sock", /*listening=*/true);
  const auto started = std::chrono::steady_clock::now();
  const Output out = run_pinfs({"leases", "--socket", socket});
  EXPECT_EQ(out.status.code, kExitNotPinfsd) << out.err;
  EXPECT_TRUE(is_one_line_error(out.err, "Connection timed out (no answer to HELLO within 10 s"));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 9s);
}

TEST_F(CliTest, EverySubcommandHasHelp) {
  const Output top = run_pinfs({"--help"});
  EXPECT_EQ(top.status.code, 0);
  for (const char* command : {"mkfs", "check", "devices", "stat", "pins", "leases", "break", "revoke", "pin"}) {
    EXPECT_NE(top.out.find(std::string("  ") + command + " "), std::string::npos) << command << " not listed";
    const Output help = run_pinfs({command, "--help"});
    EXPECT_EQ(help.status.code, 0) << command;
    EXPECT_NE(help.out.find("Usage:"), std::string::npos) << command << ":\n" << help.out;
    EXPECT_NE(help.out.find(std::string(" ") + command), std::string::npos) << command << ":\n" << help.out;
  }
}

TEST_F(CliTest, EveryUsageErrorExitsWithTheUsageCode) {
  const std::vector<std::vector<std::string>> bad = {
      {},                                          // no subcommand
      {"pins", "--bogus"},                         // unknown option
      {"pin"},                                     // FILE missing
      {"pin", "f", "--lease", "exclusive"},        // not a lease kind
      {"pin", "f", "--range", "junk", "--socket", dir_ + "/none"},
      {"break", "--socket", dir_ + "/none"},       // neither PIN nor --file
      {"break", "3", "--file", "f"},               // both
      {"pins", "--pid", "abc"},
  };
  for (const auto& args : bad) {
    const Output out = run_pinfs(args);
    EXPECT_EQ(out.status.code, kExitUsage) << mount_test::quote_command(args) << ": " << out.err;
  }
}

// Runs `pinfs ARGS...` as uid/gid and returns its exit code and stderr.
std::pair<int, std::string> run_pinfs_as(uid_t uid, gid_t gid, const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return {-1, "pipe2 failed"};
  std::vector<std::string> argv{pinfs_program()};
  argv.insert(argv.end(), args.begin(), args.end());
  const int code = mount_test::run_as(uid, gid, [&] {
    const Output out = mount_test::run(argv, 60s);
    (void)!::write(pipe_fds[1], out.err.data(), out.err.size());
    return out.status.code;
  });
  ::close(pipe_fds[1]);
  std::string err;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) err.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  return {code, err};
}

TEST_F(AdminTest, ASocketTheUserMayNotUseIsPermissionDenied) {
  // Without --map-group the socket is 0660 root:root.
  const auto [code, err] = run_pinfs_as(mount_test::kNobodyUid, mount_test::kNobodyGid,
                                        {"pins", "--socket", socket_path()});
  EXPECT_EQ(code, kExitDenied) << err;
  EXPECT_TRUE(is_one_line_error(err, "Permission denied"));
}

// With a map group its members reach the socket, but may break only the
// leases of their own files.
class MapGroupAdminTest : public AdminTest {
 protected:
  std::vector<std::string> daemon_args() const override {
    auto args = AdminTest::daemon_args();
    args.insert(args.end(), {"--map-group", std::to_string(control_test::kMapGroupGid)});
    return args;
  }
};

TEST_F(MapGroupAdminTest, BreakingAnotherUsersFileIsPermissionDenied) {
  ASSERT_EQ(control_test::write_pattern(path("f"), 4096, 1), 0);
  const auto listed = run_pinfs_as(mount_test::kNobodyUid, control_test::kMapGroupGid,
                                   {"pins", "--socket", socket_path()});
  EXPECT_EQ(listed.first, 0) << "a map group member may list: " << listed.second;

  const auto [code, err] = run_pinfs_as(mount_test::kNobodyUid, control_test::kMapGroupGid,
                                        {"break", "--file", path("f"), "--socket", socket_path()});
  EXPECT_EQ(code, kExitDenied) << err;
  EXPECT_TRUE(is_one_line_error(err, "Operation not permitted (only root or the file's owner"));
}

}  // namespace
}  // namespace pinfs::admin_test
