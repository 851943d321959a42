// Lease and Pin: a layout lease on a file range, and a file_pin held under
// it (DESIGN.md §4). Move-only RAII handles: the destructor releases what
// the explicit release() would, and ignores failure (the daemon also
// releases everything when the connection closes).
//
// Teardown order: deregister the memory (ibv_dereg_mr) and withdraw it,
// release the pin, then release the lease. A Pin keeps its lease alive: the
// lease is released when both the Lease and every Pin taken under it are
// gone (or at once by Lease::release(), which the daemon does by releasing
// the lease's pins first).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pinfs/client_types.h"
#include "pinfs/error.h"

namespace pinfs {

namespace client_detail {
struct LeaseState;
struct PinState;
}  // namespace client_detail

class Pin;

class Lease {
 public:
  Lease(Lease&&) noexcept;
  Lease& operator=(Lease&&) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease();

  std::uint64_t id() const;
  LeaseKind kind() const;
  FileRange range() const;
  const std::string& path() const;
  // False once released, revoked, or the connection closed.
  bool held() const;
  // A BREAK arrived and no BREAK_ABANDONED since: release soon.
  bool breaking() const;

  // Atomically turns a write lease into a read or unbreakable one: no other
  // process can change the layout in between (DESIGN.md §4).
  [[nodiscard]] Status downgrade(LeaseKind to);
  // Allocates the holes of `range` (a write lease only; may extend the
  // file) and makes the file mappable. Needs write permission.
  [[nodiscard]] Status allocate(FileRange range);
  // Pins `range` (kToEndOfFile: to the file's size). The range must be
  // allocated, or `allocate` set: then this must be a write lease, and the
  // daemon allocates the holes, downgrades the lease to `downgrade_to` and
  // pins, all in one request. EPERM: no lease, or a write lease without
  // `allocate`; EAGAIN: the lease is being broken or the layout changed.
  [[nodiscard]] Result<Pin> pin(FileRange range, bool allocate = false,
                                LeaseKind downgrade_to = LeaseKind::read);
  // Releases the lease now; the daemon releases its pins first.
  [[nodiscard]] Status release();

 private:
  friend class File;
  explicit Lease(std::shared_ptr<client_detail::LeaseState> state);
  std::shared_ptr<client_detail::LeaseState> state_;
};

class Pin {
 public:
  Pin(Pin&&) noexcept;
  Pin& operator=(Pin&&) noexcept;
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;
  ~Pin();

  std::uint64_t id() const;
  FileRange range() const;  // bounded
  // The media behind the range, clipped to it, in file order.
  const std::vector<Extent>& extents() const;
  bool held() const;

  // Tells the daemon about a registration made over this pin's range, so
  // that after a crash its extents are freed only once the kernel no longer
  // lists it.
  [[nodiscard]] Status report_registration(const Registration& registration);
  // The registration was deregistered.
  [[nodiscard]] Status withdraw_registration(const std::string& device, std::uint32_t rkey);
  // Releases the pin (deregister first). A pin whose lease was released
  // already is gone; releasing it again is not an error.
  [[nodiscard]] Status release();

 private:
  friend class Lease;
  explicit Pin(std::shared_ptr<client_detail::PinState> state);
  std::shared_ptr<client_detail::PinState> state_;
};

}  // namespace pinfs
