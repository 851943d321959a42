// DESIGN.md §4's table, one row (or one branch of a row) per test, in
// process with threads: what a layout change over a leased, pinned range
// does for each kind of lease.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "lease/lease_manager.h"
#include "tests/lease/lease_test_support.h"
#include "tests/pin/fault_injecting_reclaim_probes.h"

namespace pinfs::lease {
namespace {

using namespace testing;  // NOLINT
using Clock = std::chrono::steady_clock;
using fs::LayoutChangeKind;

constexpr ClientId kHolder = 1;
constexpr pid_t kHolderPid = 4242;
constexpr pid_t kAdminPid = 777;  // a process on the mount, holding no lease

class BreakEngineTest : public LeaseTest {};

// Row "none": a file_pin needs a lease.
TEST_F(BreakEngineTest, PinWithoutALeaseIsRefusedWithEperm) {
  make_manager(kNeverMs, BreakPolicy::fail);
  connect(kHolder, kHolderPid);
  Result<PinId> pin = try_pin(kHolder, /*lease=*/0, {0, 2 * kMiB}, 8 * kMiB);
  ASSERT_FALSE(pin.ok());
  EXPECT_EQ(pin.error().errnum(), EPERM);
  EXPECT_EQ(pin.error().op(), "pin");
  EXPECT_NE(pin.error().detail().find("a file_pin needs a layout lease"), std::string::npos)
      << pin.error().message();
  EXPECT_EQ(manager_->stats().pins, 0u);
}

// Row "none", the other half: with no lease there is nothing to break.
TEST_F(BreakEngineTest, LayoutChangeOverAFileWithoutLeasesProceedsAtOnce) {
  make_manager(kNeverMs, BreakPolicy::fail);
  fs::LayoutChange truncate = layout_change(LayoutChangeKind::truncate_down, 0, fs::kToEnd, kAdminPid);
  ASSERT_TRUE(manager_->begin_layout_change(truncate).ok());
  EXPECT_EQ(manager_->stats().layout_changes_in_progress, 1u);
  manager_->end_layout_change(truncate);
  EXPECT_EQ(manager_->stats().layout_changes_in_progress, 0u);
  EXPECT_EQ(manager_->stats().break_events_sent, 0u);
}

// Row "read lease", cooperative holder: BREAK, the holder releases its pins
// and lease, the truncate proceeds.
TEST_F(BreakEngineTest, TruncateWaitsUntilTheHolderReleasesItsPinsAndLease) {
  make_manager(kNeverMs, BreakPolicy::fail);
  auto sink = connect(kHolder, kHolderPid);
  LeaseId lease = take(kHolder, LeaseType::read);
  PinId pin_id = pin(kHolder, lease, {0, 2 * kMiB}, 8 * kMiB);

  std::promise<bool> pins_were_held_at_break;
  std::thread holder([&] {
    std::optional<LeaseEvent> event = sink->wait_for(LeaseEventKind::break_requested);
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(event->path, kPath);
    EXPECT_EQ(event->ino, kIno);
    EXPECT_EQ(event->lease, lease);
    EXPECT_EQ(event->change, LayoutChangeKind::truncate_down);
    EXPECT_EQ(event->requester_pid, kAdminPid);
    EXPECT_EQ(event->ranges, (std::vector<ByteRange>{{kMiB, fs::kToEnd - kMiB}}));
    pins_were_held_at_break.set_value(manager_->pins().is_pinned({8 * kMiB, 2 * kMiB}));
    // Deregister, unpin, release (STYLE.md rule 6).
    EXPECT_TRUE(manager_->unpin(kHolder, pin_id).ok());
    EXPECT_TRUE(manager_->release(kHolder, lease).ok());
  });

  fs::LayoutChange truncate = layout_change(LayoutChangeKind::truncate_down, kMiB, fs::kToEnd, kAdminPid);
  Status status = manager_->begin_layout_change(truncate);
  holder.join();
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_TRUE(pins_were_held_at_break.get_future().get());
  // It proceeds only once nothing is pinned: the file system frees the blocks.
  EXPECT_FALSE(manager_->is_pinned(8 * kMiB, 2 * kMiB));
  EXPECT_FALSE(manager_->find_lease(lease).has_value());
  manager_->end_layout_change(truncate);

  LeaseStats stats = manager_->stats();
  EXPECT_EQ(stats.breaks_completed, 1u);
  EXPECT_EQ(stats.breaks_timed_out, 0u);
  EXPECT_EQ(stats.break_events_sent, 1u);
  EXPECT_EQ(stats.leases, 0u);
  EXPECT_EQ(stats.pins, 0u);
}

// Row "read lease", unresponsive holder under `fail`.
TEST_F(BreakEngineTest, UnresponsiveHolderUnderFailGetsEtxtbsyAfterTheDeadlineAndKeepsItsPins) {
  constexpr std::uint32_t kBreakMs = 100;
  make_manager(kBreakMs, BreakPolicy::fail);
  auto sink = connect(kHolder, kHolderPid);
  LeaseId lease = take(kHolder, LeaseType::read);
  PinId pin_id = pin(kHolder, lease, {0, 2 * kMiB}, 8 * kMiB);

  fs::LayoutChange punch = layout_change(LayoutChangeKind::punch_hole, 0, 4 * kMiB, kAdminPid);
  Clock::time_point start = Clock::now();
  Status status = manager_->begin_layout_change(punch);
  auto waited = Clock::now() - start;

  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errnum(), ETXTBSY);
  EXPECT_EQ(status.error().op(), "punch");
  EXPECT_EQ(status.error().object(), "'/mnt/pinfs/data' [0, 4 MiB)");
  EXPECT_NE(status.error().detail().find("not released within 100 ms"), std::string::npos)
      << status.error().message();
  EXPECT_GE(waited, std::chrono::milliseconds(kBreakMs));

