// PinTable: the pins recorded on the media (docs/format.md, "Pin table"), so
// that a daemon restart keeps pinned extents out of the free pool until
// their owner is gone (DESIGN.md §4, invariant 3).
//
// A chunked table like the quarantine: every change stages whole 4 KiB
// chunks through the journal, so a record appears and disappears atomically
// across power failure (never torn). A pin takes one or more 272-byte slots
// ("parts"); each part repeats the pin's header, so a table read back is
// checked part by part and pin by pin (decode_pin_table).
//
// The file system knows nothing of what a pin means: it stores the records,
// checks them, and hands them back at mount. Guarded by the file-system lock
// (exclusive for the stage_* calls, shared for records()).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fs/filesystem.h"
#include "fs/geometry.h"
#include "fs/meta_io.h"
#include "pinfs/error.h"

namespace pinfs::fs {

// What a table read back holds: the records, and the slots of each.
struct DecodedPinTable {
  std::map<std::uint64_t, PinRecord> records;             // by pin id
  std::map<std::uint64_t, std::vector<std::uint64_t>> slots;  // pin id -> slots, by part
};
// Reads and checks every chunk and slot of the pin table. Each problem goes
// to `problem(where, what)` ("pin-table chunk 2", "pin 7 ..."); a pin with a
// problem is left out of the result. Never throws, never writes.
DecodedPinTable decode_pin_table(const MetaView& view,
                                 const std::function<void(std::string, std::string)>& problem);

class PinTable {
 public:
  explicit PinTable(const Geometry& geometry) : g_(geometry) {}

  bool present() const { return g_.pin_table_chunks != 0; }
  // Mount: reads and verifies the table; the first problem is EUCLEAN.
  Status load(const MetaView& view);
  // Stages the record (replacing any of the same pin id) in view's txn.
  Status stage_record(MetaView& view, const PinRecord& record);
  // Stages the erase of the pin's record; no record is not an error.
  Status stage_erase(MetaView& view, std::uint64_t pin_id);
  std::vector<PinRecord> records() const;
  bool contains(std::uint64_t pin_id) const { return records_.count(pin_id) != 0; }

 private:
  Status stage_slot(MetaView& view, std::uint64_t slot, const format::PinSlot& content);

  const Geometry& g_;
  std::vector<std::uint64_t> slot_owner_;  // pin id per slot, 0 = free
  std::map<std::uint64_t, PinRecord> records_;
  std::map<std::uint64_t, std::vector<std::uint64_t>> slots_of_;
};

}  // namespace pinfs::fs
