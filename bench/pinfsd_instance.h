// PinfsdInstance: a real pinfsd for one benchmark run. Its pool is a new
// file in a temporary directory on /dev/shm; its mount point, control
// socket and log go in a temporary directory under /tmp. start() returns
// once the FUSE mount is up and the socket answers; stop() unmounts with
// `fusermount3 -u` and requires the daemon to exit 0. On any other way out
// the destructor detaches the mount, stops the daemon (SIGTERM, then
// SIGKILL, by its own pid) and removes both directories.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/child_process.h"
#include "pinfs/error.h"

namespace pinfs::bench {

struct PinfsdConfig {
  std::string pinfsd_path;
  std::string pool_size = "2G";
  std::string pool_parent_dir = "/dev/shm";
  std::string work_parent_dir = "/tmp";
  std::vector<std::string> extra_args;  // e.g. --lease-break-ms 5000
  std::chrono::milliseconds start_timeout{30000};
};

class PinfsdInstance {
 public:
  [[nodiscard]] static Result<PinfsdInstance> start(const PinfsdConfig& config);
  PinfsdInstance(PinfsdInstance&& other) noexcept;
  PinfsdInstance& operator=(PinfsdInstance&&) = delete;
  PinfsdInstance(const PinfsdInstance&) = delete;
  PinfsdInstance& operator=(const PinfsdInstance&) = delete;
  ~PinfsdInstance();

  // Unmounts (fusermount3 -u, retried while the mount is busy) and waits
  // for the daemon: OK only if it exited 0.
  [[nodiscard]] Status stop();

  const std::string& mountpoint() const { return mountpoint_; }
  const std::string& socket_path() const { return socket_path_; }
  const std::string& pool_path() const { return pool_path_; }
  // A directory on the same tmpfs as the pool, for the kernel anchor.
  const std::string& scratch_dir() const { return scratch_dir_; }
  const std::string& log_path() const { return log_path_; }
  pid_t pid() const { return daemon_.pid(); }
  // The last lines of the daemon's log, for error messages.
  std::string log_tail() const;

 private:
  PinfsdInstance() = default;
  void cleanup();

  ChildProcess daemon_;
  std::string work_dir_;
  std::string pool_dir_;
  std::string mountpoint_;
  std::string socket_path_;
  std::string pool_path_;
  std::string scratch_dir_;
  std::string log_path_;
  bool mounted_ = false;
};

}  // namespace pinfs::bench
