#include "tests/mount/sample_tree.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

#include <fmt/format.h>

#include "tests/mount/file_io.h"
#include "tests/mount/other_user.h"

namespace pinfs::mount_test {
namespace {

// Runs steps until one fails; each step names itself.
class Steps {
 public:
  explicit Steps(std::string root) : root_(std::move(root)) {}
  std::string p(const std::string& rel) const { return root_ + "/" + rel; }

  // A call that returned -1 with errno.
  void sys(const std::string& what, long rc) {
    if (failed() || rc >= 0) return;
    error_ = fmt::format("{}: {}", what, strerror(errno));
  }
  // A helper that returned 0 or an errno.
  void err(const std::string& what, int e) {
    if (failed() || e == 0) return;
    error_ = fmt::format("{}: {}", what, strerror(e));
  }
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

  void mkdir(const std::string& rel, mode_t mode) { sys("mkdir " + rel, ::mkdir(p(rel).c_str(), mode)); }
  void file(const std::string& rel, std::size_t size, std::uint64_t seed) {
    err("write " + rel, write_file(p(rel), pattern(size, seed)));
  }
  void chmod(const std::string& rel, mode_t mode) { sys("chmod " + rel, ::chmod(p(rel).c_str(), mode)); }
  void chown(const std::string& rel, uid_t uid, gid_t gid) {
    sys("lchown " + rel, ::lchown(p(rel).c_str(), uid, gid));
  }
  void xattr(const std::string& rel, const std::string& name, const std::string& value) {
    sys("setxattr " + rel + " " + name,
        ::lsetxattr(p(rel).c_str(), name.c_str(), value.data(), value.size(), 0));
  }
  void times(const std::string& rel, time_t sec, long nsec) {
    struct timespec ts[2] = {{sec - 1000, nsec}, {sec, nsec}};
    sys("utimensat " + rel, ::utimensat(AT_FDCWD, p(rel).c_str(), ts, AT_SYMLINK_NOFOLLOW));
  }
  void fallocate(const std::string& rel, int mode, off_t offset, off_t length) {
    if (failed()) return;
    int fd = ::open(p(rel).c_str(), O_RDWR | O_CLOEXEC);
    sys("open " + rel, fd);
    if (fd < 0) return;
    sys(fmt::format("fallocate {} mode {:#x}", rel, mode), ::fallocate(fd, mode, offset, length));
    ::close(fd);
  }

