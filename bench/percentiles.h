// Percentiles of latency samples and medians of round figures, for
// lease_break_bench. Nearest-rank percentiles: p99 of 200 samples is the
// 198th smallest, an observed value, never an interpolation.
#pragma once

#include <cstddef>
#include <vector>

namespace pinfs::bench {

struct LatencySummary {
  std::size_t count = 0;
  double p50_us = 0;
  double p99_us = 0;
  double max_us = 0;
};

// The nearest-rank q-quantile (0 < q <= 1) of `samples`; 0 when empty.
double nearest_rank(std::vector<double> samples, double q);

// p50, p99 and max of samples in microseconds.
LatencySummary summarize_latency_us(const std::vector<double>& samples_us);

// The median (the lower middle one for an even count); 0 when empty.
double median_of(std::vector<double> values);

}  // namespace pinfs::bench
