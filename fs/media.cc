#include "fs/media.h"

#include <fcntl.h>
#include <libpmem2.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cassert>
#include <cstring>

#include <fmt/format.h>

#include "fs/units.h"

namespace pinfs::fs {

const char* to_string(MediaKind kind) {
  switch (kind) {
    case MediaKind::devdax: return "devdax";
    case MediaKind::fsdax_file: return "fsdax-file";
    case MediaKind::plain_file: return "plain-file";
    case MediaKind::memory: return "memory";
  }
  return "?";
}

const char* to_string(StoreGranularity granularity) {
  switch (granularity) {
    case StoreGranularity::byte: return "byte";
    case StoreGranularity::cache_line: return "cache-line";
    case StoreGranularity::page: return "page";
  }
  return "?";
}

namespace {

// The one adapter from libpmem2's return codes: negative errno values pass
// through; PMEM2_E_* codes map to the errno that describes them best, and the
// library's own message becomes the detail.
Error pmem2_error(int rc, std::string op, std::string object) {
  int errnum = EINVAL;
  if (rc < 0 && rc > -4096) {
    errnum = -rc;
  } else {
    switch (rc) {
      case PMEM2_E_GRANULARITY_NOT_SUPPORTED:
      case PMEM2_E_NOSUPP:
        errnum = EOPNOTSUPP;
        break;
      case PMEM2_E_INVALID_FILE_TYPE:
        errnum = ENODEV;
        break;
      case PMEM2_E_MAP_RANGE:
      case PMEM2_E_LENGTH_UNALIGNED:
      case PMEM2_E_OFFSET_UNALIGNED:
      case PMEM2_E_LENGTH_OUT_OF_RANGE:
        errnum = EINVAL;
        break;
      default:
        break;
    }
  }
  const char* msg = pmem2_errormsg();
  return Error(errnum, std::move(op), std::move(object),
               msg != nullptr && *msg != '\0' ? std::string("libpmem2: ") + msg : std::string());
}

// Owns the descriptor until the Media takes it.
struct FdGuard {
  int fd = -1;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

StoreGranularity from_pmem2(pmem2_granularity g) {
  switch (g) {
    case PMEM2_GRANULARITY_BYTE: return StoreGranularity::byte;
    case PMEM2_GRANULARITY_CACHE_LINE: return StoreGranularity::cache_line;
    case PMEM2_GRANULARITY_PAGE: return StoreGranularity::page;
  }
  return StoreGranularity::page;
}

void noop_flush(const void*, std::size_t) {}
void noop_drain() {}
void* plain_memcpy(void* dst, const void* src, std::size_t len, unsigned) {
  return std::memcpy(dst, src, len);
}
void* plain_memset(void* dst, int c, std::size_t len, unsigned) {
  return std::memset(dst, c, len);
}

}  // namespace

Result<std::unique_ptr<Media>> Media::open(const std::string& path,
                                           const MediaOpenOptions& options) {
  const char* op = "open media";
  int flags = (options.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  FdGuard fd{::open(path.c_str(), flags)};
  bool created = false;
  if (fd.fd < 0 && errno == ENOENT && options.create_size_bytes != 0 && !options.read_only) {
    fd.fd = ::open(path.c_str(), flags | O_CREAT | O_EXCL, 0600);
    created = fd.fd >= 0;
  }
  if (fd.fd < 0) {
    return Error::from_errno(op, path,
                             errno == ENOENT ? "no such device or file; a pool file is created "
                                               "only when a size is given"
                                             : "");
  }
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) return Error::from_errno(op, path, "fstat");
  // Before anything reads or writes the media: one writer, or any number of
  // readers (an OFD lock, so it belongs to this description alone and goes
  // with the process, SIGKILL included).
  struct flock lock {};
  lock.l_type = options.read_only ? F_RDLCK : F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (::fcntl(fd.fd, F_OFD_SETLK, &lock) != 0) {
    if (errno == EAGAIN || errno == EACCES)
      return Error(EBUSY, op, path,
                   "in use by another process (a running pinfsd, mkfs or check); stop it first");
    return Error::from_errno(op, path, "lock");
  }

  auto media = std::unique_ptr<Media>(new Media());
  media->path_ = path;
  media->read_only_ = options.read_only;
  std::uint64_t expected_size = 0;

  if (S_ISCHR(st.st_mode)) {
    PINFS_ASSIGN_OR_RETURN(DaxGeometry geometry,
                           probe_devdax(path, major(st.st_rdev), minor(st.st_rdev)));
    media->kind_ = MediaKind::devdax;
    media->map_alignment_bytes_ = geometry.align_bytes;
    expected_size = geometry.size_bytes;
  } else if (S_ISREG(st.st_mode)) {
    if (created || (st.st_size == 0 && options.create_size_bytes != 0 && !options.read_only)) {
      if (options.create_size_bytes % 4096 != 0) {
        ::unlink(path.c_str());
        return Error(EINVAL, "create pool file", path,
                     fmt::format("size {} is not a multiple of 4 KiB", options.create_size_bytes));
      }
      if (::ftruncate(fd.fd, static_cast<off_t>(options.create_size_bytes)) != 0) {
        Error e = Error::from_errno("create pool file", path,
                                    fmt::format("ftruncate to {}",
                                                format_size(options.create_size_bytes)));
        if (created) ::unlink(path.c_str());
        return e;
      }
      st.st_size = static_cast<off_t>(options.create_size_bytes);
    }
    media->kind_ = MediaKind::plain_file;  // fsdax is decided by the mapping below
    media->map_alignment_bytes_ = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    expected_size = static_cast<std::uint64_t>(st.st_size);
    if (expected_size % 4096 != 0) {
      return Error(EINVAL, op, path,
                   fmt::format("size {} is not a multiple of 4 KiB", expected_size));
    }
  } else if (S_ISBLK(st.st_mode)) {
    return Error(ENODEV, op, path,
                 "a block device; pinfs needs device-DAX (ndctl create-namespace -m devdax), "
                 "a file on a DAX mount or a plain file");
  } else if (S_ISDIR(st.st_mode)) {
    return Error(EISDIR, op, path, "a directory, not a device or file");
  } else {
    return Error(ENODEV, op, path, "not a device-DAX device or a regular file");
  }
  if (expected_size < kMinMediaBytes) {
    return Error(EINVAL, op, path,
                 fmt::format("too small: {}, at least {} needed", format_size(expected_size),
                             format_size(kMinMediaBytes)));
  }

  pmem2_config* cfg = nullptr;
  if (int rc = pmem2_config_new(&cfg); rc != 0) return pmem2_error(rc, op, path);
  struct ConfigGuard {
    pmem2_config* cfg;
    ~ConfigGuard() { pmem2_config_delete(&cfg); }
  } cfg_guard{cfg};
  // PAGE accepts every media: a plain file persists with msync, fsdax with
  // MAP_SYNC and cache flushes, devdax with cache flushes.
  if (int rc = pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE); rc != 0)
    return pmem2_error(rc, op, path);
  if (int rc = pmem2_config_set_sharing(cfg, PMEM2_SHARED); rc != 0)
    return pmem2_error(rc, op, path);
  if (options.read_only) {
    if (int rc = pmem2_config_set_protection(cfg, PMEM2_PROT_READ); rc != 0)
      return pmem2_error(rc, op, path);
  }

