// pinfsd: serves a pinfs file system at a mount point.
//
//   pinfsd [options] TARGET MOUNTPOINT     a device or file holding pinfs
//   pinfsd [options] --pool FILE MOUNTPOINT
//                                          a pool file, created and formatted
//                                          if missing (no pmem needed)
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>
#include <string>

#include "fs/filesystem.h"
#include "fs/fuse/fuse_frontend.h"
#include "fs/media.h"
#include "fs/units.h"

namespace {

using pinfs::Error;
using pinfs::Result;
namespace pfs = pinfs::fs;

// The pool size a new user gets when they name no size: sparse, so it costs
// only what is written.
constexpr const char* kDefaultPoolSize = "4G";
constexpr const char* kDefaultSocket = "/run/pinfs/pinfsd.sock";

struct Options {
  std::string target;
  std::string mountpoint;
  std::string pool;
  std::string pool_size = kDefaultPoolSize;
  std::string socket = kDefaultSocket;
  std::string log_level = "info";
  bool foreground = false;
  bool allow_other = false;
  bool fuse_debug = false;
  double attr_timeout_s = 1.0;
  unsigned threads = 16;
  std::vector<std::string> fuse_options;
};

Result<std::unique_ptr<pfs::Media>> open_media(const Options& o) {
  if (o.pool.empty()) return pfs::Media::open(o.target);
  PINFS_ASSIGN_OR_RETURN(std::uint64_t size, pfs::parse_size(o.pool_size));
  const bool fresh = !std::filesystem::exists(o.pool);
  PINFS_ASSIGN_OR_RETURN(auto media, pfs::Media::open(o.pool, {.create_size_bytes = size}));
  if (fresh) {
    spdlog::info("created pool file {} ({}), formatting", o.pool, pfs::format_size(size));
    PINFS_TRY(pfs::FileSystem::mkfs(*media, {}));
  }
  return media;
}

int run(const Options& o) {
  auto media = open_media(o);
  if (!media.ok()) {
    spdlog::error("{}", media.error().message());
    return 1;
  }
  const std::string source = o.pool.empty() ? o.target : o.pool;
  auto fs = pfs::FileSystem::mount(std::move(*media));
  if (!fs.ok()) {
    spdlog::error("{}", fs.error().message());
    if (fs.error().errnum() == EUCLEAN || fs.error().errnum() == EINVAL) {
      spdlog::error("run 'pinfs check {}' for details, or 'pinfs mkfs' to format it", source);
    }
    return 1;
  }
  pfs::FuseOptions fo;
  fo.mountpoint = o.mountpoint;
  fo.allow_other = o.allow_other;
  fo.attr_timeout_s = o.attr_timeout_s;
  fo.entry_timeout_s = o.attr_timeout_s;
  fo.max_threads = o.threads;
  fo.debug = o.fuse_debug;
  fo.extra_options = o.fuse_options;
  fo.fsname = source;
  int rc = 0;
  {
    auto frontend = pfs::FuseFrontend::mount(**fs, fo);
    if (!frontend.ok()) {
      spdlog::error("{}", frontend.error().message());
      (void)(*fs)->unmount();
      return 1;
    }
    spdlog::info("serving {} at {}", source, o.mountpoint);
    if (!o.foreground) {
      if (auto st = (*frontend)->daemonize(); !st.ok()) {
        spdlog::error("{}", st.error().message());
        return 1;
      }
    }
    if (auto st = (*frontend)->install_signal_handlers(); !st.ok()) {
      spdlog::error("{}", st.error().message());
      return 1;
    }
    if (auto st = (*frontend)->serve(); !st.ok()) {
      spdlog::error("{}", st.error().message());
      rc = 1;
    }
  }  // the frontend unmounts and drops the kernel's references here
  if (auto st = (*fs)->unmount(); !st.ok()) {
    spdlog::error("{}", st.error().message());
    return 1;
  }
  spdlog::info("unmounted {} cleanly", o.mountpoint);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"pinfsd: serve a pinfs file system on persistent memory at a mount point"};
  app.set_version_flag("--version", "pinfsd 0.1.0");
  std::vector<std::string> positional;
  app.add_option("TARGET_AND_MOUNTPOINT", positional,
                 "TARGET MOUNTPOINT (a devdax device or pinfs file), or MOUNTPOINT with --pool")
      ->expected(1, 2)
      ->required();
  app.add_option("--pool", o.pool,
                 "serve a pool file, created and formatted if it does not exist");
  app.add_option("--pool-size", o.pool_size, "size of a new pool file (K/M/G/T)")
      ->capture_default_str();
  app.add_flag("-f,--foreground", o.foreground, "stay in the foreground");
  app.add_option("--socket", o.socket, "control socket path")->capture_default_str();
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.add_flag("--allow-other", o.allow_other, "let other users use the mount (needs root)");
  app.add_option("--attr-timeout", o.attr_timeout_s,
                 "seconds the kernel may cache attributes and names")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "maximum FUSE worker threads")->capture_default_str();
  app.add_flag("--fuse-debug", o.fuse_debug, "trace every FUSE request (libfuse -d)");
  app.add_option("-o", o.fuse_options, "extra FUSE mount option (repeatable)");
  CLI11_PARSE(app, argc, argv);

  if (positional.size() == 2) {
    if (!o.pool.empty()) {
      fmt::print(stderr, "pinfsd: give either TARGET or --pool, not both\n");
      return 2;
    }
    o.target = positional[0];
    o.mountpoint = positional[1];
  } else {
    if (o.pool.empty()) {
      fmt::print(stderr, "pinfsd: missing TARGET (or --pool FILE) before MOUNTPOINT\n");
      return 2;
    }
    o.mountpoint = positional[0];
  }
  // Logs go to stderr: stdout is for what a user asked to see.
  spdlog::set_default_logger(spdlog::stderr_color_mt("pinfsd"));
  spdlog::set_level(spdlog::level::from_str(o.log_level));
  spdlog::set_pattern("pinfsd: %^%l%$: %v");
  return run(o);
}
