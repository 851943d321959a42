// Several processes at once in the same directories: creating, writing,
// replacing (write a temporary, rename over), renaming across directories,
// unlinking, reading back and listing, for a few seconds. Each worker owns
// its files, so it knows at every moment where each one is and what it
// holds, and checks that against what the mount shows:
//   - its own files appear exactly once in a listing of the directory they
//     are in, and in no other (it does not change them while it lists);
//   - every read of its own file returns the last version it wrote;
//   - no operation fails, except ENOENT on another worker's names.
// At the end the parent lists the whole tree: exactly the files the workers
// say they have, with the contents they last wrote. TearDown's pinfs check
// must be clean.
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/mount/file_io.h"
#include "tests/mount/mount_test_fixture.h"
#include "tests/test_env.h"

namespace pinfs::mount_test {
namespace {

using namespace std::chrono_literals;

constexpr int kWorkers = 4;
constexpr int kDirs = 4;

std::string dir_name(int d) { return fmt::format("d{}", d); }
std::string file_name(int worker, int id) { return fmt::format("w{}-{}", worker, id); }

std::size_t content_size(int worker, int id, int version) {
  return static_cast<std::size_t>(1 + ((worker * 131 + id * 7919 + version * 104729) % 24000));
}
std::string content(int worker, int id, int version) {
  return pattern(content_size(worker, id, version),
                 (static_cast<std::uint64_t>(worker) << 40) |
                     (static_cast<std::uint64_t>(id) << 16) | static_cast<std::uint64_t>(version));
}

struct OwnedFile {
  int dir = 0;
  int version = 0;
};

// One worker, in a forked child. Writes its final state and its errors to
// `report` and exits 0 (no unexpected error) or 1.
class Worker {
 public:
  Worker(std::string root, int index, std::chrono::milliseconds duration)
      : root_(std::move(root)), index_(index), duration_(duration), rng_(1000 + index) {}

  [[noreturn]] void run_and_exit(const std::string& report) {
    const auto end = std::chrono::steady_clock::now() + duration_;
    while (std::chrono::steady_clock::now() < end) {
      step();
      ++ops_;
    }
    std::ofstream out(report);
    for (const auto& [id, f] : files_) out << "file " << id << " " << f.dir << " " << f.version << "\n";
    out << "ops " << ops_ << "\n";
    for (const auto& e : errors_) out << "error " << e << "\n";
    out.close();
    _exit(errors_.empty() ? 0 : 1);
  }

 private:
  std::string p(int dir, const std::string& name) const {
    return root_ + "/" + dir_name(dir) + "/" + name;
  }
  void error(std::string what) {
    if (errors_.size() < 20) errors_.push_back(std::move(what));
  }
  int pick_own() {
    auto it = files_.begin();
    std::advance(it, static_cast<long>(rng_() % files_.size()));
    return it->first;
  }

  void step() {
    const unsigned r = rng_() % 100;
    if (files_.empty() || r < 25) return create();
    if (r < 40) return replace(pick_own());
    if (r < 58) return move(pick_own());
    if (r < 66) return remove(pick_own());
    if (r < 84) return list(static_cast<int>(rng_() % kDirs));
    if (r < 96) return verify(pick_own());
    return make_and_remove_dir();
  }

  void create() {
    const int id = next_id_++;
    const int dir = static_cast<int>(rng_() % kDirs);
    const std::string name = p(dir, file_name(index_, id));
    if (int e = write_file(name, content(index_, id, 0), rng_() % 8 == 0); e != 0) {
      return error(fmt::format("create {}: {}", name, strerror(e)));
    }
    files_[id] = {dir, 0};
  }

  // Writes the new version beside the file and renames it over the old one.
  void replace(int id) {
    OwnedFile& f = files_[id];
    const std::string target = p(f.dir, file_name(index_, id));
    const std::string tmp = target + ".tmp";
    if (int e = write_file(tmp, content(index_, id, f.version + 1)); e != 0) {
      return error(fmt::format("write {}: {}", tmp, strerror(e)));
    }
    if (rename(tmp.c_str(), target.c_str()) != 0) {
      return error(fmt::format("rename {} over {}: {}", tmp, target, strerror(errno)));
    }
    ++f.version;
  }