  pmem2_source* src = nullptr;
  if (int rc = pmem2_source_from_fd(&src, fd.fd); rc != 0) return pmem2_error(rc, op, path);
  struct SourceGuard {
    pmem2_source* src;
    ~SourceGuard() { pmem2_source_delete(&src); }
  } src_guard{src};

  std::size_t source_size = 0;
  if (int rc = pmem2_source_size(src, &source_size); rc != 0) return pmem2_error(rc, op, path);
  if (media->kind_ == MediaKind::devdax) {
    if (source_size != expected_size) {
      return Error(EINVAL, op, path,
                   fmt::format("libdaxctl reports {} but the device maps {}",
                               format_size(expected_size), format_size(source_size)));
    }
    if (expected_size % media->map_alignment_bytes_ != 0) {
      return Error(EINVAL, op, path,
                   fmt::format("size {} is not a multiple of the device alignment {}",
                               format_size(expected_size),
                               format_size(media->map_alignment_bytes_)));
    }
  }

  pmem2_map* map = nullptr;
  if (int rc = pmem2_map_new(&map, cfg, src); rc != 0) return pmem2_error(rc, "map media", path);
  media->map_ = map;
  media->base_ = static_cast<std::byte*>(pmem2_map_get_address(map));
  media->size_bytes_ = pmem2_map_get_size(map);
  media->granularity_ = from_pmem2(pmem2_map_get_store_granularity(map));
  if (media->kind_ == MediaKind::plain_file && media->granularity_ != StoreGranularity::page) {
    media->kind_ = MediaKind::fsdax_file;  // libpmem2 got MAP_SYNC
  }
  media->flush_fn_ = pmem2_get_flush_fn(map);
  media->drain_fn_ = pmem2_get_drain_fn(map);
  media->memcpy_fn_ = pmem2_get_memcpy_fn(map);
  media->memset_fn_ = pmem2_get_memset_fn(map);
  FdGuard client_fd{::open(fmt::format("/proc/self/fd/{}", fd.fd).c_str(), flags)};
  if (client_fd.fd < 0) return Error::from_errno(op, path, "reopen for clients");
  media->fd_ = fd.release();
  media->client_fd_ = client_fd.release();
  if (options.track_durability) {
    media->tracker_ = std::make_unique<DurabilityTracker>(media->base_, media->size_bytes_);
  }
  return media;
}

std::unique_ptr<Media> Media::from_image(std::vector<std::byte> image,
                                         std::uint64_t map_alignment_bytes,
                                         bool track_durability) {
  auto media = std::unique_ptr<Media>(new Media());
  media->kind_ = MediaKind::memory;
  media->path_ = "<crash image>";
  media->memory_ = std::move(image);
  media->base_ = media->memory_.data();
  media->size_bytes_ = media->memory_.size();
  media->map_alignment_bytes_ = map_alignment_bytes;
  media->granularity_ = StoreGranularity::byte;
  media->flush_fn_ = noop_flush;
  media->drain_fn_ = noop_drain;
  media->memcpy_fn_ = plain_memcpy;
  media->memset_fn_ = plain_memset;
  if (track_durability) {
    media->tracker_ = std::make_unique<DurabilityTracker>(media->base_, media->size_bytes_);
  }
  return media;
}

Media::~Media() {
  if (map_ != nullptr) pmem2_map_delete(&map_);
  if (client_fd_ >= 0) ::close(client_fd_);
  if (fd_ >= 0) ::close(fd_);
}

void Media::check_range(std::uint64_t offset, std::size_t length) const {
  // Callers compute offsets from validated metadata; an out-of-range store
  // is a pinfs bug, never the world's.
  assert(!read_only_ && "store to media opened read-only");
  assert(offset <= size_bytes_ && length <= size_bytes_ - offset && "store beyond the media");
  (void)offset;
  (void)length;
}

void Media::store(std::uint64_t offset, const void* src, std::size_t length) {
  check_range(offset, length);
  std::memcpy(base_ + offset, src, length);
  if (tracker_) tracker_->note_store(offset, length);
}

void Media::fill(std::uint64_t offset, int byte, std::size_t length) {
  check_range(offset, length);
  std::memset(base_ + offset, byte, length);
  if (tracker_) tracker_->note_store(offset, length);
}

void Media::flush(std::uint64_t offset, std::size_t length) {
  check_range(offset, length);
  flush_fn_(base_ + offset, length);
  if (tracker_) tracker_->note_flush(offset, length);
}

void Media::drain() {
  drain_fn_();
  if (tracker_) tracker_->note_drain();
}

void Media::store_persist(std::uint64_t offset, const void* src, std::size_t length) {
  if (tracker_) {
    store(offset, src, length);
    persist(offset, length);
    return;
  }
  check_range(offset, length);
  memcpy_fn_(base_ + offset, src, length, 0);
}

void Media::fill_persist(std::uint64_t offset, int byte, std::size_t length) {
  if (tracker_) {
    fill(offset, byte, length);
    persist(offset, length);
    return;
  }
  check_range(offset, length);
  memset_fn_(base_ + offset, byte, length, 0);
}

}  // namespace pinfs::fs
