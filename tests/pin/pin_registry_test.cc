#include "pin/pin_registry.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "tests/pin/fault_injecting_reclaim_probes.h"

namespace pinfs::pin {
namespace {

constexpr std::uint64_t kMiB = 1ull << 20;
constexpr fs::InodeNumber kIno = 42;
const std::string kPath = "/mnt/pinfs/data";

ClientIdentity client(ClientId id, pid_t pid) { return ClientIdentity{id, pid, 1000, "rdma_app", 0}; }

PinSpec spec(ClientId client_id, pid_t pid, LeaseId lease, ByteRange file_range,
             std::vector<fs::Extent> extents) {
  PinSpec spec;
  spec.client = client(client_id, pid);
  spec.lease_id = lease;
  spec.ino = kIno;
  spec.path = kPath;
  spec.file_range = file_range;
  spec.extents = std::move(extents);
  return spec;
}

Registration registration(std::uint32_t rkey) {
  return Registration{"rxe0", rkey + 1, rkey, 0x7f0000000000, 2 * kMiB, 0x7};
}

TEST(PinRegistryTest, PinRecordsClippedExtentsAndAnswersOverlapAndPinnedQueries) {
  PinRegistry registry;
  // The file system's answer may stick out of the pinned range.
  Result<PinId> id = registry.add(spec(1, 100, 7, {2 * kMiB, 2 * kMiB},
                                       {{0, 10 * kMiB, 4 * kMiB}, {4 * kMiB, 20 * kMiB, 2 * kMiB}}));
  ASSERT_TRUE(id.ok()) << id.error().message();
  std::optional<FilePin> pin = registry.find(*id);
  ASSERT_TRUE(pin.has_value());
  EXPECT_EQ(pin->extents, (std::vector<fs::Extent>{{2 * kMiB, 12 * kMiB, 2 * kMiB}}));
  EXPECT_EQ(pin->lease_id, 7u);
  EXPECT_EQ(pin->state, PinState::active);
  EXPECT_EQ(pin->client.command, "rdma_app");

  EXPECT_TRUE(registry.is_pinned({13 * kMiB, 1}));
  EXPECT_FALSE(registry.is_pinned({10 * kMiB, 2 * kMiB}));  // clipped away
  EXPECT_FALSE(registry.is_pinned({20 * kMiB, 2 * kMiB}));
  EXPECT_EQ(registry.overlapping(kIno, {0, 3 * kMiB}), (std::vector<PinId>{*id}));
  EXPECT_TRUE(registry.overlapping(kIno, {4 * kMiB, kMiB}).empty());
  EXPECT_TRUE(registry.overlapping(kIno + 1, {0, fs::kToEnd}).empty());
  EXPECT_EQ(registry.stats().pinned_media_bytes, 2 * kMiB);
}

TEST(PinRegistryTest, PinOverAHoleIsRefusedWithEinval) {
  PinRegistry registry;
  Result<PinId> id = registry.add(spec(1, 100, 7, {0, 4 * kMiB}, {{0, 10 * kMiB, kMiB}, {2 * kMiB, 12 * kMiB, 2 * kMiB}}));
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.error().errnum(), EINVAL);
  EXPECT_EQ(id.error().op(), "pin");
  EXPECT_EQ(id.error().object(), "'/mnt/pinfs/data' [0, 4 MiB)");
  EXPECT_NE(id.error().detail().find("hole at [1 MiB, 2 MiB)"), std::string::npos) << id.error().message();

