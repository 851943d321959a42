// The lease manager's client side: taking, releasing and conflicting
// leases, the rules a pin must pass, client death, limits and statistics.
#include "lease/lease_manager.h"

#include <gtest/gtest.h>

#include "tests/lease/lease_test_support.h"
#include "tests/pin/fault_injecting_reclaim_probes.h"

namespace pinfs::lease {
namespace {

using namespace testing;  // NOLINT
using fs::LayoutChangeKind;

constexpr ClientId kAlice = 1;
constexpr pid_t kAlicePid = 100;
constexpr ClientId kBob = 2;
constexpr pid_t kBobPid = 200;
constexpr pid_t kAdminPid = 777;

class LeaseManagerTest : public LeaseTest {
 protected:
  void SetUp() override { make_manager(kNeverMs, BreakPolicy::fail); }
};

TEST_F(LeaseManagerTest, ReleasingALeaseReleasesItsPinsFirst) {
  connect(kAlice, kAlicePid);
  LeaseId lease = take(kAlice, LeaseType::read);
  LeaseId other = take(kAlice, LeaseType::read, {0, kMiB});
  PinId first = pin(kAlice, lease, {0, 2 * kMiB}, 8 * kMiB);
  PinId second = pin(kAlice, lease, {2 * kMiB, 2 * kMiB}, 20 * kMiB);
  PinId kept = pin(kAlice, other, {0, kMiB}, 30 * kMiB);
  EXPECT_EQ(manager_->find_lease(lease)->pins, 2u);

  ASSERT_TRUE(manager_->release(kAlice, lease).ok());
  EXPECT_FALSE(manager_->pins().find(first).has_value());
  EXPECT_FALSE(manager_->pins().find(second).has_value());
  EXPECT_TRUE(manager_->pins().find(kept).has_value());
  EXPECT_FALSE(manager_->pins().is_pinned({8 * kMiB, 2 * kMiB}));
  EXPECT_FALSE(manager_->pins().is_pinned({20 * kMiB, 2 * kMiB}));
  EXPECT_EQ(manager_->stats().pinned_bytes, kMiB);

  Status again = manager_->release(kAlice, lease);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().errnum(), ENOENT);
  EXPECT_EQ(again.error().op(), "release lease");
}

TEST_F(LeaseManagerTest, ReleasingAnotherClientsLeaseIsRefusedWithEperm) {
  connect(kAlice, kAlicePid);
  connect(kBob, kBobPid);
  LeaseId lease = take(kAlice, LeaseType::read);
  Status status = manager_->release(kBob, lease);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errnum(), EPERM);
  EXPECT_TRUE(manager_->find_lease(lease).has_value());
}

TEST_F(LeaseManagerTest, ClientDeathDropsItsLeasesAndOrphansItsPins) {
  connect(kAlice, kAlicePid);
  LeaseId lease = take(kAlice, LeaseType::unbreakable);
  PinId pin_id = pin(kAlice, lease, {0, 2 * kMiB}, 8 * kMiB);
  ASSERT_TRUE(manager_->add_registration(kAlice, pin_id,
                                         pin::Registration{"rxe0", 1, 2, 0x1000, 2 * kMiB, 7})
                  .ok());

  manager_->drop_client(kAlice);
  manager_->drop_client(kAlice);  // the close path may run twice
  EXPECT_TRUE(manager_->leases().empty());
  EXPECT_EQ(manager_->stats().clients, 0u);
  EXPECT_EQ(manager_->pins().find(pin_id)->state, pin::PinState::orphaned);
  EXPECT_EQ(manager_->stats().orphaned_pins, 1u);

  // No lease is left to protect the file: a truncate proceeds at once, and
  // the pinned extent goes to quarantine instead of the free pool.
  fs::LayoutChange truncate = layout_change(LayoutChangeKind::truncate_down, 0, fs::kToEnd, kAdminPid);
  ASSERT_TRUE(manager_->begin_layout_change(truncate).ok());
  EXPECT_TRUE(manager_->is_pinned(8 * kMiB, 2 * kMiB));
  manager_->end_layout_change(truncate);

  // The dead client can do nothing more.
  EXPECT_EQ(manager_->unpin(kAlice, pin_id).error().errnum(), ENOTCONN);
  EXPECT_EQ(try_take(kAlice, LeaseType::read).error().errnum(), ENOTCONN);

  pin::testing::FaultInjectingReclaimProbes probes;
  probes.set_process_gone(kAlicePid, true);
  EXPECT_TRUE(manager_->reclaim(probes).reclaimed.empty());  // MR still listed
  probes.set_registration_alive("rxe0", 2, false);
  EXPECT_EQ(manager_->reclaim(probes).reclaimed, (std::vector<PinId>{pin_id}));
  EXPECT_EQ(released(), (std::vector<ByteRange>{{8 * kMiB, 2 * kMiB}}));
  EXPECT_EQ(manager_->stats().pins, 0u);
}

