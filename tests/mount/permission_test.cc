// Ownership and permission checks with a real unprivileged process (uid
// and gid 65534, see other_user.h). pinfsd mounts with default_permissions,
// so the kernel checks mode bits against the owners pinfs reports, and with
// allow_other, without which the other user could not use the mount at all.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <string_view>

#include <gtest/gtest.h>

#include "tests/mount/file_io.h"
#include "tests/mount/mount_test_fixture.h"
#include "tests/mount/other_user.h"

namespace pinfs::mount_test {
namespace {

// The errno of opening `p` with `flags` (0 on success).
int open_errno(const std::string& p, int flags, mode_t mode = 0644) {
  int fd = open(p.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

using PermissionTest = MountTest;

TEST_F(PermissionTest, OtherUserCanReachTheMountAtAll) {
  // Without allow_other even a stat of the mount point fails with EACCES.
  EXPECT_EQ(as_nobody([&] { return errno_of(access(path().c_str(), X_OK)); }), 0);
  ASSERT_EQ(write_file(path("public"), "hello"), 0);
  EXPECT_EQ(as_nobody([&] { return contents_difference(path("public"), "hello").empty() ? 0 : EIO; }),
            0);
}

TEST_F(PermissionTest, OtherUserIsRefusedAFileThatOnlyRootMayRead) {
  ASSERT_EQ(write_file(path("secret"), "root only"), 0);
  ASSERT_EQ(chmod(path("secret").c_str(), 0600), 0);
  const std::string p = path("secret");
  EXPECT_EQ(as_nobody([&] { return open_errno(p, O_RDONLY); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return open_errno(p, O_WRONLY); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return errno_of(access(p.c_str(), R_OK)); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return errno_of(truncate(p.c_str(), 0)); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return errno_of(setxattr(p.c_str(), "user.x", "v", 1, 0)); }), EACCES);
  // Existence is not secret: the directory is searchable.
  EXPECT_EQ(as_nobody([&] { return errno_of(access(p.c_str(), F_OK)); }), 0);
  EXPECT_EQ(contents_difference(p, "root only"), "");
}

TEST_F(PermissionTest, OtherUserMayReadAWorldReadableFileAndWriteOnlyWhenAllowed) {
  const std::string p = path("shared");
  ASSERT_EQ(write_file(p, "v1"), 0);
  ASSERT_EQ(chmod(p.c_str(), 0644), 0);
  EXPECT_EQ(as_nobody([&] { return open_errno(p, O_RDONLY); }), 0);
  EXPECT_EQ(as_nobody([&] { return open_errno(p, O_WRONLY); }), EACCES);

  ASSERT_EQ(chmod(p.c_str(), 0666), 0);
  EXPECT_EQ(as_nobody([&] { return write_at(p, 0, "v2"); }), 0);
  EXPECT_EQ(contents_difference(p, "v2"), "");

  ASSERT_EQ(chmod(p.c_str(), 0600), 0);
  EXPECT_EQ(as_nobody([&] { return open_errno(p, O_RDONLY); }), EACCES);
}

TEST_F(PermissionTest, GroupBitsApplyToTheFilesGroup) {
  const std::string p = path("group");
  ASSERT_EQ(write_file(p, "g"), 0);
  ASSERT_EQ(chown(p.c_str(), 0, kNobodyGid), 0);
  ASSERT_EQ(chmod(p.c_str(), 0640), 0);
  EXPECT_EQ(as_nobody([&] { return open_errno(p, O_RDONLY); }), 0);
  EXPECT_EQ(as_nobody([&] { return open_errno(p, O_WRONLY); }), EACCES);
  // Another uid in another group gets the "other" bits: none.
  EXPECT_EQ(run_as(4242, 4242, [&] { return open_errno(p, O_RDONLY); }), EACCES);
}

TEST_F(PermissionTest, ChownGivesTheNewOwnerControlOfTheMode) {
  const std::string mine = path("mine");
  ASSERT_EQ(write_file(mine, "m"), 0);
  ASSERT_EQ(chown(mine.c_str(), kNobodyUid, kNobodyGid), 0);
  struct stat st = stat_of(mine);
  EXPECT_EQ(st.st_uid, kNobodyUid);
  EXPECT_EQ(st.st_gid, kNobodyGid);
  EXPECT_EQ(as_nobody([&] { return errno_of(chmod(mine.c_str(), 0600)); }), 0);
  EXPECT_EQ(stat_of(mine).st_mode & 07777, 0600u);
  EXPECT_EQ(as_nobody([&] { return open_errno(mine, O_RDWR); }), 0);
  // Giving it away or taking someone else's is for root only.
  EXPECT_EQ(as_nobody([&] { return errno_of(chown(mine.c_str(), 0, 0)); }), EPERM);

  const std::string roots = path("roots");
  ASSERT_EQ(write_file(roots, "r"), 0);
  EXPECT_EQ(as_nobody([&] { return errno_of(chmod(roots.c_str(), 0666)); }), EPERM);
  EXPECT_EQ(as_nobody([&] { return errno_of(chown(roots.c_str(), kNobodyUid, kNobodyGid)); }),
            EPERM);
  EXPECT_EQ(stat_of(roots).st_uid, 0u);
}

TEST_F(PermissionTest, OtherUserCreatesOnlyWhereTheDirectoryAllowsAndOwnsWhatItCreates) {
  ASSERT_EQ(mkdir(path("closed").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(path("open").c_str(), 0777), 0);
  ASSERT_EQ(chmod(path("open").c_str(), 01777), 0);
  EXPECT_EQ(as_nobody([&] { return open_errno(path("closed/f"), O_CREAT | O_WRONLY); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return errno_of(mkdir(path("closed/d").c_str(), 0755)); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return errno_of(symlink("x", path("closed/s").c_str())); }), EACCES);

  ASSERT_EQ(as_nobody([&] {
              umask(022);
              return write_file(path("open/f"), "by nobody");
            }),
            0);
  ASSERT_EQ(as_nobody([&] { return errno_of(mkdir(path("open/d").c_str(), 0755)); }), 0);
  for (const char* name : {"open/f", "open/d"}) {
    struct stat st = stat_of(path(name));
    EXPECT_EQ(st.st_uid, kNobodyUid) << name << " is not owned by its creator";
    EXPECT_EQ(st.st_gid, kNobodyGid) << name << " does not have its creator's group";
  }
  EXPECT_EQ(stat_of(path("open/f")).st_mode & 0777, 0644u) << "umask 022 not applied";

  // The sticky bit: nobody may not remove root's file, only its own.
  ASSERT_EQ(write_file(path("open/roots"), "r"), 0);
  ASSERT_EQ(chmod(path("open/roots").c_str(), 0666), 0);
  EXPECT_EQ(as_nobody([&] { return errno_of(unlink(path("open/roots").c_str())); }), EPERM);
  EXPECT_EQ(as_nobody([&] {
              return errno_of(rename(path("open/roots").c_str(), path("open/stolen").c_str()));
            }),
            EPERM);
  EXPECT_EQ(as_nobody([&] { return errno_of(unlink(path("open/f").c_str())); }), 0);
}

TEST_F(PermissionTest, ADirectoryWithoutSearchPermissionHidesItsEntries) {
  ASSERT_EQ(mkdir(path("private").c_str(), 0700), 0);
  ASSERT_EQ(write_file(path("private/f"), "f"), 0);
  ASSERT_EQ(chmod(path("private/f").c_str(), 0644), 0);
  EXPECT_EQ(as_nobody([&] { return errno_of(access(path("private/f").c_str(), F_OK)); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return open_errno(path("private"), O_RDONLY | O_DIRECTORY); }),
            EACCES);
  ASSERT_EQ(chmod(path("private").c_str(), 0711), 0);  // search, but no listing
  EXPECT_EQ(as_nobody([&] { return open_errno(path("private/f"), O_RDONLY); }), 0);
  EXPECT_EQ(as_nobody([&] { return open_errno(path("private"), O_RDONLY | O_DIRECTORY); }),
            EACCES);
}

TEST_F(PermissionTest, UtimeNowNeedsWriteAccessAndExplicitTimesNeedOwnership) {
  const std::string p = path("f");
  ASSERT_EQ(write_file(p, "f"), 0);
  ASSERT_EQ(chmod(p.c_str(), 0666), 0);
  EXPECT_EQ(as_nobody([&] { return errno_of(utimensat(AT_FDCWD, p.c_str(), nullptr, 0)); }), 0);
  struct timespec explicit_times[2] = {{1000, 0}, {1000, 0}};
  EXPECT_EQ(as_nobody([&] { return errno_of(utimensat(AT_FDCWD, p.c_str(), explicit_times, 0)); }),
            EPERM);
  ASSERT_EQ(chmod(p.c_str(), 0644), 0);
  EXPECT_EQ(as_nobody([&] { return errno_of(utimensat(AT_FDCWD, p.c_str(), nullptr, 0)); }), EACCES);
}

TEST_F(PermissionTest, WritingOrChowningASetuidFileClearsTheSetIdBits) {
  // As on ext4 (should_remove_suid): a write by a process without
  // CAP_FSETID clears S_ISUID, and S_ISGID when group-execute is set; a
  // chown clears them whoever does it. libfuse turns on HANDLE_KILLPRIV by
  // default, which leaves this to the file system.
  const std::string p = path("setid");
  ASSERT_EQ(write_file(p, "x"), 0);
  ASSERT_EQ(chmod(p.c_str(), 06777), 0);
  ASSERT_EQ(as_nobody([&] { return write_at(p, 1, "y"); }), 0);
  EXPECT_EQ(stat_of(p).st_mode & 07777, 0777u) << "a write by another user kept the set-id bits";

  ASSERT_EQ(chmod(p.c_str(), 06755), 0);
  ASSERT_EQ(chown(p.c_str(), kNobodyUid, kNobodyGid), 0);
  EXPECT_EQ(stat_of(p).st_mode & 07777, 0755u) << "chown kept the set-id bits";

  // Root's own writes keep them (CAP_FSETID).
  ASSERT_EQ(chmod(p.c_str(), 04755), 0);
  ASSERT_EQ(write_at(p, 0, "z"), 0);
  EXPECT_EQ(stat_of(p).st_mode & 07777, 04755u);
}

TEST_F(PermissionTest, NewEntriesInASetgidDirectoryInheritItsGroup) {
  ASSERT_EQ(mkdir(path("sg").c_str(), 0775), 0);
  ASSERT_EQ(chown(path("sg").c_str(), 0, 1234), 0);
  ASSERT_EQ(chmod(path("sg").c_str(), 02775), 0);
  ASSERT_EQ(write_file(path("sg/f"), "f"), 0);
  ASSERT_EQ(mkdir(path("sg/d").c_str(), 0755), 0);
  EXPECT_EQ(stat_of(path("sg/f")).st_gid, 1234u);
  EXPECT_EQ(stat_of(path("sg/d")).st_gid, 1234u);
  EXPECT_TRUE(stat_of(path("sg/d")).st_mode & S_ISGID) << "a subdirectory keeps the setgid bit";
}

// The daemon, not the kernel, drops privileges (it asks for
// FUSE_HANDLE_KILLPRIV_V2, docs/mount.md): these fail if it does not.
TEST_F(PermissionTest, TruncatingASetuidFileAsAnotherUserClearsTheSetIdBits) {
  const std::string p = path("setid");
  ASSERT_EQ(write_file(p, "contents"), 0);
  ASSERT_EQ(chmod(p.c_str(), 06777), 0);
  ASSERT_EQ(as_nobody([&] { return errno_of(truncate(p.c_str(), 3)); }), 0);
  EXPECT_EQ(stat_of(p).st_mode & 07777, 0777u) << "a truncate by another user kept the set-id bits";
  EXPECT_EQ(stat_of(p).st_size, 3);

  // Set-group-ID without group-execute is not a privilege: it stays.
  ASSERT_EQ(chmod(p.c_str(), 02666), 0);
  ASSERT_EQ(as_nobody([&] { return errno_of(truncate(p.c_str(), 1)); }), 0);
  EXPECT_EQ(stat_of(p).st_mode & 07777, 02666u);
}

// A file capability, as setcap writes it: VFS_CAP_REVISION_2 with the
// effective flag, CAP_NET_BIND_SERVICE permitted.
const unsigned char kCapability[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
                                       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

bool has_capability(const std::string& p) {
  unsigned char buf[64];
  return getxattr(p.c_str(), "security.capability", buf, sizeof buf) == sizeof kCapability;
}

TEST_F(PermissionTest, WritingTruncatingOrChowningAFileRemovesItsCapability) {
  // As Linux's cap_inode_killpriv: whoever changes the file, root included.
  const std::string p = path("capable");
  ASSERT_EQ(write_file(p, "binary"), 0);
  auto set_capability = [&] {
    return setxattr(p.c_str(), "security.capability", kCapability, sizeof kCapability, 0);
  };
  ASSERT_EQ(set_capability(), 0) << strerror(errno);
  ASSERT_TRUE(has_capability(p));
  ASSERT_EQ(write_at(p, 0, "B"), 0);
  EXPECT_FALSE(has_capability(p)) << "a write kept security.capability";

  ASSERT_EQ(set_capability(), 0);
  ASSERT_EQ(truncate(p.c_str(), 2), 0);
  EXPECT_FALSE(has_capability(p)) << "a truncate kept security.capability";

  ASSERT_EQ(set_capability(), 0);
  ASSERT_EQ(chown(p.c_str(), kNobodyUid, kNobodyGid), 0);
  EXPECT_FALSE(has_capability(p)) << "a chown kept security.capability";

  // Other attributes stay.
  ASSERT_EQ(setxattr(p.c_str(), "user.keep", "k", 1, 0), 0);
  ASSERT_EQ(write_at(p, 0, "b"), 0);
  char v[4];
  EXPECT_EQ(getxattr(p.c_str(), "user.keep", v, sizeof v), 1);
}

// The round trips a write and a close cost: libfuse's request trace
// (--fuse-debug) counts what the kernel asked.
class RoundTripTest : public MountTest {
 protected:
  MountConfig config() const override {
    MountConfig c;
    c.daemon_args = {"--fuse-debug"};
    return c;
  }
  std::size_t count_requests(std::string_view opcode) {
    const std::string log = fs().daemon_log();
    const std::string needle = "opcode: " + std::string(opcode) + " (";
    std::size_t n = 0;
    for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
  }
};

TEST_F(RoundTripTest, WritesDoNotAskForSecurityCapabilityAndClosesDoNotFlush) {
  const std::string p = path("f");
  constexpr int kWrites = 20;
  ASSERT_EQ(write_file(p, ""), 0);
  for (int i = 0; i < kWrites; ++i) ASSERT_EQ(write_at(p, 4096 * i, "data"), 0);
  ASSERT_GE(count_requests("WRITE"), std::size_t{kWrites}) << "the trace is not what it counts";
  // Without FUSE_HANDLE_KILLPRIV_V2 the kernel asks before every write; with
  // it, once per inode it has in memory.
  EXPECT_LE(count_requests("GETXATTR"), 2u);
  // The first FLUSH is answered ENOSYS and the kernel sends no more.
  EXPECT_LE(count_requests("FLUSH"), 1u);
}

}  // namespace
}  // namespace pinfs::mount_test
