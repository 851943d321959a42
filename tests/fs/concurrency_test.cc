// Many threads at once: the lock keeps the file system consistent.
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "tests/fs/fs_test_env.h"

namespace pinfs::fs::testing {
namespace {

using ConcurrencyTest = FsTest;

TEST_F(ConcurrencyTest, ThreadsCreatingWritingReadingAndRemovingLeaveAConsistentFileSystem) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 150;
  std::vector<InodeNumber> dirs;
  for (int t = 0; t < kThreads; ++t) dirs.push_back(make_dir(kRootInode, "t" + std::to_string(t)));
  InodeNumber shared = make_dir(kRootInode, "shared");
  std::atomic<int> failures{0};
  std::atomic<bool> stop{false};
  auto worker = [&](int t) {
    Caller caller{100 + t, 1000, 1000};
    for (int i = 0; i < kRounds; ++i) {
      std::string name = "f" + std::to_string(i);
      auto a = fs_->mknod(dirs[t], name, S_IFREG | 0644, 0, caller);
      if (!a.ok()) { ++failures; continue; }
      std::string body(1000 + 37 * i, static_cast<char>('a' + t));
      if (!fs_->write(a->ino, static_cast<std::uint64_t>(i) * 100, as_bytes(body), caller).ok()) ++failures;
      std::string back(body.size(), '\0');
      auto n = fs_->read(a->ino, static_cast<std::uint64_t>(i) * 100,
                         std::as_writable_bytes(std::span(back.data(), back.size())));
      if (!n.ok() || back != body) ++failures;
      // Shared directory: entries come and go under the readers.
      std::string shared_name = "s" + std::to_string(t) + "-" + std::to_string(i);
      if (!fs_->link(a->ino, shared, shared_name, caller).ok()) ++failures;
      if (i % 3 == 0 && !fs_->unlink(shared, shared_name, caller).ok()) ++failures;
      if (i % 2 == 0 && !fs_->unlink(dirs[t], name, caller).ok()) ++failures;
      // f(i-1) is still there when i-1 is odd: move it to a neighbour.
      if (i % 10 == 0 && i > 0 &&
          !fs_->rename(dirs[t], "f" + std::to_string(i - 1), dirs[(t + 1) % kThreads],
                       "moved-" + std::to_string(t) + "-" + std::to_string(i), 0, caller)
               .ok())
        ++failures;
    }
  };
  std::thread reader([&] {
    while (!stop.load()) {
      (void)fs_->readdir(shared, 0, [&](const DirEntry& e) {
        (void)fs_->getattr(e.ino);
        return true;
      });
      (void)fs_->statfs();
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  stop = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace pinfs::fs::testing
