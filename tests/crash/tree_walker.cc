#include "tests/crash/tree_walker.h"

#include <sys/stat.h>

#include <algorithm>
#include <deque>
#include <set>
#include <vector>

namespace pinfs::crashtest {

bool is_clear(const Error& error) {
  return error.errnum() > 0 && !error.op().empty() && !error.message().empty();
}

namespace {

class Walker {
 public:
  Walker(fs::FileSystem& filesystem, const WalkLimits& limits) : fs_(filesystem), limits_(limits) {}

  WalkCounts run() {
    note(fs_.statfs());
    visit_inode(fs::kRootInode, S_IFDIR);
    struct Dir {
      fs::InodeNumber ino;
      std::size_t depth;
    };
    std::deque<Dir> queue{{fs::kRootInode, 0}};
    std::set<fs::InodeNumber> seen{fs::kRootInode};
    while (!queue.empty() && counts_.entries < limits_.max_entries) {
      Dir dir = queue.front();
      queue.pop_front();
      ++counts_.directories;
      std::vector<fs::DirEntry> entries;
      std::uint64_t cookie = 0;
      for (std::size_t call = 0; call < limits_.max_readdir_calls_per_dir; ++call) {
        std::size_t before = entries.size();
        auto st = fs_.readdir(dir.ino, cookie, [&](const fs::DirEntry& e) {
          entries.push_back(e);
          return entries.size() < limits_.max_entries;
        });
        note(st);
        if (!st.ok() || entries.size() == before || entries.size() >= limits_.max_entries) break;
        cookie = entries.back().next_cookie;
      }
      for (const auto& e : entries) {
        if (++counts_.entries >= limits_.max_entries) break;
        if (e.name == "." || e.name == "..") continue;
        auto attr = fs_.lookup(dir.ino, e.name);
        note(attr);
        fs::InodeNumber ino = attr.ok() ? attr->ino : e.ino;
        std::uint32_t mode = attr.ok() ? attr->mode : e.mode;
        if (!seen.insert(ino).second) continue;
        visit_inode(ino, mode);
        if (S_ISDIR(mode) && dir.depth + 1 < limits_.max_depth) {
          queue.push_back({ino, dir.depth + 1});
        }
      }
    }
    return counts_;
  }

 private:
  template <typename R>
  void note(const R& result) {
    ++counts_.calls;
    if (result.ok()) return;
    const Error& e = result.error();
    ++counts_.errors[e.errnum()];
    if ((e.errnum() == EUCLEAN || e.errnum() == EIO) && counts_.first_damage.empty()) {
      counts_.first_damage = e.message();
    }
    if (!is_clear(e) && counts_.unclear_error.empty()) {
      counts_.unclear_error = "errno " + std::to_string(e.errnum()) + ": '" + e.message() + "'";
    }
  }

  void visit_inode(fs::InodeNumber ino, std::uint32_t mode) {
    auto attr = fs_.getattr(ino);
    note(attr);
    if (attr.ok()) mode = attr->mode;
    if (S_ISREG(mode)) {
      std::vector<std::byte> buf(64 << 10);
      std::uint64_t offset = 0;
      while (offset < limits_.max_read_bytes_per_file &&
             counts_.bytes_read < limits_.max_read_bytes_total) {
        auto n = fs_.read(ino, offset, buf);
        note(n);
        if (!n.ok() || *n == 0) break;
        if (*n > buf.size()) {
          if (counts_.unclear_error.empty()) counts_.unclear_error = "read returned more than asked";
          break;
        }
        offset += *n;
        counts_.bytes_read += *n;
      }
      note(fs_.extents(ino, 0, fs::kToEnd));
    } else if (S_ISLNK(mode)) {
      note(fs_.readlink(ino));
    }
    auto names = fs_.listxattr(ino);
    note(names);
    if (names.ok()) {
      std::size_t n = 0;
      for (const auto& name : *names) {
        if (++n > 64) break;
        note(fs_.getxattr(ino, name));
      }
    }
  }

  fs::FileSystem& fs_;
  const WalkLimits& limits_;
  WalkCounts counts_;
};

}  // namespace

WalkCounts walk_everything(fs::FileSystem& filesystem, const WalkLimits& limits) {
  return Walker(filesystem, limits).run();
}

}  // namespace pinfs::crashtest
