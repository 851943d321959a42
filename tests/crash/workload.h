// Workload: a seeded random sequence of file-system operations, run on a
// FileSystem and mirrored in an FsModel.
//
// Each step picks an operation from the model (create, mkdir, write of
// various sizes and places, truncate, unlink, rmdir, rename incl. over an
// existing target and exchange, link, symlink, setattr, xattrs, the fallocate
// modes, make_mappable, an unlinked-but-open file), predicts its result, runs
// it, and fails with the operation's description when the file system
// disagrees. An observer hears about every mutating call before it starts and
// after the model took its result: that is how the crash checker knows which
// operation is in flight at a persist point.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>

#include "fs/filesystem.h"
#include "pinfs/error.h"
#include "tests/crash/fs_model.h"
#include "tests/crash/tree_snapshot.h"

namespace pinfs::crashtest {

struct WorkloadOptions {
  std::uint64_t seed = 1;
  // Keep the tree small: every crash image reads all of it back.
  std::uint64_t max_file_bytes = 320 << 10;
  std::uint64_t max_total_bytes = 5 << 18;  // 1.25 MiB
  std::size_t max_paths = 120;
  // Compare the live tree with the model after every operation.
  bool verify_live_tree = true;
  // Print every file-system call and its result (to follow a failing seed).
  bool trace = false;
};

class OperationObserver {
 public:
  virtual ~OperationObserver() = default;
  // Before the file-system call; the model is still the one before it.
  virtual void operation_begins(const std::string& description, const InFlight& in_flight) = 0;
  // After the call returned and the model took its result.
  virtual void operation_ends() = 0;
};

struct OperationCount {
  std::uint64_t succeeded = 0;
  std::uint64_t expected_errors = 0;  // EEXIST, ENOTEMPTY, ... as predicted
  std::uint64_t no_space = 0;         // ENOSPC, accepted for allocating operations
};

class Workload {
 public:
  Workload(fs::FileSystem& filesystem, FsModel& model, WorkloadOptions options,
           OperationObserver* observer = nullptr);

  // Runs one random operation. An Error (EPROTO) describes a result that
  // differs from the model's prediction, or a live tree that differs.
  Status step();

  std::uint64_t operations() const { return operations_; }
  const std::map<std::string, OperationCount>& counts() const { return counts_; }
  std::string tally() const;

  // For tests of the harness: a write's data, to find it in an image.
  const Bytes& last_written() const { return last_written_; }

 private:
  using Rng = std::mt19937_64;

  Status create_node(std::uint32_t type);
  Status make_symlink();
  Status make_link();
  Status write_file();
  Status truncate_file();
  Status remove_node();
  Status unlink_open_file();
  Status remove_dir();
  Status rename_node();
  Status change_attributes();
  Status set_xattr();
  Status remove_xattr();
  Status fallocate_file();
  Status make_mappable();
  Status probe_expected_error();
  Status sync_file();

  // Checks a result against the predicted errno (0 = success); allocating
  // operations may also fail with ENOSPC, which sets *no_space.
  Status expect(const std::string& kind, const std::string& description, bool ok, int errnum,
                const std::string& message, int expected_errno, bool may_run_out_of_space,
                bool* no_space = nullptr);
  template <typename T>
  Status expect(const std::string& kind, const std::string& description, const Result<T>& r,
                int expected_errno, bool may_run_out_of_space, bool* no_space = nullptr) {
    return expect(kind, description, r.ok(), r.ok() ? 0 : r.error().errnum(),
                  r.ok() ? std::string() : r.error().message(), expected_errno,
                  may_run_out_of_space, no_space);
  }

  // Could the file's data lie in aligned units (so that collapse and insert
  // must move whole units)? Conservative: once true, it stays true.
  bool may_have_aligned_units(ModelId id) const;
  void note_allocation(ModelId id, std::uint64_t end_bytes);

  Result<fs::InodeNumber> resolve(const std::string& path);
  Status verify_live();

  std::uint64_t uniform(std::uint64_t lo, std::uint64_t hi) {  // inclusive
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng_);
  }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename V>
  const typename V::value_type& pick(const V& v) {
    return v[uniform(0, v.size() - 1)];
  }
  std::string new_name(const char* prefix);
  std::string random_dir();
  Bytes random_bytes(std::size_t n);
  std::vector<std::string> paths_where(bool (*pred)(const FsModel&, const std::string&)) const;

  fs::FileSystem& fs_;
  FsModel& model_;
  WorkloadOptions options_;
  OperationObserver* observer_;
  Rng rng_;
  fs::Caller caller_;
  std::uint64_t block_bytes_ = 4096;
  std::uint64_t aligned_unit_bytes_ = 0;
  std::uint64_t names_ = 0;
  std::uint64_t operations_ = 0;
  std::map<std::string, OperationCount> counts_;
  Bytes last_written_;
  std::set<ModelId> may_have_aligned_units_;
};

}  // namespace pinfs::crashtest