  // Data and pins intact, the lease stays and is usable again.
  std::optional<LeaseInfo> info = manager_->find_lease(lease);
  ASSERT_TRUE(info.has_value());
  EXPECT_FALSE(info->breaking);
  EXPECT_EQ(info->pins, 1u);
  EXPECT_TRUE(manager_->pins().find(pin_id).has_value());
  EXPECT_TRUE(manager_->pins().is_pinned({8 * kMiB, 2 * kMiB}));
  EXPECT_EQ(sink->kinds(), (std::vector<LeaseEventKind>{LeaseEventKind::break_requested,
                                                         LeaseEventKind::break_abandoned}));
  EXPECT_TRUE(try_pin(kHolder, lease, {2 * kMiB, kMiB}, 10 * kMiB).ok());

  LeaseStats stats = manager_->stats();
  EXPECT_EQ(stats.breaks_timed_out, 1u);
  EXPECT_EQ(stats.breaks_failed, 1u);
  EXPECT_EQ(stats.breaks_completed, 0u);
  EXPECT_EQ(stats.layout_changes_in_progress, 0u);
}

// Row "read lease", unresponsive holder under `revoke`: the change goes on,
// the pinned extents are quarantined until the client and its
// registrations are gone (invariants 1 and 2).
TEST_F(BreakEngineTest, UnresponsiveHolderUnderRevokeLosesItsLeaseAndItsExtentsStayQuarantined) {
  constexpr std::uint32_t kBreakMs = 50;
  make_manager(kBreakMs, BreakPolicy::revoke);
  auto sink = connect(kHolder, kHolderPid);
  LeaseId lease = take(kHolder, LeaseType::read);
  PinId pin_id = pin(kHolder, lease, {0, 2 * kMiB}, 8 * kMiB);
  ASSERT_TRUE(manager_->add_registration(kHolder, pin_id,
                                         pin::Registration{"rxe0", 0x11, 0x22, 0x7f0000000000,
                                                           2 * kMiB, 0x7})
                  .ok());

  fs::LayoutChange punch = layout_change(LayoutChangeKind::punch_hole, 0, 2 * kMiB, kAdminPid);
  Clock::time_point start = Clock::now();
  Status status = manager_->begin_layout_change(punch);
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(kBreakMs));

  std::optional<LeaseEvent> revoked = sink->wait_for(LeaseEventKind::revoked, std::chrono::seconds(0));
  ASSERT_TRUE(revoked.has_value());
  EXPECT_EQ(revoked->lease, lease);
  EXPECT_EQ(revoked->revoked_pins, (std::vector<PinId>{pin_id}));
  EXPECT_FALSE(manager_->find_lease(lease).has_value());
  EXPECT_EQ(manager_->pins().find(pin_id)->state, pin::PinState::revoked);

  // The file system frees the punched extent: pinned, so it goes to quarantine.
  EXPECT_TRUE(manager_->is_pinned(8 * kMiB, 2 * kMiB));
  manager_->end_layout_change(punch);
  EXPECT_EQ(manager_->stats().quarantined_bytes, 2 * kMiB);

