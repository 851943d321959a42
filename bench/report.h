// How the benchmarks report: rounds reduced to medians, a subject compared
// with its anchor as a ratio, tables for people and JSON for scripts. Every
// JSON field name ends in its unit (_s, _per_s, _bytes, _kib, _count).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/workloads.h"

namespace pinfs::bench {

// The rounds of one workload on one target, in run order.
struct Rounds {
  std::vector<Measurement> rounds;
  // The round with the median elapsed time (the lower middle one for an even
  // count). The median, not the best: the machine is shared and noisy, and
  // the anchor is reduced the same way.
  const Measurement& median() const;
  nlohmann::json to_json() const;
};

// One row: a workload on the subject (pinfs) and on its anchor.
struct Comparison {
  std::string workload;
  Rounds subject;
  Rounds anchor;
  // Subject throughput over anchor throughput, medians: > 1 means pinfs is
  // faster.
  double ratio() const;
};

// Appends each round's measurements to the rows named after them, creating
// rows in first-seen order.
void add_round(std::vector<Comparison>& rows, const std::vector<Measurement>& round,
               bool is_subject);

// 1234567.8 -> "1,234,568".
std::string group_digits(double value);
// A ratio to two decimals, or "n/a".
std::string format_ratio(double ratio);

// Columns of text, the first left-aligned and the rest right-aligned.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::FILE* out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// Resident memory of this process, from /proc/self/status, in KiB.
struct ResidentMemory {
  std::uint64_t vm_rss_kib = 0;
  std::uint64_t rss_anon_kib = 0;
  std::uint64_t rss_file_kib = 0;
  std::uint64_t rss_shmem_kib = 0;
  static ResidentMemory of_self();
  nlohmann::json to_json() const;
};

}  // namespace pinfs::bench
