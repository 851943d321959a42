// What `pinfs devices` lists: the device-DAX devices libdaxctl knows (as
// `daxctl list` does), the devices and pool files that mounted pinfs file
// systems are served from (/proc/self/mountinfo, type fuse.pinfs), and any
// path named on the command line — each with its size, its map alignment
// and whether it holds a pinfs file system.
//
// The superblocks are read without the media lock that pinfsd, mkfs and
// check take (a pool file with pread, a device through a read-only
// mapping of its first aligned unit), so a device in use is listed too; what
// is read is a snapshot and never written.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pinfs/error.h"

namespace pinfs::tools {

// What the superblocks of a device say.
struct PinfsSignature {
  // "valid": the primary superblock checks; "backup only": the primary does
  // not, the backup does (run pinfs check); "damaged": the magic is there,
  // no superblock checks.
  std::string superblock;
  // From the superblock that checks (absent when damaged).
  std::optional<std::uint32_t> format_version;
  std::uint64_t media_bytes = 0;
  std::uint64_t block_size = 0;
  std::uint64_t unit_bytes = 0;
  std::uint64_t inode_count = 0;
  std::string state;  // "clean", "dirty" (mounted, or not unmounted cleanly)
  std::string uuid;   // 32 hex digits
};

struct DeviceEntry {
  std::string path;
  std::string kind;  // "devdax" or "file"
  std::string name;  // the devdax device's name ("dax0.0"), "" for files
  std::uint64_t size_bytes = 0;
  std::uint64_t align_bytes = 0;
  std::optional<std::string> mountpoint;  // served by pinfsd at
  std::optional<PinfsSignature> pinfs;    // nullopt: no pinfs signature
  std::optional<Error> error;             // what could not be read
};

// The devdax devices of libdaxctl and the sources of pinfs mounts, then
// `paths` (made absolute); each listed once, devices first.
std::vector<DeviceEntry> find_devices(const std::vector<std::string>& paths);
// Probes one path (a devdax device or a file); errors go into entry.error.
DeviceEntry probe_device(const std::string& path);

// {"devices": [...]} (docs/pinfs.1.md) and the table.
nlohmann::json devices_document(const std::vector<DeviceEntry>& devices);
std::string devices_table(const std::vector<DeviceEntry>& devices);

}  // namespace pinfs::tools
