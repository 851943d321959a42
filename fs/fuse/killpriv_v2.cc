#include "fs/fuse/killpriv_v2.h"

#include <linux/fuse.h>

#include <cstring>

namespace pinfs::fs {

void KillprivV2Request::note_request(const void* buf, std::size_t length) {
  // INIT is the first request of a session; after it this is one load.
  if (init_seen_.load(std::memory_order_relaxed)) return;
  if (length < sizeof(fuse_in_header) + offsetof(fuse_init_in, flags2)) return;
  fuse_in_header in;
  std::memcpy(&in, buf, sizeof in);
  if (in.opcode != FUSE_INIT) return;
  fuse_init_in init{};
  std::memcpy(&init, static_cast<const std::byte*>(buf) + sizeof in,
              offsetof(fuse_init_in, flags2));
  // Only a kernel that speaks protocol 7.33 or later knows the flag, and it
  // says so by offering it.
  offered_.store((init.flags & FUSE_HANDLE_KILLPRIV_V2) != 0);
  init_unique_.store(in.unique);
  init_seen_.store(true);
}

void KillprivV2Request::patch_reply(struct iovec* iov, int count) {
  if (done_.load(std::memory_order_relaxed) || !init_seen_.load()) return;
  if (count < 2 || iov[0].iov_len < sizeof(fuse_out_header) ||
      iov[1].iov_len < offsetof(fuse_init_out, max_background))
    return;
  fuse_out_header out;
  std::memcpy(&out, iov[0].iov_base, sizeof out);
  if (out.unique != init_unique_.load()) return;
  done_.store(true);
  if (out.error != 0 || !offered_.load()) return;
  auto* init = static_cast<std::byte*>(iov[1].iov_base);
  std::uint32_t flags;
  std::memcpy(&flags, init + offsetof(fuse_init_out, flags), sizeof flags);
  flags |= FUSE_HANDLE_KILLPRIV_V2;
  std::memcpy(init + offsetof(fuse_init_out, flags), &flags, sizeof flags);
  granted_.store(true);
}

}  // namespace pinfs::fs