TEST_F(LeaseManagerTest, WriteLeaseConflictsWithAnotherClientsLeaseWithEagain) {
  connect(kAlice, kAlicePid);
  connect(kBob, kBobPid);
  take(kAlice, LeaseType::read, {0, 4 * kMiB});
  Result<LeaseId> write = try_take(kBob, LeaseType::write, {2 * kMiB, 4 * kMiB});
  ASSERT_FALSE(write.ok());
  EXPECT_EQ(write.error().errnum(), EAGAIN);
  EXPECT_EQ(write.error().op(), "take write lease");
  EXPECT_NE(write.error().detail().find("held by pid 100"), std::string::npos) << write.error().message();

  LeaseId bobs = take(kBob, LeaseType::write, {4 * kMiB, 4 * kMiB});  // no overlap
  EXPECT_EQ(try_take(kAlice, LeaseType::unbreakable, {6 * kMiB, kMiB}).error().errnum(), EAGAIN);
  // Shared leases share; a client's own leases never conflict.
  EXPECT_TRUE(try_take(kBob, LeaseType::read, {0, kMiB}).ok());
  EXPECT_TRUE(try_take(kBob, LeaseType::read, {4 * kMiB, kMiB}).ok());
  EXPECT_TRUE(try_take(kAlice, LeaseType::read, {6 * kMiB, kMiB}, kIno + 1).ok());
  (void)bobs;
}

TEST_F(LeaseManagerTest, NewLeaseOverARangeWithALayoutChangeInProgressFailsWithEagain) {
  connect(kAlice, kAlicePid);
  fs::LayoutChange punch = layout_change(LayoutChangeKind::punch_hole, 0, 2 * kMiB, kAdminPid);
  ASSERT_TRUE(manager_->begin_layout_change(punch).ok());
  Result<LeaseId> lease = try_take(kAlice, LeaseType::read, {kMiB, 2 * kMiB});
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.error().errnum(), EAGAIN);
  EXPECT_NE(lease.error().detail().find("punch by pid 777"), std::string::npos) << lease.error().message();
  EXPECT_TRUE(try_take(kAlice, LeaseType::read, {2 * kMiB, 2 * kMiB}).ok());  // beside it
  manager_->end_layout_change(punch);
  EXPECT_TRUE(try_take(kAlice, LeaseType::read, {kMiB, 2 * kMiB}).ok());
}

TEST_F(LeaseManagerTest, PinWithExtentsReadBeforeALayoutChangeFailsWithEagain) {
  connect(kAlice, kAlicePid);
  LeaseId lease = take(kAlice, LeaseType::read, {4 * kMiB, 4 * kMiB});
  PinRequest request;
  request.client = kAlice;
  request.lease = lease;
  request.range = {4 * kMiB, 2 * kMiB};
  request.extents = {fs::Extent{4 * kMiB, 8 * kMiB, 2 * kMiB}};
  request.layout_generation = manager_->layout_generation(kIno);

  // Someone changes another part of the file in between.
  fs::LayoutChange punch = layout_change(LayoutChangeKind::punch_hole, 0, kMiB, kAdminPid);
  ASSERT_TRUE(manager_->begin_layout_change(punch).ok());
  manager_->end_layout_change(punch);

  Result<PinId> stale = manager_->pin(request);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().errnum(), EAGAIN);
  EXPECT_NE(stale.error().detail().find("read them again"), std::string::npos);

  request.layout_generation = manager_->layout_generation(kIno);
  EXPECT_TRUE(manager_->pin(request).ok());
}

TEST_F(LeaseManagerTest, PinOnALeaseBeingBrokenFailsWithEagain) {
  auto sink = connect(kAlice, kAlicePid);
  LeaseId lease = take(kAlice, LeaseType::read);
  sink->react([&](const LeaseEvent& event) {
    if (event.kind != LeaseEventKind::break_requested) return;
    Result<PinId> late = try_pin(kAlice, lease, {0, kMiB}, 8 * kMiB);
    ASSERT_FALSE(late.ok());
    EXPECT_EQ(late.error().errnum(), EAGAIN);
    EXPECT_NE(late.error().detail().find("is being broken"), std::string::npos);
    EXPECT_TRUE(manager_->release(kAlice, lease).ok());
  });
  fs::LayoutChange punch = layout_change(LayoutChangeKind::punch_hole, 0, kMiB, kAdminPid);
  ASSERT_TRUE(manager_->begin_layout_change(punch).ok());
  manager_->end_layout_change(punch);
  EXPECT_EQ(manager_->stats().pins, 0u);
}

TEST_F(LeaseManagerTest, PinOutsideItsLeaseOrUnderAnotherClientsLeaseIsRefusedWithEperm) {
  connect(kAlice, kAlicePid);
  connect(kBob, kBobPid);
  LeaseId lease = take(kAlice, LeaseType::read, {0, 4 * kMiB});
  Result<PinId> outside = try_pin(kAlice, lease, {2 * kMiB, 4 * kMiB}, 8 * kMiB);
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.error().errnum(), EPERM);
  EXPECT_EQ(outside.error().object(), "'/mnt/pinfs/data' [2 MiB, 6 MiB)");
  EXPECT_NE(outside.error().detail().find("covers only [0, 4 MiB)"), std::string::npos);

  Result<PinId> borrowed = try_pin(kBob, lease, {0, kMiB}, 8 * kMiB);
  ASSERT_FALSE(borrowed.ok());
  EXPECT_EQ(borrowed.error().errnum(), EPERM);
}

