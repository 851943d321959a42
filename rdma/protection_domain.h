// ProtectionDomain: an ibv_pd, the scope that memory regions and queue pairs
// share.
#pragma once

#include <infiniband/verbs.h>

#include <memory>
#include <string>

#include "pinfs/error.h"
#include "rdma/context.h"

namespace pinfs::rdma {

class MemoryRegion;

// Move-only handle to a protection domain.
//
// Ownership: the PD keeps its device open (see Context), and is itself kept
// allocated while any MemoryRegion registered in it exists, so teardown
// order cannot produce a dangling verbs object. deallocate() refuses (EBUSY)
// while memory regions remain, as the kernel would.
//
// Thread safety: as Context.
class ProtectionDomain {
 public:
  // EBADF if `context` is closed; otherwise what ibv_alloc_pd(3) reports.
  [[nodiscard]] static Result<ProtectionDomain> allocate(const Context& context);

  ProtectionDomain(ProtectionDomain&&) noexcept = default;
  ProtectionDomain& operator=(ProtectionDomain&&) noexcept = default;
  ProtectionDomain(const ProtectionDomain&) = delete;
  ProtectionDomain& operator=(const ProtectionDomain&) = delete;
  // Drops this handle's share; the PD is deallocated once no MemoryRegion
  // uses it. A failure is not reported here: call deallocate().
  ~ProtectionDomain() = default;

  // Deallocates the PD now and reports the outcome. EBUSY while memory
  // regions registered in it exist, or when the kernel still holds other
  // objects in it; on failure the PD stays allocated and usable.
  // Deallocating a deallocated or moved-from PD does nothing.
  [[nodiscard]] Status deallocate();

  bool is_allocated() const { return pd_ != nullptr; }
  // The device's name; empty once deallocated.
  const std::string& device_name() const;
  // For verbs the wrappers do not cover (ibv_create_qp). Owned by this
  // object; nullptr once deallocated.
  ibv_pd* get() const { return pd_ ? pd_->pd : nullptr; }

 private:
  // The allocated PD, shared with every MemoryRegion registered in it.
  // Members are destroyed after the destructor body, so the device it holds
  // is released only after the PD is deallocated.
  struct Pd {
    Pd(std::shared_ptr<Context::Device> device, ibv_pd* pd) : device(std::move(device)), pd(pd) {}
    Pd(const Pd&) = delete;
    Pd& operator=(const Pd&) = delete;
    // Deallocates the PD if deallocate() has not; the result is ignored
    // because no caller is left to hear it.
    ~Pd();

    const std::shared_ptr<Context::Device> device;
    ibv_pd* pd;  // nullptr once deallocated by ProtectionDomain::deallocate()
  };

  explicit ProtectionDomain(std::shared_ptr<Pd> pd) : pd_(std::move(pd)) {}

  friend class MemoryRegion;
  std::shared_ptr<Pd> pd_;
};

}  // namespace pinfs::rdma
