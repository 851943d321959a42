// MediaPinRecorder: the lease manager's pin::PinRecorder over the file
// system's pin table (docs/format.md, "Pin table"; docs/leases.md, "Daemon
// restart"). It turns a FilePin into an fs::PinRecord stamped with this
// boot's id (/proc/sys/kernel/random/boot_id), so that a record left by an
// earlier boot is known dead at the next start.
//
// An image without a pin table (made by an older mkfs) cannot record pins:
// the recorder logs that once and lets pins proceed unrecorded, as before.
//
// Thread-safe: the file system serializes the records.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include "fs/filesystem.h"
#include "lease/lease_manager.h"
#include "pin/pin_recorder.h"

namespace pinfs::control {

using BootId = std::array<std::uint8_t, 16>;
// This boot's id, nullopt when /proc does not say.
std::optional<BootId> current_boot_id();

// Client ids of restored pins' owners start here: far above any id the
// control server hands to a connection.
inline constexpr pin::ClientId kRestoredClientIdBase = 1ull << 48;

fs::PinRecord to_record(const pin::FilePin& pin, const BootId& boot_id);
pin::FilePin from_record(const fs::PinRecord& record, pin::ClientId client);

class MediaPinRecorder final : public pin::PinRecorder {
 public:
  explicit MediaPinRecorder(fs::FileSystem& fs);

  Status record(const pin::FilePin& pin) override;
  void erase(const std::vector<pin::PinId>& pins) override;

 private:
  fs::FileSystem& fs_;
  const BootId boot_id_;
  std::atomic<bool> warned_unrecorded_{false};
};

struct RestoreReport {
  std::size_t restored_pins = 0;
  std::size_t owners = 0;
  std::size_t dead_boot_records = 0;        // erased: from before a reboot
  std::uint64_t released_quarantine_bytes = 0;  // pinned by no record: freed at once
};

// At daemon start, before clients connect: loads the pins recorded on the
// media into the manager as orphaned pins of their recorded owners (same
// boot only; records of an earlier boot are erased), lets the quarantine
// entries they cover wait for them, and frees the quarantine entries no
// record covers (their pins ended before the daemon stopped). Errors: the
// file system's (EUCLEAN) or the registry's (a record it refuses).
[[nodiscard]] Result<RestoreReport> restore_recorded_pins(fs::FileSystem& fs,
                                                          lease::LeaseManager& manager);

}  // namespace pinfs::control
