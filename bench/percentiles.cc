#include "bench/percentiles.h"

#include <algorithm>
#include <cmath>

namespace pinfs::bench {

double nearest_rank(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const double rank = std::ceil(q * static_cast<double>(samples.size()));
  const std::size_t index = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return samples[std::min(index, samples.size() - 1)];
}

LatencySummary summarize_latency_us(const std::vector<double>& samples_us) {
  LatencySummary s;
  s.count = samples_us.size();
  if (samples_us.empty()) return s;
  s.p50_us = nearest_rank(samples_us, 0.50);
  s.p99_us = nearest_rank(samples_us, 0.99);
  s.max_us = *std::max_element(samples_us.begin(), samples_us.end());
  return s;
}

double median_of(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[(values.size() - 1) / 2];
}

}  // namespace pinfs::bench