  // The client dies; its process and its MR outlive the socket for a while.
  manager_->drop_client(kHolder);
  pin::testing::FaultInjectingReclaimProbes probes;
  EXPECT_TRUE(manager_->reclaim(probes).reclaimed.empty());
  probes.set_process_gone(kHolderPid, true);
  EXPECT_TRUE(manager_->reclaim(probes).reclaimed.empty());  // the kernel still lists rkey 0x22
  EXPECT_TRUE(manager_->pins().is_pinned({8 * kMiB, 2 * kMiB}));
  EXPECT_TRUE(released().empty());

  probes.set_registration_alive("rxe0", 0x22, false);
  pin::ReclaimReport report = manager_->reclaim(probes);
  EXPECT_EQ(report.reclaimed, (std::vector<PinId>{pin_id}));
  EXPECT_EQ(released(), (std::vector<ByteRange>{{8 * kMiB, 2 * kMiB}}));
  EXPECT_FALSE(manager_->pins().is_pinned({8 * kMiB, 2 * kMiB}));

  LeaseStats stats = manager_->stats();
  EXPECT_EQ(stats.breaks_timed_out, 1u);
  EXPECT_EQ(stats.leases_revoked, 1u);
  EXPECT_EQ(stats.breaks_failed, 0u);
  EXPECT_EQ(stats.quarantined_bytes, 0u);
}

// Under `revoke`, a client that is still connected ends its revoked pins
// itself (after deregistering): the quarantine comes back then.
TEST_F(BreakEngineTest, RevokedPinEndsWhenItsConnectedClientUnpinsIt) {
  make_manager(0, BreakPolicy::revoke);
  auto sink = connect(kHolder, kHolderPid);
  LeaseId lease = take(kHolder, LeaseType::read);
  PinId pin_id = pin(kHolder, lease, {0, 2 * kMiB}, 8 * kMiB);

  fs::LayoutChange unlink = layout_change(LayoutChangeKind::final_unlink, 0, fs::kToEnd, kAdminPid);
  ASSERT_TRUE(manager_->begin_layout_change(unlink).ok());
  EXPECT_TRUE(manager_->is_pinned(8 * kMiB, 2 * kMiB));
  manager_->end_layout_change(unlink);

  Status release = manager_->release(kHolder, lease);
  ASSERT_FALSE(release.ok());
  EXPECT_EQ(release.error().errnum(), ENOENT);  // the lease was revoked
  EXPECT_TRUE(released().empty());
  ASSERT_TRUE(manager_->unpin(kHolder, pin_id).ok());
  EXPECT_EQ(released(), (std::vector<ByteRange>{{8 * kMiB, 2 * kMiB}}));
}

// Row "unbreakable": ETXTBSY at once, the holder is told, nothing waits.
TEST_F(BreakEngineTest, ChangeOverAnUnbreakableLeaseFailsAtOnceWithEtxtbsyAndTellsTheHolder) {
  make_manager(kNeverMs, BreakPolicy::revoke);
  auto sink = connect(kHolder, kHolderPid, "ib_server");
  LeaseId lease = take(kHolder, LeaseType::unbreakable);
  PinId pin_id = pin(kHolder, lease, {0, 2 * kMiB}, 8 * kMiB);

  fs::LayoutChange punch = layout_change(LayoutChangeKind::punch_hole, 0, 2 * kMiB, kAdminPid);
  Clock::time_point start = Clock::now();
  Status status = manager_->begin_layout_change(punch);
  ASSERT_FALSE(status.ok());
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(status.error().errnum(), ETXTBSY);
  EXPECT_EQ(status.error().op(), "punch");
  EXPECT_EQ(status.error().message(),
            "punch '/mnt/pinfs/data' [0, 2 MiB): Text file busy (pinned by pid 4242 ('ib_server', "
            "client 1), unbreakable lease " + std::to_string(lease) + ")");

  std::optional<LeaseEvent> denied = sink->wait_for(LeaseEventKind::break_denied, std::chrono::seconds(0));
  ASSERT_TRUE(denied.has_value());
  EXPECT_EQ(denied->requester_pid, kAdminPid);
  EXPECT_EQ(denied->ranges, (std::vector<ByteRange>{{0, 2 * kMiB}}));
  EXPECT_EQ(sink->kinds(), (std::vector<LeaseEventKind>{LeaseEventKind::break_denied}));
  EXPECT_TRUE(manager_->pins().find(pin_id).has_value());
  EXPECT_EQ(manager_->stats().breaks_failed, 1u);
  EXPECT_EQ(manager_->stats().break_events_sent, 0u);
}

