// The control socket's robustness: a malformed, oversized or out-of-order
// message closes that one connection (with a logged reason) and no other;
// a client that goes loses its leases.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "pin/protocol/frame.h"
#include "pin/protocol/limits.h"
#include "pin/protocol/message_codec.h"
#include "pin/protocol/unix_socket.h"
#include "tests/control/control_test_fixture.h"
#include "tests/control/file_ops.h"

namespace pinfs::control_test {
namespace {

using ConnectionTest = ControlTest;

// A raw connection, to send what the client library never would.
class RawConnection {
 public:
  explicit RawConnection(const std::string& socket) {
    auto fd = protocol::connect_unix(socket);
    EXPECT_TRUE(fd.ok()) << fd.error().message();
    fd_ = fd.ok() ? *fd : -1;
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  void send(const std::vector<std::byte>& bytes) {
    ASSERT_TRUE(protocol::send_all(fd_, bytes).ok());
  }
  void hello(std::uint16_t min_version = protocol::kMinProtocolVersion,
             std::uint16_t max_version = protocol::kProtocolVersion) {
    send(protocol::encode_request(1, protocol::Hello{protocol::kMagic, min_version, max_version, "raw"}));
  }
  // The next frame, or nullopt when the daemon closed the connection.
  std::optional<protocol::Frame> receive() {
    std::vector<std::byte> buffer(64 * 1024);
    std::vector<int> fds;
    for (;;) {
      auto next = assembler_.next();
      if (!next.ok() || next->has_value()) return next.ok() ? std::move(*next) : std::nullopt;
      timeval timeout{10, 0};
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      auto n = protocol::receive_some(fd_, buffer, fds, false);
      if (!n.ok() || *n == 0) return std::nullopt;
      assembler_.append(std::span(buffer).first(*n));
    }
  }
  // True once the daemon has closed its end (EOF).
  bool closed_by_daemon() {
    while (auto frame = receive()) {
    }
    return true;
  }

 private:
  int fd_ = -1;
  protocol::FrameAssembler assembler_{protocol::kMaxMessageBytes};
};

std::vector<std::byte> le32(std::uint32_t v) {
  std::vector<std::byte> out;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::byte>(v >> (8 * i)));
  return out;
}

TEST_F(ConnectionTest, MalformedMessagesCloseOnlyTheirOwnConnection) {
  ASSERT_EQ(write_pattern(path("f"), 2 << 20, 1), 0);
  auto client = connect();
  PINFS_ASSERT_OK(client);
  auto file = client->open(path("f"));
  PINFS_ASSERT_OK(file);
  auto lease = file->lease(LeaseKind::read);
  PINFS_ASSERT_OK(lease);

  {  // Oversized: a length above the request limit.
    RawConnection raw(socket_path());
    raw.hello();
    ASSERT_TRUE(raw.receive().has_value());
    raw.send(le32(protocol::kMaxRequestBytes + 1));
    EXPECT_TRUE(raw.closed_by_daemon());
  }
  {  // Out of order: a request before HELLO.
    RawConnection raw(socket_path());
    raw.send(protocol::encode_request(1, protocol::OpenRequest{"f"}));
    EXPECT_FALSE(raw.receive().has_value());
  }
  {  // Malformed body: a string length past the end of the frame.
    RawConnection raw(socket_path());
    raw.hello();
    ASSERT_TRUE(raw.receive().has_value());
    std::vector<std::byte> bad = protocol::encode_request(2, protocol::OpenRequest{"abc"});
    bad[protocol::kFrameHeaderBytes] = std::byte{200};
    raw.send(bad);
    EXPECT_FALSE(raw.receive().has_value());
  }
  {  // A reply kind from a client.
    RawConnection raw(socket_path());
    raw.hello();
    ASSERT_TRUE(raw.receive().has_value());
    raw.send(protocol::encode_reply(3, protocol::MessageKind::open, protocol::EmptyReply{}));
    EXPECT_FALSE(raw.receive().has_value());
  }
  {  // Wrong magic in HELLO.
    RawConnection raw(socket_path());
    raw.send(protocol::encode_request(1, protocol::Hello{0x1234, 1, 1, "x"}));
    EXPECT_FALSE(raw.receive().has_value());
  }

  // The well-behaved client never noticed.
  EXPECT_TRUE(client->connected());
  EXPECT_TRUE(lease->held());
  auto pin = lease->pin({0, 2 << 20});
  PINFS_ASSERT_OK(pin);
  const std::string log = fs().daemon_log();
  EXPECT_NE(log.find("exceeds the limit of 8192 bytes"), std::string::npos) << log;
  EXPECT_NE(log.find("before HELLO (out of order)"), std::string::npos) << log;
  EXPECT_NE(log.find("field 'path'"), std::string::npos) << log;
  EXPECT_NE(log.find("wrong magic"), std::string::npos) << log;
}

TEST_F(ConnectionTest, AClientWithoutACommonVersionIsRefusedWithEprotonosupport) {
  RawConnection raw(socket_path());
  raw.hello(protocol::kProtocolVersion + 1, protocol::kProtocolVersion + 5);
  auto frame = raw.receive();
  ASSERT_TRUE(frame.has_value());
  auto reply = protocol::decode_reply<protocol::HelloReply>(*frame, protocol::MessageKind::hello);
  PINFS_ASSERT_OK(reply);
  ASSERT_TRUE(reply->error.has_value());
  EXPECT_EQ(reply->error->errnum(), EPROTONOSUPPORT);
  EXPECT_NE(reply->error->message().find("protocol versions"), std::string::npos);
  EXPECT_TRUE(raw.closed_by_daemon());
}

// The daemon drops a dead holder's leases on its own, soon: polls the
// listing for up to 5 s.
void wait_until_no_leases(Client& client) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    auto leases = client.list_leases_json();
    PINFS_ASSERT_OK(leases);
    if (nlohmann::json::parse(*leases)["leases"].empty()) return;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "the lease outlived its holder's process: " << *leases;
    std::this_thread::sleep_for(20ms);
  }
}

