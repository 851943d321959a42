// pinfsd: serves a pinfs file system at a mount point.
//
//   pinfsd [options] TARGET MOUNTPOINT     a device or file holding pinfs
//   pinfsd [options] --pool FILE MOUNTPOINT
//                                          a pool file, created and formatted
//                                          if missing (no pmem needed)
//
// Besides the mount it serves the control socket (--socket) through which
// clients lease, map and pin files (docs/protocol.md, docs/client.md).
#include <grp.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "fs/filesystem.h"
#include "fs/fuse/fuse_frontend.h"
#include "fs/media.h"
#include "fs/units.h"
#include "lease/lease_manager.h"
#include "tools/control/control_server.h"
#include "tools/control/media_pin_recorder.h"

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
  std::string map_group;  // empty: only root may map
  std::uint32_t lease_break_ms = pinfs::lease::kDefaultLeaseBreakMs;
  std::string on_break_timeout = "fail";
};

// --map-group: a group name or a numeric gid.
Result<std::optional<gid_t>> resolve_group(const std::string& name) {
  if (name.empty()) return std::optional<gid_t>();
  if (name.find_first_not_of("0123456789") == std::string::npos) {
    return std::optional<gid_t>(static_cast<gid_t>(std::stoul(name)));
  }
  group* g = ::getgrnam(name.c_str());
  if (g == nullptr) return Error(ENOENT, "resolve --map-group", name, "no such group");
  return std::optional<gid_t>(g->gr_gid);
}

// Clients name files by paths under the mount point: compare them against
// the absolute, normalised form of what the user gave.
std::string normalised_mountpoint(const std::string& path) {
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(std::filesystem::absolute(path), ec);
  std::string out = ec ? std::filesystem::absolute(path).lexically_normal().string() : canonical.string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

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
  // Layout changes made through the mount consult the lease manager first
  // (fs::LayoutHooks); extents freed while pinned wait in quarantine until
  // the manager hands them back here.
  pfs::FileSystem* filesystem = fs->get();
  pinfs::lease::LeaseManagerOptions lo;
  lo.lease_break_ms = o.lease_break_ms;
  lo.break_policy = o.on_break_timeout == "revoke" ? pinfs::lease::BreakPolicy::revoke
                                                   : pinfs::lease::BreakPolicy::fail;
  lo.on_quarantine_released = [filesystem](const std::vector<pinfs::pin::ByteRange>& ranges) {
    for (const auto& range : ranges) {
      if (auto st = filesystem->release_quarantined(range.offset, range.length); !st.ok()) {
        spdlog::error("{}", st.error().message());
      }
    }
  };
  // Pins are recorded on the media before a client hears of them, so that
  // after a crash of this daemon their extents stay out of the free pool
  // until their owners are gone (DESIGN.md §4, invariant 3).
  pinfs::control::MediaPinRecorder recorder(*filesystem);
  lo.recorder = &recorder;
  pinfs::lease::LeaseManager manager(std::move(lo));
  filesystem->set_layout_hooks(&manager);
  // Declared after the manager: the hooks are removed before it goes, on
  // every return below.
  struct HooksGuard {
    pfs::FileSystem* fs;
    ~HooksGuard() { fs->set_layout_hooks(nullptr); }
  } hooks_guard{filesystem};
  auto restored = pinfs::control::restore_recorded_pins(*filesystem, manager);
  if (!restored.ok()) {
    spdlog::error("restoring the pins recorded before the restart: {}", restored.error().message());
    filesystem->set_layout_hooks(nullptr);
    (void)filesystem->unmount();
    return 1;
  }
  if (restored->restored_pins > 0) {
    spdlog::info("restored {} pin(s) of {} process(es) recorded before the restart: their extents "
                 "stay out of the free pool until each process has exited and its registrations "
                 "are gone",
                 restored->restored_pins, restored->owners);
  }
  if (restored->dead_boot_records > 0) {
    spdlog::info("erased {} pin record(s) of an earlier boot", restored->dead_boot_records);
  }
  if (restored->released_quarantine_bytes > 0) {
    spdlog::info("{} quarantined bytes that no recorded pin holds returned to the free pool",
                 restored->released_quarantine_bytes);
  }

  auto map_group = resolve_group(o.map_group);
  if (!map_group.ok()) {
    spdlog::error("{}", map_group.error().message());
    (void)filesystem->unmount();
    return 1;
  }
  pinfs::control::ControlServerOptions co;
  co.socket_path = o.socket;
  co.mountpoint = normalised_mountpoint(o.mountpoint);
  co.map_group = *map_group;
  co.map_group_name = o.map_group;
  // Bound now, while the process has one thread: daemonize() forks.
  auto control = pinfs::control::ControlServer::create(*filesystem, manager, co);
  if (!control.ok()) {
    spdlog::error("{}", control.error().message());
    (void)filesystem->unmount();
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
    if (auto st = (*control)->start(); !st.ok()) {
      spdlog::error("{}", st.error().message());
      return 1;
    }
    if (auto st = (*frontend)->serve(); !st.ok()) {
      spdlog::error("{}", st.error().message());
      rc = 1;
    }
    // Clients see their connections close; their leases go, their pins stay
    // out of the free pool until this process ends.
    (*control)->stop();
  }  // the frontend unmounts and drops the kernel's references here
  control->reset();  // removes the socket
  filesystem->set_layout_hooks(nullptr);
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
  app.add_option("--map-group", o.map_group,
                 "group (name or gid) whose members may connect to the control socket and map "
                 "files; without it only root may (the mapping grants the whole device)");
  app.add_option("--lease-break-ms", o.lease_break_ms,
                 "how long a layout change waits for lease holders to release after a BREAK")
      ->capture_default_str();
  app.add_option("--on-break-timeout", o.on_break_timeout,
                 "when a holder does not release in time: fail (the change fails with ETXTBSY) "
                 "or revoke (the lease goes, pinned extents are quarantined)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fail", "revoke"}));
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
