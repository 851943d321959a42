// posix_meta_bench: the metadata workload of fs_meta_bench (create / stat /
// unlink of N files in one directory) through the kernel's system calls, on
// any directory. fio_bench runs it on each of its targets (tmpfs,
// passthrough_ll, pinfs through FUSE) and computes the ratios; this program
// only measures one target.
//
// Prints JSON (--json) or a small table. Exit status: 0 reported, 1 a
// workload failed, 2 bad usage, 3 debug build.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <string>

#include "bench/build_check.h"
#include "bench/posix_target.h"
#include "bench/report.h"
#include "bench/workloads.h"

namespace bench = pinfs::bench;

int main(int argc, char** argv) {
  std::string dir;
  std::string name = "target";
  std::uint64_t file_count = 20000;
  unsigned rounds = 1;
  bool json = false;
  CLI::App app{"posix_meta_bench: create/stat/unlink of N files in one directory, via syscalls"};
  app.add_option("--dir", dir, "directory to work in (a fresh subdirectory is made there)")
      ->required();
  app.add_option("--name", name, "label of the target in the output")->capture_default_str();
  app.add_option("--files", file_count, "number of files")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100000000}));
  app.add_option("--rounds", rounds, "rounds; the median is reported")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100u));
  app.add_flag("--json", json, "print JSON");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (auto why = bench::debug_build_reason()) {
    fmt::print(stderr, "refusing: debug build ({})\n", *why);
    return bench::kExitRefusedDebugBuild;
  }

  auto target = bench::PosixTarget::create(dir, name, "posix_meta_bench");
  if (!target.ok()) {
    fmt::print(stderr, "posix_meta_bench: {}\n", target.error().message());
    return 1;
  }
  // Rows keep the "subject" side only: there is no anchor inside this
  // program; the caller compares targets.
  std::vector<bench::Comparison> rows;
  for (unsigned r = 0; r < rounds; ++r) {
    auto round = bench::run_meta_workload(**target, file_count);
    if (!round.ok()) {
      fmt::print(stderr, "posix_meta_bench: {}\n", round.error().message());
      return 1;
    }
    bench::add_round(rows, *round, true);
  }

  if (json) {
    nlohmann::json j;
    j["benchmark"] = "posix_meta_bench";
    j["build"] = {{"buildtype", bench::kBuildType}, {"optimization", bench::kOptimization}};
    j["target"] = name;
    j["dir"] = (*target)->dir_path();
    j["fs_type"] = bench::file_system_type((*target)->dir_path());
    j["file_count"] = file_count;
    j["round_count"] = rounds;
    nlohmann::json results = nlohmann::json::array();
    for (const auto& row : rows) {
      nlohmann::json r = row.subject.to_json();
      r["workload"] = row.workload;
      r["op_count"] = row.subject.median().op_count;
      results.push_back(std::move(r));
    }
    j["results"] = std::move(results);
    fmt::print("{}\n", j.dump(2));
  } else {
    fmt::print("posix_meta_bench: {} files in {}\n", file_count, (*target)->describe());
    bench::TextTable t({"workload", "ops/s", "last/first tenth"});
    for (const auto& row : rows) {
      const auto& m = row.subject.median();
      t.add_row({row.workload, bench::group_digits(m.ops_per_s()),
                 bench::format_ratio(m.last_over_first_slice())});
    }
    t.print(stdout);
  }
  return 0;
}
