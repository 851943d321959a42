// Power failures at the persist points of a seeded random workload, replayed
// on durability-tracking media (DESIGN.md §5): every operation that returned
// survives, the one in flight is applied wholly or not at all (a write may
// leave a mix of old and new bytes within its range), recovery leaves an
// image that FileSystem::check finds clean.
//
// Environment (the VM sets PINFS_TEST_DAX and gets the smaller defaults):
//   PINFS_CRASH_SEED    workload and crash-image seed      (default 20241125)
//   PINFS_CRASH_OPS     operations, at least               (default 2000; VM 300)
//   PINFS_CRASH_POINTS  persist points replayed            (default 10000; VM 1000)
//   PINFS_CRASH_IMAGES  crash images per persist point     (default 3)
//   PINFS_CRASH_MAX_FAILURES  stop replaying after so many (default 5)
//   PINFS_CRASH_TRACE   set: print every operation and its result
#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>

#include <fmt/format.h>

#include "fs/filesystem.h"
#include "fs/media.h"
#include "tests/crash/crash_checker.h"
#include "tests/crash/fs_model.h"
#include "tests/crash/tree_snapshot.h"
#include "tests/crash/workload.h"
#include "tests/test_env.h"

namespace pinfs::crashtest {
namespace {

// Small: every crash image is a copy of the whole image, about half of the
// 4-5 ms each crash image costs on the CI machine.
constexpr std::uint64_t kImageBytes = 6 << 20;
constexpr std::uint64_t kInodes = 512;
constexpr std::uint64_t kMapAlignmentBytes = 4096;
// Small, so that files get aligned extents and make_mappable moves data.
constexpr std::uint64_t kAlignedUnitBytes = 64 << 10;

bool small_sample() {
  return pinfs::testing::in_vm() || !pinfs::testing::env_or_empty("PINFS_TEST_DAX").empty();
}

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  std::string v = pinfs::testing::env_or_empty(name);
  if (v.empty()) return fallback;
  char* end = nullptr;
  unsigned long long parsed = std::strtoull(v.c_str(), &end, 0);
  if (end == v.c_str() || *end != '\0') {
    ADD_FAILURE() << name << "='" << v << "' is not a number";
    return fallback;
  }
  return parsed;
}

struct CampaignConfig {
  std::uint64_t seed = 20241125;
  std::uint64_t min_operations = 2000;
  std::uint64_t crash_points = 10000;
  int images_per_point = 3;
  std::uint64_t max_failures = 5;

