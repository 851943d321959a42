// Mapping: one reserved virtual range, each extent mapped into it at its
// media offset (DESIGN.md §3).
#include "pinfs/mapping.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>


namespace pinfs {
namespace {

std::uint64_t round_up(std::uint64_t v, std::uint64_t to) { return (v + to - 1) / to * to; }

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

Mapping::Mapping(Mapping&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)),
      length_(std::exchange(other.length_, 0)),
      file_size_(other.file_size_),
      alignment_(other.alignment_),
      extents_(std::move(other.extents_)) {}

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    (void)unmap();
    base_ = std::exchange(other.base_, nullptr);
    length_ = std::exchange(other.length_, 0);
    file_size_ = other.file_size_;
    alignment_ = other.alignment_;
    extents_ = std::move(other.extents_);
  }
  return *this;
}

Mapping::~Mapping() { (void)unmap(); }

Status Mapping::unmap() {
  if (base_ == nullptr) return ok_status();
  if (::munmap(base_, length_) != 0) {
    // Appended piece by piece: g++ 12 at -O3 warns (-Wrestrict, a false
    // positive) on a chain of std::string operator+.
    std::string range = "[";
    range += hex(reinterpret_cast<std::uintptr_t>(base_));
    range += ", +";
    range += std::to_string(length_);
    range += ")";
    return Error::from_errno("unmap", range);
  }
  base_ = nullptr;
  length_ = 0;
  return ok_status();
}

bool Mapping::matches(const std::vector<Extent>& pinned) const {
  for (const Extent& p : pinned) {
    const auto covering = std::find_if(extents_.begin(), extents_.end(), [&](const Extent& m) {
      return m.file_offset <= p.file_offset && p.file_offset + p.length <= m.file_offset + m.length;
    });
    if (covering == extents_.end()) return false;
    if (covering->media_offset + (p.file_offset - covering->file_offset) != p.media_offset) return false;
  }
  return true;
}

Result<Mapping> Mapping::create(const std::string& path, int media_fd, std::uint64_t alignment,
                                std::uint64_t file_size, std::vector<Extent> extents) {
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{media_fd};

  Mapping mapping;
  mapping.alignment_ = alignment;
  mapping.file_size_ = file_size;
  std::uint64_t end = file_size;
  for (const Extent& e : extents) {
    // devdax refuses a mapping that does not start and end on its
    // alignment; the daemon hands out only aligned extents.
    if (e.file_offset % alignment != 0 || e.media_offset % alignment != 0 ||
        e.length % alignment != 0 || e.length == 0) {
      return Error(EINVAL, "map", path,
                   "the daemon sent an extent not aligned to " + std::to_string(alignment) +
                       " bytes (file " + hex(e.file_offset) + ", media " + hex(e.media_offset) +
                       ", length " + hex(e.length) + ")");
    }
    end = std::max(end, e.file_offset + e.length);
  }
  mapping.extents_ = std::move(extents);
  const std::uint64_t length = round_up(end, alignment);
  if (length == 0) return mapping;  // an empty file: nothing to map

  // Reserve length + alignment so that an aligned start exists inside, then
  // give back the slack on both sides. PROT_NONE and MAP_NORESERVE: the
  // reservation costs neither memory nor commit charge.
  const std::size_t reserve = length + alignment;
  void* raw = ::mmap(nullptr, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) {
    return Error::from_errno("map", path, "reserving " + std::to_string(reserve) + " bytes");
  }
  const auto raw_address = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t start = round_up(raw_address, alignment);
  if (start > raw_address) ::munmap(raw, start - raw_address);
  const std::uintptr_t tail = start + length;
  if (raw_address + reserve > tail) ::munmap(reinterpret_cast<void*>(tail), raw_address + reserve - tail);
  mapping.base_ = reinterpret_cast<std::byte*>(start);
  mapping.length_ = length;

  // On failure ~Mapping unmaps the whole range, extents mapped so far too.
  for (const Extent& e : mapping.extents_) {
    void* at = mapping.base_ + e.file_offset;
    void* got = ::mmap(at, e.length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, media_fd,
                       static_cast<off_t>(e.media_offset));
    if (got == MAP_FAILED) {
      return Error::from_errno("map", path,
                               "extent at file offset " + hex(e.file_offset) + " (media " +
                                   hex(e.media_offset) + ", " + std::to_string(e.length) + " bytes)");
    }
  }
  return mapping;
}

}  // namespace pinfs