  void move(int id) {
    OwnedFile& f = files_[id];
    const int to = static_cast<int>(rng_() % kDirs);
    if (to == f.dir) return;
    const std::string from_path = p(f.dir, file_name(index_, id));
    const std::string to_path = p(to, file_name(index_, id));
    if (rename(from_path.c_str(), to_path.c_str()) != 0) {
      return error(fmt::format("rename {} -> {}: {}", from_path, to_path, strerror(errno)));
    }
    f.dir = to;
  }

  void remove(int id) {
    const std::string name = p(files_[id].dir, file_name(index_, id));
    if (unlink(name.c_str()) != 0) return error(fmt::format("unlink {}: {}", name, strerror(errno)));
    files_.erase(id);
  }

  void verify(int id) {
    const OwnedFile& f = files_[id];
    const std::string name = p(f.dir, file_name(index_, id));
    std::string diff = contents_difference(name, content(index_, id, f.version));
    if (!diff.empty()) error(fmt::format("read version {}: {}", f.version, diff));
  }

  void list(int dir) {
    const std::string d = root_ + "/" + dir_name(dir);
    DIR* h = opendir(d.c_str());
    if (h == nullptr) return error(fmt::format("opendir {}: {}", d, strerror(errno)));
    std::map<int, int> seen;  // own id -> times listed
    static const std::regex kName(R"(w(\d+)-(\d+)(\.tmp)?|\.|\.\.|sub-w\d+)");
    std::size_t entries = 0;
    errno = 0;
    while (dirent* e = readdir(h)) {
      ++entries;
      std::cmatch m;
      if (!std::regex_match(e->d_name, m, kName)) {
        error(fmt::format("listing {}: unexpected name '{}'", d, e->d_name));
        continue;
      }
      if (m[1].matched && std::stoi(m[1].str()) == index_ && !m[3].matched) {
        ++seen[std::stoi(m[2].str())];
      }
      errno = 0;
    }
    if (errno != 0) error(fmt::format("readdir {}: {}", d, strerror(errno)));
    closedir(h);
    for (const auto& [id, f] : files_) {
      const int times = seen.count(id) ? seen[id] : 0;
      const int want = f.dir == dir ? 1 : 0;
      if (times != want) {
        struct stat st {};
        const bool exists = lstat(p(f.dir, file_name(index_, id)).c_str(), &st) == 0;
        error(fmt::format("listing {} ({} entries): own file {} (in {}, {}) listed {} times", d,
                          entries, file_name(index_, id), dir_name(f.dir),
                          exists ? "lstat finds it" : "lstat does not find it", times));
      }
    }
    for (const auto& [id, times] : seen) {
      if (!files_.count(id)) error(fmt::format("listing {}: deleted file {} listed", d, id));
    }
  }

  void make_and_remove_dir() {
    const std::string sub = p(static_cast<int>(rng_() % kDirs), fmt::format("sub-w{}", index_));
    if (mkdir(sub.c_str(), 0755) != 0) return error(fmt::format("mkdir {}: {}", sub, strerror(errno)));
    if (int e = write_file(sub + "/x", "x"); e != 0) {
      return error(fmt::format("create in {}: {}", sub, strerror(e)));
    }
    if (unlink((sub + "/x").c_str()) != 0 || rmdir(sub.c_str()) != 0) {
      error(fmt::format("emptying and removing {}: {}", sub, strerror(errno)));
    }
  }

