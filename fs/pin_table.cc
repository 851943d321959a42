#include "fs/pin_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>

#include "fs/format.h"
#include "fs/le.h"

namespace pinfs::fs {

namespace {

constexpr std::size_t kItemBytes = sizeof(format::PinSlot::items);
constexpr std::size_t kExtentBytes = sizeof(format::PinExtentItem);
constexpr std::size_t kRegistrationBytes = sizeof(format::PinRegistrationItem);
constexpr std::size_t kDeviceBytes = sizeof(format::PinRegistrationItem::device_name);
constexpr std::size_t kCommandBytes = sizeof(format::PinSlot::command);

RecordName chunk_name(std::uint64_t chunk) { return RecordName("[pin-table chunk {}]", chunk); }

std::uint64_t slot_offset(const Geometry& g, std::uint64_t slot) {
  return g.pin_table_chunk_offset(slot / format::kPinSlotsPerChunk) + sizeof(format::ChunkHeader) +
         (slot % format::kPinSlotsPerChunk) * sizeof(format::PinSlot);
}

std::string fixed_string(const char* bytes, std::size_t size) {
  return std::string(bytes, strnlen(bytes, size));
}

// The header every part of the record repeats.
format::PinSlot header_of(const PinRecord& r, std::uint32_t parts) {
  format::PinSlot s{};
  s.pin_id = r.pin_id;
  s.parts = parts;
  s.ino = r.ino;
  s.file_offset = r.file_offset;
  s.file_length = r.file_length;
  s.owner_pid = static_cast<std::uint32_t>(r.owner_pid);
  s.owner_uid = r.owner_uid;
  s.owner_start_ticks = r.owner_start_ticks;
  std::memcpy(s.boot_id, r.boot_id.data(), sizeof s.boot_id);
  std::memcpy(s.command, r.command.data(), std::min(r.command.size(), kCommandBytes - 1));
  s.created_sec = r.created_sec;
  s.extent_count = static_cast<std::uint32_t>(r.extents.size());
  s.registration_count = static_cast<std::uint32_t>(r.registrations.size());
  return s;
}

Status validate_record(const Geometry& g, const PinRecord& r) {
  const std::string object = fmt::format("<pin {}>", r.pin_id);
  if (r.pin_id == 0) return Error(EINVAL, "record pin", object, "pin id 0");
  if (r.file_length == 0 || r.file_offset > UINT64_MAX - r.file_length)
    return Error(EINVAL, "record pin", object, "an empty or wrapping file range");
  for (const Extent& e : r.extents) {
    if (e.length == 0 || e.media_offset < g.data_offset() || e.media_offset > g.data_end() ||
        e.length > g.data_end() - e.media_offset)
      return Error(EINVAL, "record pin", object,
                   fmt::format("extent [{}, +{}) is outside the data area", e.media_offset, e.length));
  }
  for (const RecordedRegistration& reg : r.registrations) {
    if (reg.device_name.empty() || reg.device_name.size() >= kDeviceBytes ||
        reg.device_name.find('\0') != std::string::npos)
      return Error(EINVAL, "record pin", object, "a registration's device name is empty or too long");
  }
  return ok_status();
}

// Splits the record into parts: extents first, then registrations, each part
// filled while its item area has room.
std::vector<format::PinSlot> encode(const PinRecord& r) {
  struct Item {
    bool extent;
    std::size_t index;
  };
  std::vector<std::vector<Item>> parts(1);
  std::size_t used = 0;
  auto place = [&](Item item) {
    std::size_t bytes = item.extent ? kExtentBytes : kRegistrationBytes;
    if (used + bytes > kItemBytes) {
      parts.emplace_back();
      used = 0;
    }
    parts.back().push_back(item);
    used += bytes;
  };
  for (std::size_t i = 0; i < r.extents.size(); ++i) place({true, i});
  for (std::size_t i = 0; i < r.registrations.size(); ++i) place({false, i});
  std::vector<format::PinSlot> out;
  const auto count = static_cast<std::uint32_t>(parts.size());
  for (std::uint32_t p = 0; p < count; ++p) {
    format::PinSlot s = header_of(r, count);
    s.part = p;
    std::size_t at = 0;
    std::uint16_t extents = 0, regs = 0;
    for (const Item& item : parts[p]) {
      if (item.extent) {
        const Extent& e = r.extents[item.index];
        format::PinExtentItem x{};
        x.file_offset = e.file_offset;
        x.media_offset = e.media_offset;
        x.length = e.length;
        store_as(s.items + at, x);
        at += kExtentBytes;
        ++extents;
      } else {
        const RecordedRegistration& reg = r.registrations[item.index];
        format::PinRegistrationItem x{};
        std::memcpy(x.device_name, reg.device_name.data(), reg.device_name.size());
        x.lkey = reg.lkey;
        x.rkey = reg.rkey;
        x.iova = reg.iova;
        x.length = reg.length_bytes;
        x.access_flags = reg.access_flags;
        store_as(s.items + at, x);
        at += kRegistrationBytes;
        ++regs;
      }
    }
    s.part_extents = extents;
    s.part_registrations = regs;
    out.push_back(s);
  }
  return out;
}

// Do two parts carry the same header (all but part and the item counts)?
bool same_header(const format::PinSlot& a, const format::PinSlot& b) {
  format::PinSlot x = a, y = b;
  x.part = y.part = 0;
  x.part_extents = y.part_extents = 0;
  x.part_registrations = y.part_registrations = 0;
  return std::memcmp(&x, &y, offsetof(format::PinSlot, items)) == 0;
}

}  // namespace

DecodedPinTable decode_pin_table(const MetaView& view,
                                 const std::function<void(std::string, std::string)>& problem) {
  const Geometry& g = view.geometry();
  DecodedPinTable out;
  std::map<std::uint64_t, std::vector<std::pair<std::uint64_t, format::PinSlot>>> parts;  // id -> (slot, part)
  std::set<std::uint64_t> bad;
  for (std::uint64_t c = 0; c < g.pin_table_chunks; ++c) {
    const std::string where = fmt::format("pin-table chunk {}", c);
    auto chunk = view.read(g.pin_table_chunk_offset(c), format::kChunkBytes, format::kKindPinTable,
                           chunk_name(c));
    if (!chunk.ok()) {
      problem(where, chunk.error().detail());
      continue;
    }
    if (load_as<format::ChunkHeader>(chunk->data()).index.get() != c) {
      problem(where, "holds another chunk's index");
      continue;
    }
    for (std::uint64_t i = 0; i < format::kPinSlotsPerChunk; ++i) {
      const std::uint64_t slot = c * format::kPinSlotsPerChunk + i;
      auto s = load_as<format::PinSlot>(chunk->data() + sizeof(format::ChunkHeader) +
                                        i * sizeof(format::PinSlot));
      const std::uint64_t id = s.pin_id;
      if (id == 0) continue;
      auto fail = [&](std::string what) {
        problem(fmt::format("pin-table slot {}", slot), fmt::format("pin {}: {}", id, what));
        bad.insert(id);
      };
      if (s.parts.get() == 0 || s.parts.get() > kMaxPinRecordSlots || s.part.get() >= s.parts.get()) {
        fail(fmt::format("part {} of {}", s.part.get(), s.parts.get()));
        continue;
      }
      if (s.part_extents.get() * kExtentBytes + s.part_registrations.get() * kRegistrationBytes >
          kItemBytes) {
        fail("more items than a slot holds");
        continue;
      }
      if (s.file_length.get() == 0 || s.file_offset.get() > UINT64_MAX - s.file_length.get()) {
        fail("an empty or wrapping file range");
        continue;
      }
      parts[id].emplace_back(slot, s);
    }
  }
  for (auto& [id, list] : parts) {
    if (bad.count(id)) continue;
    const std::string where = fmt::format("pin {}", id);
    std::sort(list.begin(), list.end(),
              [](const auto& a, const auto& b) { return a.second.part.get() < b.second.part.get(); });
    const format::PinSlot& head = list.front().second;
    bool ok = list.size() == head.parts.get();
    for (std::size_t p = 0; ok && p < list.size(); ++p) {
      ok = list[p].second.part.get() == p && same_header(head, list[p].second);
    }
    if (!ok) {
      problem(where, fmt::format("its {} slots do not make parts 0..{} of one record", list.size(),
                                 head.parts.get() - 1));
      continue;
    }
    PinRecord r;
    r.pin_id = id;
    r.ino = head.ino;
    r.file_offset = head.file_offset;
    r.file_length = head.file_length;
    r.owner_pid = static_cast<std::int32_t>(head.owner_pid.get());
    r.owner_uid = head.owner_uid;
    r.owner_start_ticks = head.owner_start_ticks;
    std::memcpy(r.boot_id.data(), head.boot_id, r.boot_id.size());
    r.command = fixed_string(head.command, kCommandBytes);
    r.created_sec = head.created_sec;
    std::string wrong;
    for (const auto& [slot, s] : list) {
      std::size_t at = 0;
      for (unsigned e = 0; e < s.part_extents.get(); ++e, at += kExtentBytes) {
        auto x = load_as<format::PinExtentItem>(s.items + at);
        Extent extent{x.file_offset, x.media_offset, x.length};
        if (extent.length == 0 || extent.media_offset < g.data_offset() ||
            extent.media_offset > g.data_end() || extent.length > g.data_end() - extent.media_offset)
          wrong = fmt::format("extent [{}, +{}) is outside the data area", extent.media_offset,
                              extent.length);
        r.extents.push_back(extent);
      }
      for (unsigned k = 0; k < s.part_registrations.get(); ++k, at += kRegistrationBytes) {
        auto x = load_as<format::PinRegistrationItem>(s.items + at);
        RecordedRegistration reg;
        if (x.device_name[0] == '\0' || x.device_name[kDeviceBytes - 1] != '\0')
          wrong = "a registration's device name is empty or not terminated";
        reg.device_name = fixed_string(x.device_name, kDeviceBytes);
        reg.lkey = x.lkey;
        reg.rkey = x.rkey;
        reg.iova = x.iova;
        reg.length_bytes = x.length;
        reg.access_flags = x.access_flags;
        r.registrations.push_back(std::move(reg));
      }
    }
    if (wrong.empty() && (r.extents.size() != head.extent_count.get() ||
                          r.registrations.size() != head.registration_count.get()))
      wrong = fmt::format("{} extents and {} registrations, the header says {} and {}",
                          r.extents.size(), r.registrations.size(), head.extent_count.get(),
                          head.registration_count.get());
    if (!wrong.empty()) {
      problem(where, wrong);
      continue;
    }
    std::vector<std::uint64_t> slots;
    for (const auto& [slot, s] : list) slots.push_back(slot);
    out.slots.emplace(id, std::move(slots));
    out.records.emplace(id, std::move(r));
  }
  return out;
}

Status PinTable::load(const MetaView& view) {
  slot_owner_.assign(g_.pin_table_slots(), 0);
  records_.clear();
  slots_of_.clear();
  std::optional<Error> first;
  DecodedPinTable table = decode_pin_table(view, [&](std::string where, std::string what) {
    if (!first) first = corrupt("mount", "[" + where + "]", std::move(what));
  });
  if (first) return *first;
  for (const auto& [id, slots] : table.slots)
    for (std::uint64_t slot : slots) slot_owner_[slot] = id;
  records_ = std::move(table.records);
  slots_of_ = std::move(table.slots);
  return ok_status();
}

Status PinTable::stage_slot(MetaView& view, std::uint64_t slot, const format::PinSlot& content) {
  const std::uint64_t c = slot / format::kPinSlotsPerChunk;
  PINFS_ASSIGN_OR_RETURN(auto chunk, view.modify(g_.pin_table_chunk_offset(c), format::kChunkBytes,
                                                 format::kKindPinTable, chunk_name(c)));
  store_as(chunk.data() + (slot_offset(g_, slot) - g_.pin_table_chunk_offset(c)), content);
  return ok_status();
}

Status PinTable::stage_erase(MetaView& view, std::uint64_t pin_id) {
  auto it = slots_of_.find(pin_id);
  if (it == slots_of_.end()) return ok_status();
  const std::vector<std::uint64_t> slots = it->second;
  for (std::uint64_t slot : slots) PINFS_TRY(stage_slot(view, slot, format::PinSlot{}));
  view.txn()->on_abort([this, pin_id, slots, record = records_.at(pin_id)] {
    for (std::uint64_t slot : slots) slot_owner_[slot] = pin_id;
    slots_of_[pin_id] = slots;
    records_[pin_id] = record;
  });
  for (std::uint64_t slot : slots) slot_owner_[slot] = 0;
  slots_of_.erase(pin_id);
  records_.erase(pin_id);
  return ok_status();
}

Status PinTable::stage_record(MetaView& view, const PinRecord& record) {
  const std::string object = fmt::format("<pin {}>", record.pin_id);
  if (!present())
    return Error(EOPNOTSUPP, "record pin", object,
                 "this image has no pin table (made by an older mkfs): pins do not survive a "
                 "daemon restart");
  PINFS_TRY(validate_record(g_, record));
  std::vector<format::PinSlot> parts = encode(record);
  if (parts.size() > kMaxPinRecordSlots)
    return Error(E2BIG, "record pin", object,
                 fmt::format("needs {} pin-table slots, at most {}", parts.size(), kMaxPinRecordSlots));
  PINFS_TRY(stage_erase(view, record.pin_id));
  std::vector<std::uint64_t> slots;
  for (std::uint64_t slot = 0; slot < slot_owner_.size() && slots.size() < parts.size(); ++slot) {
    if (slot_owner_[slot] == 0) slots.push_back(slot);
  }
  if (slots.size() < parts.size())
    return Error(ENOSPC, "record pin", object,
                 fmt::format("the pin table ({} slots) is full; unpin first", slot_owner_.size()));
  for (std::size_t p = 0; p < parts.size(); ++p) PINFS_TRY(stage_slot(view, slots[p], parts[p]));
  view.txn()->on_abort([this, id = record.pin_id, slots] {
    for (std::uint64_t slot : slots) slot_owner_[slot] = 0;
    slots_of_.erase(id);
    records_.erase(id);
  });
  for (std::uint64_t slot : slots) slot_owner_[slot] = record.pin_id;
  slots_of_[record.pin_id] = slots;
  PinRecord kept = record;
  if (kept.command.size() >= kCommandBytes) kept.command.resize(kCommandBytes - 1);
  records_[record.pin_id] = std::move(kept);
  return ok_status();
}

std::vector<PinRecord> PinTable::records() const {
  std::vector<PinRecord> out;
  out.reserve(records_.size());
  for (const auto& [id, r] : records_) out.push_back(r);
  return out;
}

}  // namespace pinfs::fs
