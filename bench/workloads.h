// The workloads of fs_meta_bench and posix_meta_bench. Each runs the same
// operations, in the same order, on whatever BenchTarget it is given, and
// returns one Measurement per phase.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/bench_target.h"

namespace pinfs::bench {

// Each phase's scaling series has this many slices.
inline constexpr int kScalingSlices = 10;

struct Measurement {
  std::string workload;          // "create", "stat", "write 4 KiB", ... (the row name)
  std::uint64_t op_count = 0;    // operations timed
  std::uint64_t byte_count = 0;  // bytes moved; 0 for metadata
  double elapsed_s = 0;
  // Elapsed time of each tenth of the operations, in order. A per-operation
  // cost that grows with the directory's size (an O(n) lookup) shows as a
  // rising series; a flat one means O(1) or O(log n) at this scale.
  std::vector<double> slice_elapsed_s;

  double ops_per_s() const { return elapsed_s > 0 ? op_count / elapsed_s : 0; }
  double mib_per_s() const {
    return elapsed_s > 0 ? byte_count / elapsed_s / (1024.0 * 1024.0) : 0;
  }
  // Time per operation in the last tenth over the first: ~1 when the cost
  // does not depend on how many entries the directory already holds.
  double last_over_first_slice() const {
    if (slice_elapsed_s.size() < 2 || slice_elapsed_s.front() <= 0) return 0;
    return slice_elapsed_s.back() / slice_elapsed_s.front();
  }
};

// Creates file_count empty files in the target's directory, stats each, then
// unlinks each, in name order. Rows: "create", "stat", "unlink".
// after_stat, when given, runs untimed while all the files exist (the
// caller snapshots a full directory there).
Result<std::vector<Measurement>> run_meta_workload(
    BenchTarget& target, std::uint64_t file_count,
    const std::function<Status()>& after_stat = {});

// Writes a new file of file_bytes sequentially in blocks of block_bytes
// (allocating), overwrites it the same way, reads it back, then unlinks it.
// Each write pass ends with sync(), which is timed with it. Rows:
// "write <bs>", "overwrite <bs>", "read <bs>", "unlink <size> file of <bs> blocks".
Result<std::vector<Measurement>> run_data_workload(BenchTarget& target,
                                                   std::uint64_t block_bytes,
                                                   std::uint64_t file_bytes);

}  // namespace pinfs::bench
