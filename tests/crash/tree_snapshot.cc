#include "tests/crash/tree_snapshot.h"

#include <algorithm>
#include <deque>
#include <set>

#include <fmt/format.h>

namespace pinfs::crashtest {

namespace {

// A directory that lists more entries than this is corrupt (or a cookie loop).
constexpr std::size_t kMaxEntriesPerDir = 1'000'000;

Result<std::vector<fs::DirEntry>> read_dir(fs::FileSystem& filesystem, fs::InodeNumber dir) {
  std::vector<fs::DirEntry> entries;
  std::uint64_t cookie = 0;
  while (entries.size() < kMaxEntriesPerDir) {
    std::size_t before = entries.size();
    PINFS_TRY(filesystem.readdir(dir, cookie, [&](const fs::DirEntry& e) {
      entries.push_back(e);
      return true;
    }));
    if (entries.size() == before) return entries;
    cookie = entries.back().next_cookie;
  }
  return Error(ELOOP, "readdir", fmt::format("inode {}", dir),
               fmt::format("more than {} entries: a cookie loop?", kMaxEntriesPerDir));
}

Result<Bytes> read_all(fs::FileSystem& filesystem, fs::InodeNumber ino, std::uint64_t size) {
  Bytes data(size);
  std::uint64_t done = 0;
  while (done < size) {
    PINFS_ASSIGN_OR_RETURN(std::size_t n,
                           filesystem.read(ino, done, std::span(data).subspan(done)));
    if (n == 0) break;
    done += n;
  }
  data.resize(done);
  return data;
}

Result<SnapshotNode> read_node(fs::FileSystem& filesystem, const fs::Attr& attr) {
  SnapshotNode node;
  node.ino = attr.ino;
  node.mode = attr.mode;
  node.nlink = attr.nlink;
  node.uid = attr.uid;
  node.gid = attr.gid;
  node.size = attr.size;
  if (S_ISREG(attr.mode)) {
    PINFS_ASSIGN_OR_RETURN(node.data, read_all(filesystem, attr.ino, attr.size));
  } else if (S_ISLNK(attr.mode)) {
    PINFS_ASSIGN_OR_RETURN(node.target, filesystem.readlink(attr.ino));
  }
  PINFS_ASSIGN_OR_RETURN(std::vector<std::string> names, filesystem.listxattr(attr.ino));
  for (const auto& name : names) {
    PINFS_ASSIGN_OR_RETURN(Bytes value, filesystem.getxattr(attr.ino, name));
    node.xattrs.emplace(name, std::move(value));
  }
  return node;
}

std::string first_difference(const Bytes& expected, const Bytes& actual) {
  std::size_t n = std::min(expected.size(), actual.size());
  auto [e, a] = std::mismatch(expected.begin(), expected.begin() + static_cast<std::ptrdiff_t>(n),
                              actual.begin());
  std::size_t at = static_cast<std::size_t>(e - expected.begin());
  if (at == n) return fmt::format("sizes {} (expected) and {} differ", expected.size(), actual.size());
  std::size_t last = at;
  std::size_t count = 0;
  for (std::size_t i = at; i < n; ++i) {
    if (expected[i] != actual[i]) {
      last = i;
      ++count;
    }
  }
  return fmt::format("{} bytes differ in [{}, {}]: at {} expected {:#04x}, found {:#04x}", count,
                     at, last, at, static_cast<unsigned>(*e), static_cast<unsigned>(*a));
}

}  // namespace

std::string describe_mode(std::uint32_t mode) {
  const char* type = "?";
  switch (mode & S_IFMT) {
    case S_IFREG: type = "file"; break;
    case S_IFDIR: type = "dir"; break;
    case S_IFLNK: type = "symlink"; break;
    case S_IFIFO: type = "fifo"; break;
    case S_IFCHR: type = "chardev"; break;
    case S_IFBLK: type = "blockdev"; break;
    case S_IFSOCK: type = "socket"; break;
    default: break;
  }
  return fmt::format("{} {:04o}", type, mode & 07777);
}

Result<TreeSnapshot> read_tree(fs::FileSystem& filesystem) {
  TreeSnapshot snap;
  PINFS_ASSIGN_OR_RETURN(fs::Attr root, filesystem.getattr(fs::kRootInode));
  if (!S_ISDIR(root.mode)) snap.problems.push_back("the root is a " + describe_mode(root.mode));
  PINFS_ASSIGN_OR_RETURN(SnapshotNode root_node, read_node(filesystem, root));
  snap.paths.emplace("/", fs::kRootInode);
  snap.nodes.emplace(fs::kRootInode, std::move(root_node));

  struct Dir {
    std::string path;
    fs::InodeNumber ino;
    fs::InodeNumber parent;
  };
  std::deque<Dir> queue{{"/", fs::kRootInode, fs::kRootInode}};
  std::set<fs::InodeNumber> dirs_seen{fs::kRootInode};
  while (!queue.empty()) {
    Dir dir = queue.front();
    queue.pop_front();
    PINFS_ASSIGN_OR_RETURN(std::vector<fs::DirEntry> entries, read_dir(filesystem, dir.ino));
    std::set<std::string> names;
    for (const auto& e : entries) {
      if (!names.insert(e.name).second) {
        snap.problems.push_back(fmt::format("'{}' lists '{}' twice", dir.path, e.name));
        continue;
      }
      if (e.name == "." || e.name == "..") {
        fs::InodeNumber want = e.name == "." ? dir.ino : dir.parent;
        if (e.ino != want) {
          snap.problems.push_back(fmt::format("'{}' entry '{}' is inode {}, expected {}", dir.path,
                                              e.name, e.ino, want));
        }
        continue;
      }
      PINFS_ASSIGN_OR_RETURN(fs::Attr attr, filesystem.lookup(dir.ino, e.name));
      std::string path = FsModel::join(dir.path, e.name);
      if (attr.ino != e.ino) {
        snap.problems.push_back(
            fmt::format("'{}': readdir says inode {}, lookup {}", path, e.ino, attr.ino));
      }
      if ((e.mode & S_IFMT) != (attr.mode & S_IFMT)) {
        snap.problems.push_back(fmt::format("'{}': readdir type {:o}, inode type {:o}", path,
                                            e.mode & S_IFMT, attr.mode & S_IFMT));
      }
      snap.paths.emplace(path, attr.ino);
      if (!snap.nodes.contains(attr.ino)) {
        PINFS_ASSIGN_OR_RETURN(SnapshotNode node, read_node(filesystem, attr));
        snap.nodes.emplace(attr.ino, std::move(node));
      }
      if (S_ISDIR(attr.mode)) {
        if (!dirs_seen.insert(attr.ino).second) {
          snap.problems.push_back(fmt::format("directory inode {} is reachable twice (at '{}')",
                                              attr.ino, path));
        } else {
          queue.push_back({path, attr.ino, dir.ino});
        }
      }
    }
    if (!names.contains(".") || !names.contains("..")) {
      snap.problems.push_back(fmt::format("'{}' lacks '.' or '..'", dir.path));
    }
  }
  return snap;
}

std::vector<std::string> diff(const FsModel& model, const TreeSnapshot& snapshot,
                              std::size_t max_differences) {
  std::vector<std::string> out;
  auto add = [&](std::string s) {
    if (out.size() < max_differences) out.push_back(std::move(s));
  };
  for (const auto& p : snapshot.problems) add("inconsistent tree: " + p);

  std::map<ModelId, fs::InodeNumber> ino_of;
  std::map<fs::InodeNumber, ModelId> id_of;
  for (const auto& [path, id] : model.paths()) {
    auto it = snapshot.paths.find(path);
    if (it == snapshot.paths.end()) {
      add(fmt::format("missing '{}' ({})", path, describe_mode(model.node(id).type | model.node(id).perm)));
      continue;
    }
    auto [i, fresh] = ino_of.emplace(id, it->second);
    if (!fresh && i->second != it->second) {
      add(fmt::format("'{}' should be a hard link of inode {} but is inode {}", path, i->second,
                      it->second));
    }
    auto [j, fresh_ino] = id_of.emplace(it->second, id);
    if (!fresh_ino && j->second != id) {
      add(fmt::format("'{}' is inode {}, which is also a different file ('{}')", path, it->second,
                      model.paths_of(j->second).front()));
    }
  }
  for (const auto& [path, ino] : snapshot.paths) {
    if (!model.exists(path)) {
      const auto& n = snapshot.nodes.at(ino);
      add(fmt::format("unexpected '{}' ({}, inode {}, size {})", path, describe_mode(n.mode), ino,
                      n.size));
    }
  }
  for (const auto& [id, ino] : ino_of) {
    const ModelNode& want = model.node(id);
    const SnapshotNode& got = snapshot.nodes.at(ino);
    std::string where = fmt::format("'{}' (inode {})", model.paths_of(id).front(), ino);
    if ((got.mode & S_IFMT) != want.type) {
      add(fmt::format("{} is a {}, expected a {}", where, describe_mode(got.mode),
                      describe_mode(want.type | want.perm)));
      continue;
    }
    if (want.type != S_IFLNK && (got.mode & 07777) != want.perm) {
      add(fmt::format("{} mode {:04o}, expected {:04o}", where, got.mode & 07777, want.perm));
    }
    if (got.uid != want.uid || got.gid != want.gid) {
      add(fmt::format("{} owner {}:{}, expected {}:{}", where, got.uid, got.gid, want.uid,
                      want.gid));
    }
    if (got.nlink != model.nlink(id)) {
      add(fmt::format("{} nlink {}, expected {}", where, got.nlink, model.nlink(id)));
    }
    if (want.type == S_IFREG || want.type == S_IFLNK) {
      if (got.size != want.size()) {
        add(fmt::format("{} size {}, expected {}", where, got.size, want.size()));
      }
    }
    if (want.type == S_IFREG && got.data != *want.data) {
      add(fmt::format("{} data: {}", where, first_difference(*want.data, got.data)));
    }
    if (want.type == S_IFLNK && got.target != want.target) {
      add(fmt::format("{} target '{:.40}' ({} bytes), expected '{:.40}' ({} bytes)", where,
                      got.target, got.target.size(), want.target, want.target.size()));
    }
    if (got.xattrs != want.xattrs) {
      std::string names;
      for (const auto& [name, value] : want.xattrs) {
        auto it = got.xattrs.find(name);
        if (it == got.xattrs.end()) {
          names += " missing " + name;
        } else if (it->second != value) {
          names += fmt::format(" {} differs ({} bytes, expected {})", name, it->second.size(),
                               value.size());
        }
      }
      for (const auto& [name, value] : got.xattrs) {
        if (!want.xattrs.contains(name)) names += " unexpected " + name;
      }
      add(fmt::format("{} xattrs:{}", where, names));
    }
  }
  return out;
}

std::vector<std::string> diff(const TreeSnapshot& expected, const TreeSnapshot& actual,
                              std::size_t max_differences) {
  std::vector<std::string> out;
  auto add = [&](std::string s) {
    if (out.size() < max_differences) out.push_back(std::move(s));
  };
  for (const auto& p : actual.problems) add("inconsistent tree: " + p);
  for (const auto& [path, ino] : expected.paths) {
    auto it = actual.paths.find(path);
    if (it == actual.paths.end()) {
      add(fmt::format("missing '{}'", path));
    } else if (it->second != ino) {
      add(fmt::format("'{}' is inode {}, expected {}", path, it->second, ino));
    } else if (!(actual.nodes.at(ino) == expected.nodes.at(ino))) {
      const auto& a = actual.nodes.at(ino);
      const auto& e = expected.nodes.at(ino);
      add(fmt::format("'{}' differs: {} nlink {} size {} owner {}:{}, expected {} nlink {} size {} "
                      "owner {}:{}{}{}",
                      path, describe_mode(a.mode), a.nlink, a.size, a.uid, a.gid,
                      describe_mode(e.mode), e.nlink, e.size, e.uid, e.gid,
                      a.data != e.data ? "; data differs" : "",
                      a.xattrs != e.xattrs ? "; xattrs differ" : ""));
    }
  }
  for (const auto& [path, ino] : actual.paths) {
    if (!expected.paths.contains(path)) add(fmt::format("unexpected '{}' (inode {})", path, ino));
  }
  return out;
}

std::vector<std::string> diff_in_flight(const FsModel& before, const FsModel& after,
                                        const InFlight& in_flight,
                                        const TreeSnapshot& snapshot) {
  std::vector<std::string> vs_before = diff(before, snapshot);
  if (vs_before.empty()) return {};
  std::vector<std::string> vs_after = diff(after, snapshot);
  if (vs_after.empty()) return {};

  auto neither = [&](std::vector<std::string> extra) {
    std::vector<std::string> out = std::move(extra);
    out.push_back("matches neither the model before the operation in flight:");
    for (auto& d : vs_before) out.push_back("  before: " + d);
    out.push_back("nor after it:");
    for (auto& d : vs_after) out.push_back("  after: " + d);
    return out;
  };
  if (!in_flight.ranged_data || !after.nodes().contains(in_flight.id) ||
      !before.nodes().contains(in_flight.id)) {
    return neither({});
  }

  // A data operation in flight: the file's bytes within [begin, end) may be
  // any mix of old and new, its size anywhere between the two; everything
  // else must be exact.
  const std::string path = after.paths_of(in_flight.id).front();
  auto it = snapshot.paths.find(path);
  if (it == snapshot.paths.end()) return neither({});
  const SnapshotNode& got = snapshot.nodes.at(it->second);
  const Bytes& old_data = *before.node(in_flight.id).data;
  const Bytes& new_data = *after.node(in_flight.id).data;
  std::uint64_t lo = std::min(old_data.size(), new_data.size());
  std::uint64_t hi = std::max(old_data.size(), new_data.size());
  if (got.data.size() < lo || got.data.size() > hi) {
    return neither({fmt::format("'{}' size {} is outside [{}, {}] (the sizes before and after "
                                "the write in flight)",
                                path, got.data.size(), lo, hi)});
  }
  for (std::uint64_t i = 0; i < got.data.size(); ++i) {
    std::byte old_byte = i < old_data.size() ? old_data[i] : std::byte{0};
    std::byte new_byte = i < new_data.size() ? new_data[i] : std::byte{0};
    bool inside = i >= in_flight.begin && i < in_flight.end;
    bool ok = inside ? (got.data[i] == old_byte || got.data[i] == new_byte)
                     : (got.data[i] == old_byte && got.data[i] == new_byte);
    if (!ok) {
      return neither({fmt::format(
          "'{}' byte {} is {:#04x}, {} the range [{}, {}) of the write in flight (old {:#04x}, "
          "new {:#04x})",
          path, i, static_cast<unsigned>(got.data[i]), inside ? "inside" : "outside",
          in_flight.begin, in_flight.end, static_cast<unsigned>(old_byte),
          static_cast<unsigned>(new_byte))});
    }
  }
  FsModel mixed = after;
  mixed.node(in_flight.id).data = std::make_shared<const Bytes>(got.data);
  std::vector<std::string> rest = diff(mixed, snapshot);
  if (rest.empty()) return {};
  return neither({"the file's bytes are a legal mix, but the rest differs: " + rest.front()});
}

}  // namespace pinfs::crashtest
