// The control server's view of a peer: SO_PEERCRED, groups, pidfd and the
// start time that guards against pid reuse.
#include "tools/control/peer_credentials.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string>

namespace pinfs::control {
namespace {

TEST(PeerCredentialsTest, ReadsThePeerOfASocketPair) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  auto peer = read_peer_credentials(fds[0]);
  ASSERT_TRUE(peer.ok()) << peer.error().message();
  EXPECT_EQ(peer->pid, ::getpid());
  EXPECT_EQ(peer->uid, ::geteuid());
  EXPECT_EQ(peer->gid, ::getegid());
  EXPECT_FALSE(peer->command.empty());
  EXPECT_NE(peer->start_time_ticks, 0u);
  ASSERT_GE(peer->pidfd, 0);
  auto exited = pidfd_exited(peer->pidfd);
  ASSERT_TRUE(exited.ok());
  EXPECT_FALSE(*exited);
  ::close(peer->pidfd);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(PeerCredentialsTest, PidfdOfThePeerReportsWhenItsProcessExits) {
  // A listening socket in the abstract namespace; a child connects to it.
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string name = "pinfs-peer-test-" + std::to_string(::getpid());
  std::memcpy(address.sun_path + 1, name.data(), name.size());
  const socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) ::_exit(1);
    char byte;
    (void)!::read(go[0], &byte, 1);  // wait until the parent has looked
    ::_exit(0);
  }
  int connection = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(connection, 0);
  auto peer = read_peer_credentials(connection);
  ASSERT_TRUE(peer.ok()) << peer.error().message();
  EXPECT_EQ(peer->pid, child);
  EXPECT_NE(peer->start_time_ticks, 0u);
  ASSERT_GE(peer->pidfd, 0);
  auto before = pidfd_exited(peer->pidfd);
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(*before);

  ASSERT_EQ(::write(go[1], "x", 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  auto after = pidfd_exited(peer->pidfd);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(*after);
  EXPECT_FALSE(read_start_time_ticks(child).has_value()) << "a reaped child has no /proc entry";
  for (int fd : {peer->pidfd, connection, listener, go[0], go[1]}) ::close(fd);
}

TEST(PeerCredentialsTest, StartTimeIsKnownForALiveProcessAndNotForAMissingOne) {
  auto own = read_start_time_ticks(::getpid());
  ASSERT_TRUE(own.has_value());
  EXPECT_GT(*own, 0u);
  EXPECT_FALSE(read_start_time_ticks(0x7ffffff0).has_value());
}

TEST(PeerCredentialsTest, GroupMembershipCountsThePrimaryAndSupplementaryGroups) {
  PeerCredentials p;
  p.gid = 100;
  p.groups = {4242, 27};
  EXPECT_TRUE(p.in_group(100));
  EXPECT_TRUE(p.in_group(27));
  EXPECT_FALSE(p.in_group(0));
}

}  // namespace
}  // namespace pinfs::control