  static CampaignConfig from_env() {
    CampaignConfig c;
    bool small = small_sample();
    c.seed = env_u64("PINFS_CRASH_SEED", c.seed);
    c.min_operations = env_u64("PINFS_CRASH_OPS", small ? 300 : 2000);
    c.crash_points = env_u64("PINFS_CRASH_POINTS", small ? 1000 : 10000);
    c.images_per_point = static_cast<int>(env_u64("PINFS_CRASH_IMAGES", 3));
    c.max_failures = env_u64("PINFS_CRASH_MAX_FAILURES", 5);
    return c;
  }
};

struct MountedTrackedFs {
  std::unique_ptr<fs::FileSystem> fs;
  fs::DurabilityTracker* tracker = nullptr;
  FsModel model;
};

MountedTrackedFs mkfs_and_mount_tracked() {
  MountedTrackedFs out;
  auto media =
      fs::Media::from_image(std::vector<std::byte>(kImageBytes), kMapAlignmentBytes, true);
  fs::MkfsOptions mkfs;
  mkfs.aligned_unit_bytes = kAlignedUnitBytes;
  mkfs.inode_count = kInodes;
  auto made = fs::FileSystem::mkfs(*media, mkfs);
  EXPECT_TRUE(made.ok()) << made.error().message();
  out.tracker = media->tracker();
  auto mounted = fs::FileSystem::mount(std::move(media));
  EXPECT_TRUE(mounted.ok()) << mounted.error().message();
  if (!mounted.ok()) return out;
  out.fs = std::move(*mounted);
  auto root = out.fs->getattr(fs::kRootInode);
  EXPECT_TRUE(root.ok());
  if (root.ok()) out.model = FsModel(root->mode & 07777);
  return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "\n  " + l;
  return out;
}

struct CampaignResult {
  std::uint64_t operations = 0;
  std::uint64_t persist_points = 0;
  CrashCheckerCounts counts;
  std::vector<std::string> failures;
  std::vector<std::byte> final_image;  // the live image after a clean unmount
  FsModel final_model;
  double seconds = 0;
};

// Runs the workload twice with one seed: once to count its persist points,
// then with the crash checker replaying a seeded sample of them.
CampaignResult run_campaign(const CampaignConfig& config) {
  using Clock = std::chrono::steady_clock;
  // Every crash image is a fresh vector of the image's size: keep freed ones in the heap
  // instead of returning them to the kernel, or each copy page-faults anew.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  auto start = Clock::now();
  CampaignResult result;
  WorkloadOptions workload_options;
  workload_options.seed = config.seed;
  workload_options.trace = !pinfs::testing::env_or_empty("PINFS_CRASH_TRACE").empty();

  // Pass 1: how many persist points do enough operations reach?
  std::uint64_t operations = 0;
  std::uint64_t points = 0;
  {
    MountedTrackedFs run = mkfs_and_mount_tracked();
    if (run.fs == nullptr) return result;
    std::uint64_t first = run.tracker->persist_points();
    Workload workload(*run.fs, run.model, workload_options);
    const std::uint64_t cap = std::max<std::uint64_t>(config.min_operations * 20, 1000);
    while (workload.operations() < config.min_operations ||
           (run.tracker->persist_points() - first < config.crash_points &&
            workload.operations() < cap)) {
      auto st = workload.step();
      if (!st.ok()) {
        result.failures.push_back(fmt::format("seed {} operation #{}: {}", config.seed,
                                              workload.operations(), st.error().message()));
        return result;
      }
    }
    operations = workload.operations();
    points = run.tracker->persist_points() - first;
  }

  // The sample: crash_points of the workload's persist points, seeded.
  std::vector<bool> sampled(points, points <= config.crash_points);
  if (points > config.crash_points) {
    std::vector<std::uint64_t> order(points);
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(config.seed);
    for (std::uint64_t i = 0; i < config.crash_points; ++i) {
      std::swap(order[i], order[i + rng() % (points - i)]);
      sampled[order[i]] = true;
    }
  }

  // Pass 2: the same workload, replayed at the sampled persist points.
  MountedTrackedFs run = mkfs_and_mount_tracked();
  if (run.fs == nullptr) return result;
  const std::uint64_t first = run.tracker->persist_points();
  CrashCheckerOptions checker_options;
  checker_options.seed = config.seed;
  checker_options.images_per_point = config.images_per_point;
  checker_options.map_alignment_bytes = kMapAlignmentBytes;
  checker_options.max_failures = config.max_failures;
  {
    fs::Media& media = run.fs->media();
    CrashChecker checker(media, run.model, checker_options, [&](std::uint64_t point) {
      std::uint64_t i = point - first;
      return i >= points || sampled[i];  // the unmount's points too
    });
    Workload workload(*run.fs, run.model, workload_options, &checker);
    while (workload.operations() < operations) {
      auto st = workload.step();
      if (!st.ok()) {
        result.failures.push_back(fmt::format("seed {} operation #{}: {}", config.seed,
                                              workload.operations(), st.error().message()));
        break;
      }
    }
    checker.check_now("(after the last operation)");
    auto unmounted = run.fs->unmount();
    if (!unmounted.ok()) result.failures.push_back("unmount: " + unmounted.error().message());
    result.operations = workload.operations();
    result.persist_points = run.tracker->persist_points() - first;
    result.counts = checker.counts();
    result.failures.insert(result.failures.end(), checker.failures().begin(),
                           checker.failures().end());
    std::printf("crash: seed %llu: %s\n", static_cast<unsigned long long>(config.seed),
                workload.tally().c_str());
    std::printf("crash: %s\n", checker.timing().c_str());
  }
  const fs::Media& media = run.fs->media();
  result.final_image.assign(media.data(), media.data() + media.size_bytes());
  result.final_model = run.model;
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (points != result.persist_points) {
    std::printf("crash: note: pass 1 saw %llu persist points, pass 2 %llu (not deterministic)\n",
                static_cast<unsigned long long>(points),
                static_cast<unsigned long long>(result.persist_points));
  }
  return result;
}

void print_summary(const char* name, const CampaignConfig& config, const CampaignResult& r) {
  std::printf(
      "%s: seed %llu: %llu operations, %llu persist points, %llu crash points checked "
      "(%llu requested), %llu crash images mounted+checked (%llu showed the operation in flight "
      "applied, %llu a write partly applied within its range), %.1f s\n",
      name, static_cast<unsigned long long>(config.seed),
      static_cast<unsigned long long>(r.operations),
      static_cast<unsigned long long>(r.persist_points),
      static_cast<unsigned long long>(r.counts.points_checked),
      static_cast<unsigned long long>(config.crash_points),
      static_cast<unsigned long long>(r.counts.images_checked),
      static_cast<unsigned long long>(r.counts.images_matching_after),
      static_cast<unsigned long long>(r.counts.images_mixed), r.seconds);
  std::fflush(stdout);
}

// The final image, mounted again, is the model; check finds it clean.
void expect_image_holds_model(std::vector<std::byte> image, const FsModel& model,
                              const std::string& what) {
  auto media = fs::Media::from_image(std::move(image), kMapAlignmentBytes);
  auto report = fs::FileSystem::check(*media);
  ASSERT_TRUE(report.ok()) << what << ": " << report.error().message();
  EXPECT_TRUE(report->clean()) << what << ": " << report->findings.front().where << ": "
                               << report->findings.front().what;
  auto mounted = fs::FileSystem::mount(std::move(media));
  ASSERT_TRUE(mounted.ok()) << what << ": " << mounted.error().message();
  auto snap = read_tree(**mounted);
  ASSERT_TRUE(snap.ok()) << what << ": " << snap.error().message();
  EXPECT_EQ(join_lines(diff(model, *snap)), "") << what;
  EXPECT_TRUE((*mounted)->unmount().ok());
}

TEST(CrashTest, EveryReturnedOperationSurvivesEveryCrashPoint) {
  CampaignConfig config = CampaignConfig::from_env();
  std::printf("crash: seed %llu (PINFS_CRASH_SEED), at least %llu operations (PINFS_CRASH_OPS), "
              "%llu crash points (PINFS_CRASH_POINTS), %d images each (PINFS_CRASH_IMAGES)\n",
              static_cast<unsigned long long>(config.seed),
              static_cast<unsigned long long>(config.min_operations),
              static_cast<unsigned long long>(config.crash_points), config.images_per_point);
  CampaignResult r = run_campaign(config);
  print_summary("crash", config, r);
  EXPECT_EQ(join_lines(r.failures), "") << "seed " << config.seed;
  EXPECT_GE(r.operations, config.min_operations);
  EXPECT_GE(r.counts.points_checked, std::min(config.crash_points, r.persist_points));
  EXPECT_GE(r.persist_points, config.crash_points)
      << "the workload reached fewer persist points than were asked for";
  if (r.failures.empty() && !r.final_image.empty()) {
    expect_image_holds_model(std::move(r.final_image), r.final_model, "the final image");
  }
}

// A power failure during recovery itself: recovering the half-recovered
// image gives the same tree as the first, uninterrupted recovery.
TEST(CrashTest, RecoveryInterruptedByAPowerFailureRecoversAgain) {
  CampaignConfig config = CampaignConfig::from_env();
  MountedTrackedFs run = mkfs_and_mount_tracked();
  ASSERT_NE(run.fs, nullptr);
  WorkloadOptions options;
  options.seed = config.seed + 1;
  options.verify_live_tree = false;
  std::vector<std::vector<std::byte>> crash_images;
  std::mt19937_64 rng(config.seed + 1);
  run.tracker->set_persist_hook([&](std::uint64_t point) {
    if (point % 53 == 7 && crash_images.size() < 40) {
      crash_images.push_back(run.tracker->crash_image(rng));
    }
  });
  Workload workload(*run.fs, run.model, options);
  for (int i = 0; i < 200 && crash_images.size() < 40; ++i) {
    auto st = workload.step();
    ASSERT_TRUE(st.ok()) << st.error().message();
  }
  run.tracker->set_persist_hook(nullptr);
  ASSERT_FALSE(crash_images.empty());

  std::uint64_t recovery_points = 0, images = 0;
  for (std::size_t n = 0; n < crash_images.size(); ++n) {
    SCOPED_TRACE(fmt::format("seed {} crash image {}", config.seed + 1, n));
    auto first = fs::FileSystem::mount(fs::Media::from_image(crash_images[n], kMapAlignmentBytes));
    ASSERT_TRUE(first.ok()) << first.error().message();
    auto reference = read_tree(**first);
    ASSERT_TRUE(reference.ok()) << reference.error().message();

    auto media = fs::Media::from_image(crash_images[n], kMapAlignmentBytes, true);
    fs::DurabilityTracker* tracker = media->tracker();
    std::vector<std::string> failures;
    tracker->set_persist_hook([&](std::uint64_t point) {
      ++recovery_points;
      for (int k = 0; k < 2; ++k) {
        ++images;
        auto again =
            fs::FileSystem::mount(fs::Media::from_image(tracker->crash_image(rng), kMapAlignmentBytes));
        if (!again.ok()) {
          failures.push_back(fmt::format("point {}: second recovery failed: {}", point,
                                         again.error().message()));
          continue;
        }
        auto snap = read_tree(**again);
        if (!snap.ok()) {
          failures.push_back(fmt::format("point {}: {}", point, snap.error().message()));
          continue;
        }
        auto d = diff(*reference, *snap);
        if (!d.empty()) failures.push_back(fmt::format("point {}:{}", point, join_lines(d)));
        if (auto st = (*again)->unmount(); !st.ok()) failures.push_back(st.error().message());
        auto report = fs::FileSystem::check((*again)->media());
        if (!report.ok() || !report->clean()) {
          failures.push_back(fmt::format(
              "point {}: check after the second recovery: {}", point,
              report.ok() ? report->findings.front().what : report.error().message()));
        }
      }
    });
    auto interrupted = fs::FileSystem::mount(std::move(media));
    ASSERT_TRUE(interrupted.ok()) << interrupted.error().message();
    tracker->set_persist_hook(nullptr);
    EXPECT_EQ(join_lines(failures), "");
  }
  std::printf("crash: %zu crash images recovered; power failed at %llu persist points of those "
              "recoveries, %llu images recovered again\n",
              crash_images.size(), static_cast<unsigned long long>(recovery_points),
              static_cast<unsigned long long>(images));
  EXPECT_GT(recovery_points, 0u) << "no recovery reached a persist point: nothing was tested";
}

// The workload and a remount on real device-DAX media. The replayed power
// failures of the same seeded workload are EveryReturnedOperationSurvives...
// above, which the VM runs with the smaller sample: tracking the whole device
// would copy 2 GiB for every crash image.
TEST(CrashTest, WorkloadOnDevdaxSurvivesADaemonCrashAndARemount) {
  std::string dax = pinfs::testing::env_or_empty("PINFS_TEST_DAX");
  PINFS_REQUIRE(!dax.empty(), "a device-DAX device in PINFS_TEST_DAX");
  CampaignConfig config = CampaignConfig::from_env();

  FsModel model;
  {
    auto media = fs::Media::open(dax);
    ASSERT_TRUE(media.ok()) << media.error().message();
    fs::MkfsOptions mkfs;
    mkfs.force = true;
    auto made = fs::FileSystem::mkfs(**media, mkfs);
    ASSERT_TRUE(made.ok()) << made.error().message();
    auto mounted = fs::FileSystem::mount(std::move(*media));
    ASSERT_TRUE(mounted.ok()) << mounted.error().message();
    auto root = (*mounted)->getattr(fs::kRootInode);
    ASSERT_TRUE(root.ok());
    model = FsModel(root->mode & 07777);
    WorkloadOptions options;
    options.seed = config.seed;
    Workload workload(**mounted, model, options);
    while (workload.operations() < config.min_operations) {
      auto st = workload.step();
      ASSERT_TRUE(st.ok()) << "devdax, seed " << config.seed << ", operation #"
                           << workload.operations() << ": " << st.error().message();
    }
    std::printf("crash: devdax %s: %s\n", dax.c_str(), workload.tally().c_str());
    // Dropped without unmount: the daemon died.
  }
  {
    auto media = fs::Media::open(dax);
    ASSERT_TRUE(media.ok()) << media.error().message();
    auto mounted = fs::FileSystem::mount(std::move(*media));
    ASSERT_TRUE(mounted.ok()) << "recovery on devdax: " << mounted.error().message();
    auto snap = read_tree(**mounted);
    ASSERT_TRUE(snap.ok()) << snap.error().message();
    EXPECT_EQ(join_lines(diff(model, *snap)), "") << "after recovery on " << dax;
    auto unmounted = (*mounted)->unmount();
    ASSERT_TRUE(unmounted.ok()) << unmounted.error().message();
  }
  {
    fs::MediaOpenOptions ro;
    ro.read_only = true;
    auto media = fs::Media::open(dax, ro);
    ASSERT_TRUE(media.ok()) << media.error().message();
    auto report = fs::FileSystem::check(**media);
    ASSERT_TRUE(report.ok()) << report.error().message();
    EXPECT_TRUE(report->clean()) << report->findings.front().what;
    fs::MountOptions mount_ro;
    mount_ro.read_only = true;
    auto mounted = fs::FileSystem::mount(std::move(*media), mount_ro);
    ASSERT_TRUE(mounted.ok()) << "read-only remount: " << mounted.error().message();
    auto snap = read_tree(**mounted);
    ASSERT_TRUE(snap.ok()) << snap.error().message();
    EXPECT_EQ(join_lines(diff(model, *snap)), "") << "read-only remount of " << dax;
  }
}

}  // namespace
}  // namespace pinfs::crashtest
