// Extended attributes and timestamps through the mount.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/mount/file_io.h"
#include "tests/mount/mount_test_fixture.h"
#include "tests/mount/subprocess.h"

namespace pinfs::mount_test {
namespace {

using namespace std::chrono_literals;

// ---------------------------------------------------------------- xattrs

class XattrTest : public MountTest {
 protected:
  void SetUp() override {
    MountTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    f_ = path("f");
    ASSERT_EQ(write_file(f_, "data"), 0);
  }
  int set(const std::string& name, const std::string& value, int flags = 0) {
    return errno_of(setxattr(f_.c_str(), name.c_str(), value.data(), value.size(), flags));
  }
  // The value, or "<errno N>" when getxattr fails.
  std::string get(const std::string& name) {
    std::string buf(70000, '\0');
    ssize_t n = getxattr(f_.c_str(), name.c_str(), buf.data(), buf.size());
    if (n < 0) return "<errno " + std::to_string(errno) + ">";
    buf.resize(static_cast<size_t>(n));
    return buf;
  }
  std::vector<std::string> list() {
    std::string buf(65536, '\0');
    ssize_t n = listxattr(f_.c_str(), buf.data(), buf.size());
    std::vector<std::string> names;
    if (n < 0) return {"<errno " + std::to_string(errno) + ">"};
    for (size_t pos = 0; pos < static_cast<size_t>(n);) {
      names.emplace_back(buf.c_str() + pos);
      pos += names.back().size() + 1;
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  std::string f_;
};

TEST_F(XattrTest, SetGetListAndRemoveRoundTrip) {
  const std::string binary = pattern(3000, 1) + std::string("\0\0zero\0", 7);
  ASSERT_EQ(set("user.text", "hello"), 0);
  ASSERT_EQ(set("user.binary", binary), 0);
  ASSERT_EQ(set("user.empty", ""), 0);
  EXPECT_EQ(get("user.text"), "hello");
  EXPECT_EQ(get("user.binary"), binary);
  EXPECT_EQ(get("user.empty"), "");
  EXPECT_EQ(getxattr(f_.c_str(), "user.binary", nullptr, 0), static_cast<ssize_t>(binary.size()))
      << "a size query must return the value's length";
  EXPECT_EQ(list(), (std::vector<std::string>{"user.binary", "user.empty", "user.text"}));

  ASSERT_EQ(errno_of(removexattr(f_.c_str(), "user.text")), 0);
  EXPECT_EQ(get("user.text"), "<errno " + std::to_string(ENODATA) + ">");
  EXPECT_EQ(list(), (std::vector<std::string>{"user.binary", "user.empty"}));
  // The file's data is untouched by all of it.
  EXPECT_EQ(contents_difference(f_, "data"), "");
}

TEST_F(XattrTest, MissingAttributesFailWithEnodata) {
  EXPECT_EQ(errno_of(getxattr(f_.c_str(), "user.none", nullptr, 0)), ENODATA);
  EXPECT_EQ(errno_of(removexattr(f_.c_str(), "user.none")), ENODATA);
  EXPECT_EQ(list(), std::vector<std::string>{});
}

TEST_F(XattrTest, XattrCreateOnAnExistingNameFailsWithEexist) {
  ASSERT_EQ(set("user.a", "1", XATTR_CREATE), 0);
  EXPECT_EQ(set("user.a", "2", XATTR_CREATE), EEXIST);
  EXPECT_EQ(get("user.a"), "1");
}

TEST_F(XattrTest, XattrReplaceOnAMissingNameFailsWithEnodata) {
  EXPECT_EQ(set("user.b", "1", XATTR_REPLACE), ENODATA);
  EXPECT_EQ(errno_of(getxattr(f_.c_str(), "user.b", nullptr, 0)), ENODATA);
  ASSERT_EQ(set("user.b", "1"), 0);
  EXPECT_EQ(set("user.b", "a longer replacement value", XATTR_REPLACE), 0);
  EXPECT_EQ(get("user.b"), "a longer replacement value");
  EXPECT_EQ(set("user.b", "x", XATTR_REPLACE), 0);
  EXPECT_EQ(get("user.b"), "x");
}

TEST_F(XattrTest, TooSmallBuffersFailWithErange) {
  ASSERT_EQ(set("user.long", std::string(100, 'v')), 0);
  char small[10];
  EXPECT_EQ(errno_of(getxattr(f_.c_str(), "user.long", small, sizeof small)), ERANGE);
  EXPECT_EQ(errno_of(listxattr(f_.c_str(), small, 3)), ERANGE);
}

TEST_F(XattrTest, DirectoriesCarryXattrsToo) {
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);
  const std::string d = path("d");
  ASSERT_EQ(errno_of(setxattr(d.c_str(), "user.dir", "v", 1, 0)), 0);
  char buf[8];
  EXPECT_EQ(getxattr(d.c_str(), "user.dir", buf, sizeof buf), 1);
}

TEST_F(XattrTest, ManyNamesAndTheLargestValueRoundTrip) {
  // 64 KiB is the kernel's XATTR_SIZE_MAX and pinfs's documented limit
  // (kXattrValueMaxBytes).
  const std::string largest = pattern(65536, 2);
  ASSERT_EQ(set("user.largest", largest), 0);
  EXPECT_EQ(get("user.largest"), largest);
  std::vector<std::string> want = {"user.largest"};
  for (int i = 0; i < 100; ++i) {
    const std::string name = "user.n" + std::to_string(i);
    ASSERT_EQ(set(name, pattern(100 + i, static_cast<std::uint64_t>(i))), 0) << name;
    want.push_back(name);
  }
  std::sort(want.begin(), want.end());
  EXPECT_EQ(list(), want);
  for (int i = 0; i < 100; i += 7) {
    const std::string name = "user.n" + std::to_string(i);
    EXPECT_EQ(get(name), pattern(100 + i, static_cast<std::uint64_t>(i))) << name;
  }
  EXPECT_EQ(get("user.largest"), largest);
  // Past the limit the kernel refuses before pinfs sees it.
  EXPECT_EQ(set("user.too-large", std::string(65537, 'x')), E2BIG);
}

TEST_F(XattrTest, SetfattrAndGetfattrRoundTrip) {
  std::vector<std::string> set_cmd = {"setfattr", "-n", "user.cli", "-v", "from setfattr", f_};
  Output out = run(set_cmd);
  ASSERT_TRUE(out.status.success()) << describe_run(set_cmd, out);
  std::vector<std::string> get_cmd = {"getfattr", "--absolute-names", "--only-values", "-n",
                                      "user.cli", f_};
  out = run(get_cmd);
  ASSERT_TRUE(out.status.success()) << describe_run(get_cmd, out);
  EXPECT_EQ(out.out, "from setfattr");
  std::vector<std::string> dump = {"getfattr", "--absolute-names", "-d", f_};
  out = run(dump);
  ASSERT_TRUE(out.status.success()) << describe_run(dump, out);
  EXPECT_NE(out.out.find("user.cli=\"from setfattr\""), std::string::npos) << out.out;
  std::vector<std::string> remove = {"setfattr", "-x", "user.cli", f_};
  out = run(remove);
  ASSERT_TRUE(out.status.success()) << describe_run(remove, out);
  EXPECT_EQ(errno_of(getxattr(f_.c_str(), "user.cli", nullptr, 0)), ENODATA);
}

// ---------------------------------------------------------------- times

class TimestampTest : public MountTest {
 protected:
  void SetUp() override {
    MountTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    f_ = path("f");
    ASSERT_EQ(write_file(f_, "data"), 0);
    // Known times to start from.
    struct timespec ts[2] = {{1000000000, 111}, {1100000000, 222}};
    ASSERT_EQ(errno_of(utimensat(AT_FDCWD, f_.c_str(), ts, 0)), 0);
  }
  int utimens(struct timespec atime, struct timespec mtime) {
    struct timespec ts[2] = {atime, mtime};
    return errno_of(utimensat(AT_FDCWD, f_.c_str(), ts, 0));
  }
  std::string f_;
};

// Is t within [before - slack, after + slack]? The kernel's file times come
// from a coarse clock (one tick behind CLOCK_REALTIME at most).
::testing::AssertionResult is_now(const struct timespec& t, const struct timespec& before,
                                  const struct timespec& after) {
  constexpr long long kSlackNs = 50'000'000;
  if (diff_ns(t, before) >= -kSlackNs && diff_ns(after, t) >= -kSlackNs) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "time " << t.tv_sec << "." << t.tv_nsec << " is not between " << before.tv_sec << "."
         << before.tv_nsec << " and " << after.tv_sec << "." << after.tv_nsec;
}

bool same_time(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

TEST_F(TimestampTest, ExplicitTimesAreKeptToTheNanosecond) {
  ASSERT_EQ(utimens({1234567890, 123456789}, {1334567890, 987654321}), 0);
  struct stat st = stat_of(f_);
  EXPECT_EQ(st.st_atim.tv_sec, 1234567890);
  EXPECT_EQ(st.st_atim.tv_nsec, 123456789);
  EXPECT_EQ(st.st_mtim.tv_sec, 1334567890);
  EXPECT_EQ(st.st_mtim.tv_nsec, 987654321);
  // Before 1970 too, as ext4 keeps it.
  ASSERT_EQ(utimens({-86400, 5}, {-1, 999999999}), 0);
  st = stat_of(f_);
  EXPECT_EQ(st.st_atim.tv_sec, -86400);
  EXPECT_EQ(st.st_mtim.tv_sec, -1);
  EXPECT_EQ(st.st_mtim.tv_nsec, 999999999);
}

TEST_F(TimestampTest, UtimeNowSetsBothTimesToNowAndUpdatesCtime) {
  const struct timespec before = now_realtime();
  ASSERT_EQ(errno_of(utimensat(AT_FDCWD, f_.c_str(), nullptr, 0)), 0);
  const struct timespec after = now_realtime();
  struct stat st = stat_of(f_);
  EXPECT_TRUE(is_now(st.st_atim, before, after)) << "atime";
  EXPECT_TRUE(is_now(st.st_mtim, before, after)) << "mtime";
  EXPECT_TRUE(is_now(st.st_ctim, before, after)) << "ctime";

  const struct timespec before2 = now_realtime();
  ASSERT_EQ(utimens({0, UTIME_NOW}, {0, UTIME_NOW}), 0);
  st = stat_of(f_);
  EXPECT_TRUE(is_now(st.st_atim, before2, now_realtime())) << "atime";
  EXPECT_TRUE(is_now(st.st_mtim, before2, now_realtime())) << "mtime";
}

TEST_F(TimestampTest, UtimeOmitLeavesThatTimeUnchanged) {
  const struct stat start = stat_of(f_);
  std::this_thread::sleep_for(20ms);
  ASSERT_EQ(utimens({0, UTIME_OMIT}, {1200000000, 333}), 0);
  struct stat st = stat_of(f_);
  EXPECT_TRUE(same_time(st.st_atim, start.st_atim)) << "UTIME_OMIT changed the atime";
  EXPECT_EQ(st.st_mtim.tv_sec, 1200000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 333);
  EXPECT_GT(diff_ns(st.st_ctim, start.st_ctim), 0) << "changing the mtime kept the ctime";

  ASSERT_EQ(utimens({1300000000, 444}, {0, UTIME_OMIT}), 0);
  st = stat_of(f_);
  EXPECT_EQ(st.st_atim.tv_sec, 1300000000);
  EXPECT_EQ(st.st_atim.tv_nsec, 444);
  EXPECT_EQ(st.st_mtim.tv_sec, 1200000000) << "UTIME_OMIT changed the mtime";
  EXPECT_EQ(st.st_mtim.tv_nsec, 333);

  const struct timespec before = now_realtime();
  ASSERT_EQ(utimens({0, UTIME_NOW}, {0, UTIME_OMIT}), 0);
  st = stat_of(f_);
  EXPECT_TRUE(is_now(st.st_atim, before, now_realtime()));
  EXPECT_EQ(st.st_mtim.tv_sec, 1200000000) << "UTIME_OMIT changed the mtime";

  const struct stat unchanged = stat_of(f_);
  ASSERT_EQ(utimens({0, UTIME_OMIT}, {0, UTIME_OMIT}), 0);
  st = stat_of(f_);
  EXPECT_TRUE(same_time(st.st_atim, unchanged.st_atim));
  EXPECT_TRUE(same_time(st.st_mtim, unchanged.st_mtim));
  EXPECT_TRUE(same_time(st.st_ctim, unchanged.st_ctim));
}

TEST_F(TimestampTest, WriteAndTruncateUpdateMtimeAndCtime) {
  const struct stat start = stat_of(f_);
  const struct timespec before = now_realtime();
  ASSERT_EQ(write_at(f_, 2, "XY"), 0);
  struct stat st = stat_of(f_);
  EXPECT_TRUE(is_now(st.st_mtim, before, now_realtime())) << "write did not set the mtime";
  EXPECT_TRUE(is_now(st.st_ctim, before, now_realtime())) << "write did not set the ctime";
  EXPECT_TRUE(same_time(st.st_atim, start.st_atim));

  ASSERT_EQ(utimens({1000000000, 0}, {1000000000, 0}), 0);
  const struct timespec before_truncate = now_realtime();
  ASSERT_EQ(errno_of(truncate(f_.c_str(), 1)), 0);
  st = stat_of(f_);
  EXPECT_TRUE(is_now(st.st_mtim, before_truncate, now_realtime()))
      << "truncate did not set the mtime";
  EXPECT_TRUE(is_now(st.st_ctim, before_truncate, now_realtime()));
}

TEST_F(TimestampTest, ChmodChownAndXattrsUpdateCtimeButNotMtime) {
  const struct stat start = stat_of(f_);
  std::this_thread::sleep_for(20ms);
  ASSERT_EQ(errno_of(chmod(f_.c_str(), 0600)), 0);
  struct stat st = stat_of(f_);
  EXPECT_GT(diff_ns(st.st_ctim, start.st_ctim), 0) << "chmod kept the ctime";
  EXPECT_TRUE(same_time(st.st_mtim, start.st_mtim)) << "chmod changed the mtime";

  struct stat prev = st;
  std::this_thread::sleep_for(20ms);
  ASSERT_EQ(errno_of(chown(f_.c_str(), 1234, 5678)), 0);
  st = stat_of(f_);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_GT(diff_ns(st.st_ctim, prev.st_ctim), 0) << "chown kept the ctime";
  EXPECT_TRUE(same_time(st.st_mtim, start.st_mtim)) << "chown changed the mtime";

  prev = st;
  std::this_thread::sleep_for(20ms);
  ASSERT_EQ(errno_of(setxattr(f_.c_str(), "user.t", "v", 1, 0)), 0);
  st = stat_of(f_);
  EXPECT_GT(diff_ns(st.st_ctim, prev.st_ctim), 0) << "setxattr kept the ctime";
  EXPECT_TRUE(same_time(st.st_mtim, start.st_mtim)) << "setxattr changed the mtime";
}

TEST_F(TimestampTest, CreatingAndRemovingEntriesUpdatesTheDirectorysMtimeAndCtime) {
  ASSERT_EQ(mkdir(path("d").c_str(), 0755), 0);
  const std::string d = path("d");
  struct timespec old_times[2] = {{1000000000, 0}, {1000000000, 0}};
  auto reset = [&] { ASSERT_EQ(errno_of(utimensat(AT_FDCWD, d.c_str(), old_times, 0)), 0); };

  struct { const char* what; std::function<int()> op; } steps[] = {
      {"create", [&] { return write_file(d + "/f", "x"); }},
      {"mkdir", [&] { return errno_of(mkdir((d + "/sub").c_str(), 0755)); }},
      {"rename within", [&] { return errno_of(rename((d + "/f").c_str(), (d + "/g").c_str())); }},
      {"link", [&] { return errno_of(link((d + "/g").c_str(), (d + "/h").c_str())); }},
      {"symlink", [&] { return errno_of(symlink("g", (d + "/s").c_str())); }},
      {"unlink", [&] { return errno_of(unlink((d + "/h").c_str())); }},
      {"rmdir", [&] { return errno_of(rmdir((d + "/sub").c_str())); }},
  };
  for (const auto& step : steps) {
    ASSERT_NO_FATAL_FAILURE(reset());
    const struct timespec reset_ctime = stat_of(d).st_ctim;
    std::this_thread::sleep_for(20ms);
    const struct timespec before = now_realtime();
    ASSERT_EQ(step.op(), 0) << step.what;
    struct stat st = stat_of(d);
    EXPECT_TRUE(is_now(st.st_mtim, before, now_realtime())) << step.what << ": mtime";
    EXPECT_GT(diff_ns(st.st_ctim, reset_ctime), 0) << step.what << ": ctime unchanged";
  }
}

}  // namespace
}  // namespace pinfs::mount_test
