// Media: the backing store of a pinfs file system, mapped with libpmem2.
//
// One type covers the three kinds of store (a device-DAX character device, a
// file on an fsdax mount, a plain file used as emulation) plus the in-memory
// images that crash tests replay. Every store to the media goes through this
// class so that the durability tracker (durability_tracker.h) sees it; readers
// use data() directly.
//
// Not thread-safe for stores to the same bytes: the layers above own the
// locking of what they write. Distinct ranges may be stored concurrently,
// except in durability-tracking mode, which is single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fs/durability_tracker.h"
#include "pinfs/error.h"

struct pmem2_map;

namespace pinfs::fs {

enum class MediaKind {
  devdax,      // /dev/daxX.Y: size and alignment from libdaxctl
  fsdax_file,  // a file on a DAX file system, mapped with MAP_SYNC
  plain_file,  // a file on an ordinary file system: persist is msync
  memory,      // a crash image replayed in memory (tests only)
};
const char* to_string(MediaKind kind);

// The smallest store the hardware makes durable as a unit (libpmem2's
// store granularity): what a torn write can split.
enum class StoreGranularity { byte, cache_line, page };
const char* to_string(StoreGranularity granularity);

struct MediaOpenOptions {
  // A plain file that does not exist is created (sparse) with this size;
  // 0 means it must exist. Ignored for devices.
  std::uint64_t create_size_bytes = 0;
  bool read_only = false;
  // Keep a second image of what was persisted, for crash tests.
  bool track_durability = false;
};

// The smallest media pinfs accepts: room for a superblock, a journal and a
// few allocation units of a small test image.
inline constexpr std::uint64_t kMinMediaBytes = 1ull << 20;

class Media {
 public:
  static Result<std::unique_ptr<Media>> open(const std::string& path,
                                             const MediaOpenOptions& options = {});
  // An in-memory media holding a replayed crash image. map_alignment is what
  // the original media reported.
  static std::unique_ptr<Media> from_image(std::vector<std::byte> image,
                                           std::uint64_t map_alignment_bytes,
                                           bool track_durability = false);

  ~Media();
  Media(const Media&) = delete;
  Media& operator=(const Media&) = delete;

  MediaKind kind() const { return kind_; }
  const std::string& path() const { return path_; }
  std::uint64_t size_bytes() const { return size_bytes_; }
  // What a client mapping of this media must be aligned to (2 MiB on a
  // default devdax; the page size for files).
  std::uint64_t map_alignment_bytes() const { return map_alignment_bytes_; }
  StoreGranularity store_granularity() const { return granularity_; }
  bool read_only() const { return read_only_; }
  // The descriptor of the device or file (-1 for memory media). It holds an
  // open-file-description lock on the whole media (exclusive read-write,
  // shared read-only), so a second daemon, a mkfs or a check of a file
  // system in use is refused with EBUSY instead of corrupting it.
  int fd() const { return fd_; }
  // A second open file description of the same media, without the lock:
  // what the daemon passes to clients that map files (SCM_RIGHTS). A lock
  // held through a description that clients share would outlive the daemon
  // while they hold it, and a restarted daemon could not open its own file
  // system. -1 for memory media.
  int client_fd() const { return client_fd_; }

  const std::byte* data() const { return base_; }

  // Stores. store() and fill() leave the bytes in the CPU cache; flush()
  // starts writing them back; drain() waits for every flush before it, and
  // is a persist point. persist() is flush plus drain.
  void store(std::uint64_t offset, const void* src, std::size_t length);
  void fill(std::uint64_t offset, int byte, std::size_t length);
  void flush(std::uint64_t offset, std::size_t length);
  void drain();
  void persist(std::uint64_t offset, std::size_t length) {
    flush(offset, length);
    drain();
  }
  // store() + persist() through libpmem2's non-temporal copy.
  void store_persist(std::uint64_t offset, const void* src, std::size_t length);
  void fill_persist(std::uint64_t offset, int byte, std::size_t length);

  // Null unless opened with track_durability.
  DurabilityTracker* tracker() { return tracker_.get(); }

 private:
  Media() = default;
  void check_range(std::uint64_t offset, std::size_t length) const;

  MediaKind kind_ = MediaKind::memory;
  std::string path_;
  int fd_ = -1;
  int client_fd_ = -1;
  pmem2_map* map_ = nullptr;
  std::byte* base_ = nullptr;
  std::uint64_t size_bytes_ = 0;
  std::uint64_t map_alignment_bytes_ = 0;
  StoreGranularity granularity_ = StoreGranularity::byte;
  bool read_only_ = false;
  std::vector<std::byte> memory_;  // backing of memory media
  std::unique_ptr<DurabilityTracker> tracker_;
  // libpmem2's functions for this mapping, or plain ones for memory media.
  void (*flush_fn_)(const void*, std::size_t) = nullptr;
  void (*drain_fn_)() = nullptr;
  void* (*memcpy_fn_)(void*, const void*, std::size_t, unsigned) = nullptr;
  void* (*memset_fn_)(void*, int, std::size_t, unsigned) = nullptr;
};

// Device-DAX geometry from libdaxctl (media_devdax.cc).
struct DaxGeometry {
  std::string name;  // "dax0.0"
  std::uint64_t size_bytes = 0;
  std::uint64_t align_bytes = 0;
};
Result<DaxGeometry> probe_devdax(const std::string& path, unsigned major, unsigned minor);

}  // namespace pinfs::fs
