// Asking the kernel for FUSE_HANDLE_KILLPRIV_V2 through libfuse 3.14.
//
// Without that INIT flag the kernel does not set SB_NOSEC on the mount, so
// before every write() it asks the daemon for security.capability (a
// GETXATTR round trip) to learn whether the write must remove it: half the
// round trips of a small write. With the flag, the daemon removes set-user-ID,
// set-group-ID and security.capability itself on write, truncate and chown
// (fs/xattr.cc, remove_privileges), and the kernel asks once per inode, not
// once per write.
//
// libfuse 3.14 (Debian 12) has no capability bit for the flag, so the daemon
// installs a custom I/O for its session (fuse_session_custom_io): requests
// are read and replies written with plain read/writev as libfuse would, and
// this class looks at the INIT request and sets the flag in the INIT reply
// when the kernel offered it. It looks at nothing else.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace pinfs::fs {

class KillprivV2Request {
 public:
  // Called with every request read from /dev/fuse; remembers the INIT's
  // unique id and whether the kernel offered the flag.
  void note_request(const void* buf, std::size_t length);
  // Called with every reply before it is written; sets the flag in the INIT
  // reply if the kernel offered it and libfuse accepted the INIT.
  void patch_reply(struct iovec* iov, int count);

  // What the kernel was told (for the log and the tests).
  bool offered() const { return offered_.load(); }
  bool granted() const { return granted_.load(); }

 private:
  std::atomic<bool> init_seen_{false};
  std::atomic<bool> done_{false};
  std::atomic<bool> offered_{false};
  std::atomic<bool> granted_{false};
  std::atomic<std::uint64_t> init_unique_{0};
};

}  // namespace pinfs::fs
