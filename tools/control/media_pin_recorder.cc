#include "tools/control/media_pin_recorder.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <utility>

namespace pinfs::control {

std::optional<BootId> current_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string text;
  if (!(in >> text)) return std::nullopt;
  BootId id{};
  std::size_t n = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '-') continue;
    if (i + 1 >= text.size() || n == id.size()) return std::nullopt;
    std::size_t used = 0;
    unsigned value = 0;
    try {
      value = static_cast<unsigned>(std::stoul(text.substr(i, 2), &used, 16));
    } catch (...) {
      return std::nullopt;
    }
    if (used != 2) return std::nullopt;
    id[n++] = static_cast<std::uint8_t>(value);
    ++i;
  }
  if (n != id.size()) return std::nullopt;
  return id;
}

fs::PinRecord to_record(const pin::FilePin& pin, const BootId& boot_id) {
  fs::PinRecord r;
  r.pin_id = pin.id;
  r.ino = pin.ino;
  r.file_offset = pin.file_range.offset;
  r.file_length = pin.file_range.length;
  r.owner_pid = pin.client.pid;
  r.owner_uid = pin.client.uid;
  r.owner_start_ticks = pin.client.start_time_ticks;
  r.boot_id = boot_id;
  r.command = pin.client.command;
  r.created_sec = std::chrono::duration_cast<std::chrono::seconds>(pin.created_at.time_since_epoch()).count();
  r.extents = pin.extents;
  for (const pin::Registration& reg : pin.registrations) {
    r.registrations.push_back(fs::RecordedRegistration{reg.device_name, reg.lkey, reg.rkey, reg.iova,
                                                       reg.length_bytes,
                                                       static_cast<std::uint32_t>(reg.access_flags)});
  }
  return r;
}

pin::FilePin from_record(const fs::PinRecord& r, pin::ClientId client) {
  pin::FilePin pin;
  pin.id = r.pin_id;
  pin.client.id = client;
  pin.client.pid = r.owner_pid;
  pin.client.uid = r.owner_uid;
  pin.client.command = r.command;
  pin.client.start_time_ticks = r.owner_start_ticks;
  pin.ino = r.ino;
  pin.file_range = pin::ByteRange{r.file_offset, r.file_length};
  pin.extents = r.extents;
  pin.created_at = std::chrono::system_clock::time_point(std::chrono::seconds(r.created_sec));
  for (const fs::RecordedRegistration& reg : r.registrations) {
    pin.registrations.push_back(pin::Registration{reg.device_name, reg.lkey, reg.rkey, reg.iova,
                                                  reg.length_bytes, static_cast<int>(reg.access_flags)});
  }
  pin.state = pin::PinState::orphaned;
  return pin;
}

MediaPinRecorder::MediaPinRecorder(fs::FileSystem& fs)
    : fs_(fs), boot_id_(current_boot_id().value_or(BootId{})) {}

Status MediaPinRecorder::record(const pin::FilePin& pin) {
  Status recorded = fs_.record_pin(to_record(pin, boot_id_));
  if (!recorded.ok() && recorded.error().errnum() == EOPNOTSUPP) {
    if (!warned_unrecorded_.exchange(true)) {
      spdlog::warn("{}; pins are served but a daemon restart forgets them", recorded.error().message());
    }
    return ok_status();
  }
  return recorded;
}

void MediaPinRecorder::erase(const std::vector<pin::PinId>& pins) {
  for (pin::PinId id : pins) {
    if (Status erased = fs_.erase_pin(id); !erased.ok()) {
      // The record stays: after a restart its extents wait for its owner
      // once more, which is safe.
      spdlog::error("{}", erased.error().message());
    }
  }
}

Result<RestoreReport> restore_recorded_pins(fs::FileSystem& fs, lease::LeaseManager& manager) {
  RestoreReport report;
  if (!fs.has_pin_table()) return report;  // an older image: nothing recorded, quarantine kept
  PINFS_ASSIGN_OR_RETURN(std::vector<fs::PinRecord> records, fs.recorded_pins());
  const std::optional<BootId> boot = current_boot_id();
  std::map<std::pair<std::int32_t, std::uint64_t>, pin::ClientId> owners;  // (pid, start) -> client
  std::vector<pin::FilePin> pins;
  for (const fs::PinRecord& record : records) {
    // A record of an earlier boot: its process and its registrations died
    // with that boot. Without a boot id to compare, keep it (safe).
    if (boot && record.boot_id != *boot) {
      PINFS_TRY(fs.erase_pin(record.pin_id));
      ++report.dead_boot_records;
      continue;
    }
    auto [it, fresh] = owners.emplace(std::pair{record.owner_pid, record.owner_start_ticks},
                                      kRestoredClientIdBase + owners.size());
    pins.push_back(from_record(record, it->second));
  }
  report.restored_pins = pins.size();
  report.owners = owners.size();
  PINFS_TRY(manager.restore_orphaned_pins(std::move(pins)));
  PINFS_ASSIGN_OR_RETURN(std::vector<fs::Extent> quarantined, fs.quarantined());
  std::vector<pin::ByteRange> ranges;
  for (const fs::Extent& e : quarantined) ranges.push_back(pin::ByteRange{e.media_offset, e.length});
  for (const pin::ByteRange& range : manager.adopt_quarantine(ranges)) {
    PINFS_TRY(fs.release_quarantined(range.offset, range.length));
    report.released_quarantine_bytes += range.length;
  }
  return report;
}

}  // namespace pinfs::control
