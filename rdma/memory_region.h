// MemoryRegion: an ibv_mr, a registered (pinned) address range.
#pragma once

#include <infiniband/verbs.h>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "pinfs/error.h"
#include "rdma/protection_domain.h"

namespace pinfs::rdma {

// Move-only handle to a memory registration.
//
// Registration pins the pages of [addr, addr + length) for as long as the
// MR exists: the NIC may read or write them behind the CPU's back. The MR
// keeps its protection domain (and so its device) alive; see
// ProtectionDomain. The memory itself is the caller's: unmapping it while
// the MR exists leaves the pages pinned and still a DMA target, so
// deregister before unmapping.
//
// Thread safety: as Context.
class MemoryRegion {
 public:
  // Registers [addr, addr + length_bytes) with `access_flags`, a set of
  // IBV_ACCESS_* bits (REMOTE_WRITE and REMOTE_ATOMIC need LOCAL_WRITE; the
  // kernel answers EINVAL otherwise). The error names the device, the range
  // and the access, e.g.
  //   register MR on 'rxe0' [0x7f3a00000000, +64 MiB): Operation not
  //   supported (access LOCAL_WRITE|REMOTE_WRITE; ...)
  // EOPNOTSUPP is what the kernel answers for a mapping of a file on
  // filesystem-DAX, whose pages must not be long-term pinned.
  [[nodiscard]] static Result<MemoryRegion> register_range(const ProtectionDomain& pd, void* addr,
                                                           size_t length_bytes, int access_flags);

  MemoryRegion(MemoryRegion&& other) noexcept;
  MemoryRegion& operator=(MemoryRegion&& other) noexcept;
  MemoryRegion(const MemoryRegion&) = delete;
  MemoryRegion& operator=(const MemoryRegion&) = delete;
  // Deregisters if deregister() has not; a failure is not reported here.
  ~MemoryRegion();

  // Deregisters now and reports the outcome. On failure (EBUSY while memory
  // windows are bound to it) the MR stays registered and owned here, and the
  // destructor tries again. Deregistering a deregistered or moved-from MR
  // does nothing.
  [[nodiscard]] Status deregister();

  bool is_registered() const { return mr_ != nullptr; }
  // The registration as ibv_reg_mr returned it. Only while registered:
  // asking a deregistered MR for its keys is a bug in the caller.
  uint32_t lkey() const { return registered().lkey; }
  uint32_t rkey() const { return registered().rkey; }
  void* addr() const { return registered().addr; }
  size_t length_bytes() const { return registered().length; }
  // The device the MR lives on, by name and by kernel index (what the
  // kernel's resource table reports; see resource_table.h).
  const std::string& device_name() const;
  std::optional<uint32_t> device_kernel_index() const;
  // For verbs the wrappers do not cover. Owned by this object; nullptr once
  // deregistered.
  ibv_mr* get() const { return mr_; }

 private:
  MemoryRegion(std::shared_ptr<ProtectionDomain::Pd> pd, ibv_mr* mr)
      : pd_(std::move(pd)), mr_(mr) {}
  const ibv_mr& registered() const {
    assert(mr_ != nullptr && "MemoryRegion used after deregister() or move");
    return *mr_;
  }
  void release() noexcept;

  // Declared before mr_ so that it is destroyed after the MR is deregistered.
  std::shared_ptr<ProtectionDomain::Pd> pd_;
  ibv_mr* mr_ = nullptr;
};

// "LOCAL_WRITE|REMOTE_READ": the IBV_ACCESS_* bits by name, unknown bits in
// hex, "none" for 0.
std::string format_access(int access_flags);

// "[0x7f3a00000000, +64 MiB)": a byte range by start address and length.
std::string format_range(const void* addr, size_t length_bytes);

// "64 MiB", "4 KiB", "12345 bytes": exact, in the largest binary unit that
// divides the value.
std::string format_bytes(uint64_t bytes);

}  // namespace pinfs::rdma