TEST_F(LeaseManagerTest, PinOverAHoleIsRefusedWithEinval) {
  connect(kAlice, kAlicePid);
  LeaseId lease = take(kAlice, LeaseType::read);
  PinRequest request;
  request.client = kAlice;
  request.lease = lease;
  request.range = {0, 4 * kMiB};
  request.extents = {fs::Extent{0, 8 * kMiB, 2 * kMiB}};  // [2 MiB, 4 MiB) is a hole
  request.layout_generation = manager_->layout_generation(kIno);
  Result<PinId> pin_id = manager_->pin(request);
  ASSERT_FALSE(pin_id.ok());
  EXPECT_EQ(pin_id.error().errnum(), EINVAL);
  EXPECT_NE(pin_id.error().detail().find("hole at [2 MiB, 4 MiB)"), std::string::npos);
}

TEST_F(LeaseManagerTest, LimitsPerClientAreEnforcedWithEnolckAndEnomem) {
  LeaseManagerOptions options;
  options.max_leases_per_client = 2;
  options.max_pins_per_client = 2;
  make_manager(std::move(options));
  connect(kAlice, kAlicePid);
  LeaseId lease = take(kAlice, LeaseType::read, {0, kMiB});
  take(kAlice, LeaseType::read, {kMiB, kMiB});
  Result<LeaseId> third = try_take(kAlice, LeaseType::read, {2 * kMiB, kMiB});
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().errnum(), ENOLCK);

  pin(kAlice, lease, {0, 4096}, 0);
  pin(kAlice, lease, {4096, 4096}, 4096);
  Result<PinId> over = try_pin(kAlice, lease, {8192, 4096}, 8192);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().errnum(), ENOMEM);
}

TEST_F(LeaseManagerTest, ConnectingTwiceWithOneIdIsRefusedWithEexist) {
  connect(kAlice, kAlicePid);
  Status status = manager_->connect_client(ClientIdentity{kAlice, 999, 0, "impostor", 0}, nullptr);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errnum(), EEXIST);
  EXPECT_EQ(manager_->connect_client(ClientIdentity{0, 1, 0, "", 0}, nullptr).error().errnum(), EINVAL);
}

TEST_F(LeaseManagerTest, EmptyLeaseRangeIsRefusedWithEinval) {
  connect(kAlice, kAlicePid);
  Result<LeaseId> lease = try_take(kAlice, LeaseType::read, {4 * kMiB, 0});
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.error().errnum(), EINVAL);
}

TEST_F(LeaseManagerTest, ListingsShowHoldersRangesAndCounts) {
  connect(kAlice, kAlicePid);
  connect(kBob, kBobPid);
  LeaseId a = take(kAlice, LeaseType::read, {0, 4 * kMiB});
  LeaseId b = take(kBob, LeaseType::unbreakable, {0, 4 * kMiB});
  pin(kBob, b, {0, kMiB}, 8 * kMiB);
  std::vector<LeaseInfo> all = manager_->leases();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, a);
  EXPECT_EQ(all[0].holder.pid, kAlicePid);
  EXPECT_EQ(all[0].path, kPath);
  EXPECT_EQ(all[1].type, LeaseType::unbreakable);
  EXPECT_EQ(all[1].pins, 1u);
  EXPECT_EQ(manager_->leases_of(kBob).size(), 1u);

  LeaseStats stats = manager_->stats();
  EXPECT_EQ(stats.clients, 2u);
  EXPECT_EQ(stats.leases, 2u);
  EXPECT_EQ(stats.read_leases, 1u);
  EXPECT_EQ(stats.unbreakable_leases, 1u);
  EXPECT_EQ(stats.pins, 1u);
  EXPECT_EQ(stats.pinned_bytes, kMiB);
}

TEST_F(LeaseManagerTest, EffectiveRangeOfEachLayoutChangeKind) {
  auto range = [](LayoutChangeKind kind) {
    return effective_range(layout_change(kind, 4 * kMiB, kMiB, 1));
  };
  EXPECT_EQ(range(LayoutChangeKind::punch_hole), (ByteRange{4 * kMiB, kMiB}));
  EXPECT_EQ(range(LayoutChangeKind::truncate_down), (ByteRange{4 * kMiB, fs::kToEnd}));
  EXPECT_EQ(range(LayoutChangeKind::collapse_range), (ByteRange{4 * kMiB, fs::kToEnd}));
  EXPECT_EQ(range(LayoutChangeKind::insert_range), (ByteRange{4 * kMiB, fs::kToEnd}));
  EXPECT_EQ(range(LayoutChangeKind::final_unlink), (ByteRange{0, fs::kToEnd}));
  EXPECT_EQ(range(LayoutChangeKind::make_mappable), (ByteRange{0, fs::kToEnd}));
}

}  // namespace
}  // namespace pinfs::lease