  std::string root_;
  int index_;
  std::chrono::milliseconds duration_;
  std::mt19937 rng_;
  std::map<int, OwnedFile> files_;
  int next_id_ = 0;
  std::uint64_t ops_ = 0;
  std::vector<std::string> errors_;  // the first 20
};

struct WorkerReport {
  std::map<int, OwnedFile> files;
  std::uint64_t ops = 0;
  std::vector<std::string> errors;
};

WorkerReport read_report(const std::string& report) {
  WorkerReport r;
  std::ifstream in(report);
  std::string kind;
  while (in >> kind) {
    if (kind == "file") {
      int id;
      OwnedFile f;
      in >> id >> f.dir >> f.version;
      r.files[id] = f;
    } else if (kind == "ops") {
      in >> r.ops;
    } else {
      std::string rest;
      std::getline(in, rest);
      r.errors.push_back(rest);
    }
  }
  return r;
}

using ConcurrencyTest = MountTest;

TEST_F(ConcurrencyTest, ParallelWritersRenamersAndListersLeaveAConsistentTree) {
  for (int d = 0; d < kDirs; ++d) ASSERT_EQ(mkdir(path(dir_name(d)).c_str(), 0755), 0);
  const auto duration = pinfs::testing::in_vm() ? 10s : 5s;

  std::vector<pid_t> pids;
  for (int w = 0; w < kWorkers; ++w) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0) << strerror(errno);
    if (pid == 0) {
      Worker(path(), w, duration).run_and_exit(scratch(fmt::format("worker-{}", w)));
    }
    pids.push_back(pid);
  }
  std::uint64_t total_ops = 0;
  std::map<std::string, std::string> expected;  // relative path -> contents
  for (int w = 0; w < kWorkers; ++w) {
    int wstatus = 0;
    ASSERT_EQ(waitpid(pids[static_cast<size_t>(w)], &wstatus, 0), pids[static_cast<size_t>(w)]);
    WorkerReport r = read_report(scratch(fmt::format("worker-{}", w)));
    EXPECT_TRUE(WIFEXITED(wstatus)) << "worker " << w << " died (status " << wstatus << ")";
    std::string errors;
    for (const auto& e : r.errors) errors += "  " + e + "\n";
    EXPECT_TRUE(r.errors.empty()) << "worker " << w << " saw:\n" << errors;
    total_ops += r.ops;
    for (const auto& [id, f] : r.files) {
      expected[dir_name(f.dir) + "/" + file_name(w, id)] = content(w, id, f.version);
    }
  }
  fmt::print("concurrency: {} workers, {} operations in {} s\n", kWorkers, total_ops,
             std::chrono::duration_cast<std::chrono::seconds>(duration).count());
  // Under TCG a few hundred operations is what 10 s buys.
  EXPECT_GT(total_ops, pinfs::testing::in_vm() ? 100u : 1000u) << "the workers did almost nothing";

  // The final tree is exactly what the workers say they left.
  std::set<std::string> found;
  for (int d = 0; d < kDirs; ++d) {
    DIR* h = opendir(path(dir_name(d)).c_str());
    ASSERT_NE(h, nullptr) << strerror(errno);
    while (dirent* e = readdir(h)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") {
        EXPECT_TRUE(found.insert(dir_name(d) + "/" + name).second) << name << " listed twice";
      }
    }
    closedir(h);
  }
  for (const auto& name : found) {
    EXPECT_TRUE(expected.count(name)) << "unexpected entry " << name;
  }
  for (const auto& [name, data] : expected) {
    EXPECT_TRUE(found.count(name)) << "missing " << name;
    EXPECT_EQ(contents_difference(path(name), data), "");
  }
}

// ---------------------------------------------------------------- one file

constexpr std::size_t kRegionBytes = 1 << 20;
constexpr int kRegionsPerWorker = 4;
constexpr std::size_t kSharedFileBytes = kRegionBytes * kRegionsPerWorker * kWorkers;

