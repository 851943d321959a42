// PinRecorder: where pins are recorded durably, so that a daemon restart
// keeps the extents pinned when it died out of the free pool until their
// owner and its registrations are gone (DESIGN.md §4, invariant 3). The
// daemon plugs in the file system's pin table (tools/control/
// media_pin_recorder.h); tests plug in fakes or nothing.
//
// The lease manager calls it with no lock held: record() before a pin (or
// a change of its registrations) is acknowledged to the client, erase()
// after a pin ended and before the quarantine it released is handed back.
// A record that is erased late, or not at all, is only ever conservative:
// its extents stay out of the free pool longer.
#pragma once

#include <vector>

#include "pin/file_pin.h"
#include "pinfs/error.h"

namespace pinfs::pin {

class PinRecorder {
 public:
  virtual ~PinRecorder() = default;
  // Records the pin as it is now (its registrations included), replacing
  // any earlier record of it. Durable when it returns OK.
  [[nodiscard]] virtual Status record(const FilePin& pin) = 0;
  // The pins ended: erase their records. A failure is the recorder's to
  // report; the records stay, which is safe.
  virtual void erase(const std::vector<PinId>& pins) = 0;
};

}  // namespace pinfs::pin
