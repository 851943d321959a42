#include "tests/mount/tree_digest.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace pinfs::mount_test {
namespace {

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;

std::int64_t to_ns(const struct timespec& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1000000000LL + t.tv_nsec;
}

void read_xattrs(const std::string& path, EntryDigest& d) {
  ssize_t len = llistxattr(path.c_str(), nullptr, 0);
  if (len < 0) {
    if (errno != ENOTSUP) d.error += fmt::format("llistxattr: {}; ", strerror(errno));
    return;
  }
  std::string names(static_cast<std::size_t>(len), '\0');
  len = llistxattr(path.c_str(), names.data(), names.size());
  if (len < 0) {
    d.error += fmt::format("llistxattr: {}; ", strerror(errno));
    return;
  }
  names.resize(static_cast<std::size_t>(len));
  for (std::size_t pos = 0; pos < names.size();) {
    std::string name = names.c_str() + pos;
    pos += name.size() + 1;
    if (name.rfind("user.", 0) != 0) continue;
    ssize_t vlen = lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    std::string value(vlen > 0 ? static_cast<std::size_t>(vlen) : 0, '\0');
    if (vlen > 0) vlen = lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (vlen < 0) {
      d.error += fmt::format("lgetxattr {}: {}; ", name, strerror(errno));
      continue;
    }
    value.resize(static_cast<std::size_t>(vlen));
    d.xattrs[name] = value;
  }
}

void walk(const std::string& root, const std::string& rel, TreeDigest& out) {
  const std::string path = rel.empty() ? root : root + "/" + rel;
  EntryDigest& d = out[rel];
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    d.error = fmt::format("lstat: {}", strerror(errno));
    return;
  }
  d.mode = st.st_mode;
  d.uid = st.st_uid;
  d.gid = st.st_gid;
  d.size = static_cast<std::uint64_t>(st.st_size);
  d.nlink = st.st_nlink;
  d.ino = st.st_ino;
  d.blocks = static_cast<std::uint64_t>(st.st_blocks);
  d.mtime_ns = to_ns(st.st_mtim);
  d.ctime_ns = to_ns(st.st_ctim);
  d.rdev = st.st_rdev;
  if (S_ISLNK(st.st_mode)) {
    char buf[PATH_MAX + 1];
    ssize_t n = readlink(path.c_str(), buf, sizeof buf);
    if (n < 0) d.error = fmt::format("readlink: {}", strerror(errno));
    else d.link_target.assign(buf, static_cast<std::size_t>(n));
  } else if (S_ISREG(st.st_mode)) {
    d.content_hash = hash_file(path, &d.error);
  }
  read_xattrs(path, d);
  if (!S_ISDIR(st.st_mode)) return;

  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) {
    d.error = fmt::format("opendir: {}", strerror(errno));
    return;
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = readdir(dir)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
    errno = 0;
  }
  if (errno != 0) d.error = fmt::format("readdir: {}", strerror(errno));
  closedir(dir);
  std::sort(names.begin(), names.end());
  if (std::adjacent_find(names.begin(), names.end()) != names.end()) {
    d.error += "; readdir returned a name twice";
  }
  for (const auto& name : names) walk(root, rel.empty() ? name : rel + "/" + name, out);
}

std::string mode_string(std::uint32_t mode) { return fmt::format("0{:o}", mode); }

}  // namespace

std::uint64_t hash_file(const std::string& path, std::string* error) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (error) *error += fmt::format("open: {}", strerror(errno));
    return 0;
  }
  std::uint64_t h = kFnvOffset;
  static thread_local std::vector<unsigned char> buf(1 << 20);
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (error) *error += fmt::format("read: {}", strerror(errno));
      close(fd);
      return 0;
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n; ++i) h = (h ^ buf[static_cast<std::size_t>(i)]) * kFnvPrime;
  }
  close(fd);
  return h;
}

TreeDigest digest_tree(const std::string& root) {
  TreeDigest out;
  walk(root, "", out);
  // Link groups: name each multiply-linked inode by its first path.
  std::map<std::uint64_t, std::string> leader_of_ino;
  for (auto& [rel, d] : out) {
    if (S_ISDIR(d.mode) || d.nlink < 2) continue;
    auto [it, inserted] = leader_of_ino.emplace(d.ino, rel);
    d.link_leader = it->second;
  }
  return out;
}

std::vector<std::string> compare(const TreeDigest& expected, const TreeDigest& got,
                                 unsigned fields, std::size_t max_lines) {
  std::vector<std::string> lines;
  std::size_t suppressed = 0;
  auto add = [&](std::string line) {
    if (lines.size() < max_lines) lines.push_back(std::move(line));
    else ++suppressed;
  };
  for (const auto& [rel, want] : expected) {
    const std::string name = rel.empty() ? "." : rel;
    auto it = got.find(rel);
    if (it == got.end()) {
      add(fmt::format("{}: missing", name));
      continue;
    }
    const EntryDigest& have = it->second;
    if (!want.error.empty()) add(fmt::format("{}: expected side unreadable: {}", name, want.error));
    if (!have.error.empty()) add(fmt::format("{}: unreadable: {}", name, have.error));
    auto diff = [&](unsigned field, const char* what, auto a, auto b) {
      if ((fields & field) && a != b) add(fmt::format("{}: {} {} != {}", name, what, a, b));
    };
    if ((fields & kType) && (want.mode & S_IFMT) != (have.mode & S_IFMT)) {
      add(fmt::format("{}: type {} != {}", name, mode_string(want.mode & S_IFMT),
                      mode_string(have.mode & S_IFMT)));
    }
    if ((fields & kPermissions) && (want.mode & 07777) != (have.mode & 07777)) {
      add(fmt::format("{}: permissions {} != {}", name, mode_string(want.mode & 07777),
                      mode_string(have.mode & 07777)));
    }
    diff(kOwner, "uid", want.uid, have.uid);
    diff(kOwner, "gid", want.gid, have.gid);
    // Directory sizes are each file system's own business.
    if (!S_ISDIR(want.mode)) diff(kSize, "size", want.size, have.size);
    diff(kNlink, "nlink", want.nlink, have.nlink);
    diff(kIno, "ino", want.ino, have.ino);
    diff(kBlocks, "st_blocks", want.blocks, have.blocks);
    diff(kMtime, "mtime_ns", want.mtime_ns, have.mtime_ns);
    diff(kCtime, "ctime_ns", want.ctime_ns, have.ctime_ns);
    if (S_ISREG(want.mode)) diff(kContent, "data hash", want.content_hash, have.content_hash);
    diff(kContent, "symlink target", want.link_target, have.link_target);
    if (S_ISCHR(want.mode) || S_ISBLK(want.mode)) diff(kContent, "rdev", want.rdev, have.rdev);
    diff(kLinks, "hard link of", want.link_leader, have.link_leader);
    if ((fields & kXattrs) && want.xattrs != have.xattrs) {
      std::string a, b;
      for (const auto& [k, v] : want.xattrs) a += fmt::format("{}({}B) ", k, v.size());
      for (const auto& [k, v] : have.xattrs) b += fmt::format("{}({}B) ", k, v.size());
      add(fmt::format("{}: xattrs [{}] != [{}]", name, a, b));
    }
  }
  for (const auto& [rel, have] : got) {
    if (!expected.count(rel)) add(fmt::format("{}: unexpected entry", rel.empty() ? "." : rel));
  }
  if (suppressed > 0) lines.push_back(fmt::format("... and {} more differences", suppressed));
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace pinfs::mount_test
