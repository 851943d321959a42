// pinfs check [--json] TARGET: verifies a file system that is not mounted.
// Exit 0 clean, 1 inconsistencies found, 2 could not run. Never writes.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "fs/filesystem.h"
#include "fs/media.h"
#include "tools/pinfs/commands.h"

namespace pinfs::tools {
namespace {

struct CheckArgs {
  std::string target;
  bool json = false;
};

void run_check(const CheckArgs& a) {
  auto fail = [&](const Error& e) {
    if (a.json) {
      nlohmann::json out = {{"target", a.target}, {"ran", false}, {"error", e.message()}};
      fmt::print("{}\n", out.dump(2));
    } else {
      fmt::print(stderr, "pinfs: {}\n", e.message());
    }
    set_exit_code(kExitFailed);
  };
  auto media = fs::Media::open(a.target, {.read_only = true});
  if (!media.ok()) return fail(media.error());
  auto report = fs::FileSystem::check(**media);
  if (!report.ok()) return fail(report.error());
  if (a.json) {
    nlohmann::json findings = nlohmann::json::array();
    for (const auto& f : report->findings) findings.push_back({{"where", f.where}, {"what", f.what}});
    nlohmann::json out = {{"target", a.target},
                          {"ran", true},
                          {"clean", report->clean()},
                          {"inodes_checked", report->inodes_checked},
                          {"blocks_in_use", report->blocks_in_use},
                          {"findings", findings}};
    fmt::print("{}\n", out.dump(2));
  } else {
    for (const auto& f : report->findings) fmt::print("{}: {}\n", f.where, f.what);
    fmt::print("{}: {} ({} inodes, {} blocks in use, {} finding{})\n", a.target,
               report->clean() ? "clean" : "INCONSISTENT", report->inodes_checked,
               report->blocks_in_use, report->findings.size(),
               report->findings.size() == 1 ? "" : "s");
  }
  set_exit_code(report->clean() ? kExitOk : kExitFindings);
}

}  // namespace

void add_check_command(CLI::App& app) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* cmd = app.add_subcommand("check", "verify a pinfs file system that is not mounted");
  cmd->add_option("TARGET", args->target, "a device-DAX device or a file")->required();
  cmd->add_flag("--json", args->json, "print the report as JSON");
  cmd->callback([args] { run_check(*args); });
}

}  // namespace pinfs::tools
