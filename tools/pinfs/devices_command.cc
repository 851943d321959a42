// pinfs devices [--json] [PATH...]: the devices and pool files pinfs could
// serve or serves, like `daxctl list` (device_list.h).
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "tools/pinfs/commands.h"
#include "tools/pinfs/daemon_connection.h"
#include "tools/pinfs/device_list.h"

namespace pinfs::tools {
namespace {

struct DevicesArgs {
  std::vector<std::string> paths;
  bool json = false;
};

void run_devices(const DevicesArgs& a) {
  const std::vector<DeviceEntry> devices = find_devices(a.paths);
  if (a.json) {
    fmt::print("{}\n", devices_document(devices).dump(2));
  } else {
    fmt::print("{}", devices_table(devices));
  }
  // A device found on the system that cannot be read is listed with its
  // error; a PATH the user named that cannot be read is a failure.
  for (const std::string& p : a.paths) {
    const std::string path = absolute_path(p);
    auto it = std::find_if(devices.begin(), devices.end(), [&](const DeviceEntry& d) { return d.path == path; });
    if (it != devices.end() && it->error) report_failure(*it->error);
  }
}

}  // namespace

void add_devices_command(CLI::App& app) {
  auto args = std::make_shared<DevicesArgs>();
  CLI::App* cmd = app.add_subcommand(
      "devices", "list devdax devices and pinfs pool files: size, alignment, whether they hold pinfs");
  cmd->add_option("PATH", args->paths, "also probe these devices or files");
  cmd->add_flag("--json", args->json, "print JSON (fields in docs/pinfs.1.md) instead of a table");
  cmd->callback([args] { run_devices(*args); });
}

}  // namespace pinfs::tools
