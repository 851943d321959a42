// FuseFrontend: serves a FileSystem at a mount point through libfuse3's
// low-level API. A thin adapter: each callback translates the request into
// one FileSystem call and the result into a reply; Errors become errno here
// and nowhere else.
//
// Caching (docs/mount.md): the kernel page cache is used (needed for shared
// mmap through the mount) in write-through mode, so write() is durable when
// it returns; cached pages are dropped at each open, which makes data written
// by clients through direct mappings visible at the next open.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fs/filesystem.h"
#include "fs/fuse/killpriv_v2.h"
#include "pinfs/error.h"

struct fuse_session;

namespace pinfs::fs {

struct FuseOptions {
  std::string mountpoint;
  bool allow_other = false;    // needs root (or user_allow_other in fuse.conf)
  double attr_timeout_s = 1.0;
  double entry_timeout_s = 1.0;
  unsigned max_threads = 16;
  bool debug = false;          // libfuse's own request tracing
  std::vector<std::string> extra_options;  // passed as -o
  std::string fsname = "pinfs";
};

class FuseFrontend {
 public:
  // Mounts; the file system stays owned by the caller and must outlive this.
  static Result<std::unique_ptr<FuseFrontend>> mount(FileSystem& fs, const FuseOptions& options);
  ~FuseFrontend();
  FuseFrontend(const FuseFrontend&) = delete;
  FuseFrontend& operator=(const FuseFrontend&) = delete;

  // Serves requests until unmounted (fusermount3 -u) or a signal handler set
  // with install_signal_handlers() fires. Multi-threaded.
  Status serve();
  // SIGTERM, SIGINT and SIGHUP end serve(); SIGPIPE is ignored.
  Status install_signal_handlers();
  // Ends serve() from another thread.
  void request_exit();
  // Detaches from the terminal (fork, setsid, stdio to /dev/null) once the
  // mount is up, so that the parent's exit means "mounted".
  Status daemonize();

  FileSystem& fs() { return fs_; }
  const FuseOptions& options() const { return options_; }

  // Kernel lookup counts, mapped onto FileSystem::acquire/release so that an
  // unlinked file keeps its data while the kernel still knows the inode.
  Status remember(InodeNumber ino);
  void forget(InodeNumber ino, std::uint64_t count);
  // Releases every reference the kernel still held (at unmount).
  void forget_all();

  // The INIT flag libfuse 3.14 cannot ask for (killpriv_v2.h).
  KillprivV2Request& killpriv_v2() { return killpriv_v2_; }

 private:
  FuseFrontend(FileSystem& fs, FuseOptions options) : fs_(fs), options_(std::move(options)) {}

  FileSystem& fs_;
  FuseOptions options_;
  fuse_session* session_ = nullptr;
  bool mounted_ = false;
  bool signal_handlers_ = false;
  KillprivV2Request killpriv_v2_;

  std::mutex lookup_mutex_;
  // kernel lookup count per inode; GUARDED_BY(lookup_mutex_)
  std::unordered_map<InodeNumber, std::uint64_t> lookup_counts_;
};

}  // namespace pinfs::fs
