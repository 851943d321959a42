// CrashChecker: replays power failures at the persist points of a workload
// and checks what recovery makes of them (DESIGN.md §5).
//
// Installed as the persist hook of a durability-tracking media, it builds
// crash images at the sampled persist points (the persisted image plus a
// seeded random subset of the cache lines in flight), mounts a copy of each
// (recovery), reads the recovered tree, unmounts, runs FileSystem::check on
// the result, and compares the tree with the model: every operation that
// returned is there with its data; the one in flight is wholly applied or not
// at all, except that a write may leave a mix of old and new bytes within the
// range it writes. The hook runs before the drain and never stores to the
// tracked media: it mounts copies.
//
// As the workload's OperationObserver it learns which operation is in flight.
// A recovered tree that is not the model before the operation is kept until
// the operation returns, when the model after it is known.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "fs/filesystem.h"
#include "fs/media.h"
#include "tests/crash/fs_model.h"
#include "tests/crash/tree_snapshot.h"
#include "tests/crash/workload.h"

namespace pinfs::crashtest {

struct CrashCheckerOptions {
  std::uint64_t seed = 1;
  int images_per_point = 3;
  // The map alignment the replayed images report (what the tracked media has).
  std::uint64_t map_alignment_bytes = 4096;
  // Stop replaying after this many failures: the first ones explain the rest.
  std::size_t max_failures = 5;
};

struct CrashCheckerCounts {
  std::uint64_t persist_points_seen = 0;
  std::uint64_t points_checked = 0;
  std::uint64_t images_checked = 0;
  std::uint64_t images_matching_after = 0;  // the operation in flight was already applied
  std::uint64_t images_mixed = 0;           // a write in flight, partly applied within its range
  std::chrono::nanoseconds image_time{0}, mount_time{0}, read_time{0}, check_time{0};
};

class CrashChecker : public OperationObserver {
 public:
  // sampled(point) says whether to replay that persist point. model is the
  // workload's model, read at each point and after each operation.
  CrashChecker(fs::Media& tracked_media, const FsModel& model, CrashCheckerOptions options,
               std::function<bool(std::uint64_t persist_point)> sampled);
  ~CrashChecker() override;
  CrashChecker(const CrashChecker&) = delete;
  CrashChecker& operator=(const CrashChecker&) = delete;

  void operation_begins(const std::string& description, const InFlight& in_flight) override;
  void operation_ends() override;

  // Replays crash images of the current state, with nothing in flight.
  void check_now(const std::string& label);

  // Fault injection for the harness's own tests: edits each crash image
  // before it is mounted, e.g. to lose a write that had returned.
  void set_fault_injecting_image_filter(std::function<void(std::vector<std::byte>&)> filter) {
    fault_injecting_filter_ = std::move(filter);
  }

  const std::vector<std::string>& failures() const { return failures_; }
  const CrashCheckerCounts& counts() const { return counts_; }
  std::string timing() const;

 private:
  struct Pending {
    std::uint64_t point;
    int image;
    TreeSnapshot snapshot;
  };
  void on_persist_point(std::uint64_t point);
  void check_image(std::vector<std::byte> image, std::uint64_t point, int index);
  void fail(std::uint64_t point, int image, const std::string& what);

  fs::Media& media_;
  const FsModel& model_;
  CrashCheckerOptions options_;
  std::function<bool(std::uint64_t)> sampled_;
  std::function<void(std::vector<std::byte>&)> fault_injecting_filter_;
  std::mt19937_64 rng_;

  bool in_flight_active_ = false;
  std::string in_flight_description_ = "(between operations)";
  InFlight in_flight_;
  std::uint64_t operation_index_ = 0;
  std::optional<FsModel> before_;  // taken at the first image that differs from it
  std::vector<Pending> pending_;

  std::vector<std::string> failures_;
  CrashCheckerCounts counts_;
};

}  // namespace pinfs::crashtest
