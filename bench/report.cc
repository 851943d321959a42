#include "bench/report.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <fstream>

#include <fmt/format.h>

namespace pinfs::bench {

const Measurement& Rounds::median() const {
  assert(!rounds.empty() && "a row has at least one round");
  std::vector<const Measurement*> sorted;
  for (const auto& m : rounds) sorted.push_back(&m);
  std::sort(sorted.begin(), sorted.end(),
            [](const Measurement* a, const Measurement* b) { return a->elapsed_s < b->elapsed_s; });
  return *sorted[(sorted.size() - 1) / 2];
}

nlohmann::json Rounds::to_json() const {
  const Measurement& m = median();
  nlohmann::json j;
  j["ops_per_s"] = m.ops_per_s();
  if (m.byte_count != 0) j["mib_per_s"] = m.mib_per_s();
  j["elapsed_s"] = m.elapsed_s;
  std::vector<double> all;
  for (const auto& r : rounds) all.push_back(r.ops_per_s());
  j["ops_per_s_rounds"] = all;
  if (m.slice_elapsed_s.size() > 1) {
    j["slice_elapsed_s"] = m.slice_elapsed_s;
    j["last_over_first_slice_ratio"] = m.last_over_first_slice();
  }
  return j;
}

double Comparison::ratio() const {
  if (subject.rounds.empty() || anchor.rounds.empty()) return NAN;
  double a = anchor.median().ops_per_s();
  return a > 0 ? subject.median().ops_per_s() / a : NAN;
}

void add_round(std::vector<Comparison>& rows, const std::vector<Measurement>& round,
               bool is_subject) {
  for (const Measurement& m : round) {
    auto it = std::find_if(rows.begin(), rows.end(),
                           [&](const Comparison& c) { return c.workload == m.workload; });
    if (it == rows.end()) {
      rows.push_back(Comparison{m.workload, {}, {}});
      it = rows.end() - 1;
    }
    (is_subject ? it->subject : it->anchor).rounds.push_back(m);
  }
}

std::string group_digits(double value) {
  if (!std::isfinite(value)) return "n/a";
  std::string digits = fmt::format("{:.0f}", std::fabs(value));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

std::string format_ratio(double ratio) {
  return std::isfinite(ratio) ? fmt::format("{:.2f}", ratio) : "n/a";
}

void TextTable::print(std::FILE* out) const {
  std::vector<std::size_t> width;
  for (const auto& row : rows_) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (c == 0) line += fmt::format("{:<{}}", row[c], width[c]);
      else line += fmt::format("  {:>{}}", row[c], width[c]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    fmt::print(out, "{}\n", line);
  }
}

ResidentMemory ResidentMemory::of_self() {
  ResidentMemory r;
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    std::uint64_t value = 0;
    auto read_value = [&](std::uint64_t& field) {
      if (in >> value) field = value;
    };
    if (key == "VmRSS:") read_value(r.vm_rss_kib);
    else if (key == "RssAnon:") read_value(r.rss_anon_kib);
    else if (key == "RssFile:") read_value(r.rss_file_kib);
    else if (key == "RssShmem:") read_value(r.rss_shmem_kib);
    std::string rest;
    std::getline(in, rest);
  }
  return r;
}

nlohmann::json ResidentMemory::to_json() const {
  return {{"vm_rss_kib", vm_rss_kib},
          {"rss_anon_kib", rss_anon_kib},
          {"rss_file_kib", rss_file_kib},
          {"rss_shmem_kib", rss_shmem_kib}};
}

}  // namespace pinfs::bench
