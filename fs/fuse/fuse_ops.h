// The table of libfuse low-level callbacks (fuse_ops.cc).
#pragma once

struct fuse_lowlevel_ops;

namespace pinfs::fs {
const fuse_lowlevel_ops* fuse_operations();
}  // namespace pinfs::fs