// Row "unbreakable", its own holder asking: EDEADLK, said plainly.
TEST_F(BreakEngineTest, HolderOfAnUnbreakableLeaseAskingForALayoutChangeOverItGetsEdeadlk) {
  make_manager(kNeverMs, BreakPolicy::fail);
  auto sink = connect(kHolder, kHolderPid);
  LeaseId lease = take(kHolder, LeaseType::unbreakable, {0, 4 * kMiB});
  pin(kHolder, lease, {0, 2 * kMiB}, 8 * kMiB);

  Status status = manager_->begin_layout_change(
      layout_change(LayoutChangeKind::truncate_down, 0, fs::kToEnd, kHolderPid));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errnum(), EDEADLK);
  EXPECT_EQ(status.error().op(), "truncate");
  EXPECT_NE(status.error().detail().find("cannot break its own unbreakable lease"), std::string::npos)
      << status.error().message();
  EXPECT_TRUE(sink->kinds().empty());
  EXPECT_EQ(manager_->stats().layout_changes_in_progress, 0u);

  // Outside its lease the same process changes the layout freely.
  fs::LayoutChange beyond = layout_change(LayoutChangeKind::truncate_down, 4 * kMiB, fs::kToEnd, kHolderPid);
  ASSERT_TRUE(manager_->begin_layout_change(beyond).ok());
  manager_->end_layout_change(beyond);
}

// "A layout change breaks only the leases and pins whose range it overlaps."
TEST_F(BreakEngineTest, RangeLeaseIsNotBrokenByAChangeOutsideItsRange) {
  make_manager(kNeverMs, BreakPolicy::fail);
  auto sink = connect(kHolder, kHolderPid);
  LeaseId lease = take(kHolder, LeaseType::read, {4 * kMiB, 4 * kMiB});
  pin(kHolder, lease, {4 * kMiB, 2 * kMiB}, 8 * kMiB);

  for (fs::LayoutChange change :
       {layout_change(LayoutChangeKind::punch_hole, 0, 4 * kMiB, kAdminPid),
        layout_change(LayoutChangeKind::punch_hole, 8 * kMiB, 2 * kMiB, kAdminPid),
        layout_change(LayoutChangeKind::truncate_down, 8 * kMiB, fs::kToEnd, kAdminPid),
        layout_change(LayoutChangeKind::final_unlink, 0, fs::kToEnd, kAdminPid, kIno + 1)}) {
    Status status = manager_->begin_layout_change(change);
    ASSERT_TRUE(status.ok()) << status.error().message();
    manager_->end_layout_change(change);
  }
  EXPECT_TRUE(sink->kinds().empty());
  EXPECT_FALSE(manager_->find_lease(lease)->breaking);
  EXPECT_EQ(manager_->stats().break_events_sent, 0u);
}

// Collapse and insert shift everything past their offset: a lease beyond
// the collapsed bytes is broken too.
TEST_F(BreakEngineTest, CollapseRangeBreaksLeasesBeyondTheCollapsedBytes) {
  make_manager(0, BreakPolicy::fail);
  auto sink = connect(kHolder, kHolderPid);
  take(kHolder, LeaseType::read, {8 * kMiB, 4 * kMiB});
  Status status = manager_->begin_layout_change(
      layout_change(LayoutChangeKind::collapse_range, 0, 2 * kMiB, kAdminPid));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errnum(), ETXTBSY);
  EXPECT_EQ(status.error().op(), "collapse range");
  std::optional<LeaseEvent> event = sink->wait_for(LeaseEventKind::break_requested, std::chrono::seconds(0));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->ranges, (std::vector<ByteRange>{{8 * kMiB, 4 * kMiB}}));
}

// Row "write lease": the holder changes its own layout without breaking it.
TEST_F(BreakEngineTest, WriteLeaseHolderChangesItsOwnLayoutWithoutBreakingItsLease) {
  make_manager(kNeverMs, BreakPolicy::fail);
  auto sink = connect(kHolder, kHolderPid);
  LeaseId lease = take(kHolder, LeaseType::write);
  for (fs::LayoutChange change :
       {layout_change(LayoutChangeKind::make_mappable, 0, fs::kToEnd, kHolderPid),
        layout_change(LayoutChangeKind::punch_hole, 0, 2 * kMiB, kHolderPid),
        layout_change(LayoutChangeKind::truncate_down, 4 * kMiB, fs::kToEnd, kHolderPid)}) {
    Status status = manager_->begin_layout_change(change);
    ASSERT_TRUE(status.ok()) << status.error().message();
    manager_->end_layout_change(change);
  }
  EXPECT_TRUE(sink->kinds().empty());
  EXPECT_EQ(manager_->find_lease(lease)->type, LeaseType::write);
  EXPECT_FALSE(manager_->find_lease(lease)->breaking);
}

