// Mapping: a file of pinfs mapped directly into this process (DESIGN.md §3).
//
// File::map() receives the media's descriptor from the daemon (SCM_RIGHTS)
// with the file's extents, reserves one contiguous virtual range with
// PROT_NONE, aligned to the media's alignment (2 MiB on a default devdax),
// and maps each extent there with MAP_SHARED|MAP_FIXED at its media offset,
// so that the file's bytes appear in file order and the range can be
// registered for RDMA as one memory region. Holes stay PROT_NONE (touching
// them is SIGSEGV). The descriptor is closed once the extents are mapped.
//
// A mapping shows the file's layout when it was made: once a layout change
// (punch, truncate) is allowed past your lease, map again. Move-only; the
// destructor unmaps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pinfs/client_types.h"
#include "pinfs/error.h"

namespace pinfs {

class Mapping {
 public:
  Mapping() = default;
  Mapping(Mapping&& other) noexcept;
  Mapping& operator=(Mapping&& other) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();

  // File offset 0; nullptr for an empty file.
  std::byte* data() const { return base_; }
  // The reserved range: the file's size rounded up to the alignment.
  std::size_t length() const { return length_; }
  std::uint64_t file_size() const { return file_size_; }
  std::uint64_t alignment() const { return alignment_; }
  const std::vector<Extent>& extents() const { return extents_; }
  // Does this mapping put every extent of `pinned` (a Pin's) at the right
  // place? False once the file's layout changed since the mapping was made.
  bool matches(const std::vector<Extent>& pinned) const;

  // Unmaps now. Deregister any memory region over it first.
  [[nodiscard]] Status unmap();

  // For File::map(): maps `extents` of the media behind media_fd. Takes
  // ownership of media_fd (closes it). Public for tests.
  [[nodiscard]] static Result<Mapping> create(const std::string& path, int media_fd,
                                              std::uint64_t alignment, std::uint64_t file_size,
                                              std::vector<Extent> extents);

 private:
  std::byte* base_ = nullptr;
  std::size_t length_ = 0;
  std::uint64_t file_size_ = 0;
  std::uint64_t alignment_ = 0;
  std::vector<Extent> extents_;
};

}  // namespace pinfs
