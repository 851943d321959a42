#include "rdma/protection_domain.h"

#include <fmt/format.h>

#include <cerrno>

#include "rdma/verbs_error.h"

namespace pinfs::rdma {

Result<ProtectionDomain> ProtectionDomain::allocate(const Context& context) {
  if (!context.is_open())
    return Error(EBADF, "allocate protection domain on", "<closed RDMA device>");
  ibv_pd* pd = ibv_alloc_pd(context.get());
  if (pd == nullptr)
    return Error::from_errno("allocate protection domain on", context.device_name());
  return ProtectionDomain(std::make_shared<Pd>(context.device_, pd));
}

ProtectionDomain::Pd::~Pd() {
  if (pd != nullptr) (void)ibv_dealloc_pd(pd);
}

Status ProtectionDomain::deallocate() {
  if (pd_ == nullptr) return ok_status();
  // Every other owner of the PD is a MemoryRegion (see protection_domain.h).
  if (long dependents = pd_.use_count() - 1; dependents > 0) {
    return Error(EBUSY, "deallocate protection domain on", pd_->device->name,
                 fmt::format("{} memory region(s) still registered in it; deregister them first",
                             dependents));
  }
  // Queue pairs or other objects created through get() make the kernel
  // refuse with EBUSY; the PD then stays allocated and owned here.
  if (int rc = ibv_dealloc_pd(pd_->pd); rc != 0)
    return from_verbs_return(rc, "deallocate protection domain on", pd_->device->name);
  pd_->pd = nullptr;
  pd_.reset();
  return ok_status();
}

const std::string& ProtectionDomain::device_name() const {
  static const std::string kNone;
  return pd_ ? pd_->device->name : kNone;
}

}  // namespace pinfs::rdma