// Worker w owns regions w, w + kWorkers, w + 2 * kWorkers, ... of the file
// (interleaved, so neighbours belong to different workers) and keeps a
// model of them. Runs in a forked child; writes its model to `model_path`
// and exits 0, or prints the first mismatch and exits 1.
[[noreturn]] void exercise_own_regions(const std::string& file, int w,
                                       std::chrono::milliseconds duration,
                                       const std::string& model_path) {
  std::mt19937 rng(500 + w);
  std::vector<std::string> model(kRegionsPerWorker, std::string(kRegionBytes, '\0'));
  UniqueFd fd(open(file.c_str(), O_RDWR | O_CLOEXEC));
  auto fail = [&](const std::string& what) {
    fprintf(stderr, "worker %d: %s\n", w, what.c_str());
    _exit(1);
  };
  if (fd < 0) fail(fmt::format("open: {}", strerror(errno)));
  std::uint64_t version = 0;
  const auto end = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < end) {
    ++version;
    const int r = static_cast<int>(rng() % kRegionsPerWorker);
    const std::size_t base = static_cast<std::size_t>(r * kWorkers + w) * kRegionBytes;
    std::size_t off = rng() % kRegionBytes;
    std::size_t len = 1 + rng() % std::min<std::size_t>(kRegionBytes - off, 256 * 1024);
    const unsigned op = rng() % 100;
    if (op < 35) {
      const std::string data = pattern(len, (static_cast<std::uint64_t>(w) << 32) | version);
      if (pwrite(fd, data.data(), len, static_cast<off_t>(base + off)) != static_cast<ssize_t>(len)) {
        fail(fmt::format("pwrite at {}: {}", base + off, strerror(errno)));
      }
      model[static_cast<size_t>(r)].replace(off, len, data);
    } else if (op < 50) {
      // Whole pages of the region through a shared mapping.
      const std::size_t page = 4096;
      off &= ~(page - 1);
      len = std::max(page, (len + page - 1) & ~(page - 1));
      len = std::min(len, kRegionBytes - off);
      const std::string data = pattern(len, (static_cast<std::uint64_t>(w) << 32) | version);
      void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                     static_cast<off_t>(base + off));
      if (m == MAP_FAILED) fail(fmt::format("mmap at {}: {}", base + off, strerror(errno)));
      memcpy(m, data.data(), len);
      if (msync(m, len, MS_SYNC) != 0) fail(fmt::format("msync: {}", strerror(errno)));
      munmap(m, len);
      model[static_cast<size_t>(r)].replace(off, len, data);
    } else if (op < 70) {
      const int mode = op < 60 ? (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
                               : (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE);
      if (fallocate(fd, mode, static_cast<off_t>(base + off), static_cast<off_t>(len)) != 0) {
        fail(fmt::format("fallocate mode {:#x} at {}: {}", mode, base + off, strerror(errno)));
      }
      model[static_cast<size_t>(r)].replace(off, len, std::string(len, '\0'));
    } else {
      std::string got(len, '\0');
      if (pread(fd, got.data(), len, static_cast<off_t>(base + off)) != static_cast<ssize_t>(len)) {
        fail(fmt::format("pread at {}: {}", base + off, strerror(errno)));
      }
      std::string diff = first_difference(model[static_cast<size_t>(r)].substr(off, len), got);
      if (!diff.empty()) {
        fail(fmt::format("region {} read at file offset {} after {} ops: {}", r, base + off,
                         version, diff));
      }
    }
  }
  std::string all;
  for (const auto& m : model) all += m;
  if (write_file(model_path, all) != 0) fail("cannot write the model");
  fprintf(stderr, "worker %d: %llu ops\n", w, static_cast<unsigned long long>(version));
  _exit(0);
}

TEST_F(ConcurrencyTest, ParallelWritersToOneFileKeepEachOthersRegionsIntact) {
  const std::string file = path("shared");
  {
    UniqueFd fd(open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_GE(fd, 0);
    // Sparse: the workers allocate concurrently.
    ASSERT_EQ(errno_of(ftruncate(fd, kSharedFileBytes)), 0);
  }
  const auto duration = pinfs::testing::in_vm() ? 8s : 4s;
  std::vector<pid_t> pids;
  for (int w = 0; w < kWorkers; ++w) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0) << strerror(errno);
    if (pid == 0) exercise_own_regions(file, w, duration, scratch(fmt::format("model-{}", w)));
    pids.push_back(pid);
  }
  for (int w = 0; w < kWorkers; ++w) {
    int wstatus = 0;
    ASSERT_EQ(waitpid(pids[static_cast<size_t>(w)], &wstatus, 0), pids[static_cast<size_t>(w)]);
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
        << "worker " << w << " found a mismatch or an error (its message is above)";
  }
  EXPECT_EQ(stat_of(file).st_size, static_cast<off_t>(kSharedFileBytes));
  auto got = read_file(file);
  ASSERT_TRUE(got.has_value()) << strerror(errno);
  ASSERT_EQ(got->size(), kSharedFileBytes);
  for (int w = 0; w < kWorkers; ++w) {
    auto model = read_file(scratch(fmt::format("model-{}", w)));
    ASSERT_TRUE(model.has_value()) << "worker " << w << " left no model";
    for (int r = 0; r < kRegionsPerWorker; ++r) {
      const std::size_t base = static_cast<std::size_t>(r * kWorkers + w) * kRegionBytes;
      EXPECT_EQ(first_difference(model->substr(static_cast<size_t>(r) * kRegionBytes, kRegionBytes),
                                 got->substr(base, kRegionBytes)),
                "")
          << "worker " << w << " region " << r << " (file offset " << base << ")";
    }
  }
}

}  // namespace
}  // namespace pinfs::mount_test
