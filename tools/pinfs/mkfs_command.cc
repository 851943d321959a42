// pinfs mkfs [--force] [--block-size N] [--unit N] [--size N] TARGET
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>

#include "fs/filesystem.h"
#include "fs/media.h"
#include "fs/units.h"
#include "tools/pinfs/commands.h"

namespace pinfs::tools {
namespace {

struct MkfsArgs {
  std::string target;
  std::string size;
  std::string block_size = "4K";
  std::string unit;
  std::uint64_t inodes = 0;
  bool force = false;
};

Status run_mkfs(const MkfsArgs& a) {
  fs::MkfsOptions options;
  options.force = a.force;
  options.inode_count = a.inodes;
  PINFS_ASSIGN_OR_RETURN(options.block_size, fs::parse_size(a.block_size));
  if (!a.unit.empty()) {
    PINFS_ASSIGN_OR_RETURN(options.aligned_unit_bytes, fs::parse_size(a.unit));
  }
  fs::MediaOpenOptions open_options;
  if (!a.size.empty()) {
    PINFS_ASSIGN_OR_RETURN(open_options.create_size_bytes, fs::parse_size(a.size));
    std::error_code ec;
    auto existing = std::filesystem::file_size(a.target, ec);
    if (!ec && std::filesystem::is_regular_file(a.target) && existing != 0 &&
        existing != open_options.create_size_bytes) {
      return Error(EEXIST, "mkfs", a.target,
                   fmt::format("exists with size {}; remove it or leave out --size",
                               fs::format_size(existing)));
    }
  }
  PINFS_ASSIGN_OR_RETURN(auto media, fs::Media::open(a.target, open_options));
  PINFS_TRY(fs::FileSystem::mkfs(*media, options));
  fmt::print("pinfs: made a file system on {} ({} {}, {}, block size {})\n", a.target,
             fs::to_string(media->kind()), fs::format_size(media->size_bytes()),
             fmt::format("map alignment {}", fs::format_size(media->map_alignment_bytes())),
             fs::format_size(options.block_size));
  return {};
}

}  // namespace

void add_mkfs_command(CLI::App& app) {
  auto args = std::make_shared<MkfsArgs>();
  CLI::App* cmd = app.add_subcommand("mkfs", "make a pinfs file system on a devdax device or a file");
  cmd->add_option("TARGET", args->target, "a device-DAX device (/dev/daxX.Y) or a file")
      ->required();
  cmd->add_flag("--force", args->force, "overwrite an existing pinfs file system");
  cmd->add_option("--size", args->size, "create TARGET as a sparse file of this size (K/M/G/T)");
  cmd->add_option("--block-size", args->block_size, "small block size")->capture_default_str();
  cmd->add_option("--unit", args->unit,
                  "aligned extent size (default: the device alignment, at least 2M)");
  cmd->add_option("--inodes", args->inodes, "number of inodes (default: derived from the size)");
  cmd->callback([args] {
    // Offline: every failure is "could not run" (a media in use included),
    // as for check; the daemon's busy code is about leases and pins.
    Status st = run_mkfs(*args);
    if (!st.ok()) report_failure(st.error(), kExitFailed);
  });
}

}  // namespace pinfs::tools
