#include "rdma/memory_region.h"

#include <fmt/format.h>

#include <cerrno>
#include <utility>

#include "rdma/verbs_error.h"

namespace pinfs::rdma {

namespace {

struct AccessName {
  int bit;
  const char* name;
};

constexpr AccessName kAccessNames[] = {
    {IBV_ACCESS_LOCAL_WRITE, "LOCAL_WRITE"},
    {IBV_ACCESS_REMOTE_WRITE, "REMOTE_WRITE"},
    {IBV_ACCESS_REMOTE_READ, "REMOTE_READ"},
    {IBV_ACCESS_REMOTE_ATOMIC, "REMOTE_ATOMIC"},
    {IBV_ACCESS_MW_BIND, "MW_BIND"},
    {IBV_ACCESS_ZERO_BASED, "ZERO_BASED"},
    {IBV_ACCESS_ON_DEMAND, "ON_DEMAND"},
    {IBV_ACCESS_HUGETLB, "HUGETLB"},
    {IBV_ACCESS_RELAXED_ORDERING, "RELAXED_ORDERING"},
};

}  // namespace

std::string format_access(int access_flags) {
  if (access_flags == 0) return "none";
  std::string out;
  unsigned remaining = static_cast<unsigned>(access_flags);
  for (const AccessName& access : kAccessNames) {
    unsigned bit = static_cast<unsigned>(access.bit);
    if ((remaining & bit) == 0) continue;
    if (!out.empty()) out += '|';
    out += access.name;
    remaining &= ~bit;
  }
  if (remaining != 0) {
    if (!out.empty()) out += '|';
    out += fmt::format("{:#x}", remaining);
  }
  return out;
}

std::string format_bytes(uint64_t bytes) {
  constexpr uint64_t kKiB = 1024;
  if (bytes != 0) {
    if (bytes % (kKiB * kKiB * kKiB * kKiB) == 0) return fmt::format("{} TiB", bytes >> 40);
    if (bytes % (kKiB * kKiB * kKiB) == 0) return fmt::format("{} GiB", bytes >> 30);
    if (bytes % (kKiB * kKiB) == 0) return fmt::format("{} MiB", bytes >> 20);
    if (bytes % kKiB == 0) return fmt::format("{} KiB", bytes >> 10);
  }
  return fmt::format("{} bytes", bytes);
}

std::string format_range(const void* addr, size_t length_bytes) {
  return fmt::format("[{:#x}, +{})", reinterpret_cast<uintptr_t>(addr),
                     format_bytes(length_bytes));
}

Result<MemoryRegion> MemoryRegion::register_range(const ProtectionDomain& pd, void* addr,
                                                   size_t length_bytes, int access_flags) {
  if (!pd.is_allocated())
    return Error(EBADF, "register MR in", "<deallocated protection domain>");
  ibv_mr* mr = ibv_reg_mr(pd.get(), addr, length_bytes, access_flags);
  if (mr == nullptr) {
    // Building the message allocates, which may overwrite errno: save it and
    // put it back for from_errno once the strings exist.
    const int errnum = errno;
    std::string object =
        fmt::format("'{}' {}", pd.device_name(), format_range(addr, length_bytes));
    std::string detail = "access " + format_access(access_flags);
    if (errnum == EOPNOTSUPP) {
      detail += "; the kernel refuses long-term pins of pages a file system may move, "
                "such as a mapping of a file on filesystem-DAX";
    }
    errno = errnum;
    return Error::from_errno("register MR on", std::move(object), std::move(detail));
  }
  return MemoryRegion(pd.pd_, mr);
}

MemoryRegion::MemoryRegion(MemoryRegion&& other) noexcept
    : pd_(std::move(other.pd_)), mr_(std::exchange(other.mr_, nullptr)) {}

MemoryRegion& MemoryRegion::operator=(MemoryRegion&& other) noexcept {
  if (this != &other) {
    release();
    pd_ = std::move(other.pd_);
    mr_ = std::exchange(other.mr_, nullptr);
  }
  return *this;
}

MemoryRegion::~MemoryRegion() { release(); }

void MemoryRegion::release() noexcept {
  if (mr_ != nullptr) (void)ibv_dereg_mr(mr_);
  mr_ = nullptr;
  pd_.reset();
}

Status MemoryRegion::deregister() {
  if (mr_ == nullptr) return ok_status();
  if (int rc = ibv_dereg_mr(mr_); rc != 0) {
    return from_verbs_return(
        rc, "deregister MR on",
        fmt::format("'{}' {} rkey {:#x}", device_name(), format_range(mr_->addr, mr_->length),
                    mr_->rkey));
  }
  mr_ = nullptr;
  pd_.reset();
  return ok_status();
}

const std::string& MemoryRegion::device_name() const {
  static const std::string kNone;
  return pd_ ? pd_->device->name : kNone;
}

std::optional<uint32_t> MemoryRegion::device_kernel_index() const {
  return pd_ ? pd_->device->kernel_index : std::nullopt;
}

}  // namespace pinfs::rdma