TEST_F(ConnectionTest, AClientThatExitsLosesItsLeasesAndNothingWaitsForIt) {
  ASSERT_EQ(write_pattern(path("f"), 2 << 20, 2), 0);
  const std::string socket = socket_path();
  const std::string file_path = path("f");
  // The child takes a lease and exits without releasing it.
  EXPECT_EQ(in_child_process([&] {
              auto client = Client::connect(socket);
              if (!client.ok()) return 1;
              auto file = client->open(file_path);
              if (!file.ok()) return 2;
              auto lease = file->lease(LeaseKind::unbreakable);
              if (!lease.ok()) return 3;
              ::_exit(0);  // no destructors: the daemon sees the socket close
            }),
            -1);
  auto client = connect();
  PINFS_ASSERT_OK(client);
  ASSERT_NO_FATAL_FAILURE(wait_until_no_leases(*client));
  EXPECT_EQ(punch_hole(file_path, 0, 1 << 20), 0);
}

// The session ends with the client's process, not with its socket: here a
// child of the client keeps the socket open after the client exits, so the
// daemon learns of the exit from the pidfd first (the order the VM showed,
// where closing the session from that path once crashed the daemon).
TEST_F(ConnectionTest, AClientWhoseSocketOutlivesItsProcessLosesItsLeasesAtTheExit) {
  ASSERT_EQ(write_pattern(path("f"), 2 << 20, 3), 0);
  const std::string socket = socket_path();
  const std::string file_path = path("f");
  int release[2];
  int ready[2];
  ASSERT_EQ(::pipe2(release, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  const pid_t client_pid = ::fork();
  ASSERT_GE(client_pid, 0);
  if (client_pid == 0) {
    ::close(release[1]);
    ::close(ready[0]);
    auto client = Client::connect(socket);
    if (!client.ok()) ::_exit(1);
    auto file = client->open(file_path);
    if (!file.ok()) ::_exit(2);
    auto lease = file->lease(LeaseKind::unbreakable);
    if (!lease.ok()) ::_exit(3);
    // The keeper inherits the socket and holds it until the test lets go.
    const pid_t keeper = ::fork();
    if (keeper < 0) ::_exit(4);
    if (keeper == 0) {
      ::close(ready[1]);
      char byte = 0;
      (void)!::read(release[0], &byte, 1);
      ::_exit(0);
    }
    const char ok = 1;
    (void)!::write(ready[1], &ok, 1);
    ::_exit(0);  // no destructors: the lease is never released
  }
  ::close(release[0]);
  ::close(ready[1]);
  char ok = 0;
  const bool keeper_started = ::read(ready[0], &ok, 1) == 1 && ok == 1;
  ::close(ready[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(client_pid, &status, 0), client_pid);
  ASSERT_TRUE(keeper_started) << "the client failed with exit " << WEXITSTATUS(status);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  auto client = connect();
  PINFS_ASSERT_OK(client);
  ASSERT_NO_FATAL_FAILURE(wait_until_no_leases(*client));
  EXPECT_EQ(punch_hole(file_path, 0, 1 << 20), 0);
  ::close(release[1]);  // the keeper exits
  EXPECT_TRUE(fs().daemon_alive());
}

}  // namespace
}  // namespace pinfs::control_test