// Row "write lease": anyone else's change breaks it like a read lease.
TEST_F(BreakEngineTest, AnotherProcessesChangeBreaksAWriteLeaseLikeAReadLease) {
  make_manager(kNeverMs, BreakPolicy::fail);
  auto sink = connect(kHolder, kHolderPid);
  LeaseId lease = take(kHolder, LeaseType::write);
  sink->react([&](const LeaseEvent& event) {
    if (event.kind == LeaseEventKind::break_requested) {
      EXPECT_TRUE(manager_->release(kHolder, event.lease).ok());
    }
  });
  fs::LayoutChange punch = layout_change(LayoutChangeKind::punch_hole, 0, 2 * kMiB, kAdminPid);
  ASSERT_TRUE(manager_->begin_layout_change(punch).ok());
  manager_->end_layout_change(punch);
  EXPECT_FALSE(manager_->find_lease(lease).has_value());
  EXPECT_EQ(manager_->stats().breaks_completed, 1u);
}

// Row "write lease" under a deadline: the policy applies to it as well.
TEST_F(BreakEngineTest, UnansweredWriteLeaseBreakFailsWithEtxtbsyUnderFail) {
  make_manager(20, BreakPolicy::fail);
  connect(kHolder, kHolderPid);
  LeaseId lease = take(kHolder, LeaseType::write);
  Status status = manager_->begin_layout_change(
      layout_change(LayoutChangeKind::punch_hole, 0, 2 * kMiB, kAdminPid));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errnum(), ETXTBSY);
  EXPECT_EQ(manager_->find_lease(lease)->type, LeaseType::write);
}

// A client that dies while a change waits for it: its lease goes at once,
// the change proceeds, its pins stay quarantined until reclaimed.
TEST_F(BreakEngineTest, HolderDeathLetsAWaitingChangeProceedWithItsExtentsQuarantined) {
  make_manager(kNeverMs, BreakPolicy::fail);
  auto sink = connect(kHolder, kHolderPid);
  LeaseId lease = take(kHolder, LeaseType::read);
  PinId pin_id = pin(kHolder, lease, {0, 2 * kMiB}, 8 * kMiB);
  std::thread reaper([&] {
    ASSERT_TRUE(sink->wait_for(LeaseEventKind::break_requested).has_value());
    manager_->drop_client(kHolder);  // its socket closed
  });
  fs::LayoutChange unlink = layout_change(LayoutChangeKind::final_unlink, 0, fs::kToEnd, kAdminPid);
  Status status = manager_->begin_layout_change(unlink);
  reaper.join();
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_TRUE(manager_->is_pinned(8 * kMiB, 2 * kMiB));  // quarantined, not freed
  manager_->end_layout_change(unlink);
  EXPECT_EQ(manager_->pins().find(pin_id)->state, pin::PinState::orphaned);

  pin::testing::FaultInjectingReclaimProbes probes;
  probes.set_process_gone(kHolderPid, true);
  EXPECT_EQ(manager_->reclaim(probes).reclaimed, (std::vector<PinId>{pin_id}));
  EXPECT_EQ(released(), (std::vector<ByteRange>{{8 * kMiB, 2 * kMiB}}));
}

// Sinks run without the manager's lock: a holder may answer from inside
// its callback, and may look at the manager there.
TEST_F(BreakEngineTest, EventsAreDeliveredWithoutTheManagersLockHeld) {
  make_manager(kNeverMs, BreakPolicy::fail);
  auto sink = connect(kHolder, kHolderPid);
  LeaseId lease = take(kHolder, LeaseType::read);
  pin(kHolder, lease, {0, 2 * kMiB}, 8 * kMiB);
  sink->react([&](const LeaseEvent& event) {
    EXPECT_EQ(manager_->stats().leases, 1u);
    EXPECT_TRUE(manager_->find_lease(event.lease)->breaking);
    EXPECT_TRUE(manager_->release(kHolder, event.lease).ok());
  });
  fs::LayoutChange punch = layout_change(LayoutChangeKind::punch_hole, 0, 2 * kMiB, kAdminPid);
  ASSERT_TRUE(manager_->begin_layout_change(punch).ok());
  manager_->end_layout_change(punch);
  EXPECT_EQ(manager_->stats().pins, 0u);
}

}  // namespace
}  // namespace pinfs::lease