  Result<PinId> unbounded = registry.add(spec(1, 100, 7, {0, fs::kToEnd}, {{0, 0, kMiB}}));
  ASSERT_FALSE(unbounded.ok());
  EXPECT_EQ(unbounded.error().errnum(), EINVAL);
  EXPECT_EQ(registry.stats().pins, 0u);
}

TEST(PinRegistryTest, QuarantinedRangeIsHandedBackOnlyWhenItsLastPinEnds) {
  PinRegistry registry;
  PinId first = *registry.add(spec(1, 100, 7, {0, 2 * kMiB}, {{0, 10 * kMiB, 2 * kMiB}}));
  PinId second = *registry.add(spec(2, 200, 8, {0, 2 * kMiB}, {{0, 10 * kMiB, 2 * kMiB}}));
  PinId third = *registry.add(spec(2, 200, 8, {2 * kMiB, 2 * kMiB}, {{2 * kMiB, 12 * kMiB, 2 * kMiB}}));
  // The file system frees [10 MiB, 14 MiB) while it is pinned: quarantine.
  EXPECT_TRUE(registry.quarantine_if_pinned({10 * kMiB, 4 * kMiB}));
  EXPECT_FALSE(registry.quarantine_if_pinned({30 * kMiB, kMiB}));
  EXPECT_EQ(registry.stats().quarantined_bytes, 4 * kMiB);

  EXPECT_TRUE(registry.remove(first)->empty());   // second still pins [10, 12)
  EXPECT_TRUE(registry.remove(third)->empty());   // [10, 12) still pinned
  Result<std::vector<ByteRange>> released = registry.remove(second);
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(*released, (std::vector<ByteRange>{{10 * kMiB, 4 * kMiB}}));
  EXPECT_EQ(registry.stats().quarantined_bytes, 0u);
  EXPECT_EQ(registry.stats().pinned_media_bytes, 0u);

  Result<std::vector<ByteRange>> again = registry.remove(second);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().errnum(), ENOENT);
}

TEST(PinRegistryTest, RemovingAnotherClientsPinIsRefusedWithEperm) {
  PinRegistry registry;
  PinId id = *registry.add(spec(1, 100, 7, {0, kMiB}, {{0, 0, kMiB}}));
  Result<std::vector<ByteRange>> other = registry.remove_owned(2, id);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().errnum(), EPERM);
  EXPECT_EQ(other.error().op(), "unpin");
  EXPECT_TRUE(registry.remove_owned(1, id).ok());
}

TEST(PinRegistryTest, ListsPinsByClientAndByLease) {
  PinRegistry registry;
  PinId a = *registry.add(spec(1, 100, 7, {0, kMiB}, {{0, 0, kMiB}}));
  PinId b = *registry.add(spec(1, 100, 9, {kMiB, kMiB}, {{kMiB, kMiB, kMiB}}));
  PinId c = *registry.add(spec(2, 200, 8, {0, kMiB}, {{0, 0, kMiB}}));
  auto ids = [](const std::vector<FilePin>& pins) {
    std::vector<PinId> out;
    for (const FilePin& pin : pins) out.push_back(pin.id);
    return out;
  };
  EXPECT_EQ(ids(registry.by_client(1)), (std::vector<PinId>{a, b}));
  EXPECT_EQ(ids(registry.by_lease(8)), (std::vector<PinId>{c}));
  EXPECT_EQ(ids(registry.list()), (std::vector<PinId>{a, b, c}));
  EXPECT_EQ(registry.count_for_client(1), 2u);

  // Releasing lease 7 ends its pins only.
  EXPECT_TRUE(registry.remove_lease_pins(7).empty());
  EXPECT_EQ(ids(registry.list()), (std::vector<PinId>{b, c}));
}

TEST(PinRegistryTest, RegistrationsAreRecordedLimitedAndRemoved) {
  PinRegistry registry;
  PinId id = *registry.add(spec(1, 100, 7, {0, kMiB}, {{0, 0, kMiB}}));
  ASSERT_TRUE(registry.add_registration(1, id, registration(0x100)).ok());
  EXPECT_EQ(registry.find(id)->registrations, (std::vector<Registration>{registration(0x100)}));

  Status not_owner = registry.add_registration(2, id, registration(0x101));
  ASSERT_FALSE(not_owner.ok());
  EXPECT_EQ(not_owner.error().errnum(), EPERM);

  Registration malformed = registration(0x102);
  malformed.device_name.clear();
  EXPECT_EQ(registry.add_registration(1, id, malformed).error().errnum(), EINVAL);

  for (std::uint32_t rkey = 1; rkey < kMaxRegistrationsPerPin; ++rkey) {
    ASSERT_TRUE(registry.add_registration(1, id, registration(0x200 + rkey)).ok());
  }
  Status full = registry.add_registration(1, id, registration(0x999));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().errnum(), E2BIG);

  ASSERT_TRUE(registry.remove_registration(1, id, "rxe0", 0x100).ok());
  EXPECT_EQ(registry.remove_registration(1, id, "rxe0", 0x100).error().errnum(), ENOENT);
}

