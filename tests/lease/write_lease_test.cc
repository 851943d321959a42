// The write-lease window (DESIGN.md §4): the holder changes the layout
// itself, then downgrades atomically before pinning; a competing layout
// change must never get in between. The races are ordered with the
// manager's sync point, not with sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string_view>
#include <thread>

#include "lease/lease_manager.h"
#include "tests/lease/lease_test_support.h"

namespace pinfs::lease {
namespace {

using namespace testing;  // NOLINT
using fs::LayoutChangeKind;

constexpr ClientId kHolder = 1;
constexpr pid_t kHolderPid = 4242;
constexpr pid_t kCompetitorPid = 5151;

class WriteLeaseTest : public LeaseTest {
 protected:
  // A manager whose break wait never times out during the test, and a
  // signal raised the first time a layout change is about to wait for a
  // break (that is, after it has seen the lease and sent its BREAK).
  void make_manager_with_sync_point() {
    LeaseManagerOptions options;
    options.lease_break_ms = kNeverMs;
    options.break_policy = BreakPolicy::revoke;  // would let the competitor win, if it ever timed out
    options.sync_point = [this](std::string_view point) {
      if (point == kSyncPointBeforeBreakWait && !competitor_waiting_signalled_.exchange(true)) {
        competitor_waiting_.set_value();
      }
    };
    make_manager(std::move(options));
  }

  std::promise<void> competitor_waiting_;
  std::atomic<bool> competitor_waiting_signalled_{false};
};

// The competitor arrives between the holder's own layout change and its
// downgrade: it breaks the write lease and waits; the downgrade to
// unbreakable turns its wait into ETXTBSY; the holder pins.
TEST_F(WriteLeaseTest, CompetitorArrivingBeforeTheDowngradeNeverWinsTheWindow) {
  make_manager_with_sync_point();
  auto sink = connect(kHolder, kHolderPid);
  LeaseId lease = take(kHolder, LeaseType::write);

  // The holder lays the file out (moves it into aligned extents).
  fs::LayoutChange own = layout_change(LayoutChangeKind::make_mappable, 0, fs::kToEnd, kHolderPid);
  ASSERT_TRUE(manager_->begin_layout_change(own).ok());
  manager_->end_layout_change(own);

  fs::LayoutChange truncate = layout_change(LayoutChangeKind::truncate_down, 0, fs::kToEnd, kCompetitorPid);
  std::future<Status> competitor = std::async(std::launch::async, [&] {
    return manager_->begin_layout_change(truncate);
  });
  competitor_waiting_.get_future().wait();  // it has seen the write lease and waits

  ASSERT_TRUE(manager_->downgrade(kHolder, lease, LeaseType::unbreakable).ok());
  // The pin lands at once, whether or not the competitor has woken yet.
  Result<PinId> pin_id = try_pin(kHolder, lease, {0, 2 * kMiB}, 8 * kMiB);
  ASSERT_TRUE(pin_id.ok()) << pin_id.error().message();

  Status status = competitor.get();
  ASSERT_FALSE(status.ok()) << "the competitor must never win the window";
  EXPECT_EQ(status.error().errnum(), ETXTBSY);
  EXPECT_EQ(status.error().op(), "truncate");
  EXPECT_TRUE(manager_->pins().is_pinned({8 * kMiB, 2 * kMiB}));
  EXPECT_EQ(manager_->find_lease(lease)->type, LeaseType::unbreakable);
  EXPECT_EQ(sink->kinds(), (std::vector<LeaseEventKind>{LeaseEventKind::break_requested,
                                                         LeaseEventKind::break_denied}));
  EXPECT_EQ(manager_->stats().layout_changes_in_progress, 0u);
}

// The competitor arrives while the holder's own change is still executing:
// same outcome, and the holder's pin waits for its own change to end.
TEST_F(WriteLeaseTest, CompetitorArrivingDuringTheHoldersOwnChangeNeverWinsTheWindow) {
  make_manager_with_sync_point();
  auto sink = connect(kHolder, kHolderPid);
  LeaseId lease = take(kHolder, LeaseType::write);

  fs::LayoutChange own = layout_change(LayoutChangeKind::make_mappable, 0, fs::kToEnd, kHolderPid);
  ASSERT_TRUE(manager_->begin_layout_change(own).ok());

  fs::LayoutChange punch = layout_change(LayoutChangeKind::punch_hole, 0, 2 * kMiB, kCompetitorPid);
  std::future<Status> competitor = std::async(std::launch::async, [&] {
    return manager_->begin_layout_change(punch);
  });
  competitor_waiting_.get_future().wait();

  ASSERT_TRUE(manager_->downgrade(kHolder, lease, LeaseType::unbreakable).ok());
  // Its own change is still moving blocks: no pin yet (EAGAIN)...
  Result<PinId> early = try_pin(kHolder, lease, {0, 2 * kMiB}, 8 * kMiB);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().errnum(), EAGAIN);
  manager_->end_layout_change(own);
  // ...and once it ended, the pin lands.
  ASSERT_TRUE(try_pin(kHolder, lease, {0, 2 * kMiB}, 8 * kMiB).ok());