 private:
  std::string root_;
  std::string error_;
};

}  // namespace

std::string build_sample_tree(const std::string& root, std::uint64_t seed) {
  Steps s(root);
  s.mkdir("a", 0755);
  s.mkdir("a/b", 0755);
  s.mkdir("a/b/c", 0700);
  s.mkdir("empty", 0755);
  s.mkdir("sticky", 01777);
  s.mkdir("setgid", 02775);
  s.mkdir("many", 0755);

  // Sizes around the block and page boundaries, and one across the 2 MiB
  // aligned unit.
  const std::size_t sizes[] = {0, 1, 511, 4095, 4096, 4097, 65549, 300000, (3u << 20) + 77};
  int n = 0;
  for (std::size_t size : sizes) s.file(fmt::format("a/f{}", n++), size, seed + size);
  for (int i = 0; i < 150; ++i) {
    s.file(fmt::format("many/entry-{:04d}", i), static_cast<std::size_t>(i * 37), seed * 1000 + i);
  }

  // Sparse: a hole made by truncate up, data far out, and a punched hole.
  s.file("a/sparse", 10000, seed + 1);
  s.sys("truncate a/sparse", ::truncate(s.p("a/sparse").c_str(), 8 << 20));
  s.err("write a/sparse at 5 MiB", write_at(s.p("a/sparse"), 5 << 20, pattern(12345, seed + 2)));
  s.file("a/b/punched", 1 << 20, seed + 3);
  s.fallocate("a/b/punched", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100000, 300000);
  s.file("a/b/zeroed", 200000, seed + 4);
  s.fallocate("a/b/zeroed", FALLOC_FL_ZERO_RANGE, 150000, 100000);  // also extends to 250000

  // Three names for one inode.
  s.file("a/linked", 5000, seed + 5);
  s.sys("link a/b/linked2", ::link(s.p("a/linked").c_str(), s.p("a/b/linked2").c_str()));
  s.sys("link a/b/c/linked3", ::link(s.p("a/linked").c_str(), s.p("a/b/c/linked3").c_str()));

  s.sys("symlink relative", ::symlink("../f3", s.p("a/b/rel-link").c_str()));
  s.sys("symlink absolute", ::symlink("/etc/hostname", s.p("abs-link").c_str()));
  s.sys("symlink dangling", ::symlink("does/not/exist", s.p("dangling").c_str()));
  s.sys("symlink long", ::symlink(std::string(1000, 'x').c_str(), s.p("long-link").c_str()));
  s.sys("symlink to dir", ::symlink("a/b", s.p("dir-link").c_str()));

  s.sys("mkfifo", ::mkfifo(s.p("fifo").c_str(), 0640));
  s.sys("mknod char", ::mknod(s.p("a/null-dev").c_str(), S_IFCHR | 0666, makedev(1, 3)));

  s.file(std::string(255, 'n'), 255, seed + 6);
  s.file("\xc3\xbcnic\xc3\xb6" "de-\xe5\x90\x8d\xe5\x89\x8d", 42, seed + 7);  // ünicöde-名前

  s.xattr("a/f3", "user.color", "blue");
  s.xattr("a/f3", "user.binary", pattern(2000, seed + 8) + std::string(3, '\0'));
  s.xattr("a/f3", "user.empty", "");
  s.xattr("a/b", "user.dir-attr", "on a directory");

  // Owners before modes: a chown clears set-id bits.
  s.chown("a/f1", 1000, 1000);
  s.chown("a/f2", kNobodyUid, kNobodyGid);
  s.chown("dangling", 1000, 100);
  s.chmod("a/f0", 0000);
  s.chmod("a/f1", 0600);
  s.chmod("a/f2", 04755);
  s.chmod("a/f4", 02755);
  s.chmod("a/f5", 0444);

  // Times last, deepest first (a change inside a directory moves its mtime).
  s.times("a/f6", 1000000000, 123456789);
  s.times("a/f7", 1500000000, 1);
  s.times("dangling", 1234567890, 999999999);
  s.times("a/b/c", 1600000000, 500);
  s.times("empty", 1700000000, 42);
  return s.error();
}

std::string mutate_sample_tree(const std::string& root, std::uint64_t seed) {
  Steps s(root);
  for (int i = 0; i < 150; i += 3) {
    s.sys("unlink", ::unlink(s.p(fmt::format("many/entry-{:04d}", i)).c_str()));
  }
  for (int i = 1; i < 150; i += 5) {
    if (i % 3 == 0) continue;  // deleted above
    s.sys("rename across directories",
          ::rename(s.p(fmt::format("many/entry-{:04d}", i)).c_str(),
                   s.p(fmt::format("a/b/moved-{:04d}", i)).c_str()));
  }
  s.sys("rename a directory", ::rename(s.p("a/b/c").c_str(), s.p("empty/c-moved").c_str()));
  s.sys("rename over an existing file", ::rename(s.p("a/f6").c_str(), s.p("a/f7").c_str()));
  s.sys("truncate down", ::truncate(s.p("a/f8").c_str(), 1000001));
  s.sys("truncate up", ::truncate(s.p("a/f3").c_str(), 1 << 20));
  s.err("overwrite in the middle", write_at(s.p("a/f8"), 4000, pattern(70000, seed + 9)));
  s.err("append", write_at(s.p("a/sparse"), 8 << 20, pattern(3000, seed + 10)));
  s.sys("removexattr", ::removexattr(s.p("a/f3").c_str(), "user.color"));
  s.sys("unlink a link", ::unlink(s.p("a/b/linked2").c_str()));
  s.sys("rmdir", ::rmdir(s.p("sticky").c_str()));
  s.file("a/new-after-mutation", 123457, seed + 11);
  return s.error();
}

}  // namespace pinfs::mount_test
