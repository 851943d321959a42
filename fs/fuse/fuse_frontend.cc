#include "fs/fuse/fuse_frontend.h"

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse3/fuse_lowlevel.h>

#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <stop_token>
#include <thread>

#include <fmt/format.h>

#include "fs/fuse/fuse_ops.h"

namespace pinfs::fs {
namespace {

// The session's I/O: what libfuse does by default, plus a look at INIT
// (killpriv_v2.h). userdata is the FuseFrontend given to fuse_session_new.
ssize_t read_request(int fd, void* buf, size_t length, void* userdata) {
  ssize_t n = ::read(fd, buf, length);
  if (n > 0) static_cast<FuseFrontend*>(userdata)->killpriv_v2().note_request(buf, static_cast<size_t>(n));
  return n;
}

ssize_t write_reply(int fd, struct iovec* iov, int count, void* userdata) {
  static_cast<FuseFrontend*>(userdata)->killpriv_v2().patch_reply(iov, count);
  return ::writev(fd, iov, count);
}

const fuse_custom_io kSessionIo = {
    .writev = write_reply,
    .read = read_request,
    .splice_receive = nullptr,
    .splice_send = nullptr,
};

}  // namespace

Result<std::unique_ptr<FuseFrontend>> FuseFrontend::mount(FileSystem& fs,
                                                          const FuseOptions& options) {
  auto frontend = std::unique_ptr<FuseFrontend>(new FuseFrontend(fs, options));

  // libfuse takes its session options as an argv.
  std::vector<std::string> argv_strings = {"pinfsd"};
  std::string opts = "default_permissions,fsname=" + options.fsname + ",subtype=pinfs";
  if (options.allow_other) opts += ",allow_other";
  for (const auto& o : options.extra_options) opts += "," + o;
  argv_strings.push_back("-o");
  argv_strings.push_back(opts);
  if (options.debug) argv_strings.push_back("-d");
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  const fuse_lowlevel_ops* ops = fuse_operations();
  frontend->session_ = fuse_session_new(&args, ops, sizeof(*ops), frontend.get());
  fuse_opt_free_args(&args);
  if (frontend->session_ == nullptr) {
    return Error(EINVAL, "mount", options.mountpoint,
                 fmt::format("libfuse refused the session options '{}'", opts));
  }
  if (fuse_session_mount(frontend->session_, options.mountpoint.c_str()) != 0) {
    return Error(EIO, "mount", options.mountpoint,
                 "fuse_session_mount failed (is /dev/fuse available and the mount point an "
                 "existing directory?)");
  }
  frontend->mounted_ = true;
  // Same descriptor, our I/O functions (killpriv_v2.h). libfuse refuses
  // only a null function or descriptor, or when out of memory.
  int fd = fuse_session_fd(frontend->session_);
  if (fuse_session_custom_io(frontend->session_, &kSessionIo, fd) != 0) {
    return Error(EIO, "mount", options.mountpoint, "fuse_session_custom_io failed");
  }
  return frontend;
}

FuseFrontend::~FuseFrontend() {
  if (session_ != nullptr) {
    if (signal_handlers_) fuse_remove_signal_handlers(session_);
    if (mounted_) fuse_session_unmount(session_);
    fuse_session_destroy(session_);
  }
  forget_all();
}

Status FuseFrontend::install_signal_handlers() {
  if (fuse_set_signal_handlers(session_) != 0) {
    return Error(EIO, "install signal handlers", options_.mountpoint);
  }
  signal_handlers_ = true;
  return {};
}

void FuseFrontend::request_exit() { fuse_session_exit(session_); }

Status FuseFrontend::daemonize() {
  if (fuse_daemonize(0) != 0) return Error(EIO, "daemonize", options_.mountpoint);
  return {};
}

Status FuseFrontend::serve() {
  fuse_loop_config* config = fuse_loop_cfg_create();
  if (config == nullptr) return Error(ENOMEM, "serve", options_.mountpoint);
  fuse_loop_cfg_set_max_threads(config, options_.max_threads);
  fuse_loop_cfg_set_clone_fd(config, 0);
  // Times of in-place overwrites reach the media within a second even when
  // no close, fsync or further write comes (fs/deferred_times.h). A failure
  // here is a broken file system, which every later change reports.
  std::jthread write_back([this](std::stop_token stop) {
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    while (!wake.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; }) &&
           !stop.stop_requested()) {
      (void)fs_.write_back_times();
    }
  });
  int rc = fuse_session_loop_mt(session_, config);
  fuse_loop_cfg_destroy(config);
  // A signal ends the loop with the signal number; that is a clean exit.
  if (rc < 0) return Error::from_negative(rc, "serve", options_.mountpoint);
  return {};
}

Status FuseFrontend::remember(InodeNumber ino) {
  std::lock_guard lock(lookup_mutex_);
  auto& count = lookup_counts_[ino];
  if (count == 0) {
    Status st = fs_.acquire(ino);
    if (!st.ok()) {
      lookup_counts_.erase(ino);
      return st;
    }
  }
  ++count;
  return {};
}

void FuseFrontend::forget(InodeNumber ino, std::uint64_t count) {
  std::lock_guard lock(lookup_mutex_);
  auto it = lookup_counts_.find(ino);
  if (it == lookup_counts_.end()) return;  // the root, or a kernel forget we never counted
  if (it->second > count) {
    it->second -= count;
    return;
  }
  lookup_counts_.erase(it);
  fs_.release(ino);
}

void FuseFrontend::forget_all() {
  std::lock_guard lock(lookup_mutex_);
  for (const auto& [ino, count] : lookup_counts_) fs_.release(ino);
  lookup_counts_.clear();
}

}  // namespace pinfs::fs
