// Damaged images: a seeded corrupter flips bits, zeroes, fills, scrambles,
// duplicates and truncates each region that FileSystem::regions() names, in a
// clean image and in one left by a power failure. For each damaged image,
// check, a read-only mount and a read-write mount must not crash or hang;
// they succeed or return a clear Error (EUCLEAN, EIO or EINVAL and a message);
// check reports damage that mount refuses; and none of them writes to an
// image it rejects (check and read-only mounts never write at all).
//
// Runs in-process: a watchdog aborts a case that hangs and a signal handler
// prints the case (region, damage, seed) before a crash kills the test.
//
// Environment: PINFS_CORRUPT_CASES       cases per region (default 150)
//              PINFS_CORRUPT_SEED        first seed       (default 1)
//              PINFS_CORRUPT_KEEP_GOING  set: do not stop at the first failing case
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "fs/filesystem.h"
#include "fs/media.h"
#include "tests/crash/record_sealer.h"
#include "tests/crash/sample_image.h"
#include "tests/crash/tree_snapshot.h"
#include "tests/crash/tree_walker.h"
#include "tests/test_env.h"

namespace pinfs::crashtest {
namespace {

constexpr std::uint64_t kImageBytes = 4 << 20;
constexpr std::uint64_t kMapAlignmentBytes = 4096;
constexpr auto kCaseTimeLimit = std::chrono::seconds(30);

// --- the case in progress, for the watchdog and the crash handler -----------

char g_case[512] = "(no case)";

// Never destroyed: the detached watchdog thread waits on it until exit, and
// destroying a condition variable that a thread waits on blocks the exit.
struct Watchdog {
  std::mutex mutex;
  std::condition_variable cv;
  std::chrono::steady_clock::time_point deadline;  // guarded by mutex
  bool armed = false;                               // guarded by mutex
};
Watchdog& watchdog_state() {
  static Watchdog* w = new Watchdog();
  return *w;
}

void write_stderr(const char* s) {
  ssize_t ignored = ::write(STDERR_FILENO, s, std::strlen(s));
  (void)ignored;
}

void on_fatal_signal(int sig) {
  write_stderr("\ncorrupt: FATAL SIGNAL ");
  write_stderr(strsignal(sig));
  write_stderr(" in case: ");
  write_stderr(g_case);
  write_stderr("\n");
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void watchdog() {
  Watchdog& w = watchdog_state();
  std::unique_lock lock(w.mutex);
  for (;;) {
    if (!w.armed) {
      w.cv.wait(lock);
      continue;
    }
    if (w.cv.wait_until(lock, w.deadline) == std::cv_status::timeout && w.armed &&
        std::chrono::steady_clock::now() >= w.deadline) {
      write_stderr("\ncorrupt: HANG (no progress for 30 s) in case: ");
      write_stderr(g_case);
      write_stderr("\n");
      std::abort();
    }
  }
}

// Arms the watchdog and names the case for the crash handler.
class CaseGuard {
 public:
  explicit CaseGuard(const std::string& description) {
    static bool installed = [] {
      for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) ::signal(sig, on_fatal_signal);
      std::thread(watchdog).detach();
      return true;
    }();
    (void)installed;
    Watchdog& w = watchdog_state();
    std::lock_guard lock(w.mutex);
    std::snprintf(g_case, sizeof g_case, "%s", description.c_str());
    w.deadline = std::chrono::steady_clock::now() + kCaseTimeLimit;
    w.armed = true;
    w.cv.notify_all();
  }
  ~CaseGuard() {
    Watchdog& w = watchdog_state();
    std::lock_guard lock(w.mutex);
    w.armed = false;
    w.cv.notify_all();
  }
  CaseGuard(const CaseGuard&) = delete;
  CaseGuard& operator=(const CaseGuard&) = delete;
};

// --- images ----------------------------------------------------------------

const SampleImage& sample() {
  static const SampleImage* image = [] {
    SampleImageOptions o;
    o.image_bytes = kImageBytes;
    o.map_alignment_bytes = kMapAlignmentBytes;
    auto built = build_sample_image(o);
    if (!built.ok()) {
      ADD_FAILURE() << "building the sample image: " << built.error().message();
      return static_cast<SampleImage*>(nullptr);
    }
    return new SampleImage(std::move(*built));
  }();
  return *image;
}

class TempFile {
 public:
  // In /dev/shm when there is one: every persist on a plain file is an
  // msync, which costs milliseconds on a disk and nothing on tmpfs.
  TempFile() {
    std::string dir = ::access("/dev/shm", W_OK) == 0 ? std::string("/dev/shm")
                                                      : pinfs::testing::env_or_empty("TMPDIR");
    path_ = (dir.empty() ? std::string("/tmp") : dir) + "/pinfs-corrupt-XXXXXX";
    int fd = ::mkstemp(path_.data());
    if (fd >= 0) ::close(fd);
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

  void write(const std::vector<std::byte>& bytes) const {
    int fd = ::open(path_.c_str(), O_WRONLY | O_TRUNC);
    ASSERT_GE(fd, 0) << path_;
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }
  std::vector<std::byte> read() const {
    std::vector<std::byte> out;
    int fd = ::open(path_.c_str(), O_RDONLY);
    if (fd < 0) return out;
    std::byte buf[1 << 16];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.insert(out.end(), buf, buf + n);
    ::close(fd);
    return out;
  }

 private:
  std::string path_;
};

// --- damage ----------------------------------------------------------------

// Bit rot and misdirected writes (caught by CRCs), truncation, and damage
// with the CRCs recomputed: what a bug that writes wrong metadata leaves.
enum class Damage {
  flip_bits,
  zero_range,
  fill_ones,
  random_bytes,
  duplicate_line,
  truncate,
  resealed_flip_bits,
  resealed_random_bytes,
};
constexpr Damage kDamages[] = {
    Damage::flip_bits,      Damage::resealed_flip_bits, Damage::zero_range,
    Damage::random_bytes,   Damage::resealed_random_bytes, Damage::fill_ones,
    Damage::duplicate_line, Damage::resealed_flip_bits, Damage::truncate,
    Damage::resealed_random_bytes};

const char* to_string(Damage d) {
  switch (d) {
    case Damage::flip_bits: return "flip-bits";
    case Damage::zero_range: return "zero-range";
    case Damage::fill_ones: return "fill-0xff";
    case Damage::random_bytes: return "random-bytes";
    case Damage::duplicate_line: return "duplicate-line";
    case Damage::truncate: return "truncate";
    case Damage::resealed_flip_bits: return "resealed-flip-bits";
    case Damage::resealed_random_bytes: return "resealed-random-bytes";
  }
  return "?";
}

// Damages image within region; returns what it did. Most damage lands on
// bytes in use (non-zero): a region is mostly empty slots in a small image.
std::string damage_image(std::vector<std::byte>& image, const fs::MediaRegion& region,
                         const std::vector<fs::MediaRegion>& all_regions, Damage damage,
                         std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](std::uint64_t lo, std::uint64_t hi) {
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
  };
  const std::uint64_t begin = region.offset;
  const std::uint64_t length = std::max<std::uint64_t>(1, region.length);
  std::vector<std::uint64_t> in_use;
  for (std::uint64_t i = begin; i < begin + length && i < image.size(); ++i) {
    if (image[i] != std::byte{0}) in_use.push_back(i);
  }
  auto position = [&] {
    if (!in_use.empty() && uniform(0, 3) != 0) return in_use[uniform(0, in_use.size() - 1)];
    return begin + uniform(0, length - 1);
  };
  auto range = [&](std::uint64_t max_len) {
    std::uint64_t off = position();
    std::uint64_t len = std::min(uniform(1, max_len), begin + length - off);
    return std::pair{off, len};
  };
  switch (damage) {
    case Damage::flip_bits:
    case Damage::resealed_flip_bits: {
      std::string what = "flipped bits at";
      std::uint64_t n = uniform(1, damage == Damage::flip_bits ? 8 : 3);
      for (std::uint64_t i = 0; i < n; ++i) {
        std::uint64_t off = position();
        image[off] ^= static_cast<std::byte>(1u << uniform(0, 7));
        if (damage == Damage::resealed_flip_bits) reseal_records(image, all_regions, off, 1);
        what += fmt::format(" {}", off);
      }
      return what;
    }
    case Damage::resealed_random_bytes: {
      auto [off, len] = range(16);
      for (std::uint64_t i = off; i < off + len; ++i) image[i] = static_cast<std::byte>(rng());
      reseal_records(image, all_regions, off, len);
      return fmt::format("random bytes [{}, +{}), resealed", off, len);
    }
    case Damage::zero_range:
    case Damage::fill_ones:
    case Damage::random_bytes: {
      auto [off, len] = range(damage == Damage::random_bytes ? 64 : 4096);
      for (std::uint64_t i = off; i < off + len; ++i) {
        image[i] = damage == Damage::zero_range  ? std::byte{0}
                   : damage == Damage::fill_ones ? std::byte{0xff}
                                                 : static_cast<std::byte>(rng());
      }
      return fmt::format("{} [{}, +{})", to_string(damage), off, len);
    }
    case Damage::duplicate_line: {
      // A misdirected write: one 64-byte line of the region copied over another.
      std::uint64_t lines = std::max<std::uint64_t>(1, length / 64);
      std::uint64_t from = begin + uniform(0, lines - 1) * 64;
      std::uint64_t to = begin + uniform(0, lines - 1) * 64;
      std::uint64_t n = std::min<std::uint64_t>(64, image.size() - std::max(from, to));
      std::memmove(image.data() + to, image.data() + from, n);
      return fmt::format("copied line {} over {}", from, to);
    }
    case Damage::truncate: {
      std::uint64_t at = begin + uniform(0, length - 1);
      if (uniform(0, 3) != 0) at -= at % 4096;  // usually what a short copy leaves
      at = std::min<std::uint64_t>(at, image.size() - 4096);
      image.resize(at);
      return fmt::format("truncated to {} bytes", at);
    }
  }
  return "?";
}

// --- running a case ---------------------------------------------------------

struct CaseOutcome {
  bool check_detected = false;   // check returned an error or findings
  bool mount_rejected = false;   // the read-write mount returned an error
  bool use_detected = false;     // mounted, but a later call reported damage
  std::string check_says, mount_says, use_says;
};

bool is_corruption_errno(int e) { return e == EUCLEAN || e == EIO || e == EINVAL; }

bool same_bytes(const std::byte* data, std::size_t size, const std::vector<std::byte>& image) {
  return size == image.size() && (size == 0 || std::memcmp(data, image.data(), size) == 0);
}

void exercise_mounted(fs::FileSystem& f, CaseOutcome& out, const std::string& what, bool mutate) {
  WalkCounts walk = walk_everything(f);
  EXPECT_EQ(walk.unclear_error, "") << what;
  for (const auto& [errnum, n] : walk.errors) {
    if (errnum == EUCLEAN || errnum == EIO) out.use_detected = true;
  }
  if (out.use_detected && out.use_says.empty()) out.use_says = walk.first_damage;
  if (!mutate) return;
  fs::Caller caller{::getpid(), 0, 0};
  auto made = f.mknod(fs::kRootInode, "corrupt-probe", S_IFREG | 0644, 0, caller);
  if (!made.ok()) {
    EXPECT_TRUE(is_clear(made.error())) << what << ": " << made.error().message();
    return;
  }
  std::vector<std::byte> data(10000, std::byte{0x5a});
  auto written = f.write(made->ino, 0, data, caller);
  if (!written.ok()) {
    EXPECT_TRUE(is_clear(written.error())) << what;
  }
  auto removed = f.unlink(fs::kRootInode, "corrupt-probe", caller);
  if (!removed.ok()) {
    EXPECT_TRUE(is_clear(removed.error())) << what;
  }
}

CaseOutcome run_case(const std::vector<std::byte>& image, const std::string& what,
                     const TempFile& file) {
  CaseGuard guard(what);
  CaseOutcome out;
  // A file-backed media needs whole pages and the media minimum; other sizes
  // run on memory media.
  const bool file_backed = image.size() % 4096 == 0 && image.size() >= fs::kMinMediaBytes;
  if (file_backed) file.write(image);
  auto open_media = [&](bool read_only) -> std::unique_ptr<fs::Media> {
    if (!file_backed) return fs::Media::from_image(image, kMapAlignmentBytes);
    fs::MediaOpenOptions o;
    o.read_only = read_only;
    auto m = fs::Media::open(file.path(), o);
    EXPECT_TRUE(m.ok()) << m.error().message();
    return m.ok() ? std::move(*m) : nullptr;
  };

  // 1. check never writes (a read-only mapping faults on a store).
  {
    auto media = open_media(true);
    if (media == nullptr) return out;
    auto report = fs::FileSystem::check(*media);
    EXPECT_TRUE(same_bytes(media->data(), media->size_bytes(), image)) << what << ": check wrote";
    if (!report.ok()) {
      out.check_detected = true;
      out.check_says = report.error().message();
      EXPECT_TRUE(is_clear(report.error()) && is_corruption_errno(report.error().errnum()))
          << what << ": check: " << report.error().message();
    } else if (!report->clean()) {
      out.check_detected = true;
      out.check_says = report->findings.front().where + ": " + report->findings.front().what;
      for (const auto& finding : report->findings) {
        EXPECT_FALSE(finding.where.empty() || finding.what.empty()) << what;
      }
    }
  }
  // 2. A read-only mount never writes either.
  {
    auto media = open_media(true);
    if (media == nullptr) return out;
    fs::MountOptions ro;
    ro.read_only = true;
    auto mounted = fs::FileSystem::mount(std::move(media), ro);
    if (!mounted.ok()) {
      // A dirty journal is EROFS-like refusal on a read-only mount, also clear.
      EXPECT_TRUE(is_clear(mounted.error())) << what << ": " << mounted.error().message();
    } else {
      exercise_mounted(**mounted, out, what + " (read-only)", false);
      const fs::Media& m = (*mounted)->media();
      EXPECT_TRUE(same_bytes(m.data(), m.size_bytes(), image)) << what << ": read-only mount wrote";
      auto st = (*mounted)->unmount();
      if (!st.ok()) {
    EXPECT_TRUE(is_clear(st.error())) << what;
  }
    }
  }
  // 3. A read-write mount that refuses the image leaves it as it was.
  {
    auto media = open_media(false);
    if (media == nullptr) return out;
    const fs::Media* raw = media.get();
    auto mounted = fs::FileSystem::mount(std::move(media));
    if (!mounted.ok()) {
      out.mount_rejected = true;
      out.mount_says = mounted.error().message();
      EXPECT_TRUE(is_clear(mounted.error()) && is_corruption_errno(mounted.error().errnum()))
          << what << ": mount: " << mounted.error().message();
      if (file_backed) {
        EXPECT_TRUE(file.read() == image) << what << ": the refused mount wrote to the image";
      }
    } else {
      (void)raw;
      exercise_mounted(**mounted, out, what, true);
      auto st = (*mounted)->unmount();
      if (!st.ok()) {
    EXPECT_TRUE(is_clear(st.error())) << what;
  }
    }
  }
  // Damage that mount refuses or a read stumbles on, check reports: it is
  // what an administrator runs when the mount or a read fails.
  if (out.mount_rejected) {
    EXPECT_TRUE(out.check_detected)
        << what << ": mount refused the image (" << out.mount_says << ") but check found it clean";
  }
  if (out.use_detected) {
    EXPECT_TRUE(out.check_detected)
        << what << ": a read failed (" << out.use_says << ") but check found the image clean";
  }
  return out;
}

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  std::string v = pinfs::testing::env_or_empty(name);
  return v.empty() ? fallback : std::strtoull(v.c_str(), nullptr, 0);
}

// --- tests -----------------------------------------------------------------

TEST(CorruptTest, TheUndamagedImagesMountAndCheckClean) {
  const SampleImage& s = sample();
  ASSERT_FALSE(s.clean.empty());
  TempFile file;
  for (const auto* image : {&s.clean, &s.dirty}) {
    CaseOutcome out = run_case(*image, image == &s.clean ? "clean image" : "dirty image", file);
    EXPECT_FALSE(out.mount_rejected) << out.mount_says;
  }
  auto media = fs::Media::from_image(s.clean, kMapAlignmentBytes);
  auto report = fs::FileSystem::check(*media);
  ASSERT_TRUE(report.ok()) << report.error().message();
  EXPECT_TRUE(report->clean()) << report->findings.front().where << ": "
                               << report->findings.front().what;
  auto mounted = fs::FileSystem::mount(std::move(media));
  ASSERT_TRUE(mounted.ok()) << mounted.error().message();
  auto snap = read_tree(**mounted);
  ASSERT_TRUE(snap.ok()) << snap.error().message();
  auto d = diff(s.model, *snap);
  EXPECT_TRUE(d.empty()) << d.front();

  auto recovered = fs::FileSystem::mount(fs::Media::from_image(s.dirty, kMapAlignmentBytes));
  ASSERT_TRUE(recovered.ok()) << recovered.error().message();
  auto dirty_snap = read_tree(**recovered);
  ASSERT_TRUE(dirty_snap.ok()) << dirty_snap.error().message();
  EXPECT_TRUE(diff(s.model, *dirty_snap).empty() || diff(s.model_after_dirty_op, *dirty_snap).empty())
      << "the dirty image recovers to neither side of its last rename";
}

TEST(CorruptTest, DamageInEveryRegionIsRefusedClearlyOrHarmlessAndNeverWritten) {
  const SampleImage& s = sample();
  ASSERT_FALSE(s.clean.empty());
  auto layout = fs::FileSystem::regions(*fs::Media::from_image(s.clean, kMapAlignmentBytes));
  ASSERT_TRUE(layout.ok()) << layout.error().message();
  std::map<std::string, std::vector<fs::MediaRegion>> by_name;
  for (const auto& r : *layout) {
    if (r.length > 0 && r.offset + r.length <= s.clean.size()) by_name[r.name].push_back(r);
  }
  ASSERT_FALSE(by_name.empty());
  const std::uint64_t cases = env_u64("PINFS_CORRUPT_CASES", 150);
  const std::uint64_t first_seed = env_u64("PINFS_CORRUPT_SEED", 1);
  const bool keep_going = !pinfs::testing::env_or_empty("PINFS_CORRUPT_KEEP_GOING").empty();
  std::printf("corrupt: %zu region kinds, %llu cases each, seeds from %llu (PINFS_CORRUPT_SEED)\n",
              by_name.size(), static_cast<unsigned long long>(cases),
              static_cast<unsigned long long>(first_seed));

  struct Tally {
    std::uint64_t both = 0, mount_only = 0, check_only = 0, at_use = 0, harmless = 0;
  };
  std::map<std::string, Tally> tally;
  TempFile file;
  auto start = std::chrono::steady_clock::now();
  for (const auto& [name, regions] : by_name) {
    for (std::uint64_t i = 0; i < cases; ++i) {
      std::uint64_t seed = first_seed + i;
      Damage damage = kDamages[i % std::size(kDamages)];
      bool dirty = i % 3 == 2;
      const fs::MediaRegion& region = regions[seed % regions.size()];
      std::vector<std::byte> image = dirty ? s.dirty : s.clean;
      std::string did = damage_image(image, region, *layout, damage, seed);
      std::string what =
          fmt::format("region {} [{}, +{}) of the {} image, {} seed {}: {}", name, region.offset,
                      region.length, dirty ? "dirty" : "clean", to_string(damage), seed, did);
      CaseOutcome out = run_case(image, what, file);
      if (damage == Damage::truncate) {
        EXPECT_TRUE(out.mount_rejected) << what << ": a truncated image mounted";
      }
      Tally& t = tally[name];
      if (out.mount_rejected && out.check_detected) {
        ++t.both;
      } else if (out.mount_rejected) {
        ++t.mount_only;
      } else if (out.check_detected) {
        ++t.check_only;
      } else if (out.use_detected) {
        ++t.at_use;
      } else {
        ++t.harmless;
      }
      if (::testing::Test::HasFailure() && !keep_going) {
        std::printf("corrupt: first failing case: %s\n", what.c_str());
        break;
      }
    }
    if (::testing::Test::HasFailure() && !keep_going) break;
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("corrupt: %-16s %8s %8s %8s %8s %8s\n", "region", "mnt+chk", "mnt-only",
              "chk-only", "at-use", "harmless");
  for (const auto& [name, t] : tally) {
    std::printf("corrupt: %-16s %8llu %8llu %8llu %8llu %8llu\n", name.c_str(),
                static_cast<unsigned long long>(t.both), static_cast<unsigned long long>(t.mount_only),
                static_cast<unsigned long long>(t.check_only),
                static_cast<unsigned long long>(t.at_use),
                static_cast<unsigned long long>(t.harmless));
  }
  std::printf("corrupt: %.1f s\n", seconds);
}

TEST(CorruptTest, ATruncatedImageFileIsAClearErrorAndStaysUntouched) {
  const SampleImage& s = sample();
  ASSERT_FALSE(s.clean.empty());
  std::vector<std::byte> half(s.clean.begin(), s.clean.begin() + static_cast<std::ptrdiff_t>(s.clean.size() / 2));
  TempFile file;
  file.write(half);
  {
    auto media = fs::Media::open(file.path());
    ASSERT_TRUE(media.ok()) << media.error().message();
    auto mounted = fs::FileSystem::mount(std::move(*media));
    ASSERT_FALSE(mounted.ok()) << "a half image mounted";
    EXPECT_TRUE(mounted.error().errnum() == EINVAL || mounted.error().errnum() == EUCLEAN)
        << mounted.error().message();
    EXPECT_FALSE(mounted.error().detail().empty()) << mounted.error().message();
    std::printf("corrupt: truncated image: %s\n", mounted.error().message().c_str());
  }
  {
    fs::MediaOpenOptions ro;
    ro.read_only = true;
    auto media = fs::Media::open(file.path(), ro);
    ASSERT_TRUE(media.ok()) << media.error().message();
    auto report = fs::FileSystem::check(**media);
    EXPECT_TRUE(!report.ok() || !report->clean()) << "check found a half image clean";
  }
  EXPECT_TRUE(file.read() == half) << "the refused image was written";
}

}  // namespace
}  // namespace pinfs::crashtest
