// The fixture of the file-system unit tests: a fresh pool file (on tmpfs when
// there is one, so that persists cost no disk flushes), formatted and
// mounted. Every test ends with FileSystem::check on the image, mounted and
// after unmount: a test that leaves findings fails.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "fs/filesystem.h"
#include "fs/media.h"

namespace pinfs::fs::testing {

inline std::string scratch_root() {
  struct stat st {};
  if (::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && ::access("/dev/shm", W_OK) == 0)
    return "/dev/shm";
  return std::filesystem::temp_directory_path().string();
}

// A temporary directory removed with everything in it.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& root = scratch_root()) {
    std::string pattern = root + "/pinfs-fs-test-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = buf.data();
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::span<const std::byte> as_bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

inline std::string describe(const CheckReport& report) {
  std::string out;
  for (const auto& f : report.findings) out += "  " + f.where + ": " + f.what + "\n";
  return out;
}

#define EXPECT_OK(expr)                                                         \
  do {                                                                          \
    const auto& expect_ok_result_ = (expr);                                           \
    EXPECT_TRUE(expect_ok_result_.ok()) << expect_ok_result_.error().message(); \
  } while (0)
#define ASSERT_OK(expr)                                                         \
  do {                                                                          \
    const auto& assert_ok_result_ = (expr);                                           \
    ASSERT_TRUE(assert_ok_result_.ok()) << assert_ok_result_.error().message(); \
  } while (0)
// Asserts the call failed with errno `err`.
#define EXPECT_ERRNO(expr, err)                                                             \
  do {                                                                                      \
    const auto& expect_errno_result_ = (expr);                                                    \
    ASSERT_FALSE(expect_errno_result_.ok()) << "expected " << #err << ", the call succeeded"; \
    EXPECT_EQ(expect_errno_result_.error().errnum(), err)                                   \
        << expect_errno_result_.error().message();                                          \
  } while (0)

class FsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = std::make_unique<ScratchDir>();
    path_ = scratch_->path() + "/pool";
    auto media = Media::open(path_, {.create_size_bytes = media_bytes()});
    ASSERT_TRUE(media.ok()) << media.error().message();
    ASSERT_OK(FileSystem::mkfs(**media, mkfs_options()));
    auto fs = FileSystem::mount(std::move(*media));
    ASSERT_TRUE(fs.ok()) << fs.error().message();
    fs_ = std::move(*fs);
  }

  void TearDown() override {
    if (!fs_) return;
    if (check_at_teardown_) expect_clean("at the end of the test (mounted)");
    Status s = fs_->unmount();
    EXPECT_TRUE(s.ok()) << s.error().message();
    if (check_at_teardown_) expect_clean("after unmount");
    fs_.reset();
  }

  virtual std::uint64_t media_bytes() const { return 64ull << 20; }
  virtual MkfsOptions mkfs_options() const { return {}; }

  void expect_clean(const std::string& when) {
    auto report = FileSystem::check(fs_->media());
    ASSERT_TRUE(report.ok()) << report.error().message();
    EXPECT_TRUE(report->clean()) << "check " << when << " found:\n" << describe(*report);
  }

  void remount() {
    ASSERT_OK(fs_->unmount());
    fs_.reset();
    auto media = Media::open(path_);
    ASSERT_TRUE(media.ok()) << media.error().message();
    auto fs = FileSystem::mount(std::move(*media));
    ASSERT_TRUE(fs.ok()) << fs.error().message();
    fs_ = std::move(*fs);
  }

  InodeNumber create(InodeNumber parent, const std::string& name, std::uint32_t mode = 0644) {
    auto a = fs_->mknod(parent, name, S_IFREG | mode, 0, caller_);
    EXPECT_TRUE(a.ok()) << a.error().message();
    return a.ok() ? a->ino : 0;
  }
  InodeNumber make_dir(InodeNumber parent, const std::string& name) {
    auto a = fs_->mkdir(parent, name, 0755, caller_);
    EXPECT_TRUE(a.ok()) << a.error().message();
    return a.ok() ? a->ino : 0;
  }
  void write_string(InodeNumber ino, std::uint64_t offset, const std::string& data) {
    auto n = fs_->write(ino, offset, as_bytes(data), caller_);
    ASSERT_TRUE(n.ok()) << n.error().message();
    ASSERT_EQ(*n, data.size());
  }
  std::string read_string(InodeNumber ino, std::uint64_t offset, std::size_t length) {
    std::string out(length, '\0');
    auto n = fs_->read(ino, offset, std::as_writable_bytes(std::span(out.data(), out.size())));
    EXPECT_TRUE(n.ok()) << n.error().message();
    out.resize(n.ok() ? *n : 0);
    return out;
  }
  std::vector<std::string> list(InodeNumber dir) {
    std::vector<std::string> names;
    Status s = fs_->readdir(dir, 0, [&](const DirEntry& e) {
      names.push_back(e.name);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.error().message();
    return names;
  }
  std::uint64_t free_blocks() {
    auto st = fs_->statfs();
    EXPECT_TRUE(st.ok());
    return st.ok() ? st->free_blocks : 0;
  }

  // Unmounts and opens the bare media (media_) for editing behind the file
  // system's back, as the damage tests do.
  void unmount_for_editing() {
    ASSERT_OK(fs_->unmount());
    fs_.reset();
    auto media = Media::open(path_);
    ASSERT_OK(media);
    media_ = std::move(*media);
    check_at_teardown_ = false;
  }
  // check() of media_, and whether one of its findings names `where` and
  // says `what`.
  CheckReport check() {
    auto r = FileSystem::check(*media_);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? *r : CheckReport{};
  }
  bool mentions(const CheckReport& r, const std::string& where, const std::string& what) {
    return std::any_of(r.findings.begin(), r.findings.end(), [&](const CheckFinding& f) {
      return f.where.find(where) != std::string::npos && f.what.find(what) != std::string::npos;
    });
  }

  std::unique_ptr<ScratchDir> scratch_;
  std::string path_;
  std::unique_ptr<FileSystem> fs_;
  std::unique_ptr<Media> media_;  // set by unmount_for_editing()
  Caller caller_{4242, 1000, 1000};
  bool check_at_teardown_ = true;
};

}  // namespace pinfs::fs::testing
