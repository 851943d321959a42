// Pins restored after a daemon restart (DESIGN.md §4, invariant 3): they are
// orphans of their recorded owner, keep their ids, keep their extents out of
// the free pool and end only through reclaim; quarantine found on the media
// waits for them, or is handed back at once when nothing pins it.
#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

#include "pin/pin_registry.h"
#include "tests/pin/fault_injecting_reclaim_probes.h"

namespace pinfs::pin {
namespace {

constexpr std::uint64_t kMiB = 1ull << 20;

FilePin recorded(PinId id, pid_t pid, std::uint64_t media_offset) {
  FilePin pin;
  pin.id = id;
  pin.client = ClientIdentity{(1ull << 48) + static_cast<ClientId>(pid), pid, 1000, "rdma_app", 555};
  pin.ino = 42;
  pin.file_range = {0, 2 * kMiB};
  pin.extents = {{0, media_offset, 2 * kMiB}};
  pin.registrations = {Registration{"rxe0", 1, 9, 0x7f0000000000, 2 * kMiB, 7}};
  return pin;
}

TEST(RestoredPinTest, ARestoredPinIsAnOrphanThatKeepsItsIdAndItsExtentsPinned) {
  PinRegistry registry;
  ASSERT_TRUE(registry.restore_orphan(recorded(17, 300, 10 * kMiB)).ok());
  auto pin = registry.find(17);
  ASSERT_TRUE(pin.has_value());
  EXPECT_EQ(pin->state, PinState::orphaned);
  EXPECT_EQ(pin->client.start_time_ticks, 555u);
  EXPECT_TRUE(registry.is_pinned({11 * kMiB, 1}));
  EXPECT_EQ(registry.stats().orphaned_pins, 1u);
  // New pins never reuse a restored id.
  PinSpec spec;
  spec.client = ClientIdentity{1, 400, 0, "other", 0};
  spec.ino = 43;
  spec.file_range = {0, kMiB};
  spec.extents = {{0, 20 * kMiB, kMiB}};
  auto id = registry.add(spec);
  ASSERT_TRUE(id.ok());
  EXPECT_GT(*id, 17u);
  // The same id twice is refused.
  auto again = registry.restore_orphan(recorded(17, 300, 30 * kMiB));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().errnum(), EEXIST);
}

TEST(RestoredPinTest, ARestoredPinEndsOnlyOnceItsOwnerAndItsRegistrationsAreGone) {
  PinRegistry registry;
  ASSERT_TRUE(registry.restore_orphan(recorded(5, 300, 10 * kMiB)).ok());
  // The punch after the restart quarantined its extents.
  EXPECT_TRUE(registry.quarantine_if_pinned({10 * kMiB, 2 * kMiB}));
  testing::FaultInjectingReclaimProbes probes;
  EXPECT_TRUE(registry.reclaim_orphans(probes).reclaimed.empty());  // the owner lives
  probes.set_process_gone(300, true);
  EXPECT_TRUE(registry.reclaim_orphans(probes).reclaimed.empty());  // its MR is still listed
  probes.set_registration_alive("rxe0", 9, false);
  ReclaimReport report = registry.reclaim_orphans(probes);
  EXPECT_EQ(report.reclaimed, std::vector<PinId>{5});
  EXPECT_EQ(report.released_quarantine, (std::vector<ByteRange>{{10 * kMiB, 2 * kMiB}}));
  EXPECT_FALSE(registry.is_pinned({10 * kMiB, 2 * kMiB}));
}

TEST(RestoredPinTest, QuarantineFoundAtRestartWaitsForItsPinsOrIsHandedBackAtOnce) {
  PinRegistry registry;
  ASSERT_TRUE(registry.restore_orphan(recorded(5, 300, 10 * kMiB)).ok());
  EXPECT_TRUE(registry.adopt_quarantine({10 * kMiB, 2 * kMiB}));
  EXPECT_FALSE(registry.adopt_quarantine({40 * kMiB, 2 * kMiB}));  // nobody pins it
  EXPECT_EQ(registry.stats().quarantined_bytes, 2 * kMiB);
  testing::FaultInjectingReclaimProbes probes;
  probes.set_process_gone(300, true);
  probes.set_registration_alive("rxe0", 9, false);
  EXPECT_EQ(registry.reclaim_orphans(probes).released_quarantine,
            (std::vector<ByteRange>{{10 * kMiB, 2 * kMiB}}));
}

}  // namespace
}  // namespace pinfs::pin