// Invariant 2: an orphaned pin's extents come back only once the process
// has exited and the kernel no longer lists its registrations.
TEST(PinRegistryTest, OrphanedPinEndsOnlyAfterItsProcessAndRegistrationsAreGone) {
  PinRegistry registry;
  testing::FaultInjectingReclaimProbes probes;
  PinId id = *registry.add(spec(1, 100, 7, {0, 2 * kMiB}, {{0, 10 * kMiB, 2 * kMiB}}));
  ASSERT_TRUE(registry.add_registration(1, id, registration(0x100)).ok());
  ASSERT_TRUE(registry.add_registration(1, id, registration(0x200)).ok());
  ASSERT_TRUE(registry.quarantine_if_pinned({10 * kMiB, 2 * kMiB}));

  // Not orphaned yet: reclaim looks at nothing.
  ReclaimReport report = registry.reclaim_orphans(probes);
  EXPECT_TRUE(report.reclaimed.empty());
  EXPECT_EQ(probes.process_queries(), 0);

  registry.orphan_client_pins(1);
  EXPECT_EQ(registry.find(id)->state, PinState::orphaned);
  EXPECT_EQ(registry.stats().orphaned_pins, 1u);

  // The socket closed but the process lives on.
  report = registry.reclaim_orphans(probes);
  EXPECT_TRUE(report.reclaimed.empty());
  EXPECT_EQ(report.still_waiting, 1u);
  EXPECT_EQ(probes.registration_queries(), 0);  // not worth asking while it lives

  // The process is gone, but a child still holds the uverbs file: one MR lives.
  probes.set_process_gone(100, true);
  probes.set_registration_alive("rxe0", 0x100, false);
  report = registry.reclaim_orphans(probes);
  EXPECT_TRUE(report.reclaimed.empty());
  EXPECT_TRUE(registry.is_pinned({10 * kMiB, 2 * kMiB}));

  // A failing netlink query means "do not know": the pin stays.
  probes.set_registration_alive("rxe0", 0x200, false);
  probes.fail_registration_queries(EIO);
  report = registry.reclaim_orphans(probes);
  EXPECT_TRUE(report.reclaimed.empty());

  probes.fail_registration_queries(0);
  report = registry.reclaim_orphans(probes);
  EXPECT_EQ(report.reclaimed, (std::vector<PinId>{id}));
  EXPECT_EQ(report.released_quarantine, (std::vector<ByteRange>{{10 * kMiB, 2 * kMiB}}));
  EXPECT_FALSE(registry.is_pinned({10 * kMiB, 2 * kMiB}));
  EXPECT_EQ(registry.stats().pins, 0u);
}

TEST(PinRegistryTest, FailingProcessQueryKeepsOrphanedPins) {
  PinRegistry registry;
  testing::FaultInjectingReclaimProbes probes;
  ASSERT_TRUE(registry.add(spec(1, 100, 7, {0, kMiB}, {{0, 0, kMiB}})).ok());
  registry.orphan_client_pins(1);
  probes.set_process_gone(100, true);
  probes.fail_process_queries(ESRCH);
  EXPECT_TRUE(registry.reclaim_orphans(probes).reclaimed.empty());
  probes.fail_process_queries(0);
  EXPECT_EQ(registry.reclaim_orphans(probes).reclaimed.size(), 1u);
}

TEST(PinRegistryTest, RevokedPinsKeepTheirExtentsPinnedAndLeaveTheLease) {
  PinRegistry registry;
  PinId id = *registry.add(spec(1, 100, 7, {0, kMiB}, {{0, 5 * kMiB, kMiB}}));
  EXPECT_EQ(registry.revoke_lease_pins(7), (std::vector<PinId>{id}));
  EXPECT_EQ(registry.find(id)->state, PinState::revoked);
  EXPECT_TRUE(registry.by_lease(7).empty());
  EXPECT_TRUE(registry.is_pinned({5 * kMiB, kMiB}));
  // Releasing the (revoked) lease later does not end them...
  EXPECT_TRUE(registry.remove_lease_pins(7).empty());
  EXPECT_TRUE(registry.find(id).has_value());
  // ...the client's unpin does.
  EXPECT_TRUE(registry.remove_owned(1, id).ok());
  EXPECT_FALSE(registry.is_pinned({5 * kMiB, kMiB}));
}

}  // namespace
}  // namespace pinfs::pin
