// The pin table and the quarantine as the pin registry sees them: record and
// erase pins (one transaction each, durable when the call returns), list
// what mount loaded. The file system stores and checks the records; what
// they mean is the registry's business (docs/format.md, "Pin table").
#include <fmt/format.h>

#include <algorithm>
#include <mutex>

#include "fs/pmem_filesystem.h"

namespace pinfs::fs {

Status PmemFileSystem::record_pin(const PinRecord& record) {
  std::unique_lock lock(mutex_);
  PINFS_TRY(writable("record pin", record.ino));
  Op op(*this);
  if (Status staged = pin_table_.stage_record(op.view, record); !staged.ok()) {
    Error e = std::move(staged).error();
    return e.errnum() == EUCLEAN ? note(std::move(e)) : std::move(e);
  }
  return commit(op);
}

Status PmemFileSystem::erase_pin(std::uint64_t pin_id) {
  std::unique_lock lock(mutex_);
  if (!pin_table_.contains(pin_id)) return ok_status();
  PINFS_TRY(writable("erase pin", 0));
  Op op(*this);
  if (Status staged = pin_table_.stage_erase(op.view, pin_id); !staged.ok())
    return note(std::move(staged).error());
  return commit(op);
}

Result<std::vector<PinRecord>> PmemFileSystem::recorded_pins() {
  std::shared_lock lock(mutex_);
  return pin_table_.records();
}

Result<std::vector<Extent>> PmemFileSystem::quarantined() {
  std::shared_lock lock(mutex_);
  std::vector<Extent> out;
  for (const Allocator::Quarantined& q : alloc_.quarantine()) {
    if (q.in_use) out.push_back(Extent{0, q.media_offset, q.length});
  }
  std::sort(out.begin(), out.end(),
            [](const Extent& a, const Extent& b) { return a.media_offset < b.media_offset; });
  return out;
}

}  // namespace pinfs::fs
