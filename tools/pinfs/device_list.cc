#include "tools/pinfs/device_list.h"

#include <daxctl/libdaxctl.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "fs/format.h"
#include "fs/media.h"
#include "fs/superblock.h"
#include "tools/pinfs/daemon_connection.h"
#include "tools/pinfs/listing_format.h"
#include "tools/pinfs/table.h"

namespace pinfs::tools {
namespace {

using nlohmann::json;

struct DaxDevice {
  std::string name;
  std::uint64_t size_bytes = 0;
  std::uint64_t align_bytes = 0;
};

// Every device libdaxctl knows, enabled or not (as `daxctl list -D`).
std::vector<DaxDevice> dax_devices() {
  std::vector<DaxDevice> out;
  daxctl_ctx* ctx = nullptr;
  if (daxctl_new(&ctx) != 0) return out;  // no libdaxctl context: no devices to list
  daxctl_region* region = nullptr;
  daxctl_region_foreach(ctx, region) {
    daxctl_dev* dev = nullptr;
    daxctl_dev_foreach(region, dev) {
      DaxDevice d;
      d.name = daxctl_dev_get_devname(dev);
      d.size_bytes = daxctl_dev_get_size(dev);
      d.align_bytes = daxctl_dev_get_align(dev);
      if (d.align_bytes == 0) d.align_bytes = daxctl_region_get_align(region);
      out.push_back(std::move(d));
    }
  }
  daxctl_unref(ctx);
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(const std::string& field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string octal = field.substr(i + 1, 3);
      if (std::all_of(octal.begin(), octal.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        out += static_cast<char>(std::stoi(octal, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

struct PinfsMount {
  std::string source;  // the device or pool file (pinfsd's fsname)
  std::string mountpoint;
};

// The pinfs mounts this process can see: type fuse.pinfs (pinfsd mounts
// with subtype=pinfs and fsname=its device or pool file).
std::vector<PinfsMount> pinfs_mounts() {
  std::vector<PinfsMount> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // "36 35 98:0 / /mnt rw,relatime shared:1 - fuse.pinfs /dev/shm/pool rw,..."
    const auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream before(line.substr(0, dash)), after(line.substr(dash + 3));
    std::string id, parent, devno, root, mountpoint, fstype, source;
    before >> id >> parent >> devno >> root >> mountpoint;
    after >> fstype >> source;
    if (fstype != "fuse.pinfs") continue;
    out.push_back({unescape_mountinfo(source), unescape_mountinfo(mountpoint)});
  }
  return out;
}

// The superblock region: the first kSuperblockRegionBytes of the media.
Result<std::vector<std::byte>> read_superblock_region(const std::string& path, const struct stat& st,
                                                      std::uint64_t align_bytes) {
  std::vector<std::byte> image(fs::format::kSuperblockRegionBytes);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno("read superblock", path, "open");
  struct FdGuard {
    int fd;
    ~FdGuard() { ::close(fd); }
  } guard{fd};
  if (S_ISREG(st.st_mode)) {
    const ssize_t n = ::pread(fd, image.data(), image.size(), 0);
    if (n < 0) return Error::from_errno("read superblock", path, "pread");
    image.resize(static_cast<std::size_t>(n));
    return image;
  }
  // Device-DAX has no read(2): map the first aligned unit(s) read-only.
  const std::uint64_t length = std::max<std::uint64_t>(align_bytes, image.size());
  void* base = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return Error::from_errno("read superblock", path, fmt::format("mmap {} bytes", length));
  std::memcpy(image.data(), base, image.size());
  ::munmap(base, length);
  return image;
}

std::optional<PinfsSignature> signature_of(std::vector<std::byte> image) {
  auto media = fs::Media::from_image(std::move(image), 4096);
  const fs::SuperblockPair pair = fs::read_superblocks(*media);
  if (!pair.primary_has_magic && !pair.backup_has_magic) return std::nullopt;
  PinfsSignature sig;
  const auto& sb = pair.primary ? pair.primary : pair.backup;
  sig.superblock = pair.primary ? "valid" : pair.backup ? "backup only" : "damaged";
  if (!sb) return sig;
  sig.format_version = sb->format_version.get();
  sig.media_bytes = sb->media_bytes.get();
  sig.block_size = sb->block_size.get();
  sig.unit_bytes = sb->unit_bytes.get();
  sig.inode_count = sb->inode_count.get();
  sig.state = sb->state.get() == fs::format::kStateClean ? "clean" : "dirty";
  sig.uuid = fmt::format("{:02x}", fmt::join(std::begin(sb->uuid), std::end(sb->uuid), ""));
  return sig;
}

}  // namespace

DeviceEntry probe_device(const std::string& path) {
  DeviceEntry e;
  e.path = path;
  e.kind = "file";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    e.error = Error::from_errno("probe", path);
    return e;
  }
  if (S_ISCHR(st.st_mode)) {
    auto geometry = fs::probe_devdax(path, major(st.st_rdev), minor(st.st_rdev));
    if (!geometry.ok()) {
      e.error = geometry.error();
      return e;
    }
    e.kind = "devdax";
    e.name = geometry->name;
    e.size_bytes = geometry->size_bytes;
    e.align_bytes = geometry->align_bytes;
  } else if (S_ISREG(st.st_mode)) {
    e.size_bytes = static_cast<std::uint64_t>(st.st_size);
    // What Media reports for a file: clients map it in pages.
    e.align_bytes = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  } else {
    e.error = Error(ENODEV, "probe", path, "not a device-DAX device or a regular file");
    return e;
  }
  auto image = read_superblock_region(path, st, e.align_bytes);
  if (!image.ok()) {
    e.error = image.error();
    return e;
  }
  e.pinfs = signature_of(std::move(*image));
  return e;
}

std::vector<DeviceEntry> find_devices(const std::vector<std::string>& paths) {
  std::vector<std::string> order;
  for (const DaxDevice& d : dax_devices()) order.push_back("/dev/" + d.name);
  const std::vector<PinfsMount> mounts = pinfs_mounts();
  for (const PinfsMount& m : mounts) order.push_back(m.source);
  for (const std::string& p : paths) order.push_back(absolute_path(p));

  std::vector<DeviceEntry> out;
  for (const std::string& path : order) {
    if (std::any_of(out.begin(), out.end(), [&](const DeviceEntry& e) { return e.path == path; })) continue;
    DeviceEntry entry = probe_device(path);
    for (const PinfsMount& m : mounts) {
      if (m.source == path) entry.mountpoint = m.mountpoint;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

json devices_document(const std::vector<DeviceEntry>& devices) {
  json list = json::array();
  for (const DeviceEntry& d : devices) {
    json pinfs = nullptr;
    if (d.pinfs) {
      const PinfsSignature& s = *d.pinfs;
      pinfs = {{"superblock", s.superblock}};
      if (s.format_version) {
        pinfs.update({{"format_version", *s.format_version},
                      {"media_bytes", s.media_bytes},
                      {"block_size", s.block_size},
                      {"unit_bytes", s.unit_bytes},
                      {"inode_count", s.inode_count},
                      {"state", s.state},
                      {"uuid", s.uuid}});
      }
    }
    list.push_back({{"path", d.path},
                    {"kind", d.kind},
                    {"name", d.name.empty() ? json(nullptr) : json(d.name)},
                    {"size_bytes", d.size_bytes},
                    {"align_bytes", d.align_bytes},
                    {"mountpoint", d.mountpoint ? json(*d.mountpoint) : json(nullptr)},
                    {"pinfs", pinfs},
                    {"error", d.error ? json(d.error->message()) : json(nullptr)}});
  }
  return json{{"devices", list}};
}

std::string devices_table(const std::vector<DeviceEntry>& devices) {
  using A = Table::Align;
  Table table({{"PATH"}, {"KIND"}, {"SIZE", A::right}, {"ALIGN", A::right}, {"PINFS"}, {"MOUNTPOINT"}});
  for (const DeviceEntry& d : devices) {
    std::string pinfs = "no";
    if (d.error) {
      pinfs = "? " + d.error->message();
    } else if (d.pinfs && d.pinfs->format_version) {
      pinfs = fmt::format("v{}, unit {}, {}{}", *d.pinfs->format_version, format_bytes(d.pinfs->unit_bytes),
                          d.pinfs->state, d.pinfs->superblock == "valid" ? "" : " (backup superblock only)");
    } else if (d.pinfs) {
      pinfs = "damaged (no superblock checks: run pinfs check)";
    }
    table.add_row({d.path, d.kind, d.error && d.size_bytes == 0 ? "-" : format_bytes(d.size_bytes),
                   d.align_bytes == 0 ? "-" : format_bytes(d.align_bytes), pinfs, d.mountpoint.value_or("-")});
  }
  return table.render();
}

}  // namespace pinfs::tools
