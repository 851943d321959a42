// Device-DAX geometry through libdaxctl: the size and alignment the kernel
// reports for /dev/daxX.Y, found by the device's major:minor.
#include <daxctl/libdaxctl.h>

#include <fmt/format.h>

#include "fs/media.h"

namespace pinfs::fs {

Result<DaxGeometry> probe_devdax(const std::string& path, unsigned major, unsigned minor) {
  daxctl_ctx* ctx = nullptr;
  if (int rc = daxctl_new(&ctx); rc != 0) {
    return Error::from_negative(rc, "open media", path, "libdaxctl context");
  }
  struct CtxGuard {
    daxctl_ctx* ctx;
    ~CtxGuard() { daxctl_unref(ctx); }
  } guard{ctx};

  daxctl_region* region = nullptr;
  daxctl_region_foreach(ctx, region) {
    daxctl_dev* dev = nullptr;
    daxctl_dev_foreach(region, dev) {
      if (static_cast<unsigned>(daxctl_dev_get_major(dev)) != major ||
          static_cast<unsigned>(daxctl_dev_get_minor(dev)) != minor) {
        continue;
      }
      DaxGeometry g;
      g.name = daxctl_dev_get_devname(dev);
      g.size_bytes = daxctl_dev_get_size(dev);
      g.align_bytes = daxctl_dev_get_align(dev);
      if (g.align_bytes == 0) g.align_bytes = daxctl_region_get_align(region);
      if (g.size_bytes == 0) {
        return Error(ENODEV, "open media", path, fmt::format("{} has no capacity", g.name));
      }
      if (g.align_bytes == 0 || (g.align_bytes & (g.align_bytes - 1)) != 0) {
        return Error(EINVAL, "open media", path,
                     fmt::format("{} reports alignment {}, not a power of two", g.name,
                                 g.align_bytes));
      }
      return g;
    }
  }
  return Error(ENODEV, "open media", path,
               fmt::format("character device {}:{} is not a device-DAX device known to libdaxctl",
                           major, minor));
}

}  // namespace pinfs::fs
