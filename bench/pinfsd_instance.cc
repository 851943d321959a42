#include "bench/pinfsd_instance.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "pinfs/client.h"

namespace pinfs::bench {
namespace {

using namespace std::chrono_literals;

constexpr long kFuseSuperMagic = 0x65735546;  // FUSE_SUPER_MAGIC, <linux/magic.h>

Result<std::string> make_temp_dir(const std::string& parent) {
  std::string templ = parent + "/lease_break_bench-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) return Error::from_errno("mkdtemp", templ);
  return templ;
}

bool is_fuse_mount(const std::string& path) {
  struct statfs s {};
  return ::statfs(path.c_str(), &s) == 0 && s.f_type == kFuseSuperMagic;
}

// From the mount table, not statfs: a dead FUSE mount answers statfs with
// ENOTCONN but still holds the mount point.
bool is_mount_point(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    if (fields >> id >> parent >> dev >> root >> mount_point && mount_point == path) return true;
  }
  return false;
}

}  // namespace

Result<PinfsdInstance> PinfsdInstance::start(const PinfsdConfig& config) {
  PinfsdInstance d;
  PINFS_ASSIGN_OR_RETURN(d.work_dir_, make_temp_dir(config.work_parent_dir));
  PINFS_ASSIGN_OR_RETURN(d.pool_dir_, make_temp_dir(config.pool_parent_dir));
  d.mountpoint_ = d.work_dir_ + "/mnt";
  d.socket_path_ = d.work_dir_ + "/pinfsd.sock";
  d.log_path_ = d.work_dir_ + "/pinfsd.log";
  d.pool_path_ = d.pool_dir_ + "/pinfs.pool";
  d.scratch_dir_ = d.pool_dir_ + "/kernel-anchor";
  if (::mkdir(d.mountpoint_.c_str(), 0755) != 0) return Error::from_errno("mkdir", d.mountpoint_);
  if (::mkdir(d.scratch_dir_.c_str(), 0755) != 0) return Error::from_errno("mkdir", d.scratch_dir_);

  std::vector<std::string> argv = {config.pinfsd_path, "-f",          "--pool",
                                   d.pool_path_,       "--pool-size", config.pool_size,
                                   "--socket",         d.socket_path_};
  argv.insert(argv.end(), config.extra_args.begin(), config.extra_args.end());
  argv.push_back(d.mountpoint_);
  PINFS_ASSIGN_OR_RETURN(d.daemon_, ChildProcess::spawn(argv, d.log_path_, true));

  const auto deadline = std::chrono::steady_clock::now() + config.start_timeout;
  while (!is_fuse_mount(d.mountpoint_)) {
    if (auto status = d.daemon_.wait_for(0ms)) {
      return Error(ECHILD, "start pinfsd", d.mountpoint_,
                   fmt::format("it {} before mounting; its log:\n{}", describe_wait_status(*status),
                               d.log_tail()));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error(ETIMEDOUT, "start pinfsd", d.mountpoint_,
                   fmt::format("no FUSE mount after {} ms; its log:\n{}",
                               config.start_timeout.count(), d.log_tail()));
    }
    std::this_thread::sleep_for(10ms);
  }
  d.mounted_ = true;
  // The control socket is served from its own thread: wait until it answers.
  for (;;) {
    auto client = Client::connect(d.socket_path_);
    if (client.ok()) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error(ETIMEDOUT, "connect to pinfsd", d.socket_path_,
                   client.error().message() + "; its log:\n" + d.log_tail());
    }
    std::this_thread::sleep_for(10ms);
  }
  return d;
}

PinfsdInstance::PinfsdInstance(PinfsdInstance&& other) noexcept
    : daemon_(std::move(other.daemon_)),
      work_dir_(std::exchange(other.work_dir_, {})),
      pool_dir_(std::exchange(other.pool_dir_, {})),
      mountpoint_(std::exchange(other.mountpoint_, {})),
      socket_path_(std::exchange(other.socket_path_, {})),
      pool_path_(std::exchange(other.pool_path_, {})),
      scratch_dir_(std::exchange(other.scratch_dir_, {})),
      log_path_(std::exchange(other.log_path_, {})),
      mounted_(std::exchange(other.mounted_, false)) {}

PinfsdInstance::~PinfsdInstance() { cleanup(); }

void PinfsdInstance::cleanup() {
  if (mounted_ || (!mountpoint_.empty() && is_mount_point(mountpoint_))) {
    (void)run_command({"fusermount3", "-u", "-z", mountpoint_}, log_path_, 30s);
    mounted_ = false;
  }
  if (daemon_.running()) {
    daemon_.send_signal(SIGTERM);
    if (!daemon_.wait_for(5s)) daemon_.kill_and_reap();
  }
  std::error_code ec;
  if (!work_dir_.empty() && !is_mount_point(mountpoint_)) std::filesystem::remove_all(work_dir_, ec);
  if (!pool_dir_.empty()) std::filesystem::remove_all(pool_dir_, ec);
  work_dir_.clear();
  pool_dir_.clear();
}

Status PinfsdInstance::stop() {
  if (!mounted_) return Error(EINVAL, "stop pinfsd", mountpoint_, "not mounted");
  // Something we ran may still be closing its last file: EBUSY for a moment
  // is not the daemon's fault.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  int status = 0;
  for (;;) {
    PINFS_ASSIGN_OR_RETURN(status, run_command({"fusermount3", "-u", mountpoint_}, log_path_, 30s));
    if (exited_zero(status) || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(100ms);
  }
  if (!exited_zero(status)) {
    return Error(EBUSY, "unmount", mountpoint_,
                 "fusermount3 -u " + describe_wait_status(status) + "; see " + log_path_);
  }
  mounted_ = false;
  auto daemon_status = daemon_.wait_for(30s);
  if (!daemon_status) {
    return Error(ETIMEDOUT, "stop pinfsd", mountpoint_,
                 "it did not exit within 30 s of the unmount; its log:\n" + log_tail());
  }
  if (!exited_zero(*daemon_status)) {
    return Error(ECHILD, "stop pinfsd", mountpoint_,
                 "it " + describe_wait_status(*daemon_status) + " after the unmount; its log:\n" +
                     log_tail());
  }
  return ok_status();
}

std::string PinfsdInstance::log_tail() const {
  std::ifstream in(log_path_);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  constexpr std::size_t kTailLines = 20;
  std::string out;
  for (std::size_t i = lines.size() > kTailLines ? lines.size() - kTailLines : 0; i < lines.size(); ++i) {
    out += lines[i] + "\n";
  }
  return out;
}

}  // namespace pinfs::bench