  Status status = competitor.get();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errnum(), ETXTBSY);
}

// The holder releases instead of downgrading: the competitor proceeds.
TEST_F(WriteLeaseTest, CompetitorProceedsWhenTheHolderReleasesItsWriteLease) {
  make_manager_with_sync_point();
  connect(kHolder, kHolderPid);
  LeaseId lease = take(kHolder, LeaseType::write);
  fs::LayoutChange punch = layout_change(LayoutChangeKind::punch_hole, 0, 2 * kMiB, kCompetitorPid);
  std::future<Status> competitor = std::async(std::launch::async, [&] {
    return manager_->begin_layout_change(punch);
  });
  competitor_waiting_.get_future().wait();
  ASSERT_TRUE(manager_->release(kHolder, lease).ok());
  Status status = competitor.get();
  ASSERT_TRUE(status.ok()) << status.error().message();
  manager_->end_layout_change(punch);
}

// Downgrading to read during a break gains nothing: the read lease is still
// being broken, so it takes no pins, and the competitor waits for it.
TEST_F(WriteLeaseTest, DowngradeToReadDuringABreakLeavesTheBreakGoing) {
  make_manager_with_sync_point();
  connect(kHolder, kHolderPid);
  LeaseId lease = take(kHolder, LeaseType::write);
  fs::LayoutChange punch = layout_change(LayoutChangeKind::punch_hole, 0, 2 * kMiB, kCompetitorPid);
  std::future<Status> competitor = std::async(std::launch::async, [&] {
    return manager_->begin_layout_change(punch);
  });
  competitor_waiting_.get_future().wait();
  ASSERT_TRUE(manager_->downgrade(kHolder, lease, LeaseType::read).ok());
  Result<PinId> pin_id = try_pin(kHolder, lease, {0, 2 * kMiB}, 8 * kMiB);
  ASSERT_FALSE(pin_id.ok());
  EXPECT_EQ(pin_id.error().errnum(), EAGAIN);
  EXPECT_TRUE(manager_->find_lease(lease)->breaking);
  ASSERT_TRUE(manager_->release(kHolder, lease).ok());
  ASSERT_TRUE(competitor.get().ok());
  manager_->end_layout_change(punch);
}

TEST_F(WriteLeaseTest, PinUnderAWriteLeaseIsRefusedWithEpermUntilDowngraded) {
  make_manager(kNeverMs, BreakPolicy::fail);
  connect(kHolder, kHolderPid);
  LeaseId lease = take(kHolder, LeaseType::write);
  Result<PinId> refused = try_pin(kHolder, lease, {0, 2 * kMiB}, 8 * kMiB);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errnum(), EPERM);
  EXPECT_NE(refused.error().detail().find("downgrade it to read or unbreakable before pinning"),
            std::string::npos);
  ASSERT_TRUE(manager_->downgrade(kHolder, lease, LeaseType::read).ok());
  EXPECT_TRUE(try_pin(kHolder, lease, {0, 2 * kMiB}, 8 * kMiB).ok());
}

TEST_F(WriteLeaseTest, OnlyAWriteLeaseDowngradesAndOnlyToReadOrUnbreakable) {
  make_manager(kNeverMs, BreakPolicy::fail);
  connect(kHolder, kHolderPid);
  LeaseId read = take(kHolder, LeaseType::read, {0, kMiB});
  Status status = manager_->downgrade(kHolder, read, LeaseType::unbreakable);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errnum(), EINVAL);
  EXPECT_EQ(status.error().op(), "downgrade lease");

  LeaseId write = take(kHolder, LeaseType::write, {4 * kMiB, kMiB});
  EXPECT_EQ(manager_->downgrade(kHolder, write, LeaseType::write).error().errnum(), EINVAL);
  EXPECT_EQ(manager_->downgrade(2, write, LeaseType::read).error().errnum(), EPERM);
  EXPECT_EQ(manager_->downgrade(kHolder, 999, LeaseType::read).error().errnum(), ENOENT);
}

}  // namespace
}  // namespace pinfs::lease
