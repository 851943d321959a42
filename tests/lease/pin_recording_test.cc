// The lease manager and its PinRecorder (DESIGN.md §4, invariant 3): a pin
// is recorded before the client hears of it, a failed record refuses the
// pin, registration changes are recorded before they are acknowledged, and
// every way a pin ends erases its record before the quarantine it held is
// handed back.
#include <gtest/gtest.h>

#include <mutex>

#include "lease/lease_manager.h"
#include "tests/lease/lease_test_support.h"
#include "tests/pin/fault_injecting_reclaim_probes.h"

namespace pinfs::lease {
namespace {

using namespace testing;  // NOLINT

constexpr ClientId kAlice = 1;
constexpr pid_t kAlicePid = 100;

// A recorder that keeps its records in memory and fails when told to: it
// exists to inject a full or broken pin table, and to see the order of
// calls. `released_when_erased` is how many quarantine ranges had been
// handed back when each erase came.
class FaultInjectingPinRecorder final : public pin::PinRecorder {
 public:
  explicit FaultInjectingPinRecorder(std::function<std::size_t()> released) : released_(std::move(released)) {}
  Status record(const pin::FilePin& pin) override {
    std::lock_guard lock(mu_);
    if (fail_with_ != 0) return Error(fail_with_, "record pin", "<pin>", "injected");
    records_[pin.id] = pin;
    ++records_written_;
    return ok_status();
  }
  void erase(const std::vector<PinId>& pins) override {
    std::lock_guard lock(mu_);
    for (PinId id : pins) {
      records_.erase(id);
      erased_.push_back(id);
      released_when_erased_.push_back(released_());
    }
  }
  void fail_with(int errnum) {
    std::lock_guard lock(mu_);
    fail_with_ = errnum;
  }
  std::map<PinId, pin::FilePin> records() const {
    std::lock_guard lock(mu_);
    return records_;
  }
  std::vector<PinId> erased() const {
    std::lock_guard lock(mu_);
    return erased_;
  }
  std::vector<std::size_t> released_when_erased() const {
    std::lock_guard lock(mu_);
    return released_when_erased_;
  }
  int records_written() const {
    std::lock_guard lock(mu_);
    return records_written_;
  }

 private:
  std::function<std::size_t()> released_;
  mutable std::mutex mu_;
  int fail_with_ = 0;
  std::map<PinId, pin::FilePin> records_;
  std::vector<PinId> erased_;
  std::vector<std::size_t> released_when_erased_;
  int records_written_ = 0;
};

class PinRecordingTest : public LeaseTest {
 protected:
  void SetUp() override {
    LeaseManagerOptions options;
    options.lease_break_ms = kNeverMs;
    options.recorder = &recorder_;
    make_manager(std::move(options));
  }
  FaultInjectingPinRecorder recorder_{[this] { return released().size(); }};
};

TEST_F(PinRecordingTest, APinIsRecordedBeforeItsIdIsReturned) {
  connect(kAlice, kAlicePid);
  LeaseId lease = take(kAlice, LeaseType::read);
  PinId id = pin(kAlice, lease, {0, 2 * kMiB}, 8 * kMiB);
  auto records = recorder_.records();
  ASSERT_EQ(records.count(id), 1u);
  EXPECT_EQ(records[id].client.pid, kAlicePid);
  EXPECT_EQ(records[id].extents, (std::vector<fs::Extent>{{0, 8 * kMiB, 2 * kMiB}}));
}

TEST_F(PinRecordingTest, APinWhoseRecordFailsIsRefusedWithThatErrorAndLeavesNothingPinned) {
  connect(kAlice, kAlicePid);
  LeaseId lease = take(kAlice, LeaseType::read);
  recorder_.fail_with(ENOSPC);
  Result<PinId> refused = try_pin(kAlice, lease, {0, 2 * kMiB}, 8 * kMiB);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errnum(), ENOSPC);
  EXPECT_TRUE(manager_->pins().list().empty());
  EXPECT_FALSE(manager_->is_pinned(8 * kMiB, 2 * kMiB));
  EXPECT_TRUE(recorder_.records().empty());
}

TEST_F(PinRecordingTest, RegistrationChangesAreRecordedBeforeTheyAreAcknowledged) {
  connect(kAlice, kAlicePid);
  LeaseId lease = take(kAlice, LeaseType::unbreakable);
  PinId id = pin(kAlice, lease, {0, 2 * kMiB}, 8 * kMiB);
  const pin::Registration mr{"rxe0", 1, 2, 0x1000, 2 * kMiB, 7};
  ASSERT_TRUE(manager_->add_registration(kAlice, id, mr).ok());
  EXPECT_EQ(recorder_.records()[id].registrations, std::vector<pin::Registration>{mr});
  ASSERT_TRUE(manager_->remove_registration(kAlice, id, "rxe0", 2).ok());
  EXPECT_TRUE(recorder_.records()[id].registrations.empty());
  // A table that cannot take the change says so to the client.
  recorder_.fail_with(EUCLEAN);
  Status failed = manager_->add_registration(kAlice, id, mr);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().errnum(), EUCLEAN);
}

TEST_F(PinRecordingTest, EveryWayAPinEndsErasesItsRecordBeforeItsQuarantineIsReleased) {
  connect(kAlice, kAlicePid);
  LeaseId lease = take(kAlice, LeaseType::read);
  PinId unpinned = pin(kAlice, lease, {0, 2 * kMiB}, 8 * kMiB);
  PinId released_with_lease = pin(kAlice, lease, {2 * kMiB, 2 * kMiB}, 20 * kMiB);
  LeaseId other = take(kAlice, LeaseType::unbreakable, {0, kMiB});
  PinId reclaimed = pin(kAlice, other, {0, kMiB}, 30 * kMiB);
  // The file system quarantined all three (a revoke, or a client death).
  for (std::uint64_t at : {8 * kMiB, 20 * kMiB, 30 * kMiB}) ASSERT_TRUE(manager_->is_pinned(at, kMiB));

  ASSERT_TRUE(manager_->unpin(kAlice, unpinned).ok());
  ASSERT_TRUE(manager_->release(kAlice, lease).ok());
  manager_->drop_client(kAlice);
  EXPECT_EQ(recorder_.records().count(reclaimed), 1u) << "an orphan keeps its record";
  pin::testing::FaultInjectingReclaimProbes probes;
  probes.set_process_gone(kAlicePid, true);
  EXPECT_EQ(manager_->reclaim(probes).reclaimed, std::vector<PinId>{reclaimed});

  EXPECT_EQ(recorder_.erased(), (std::vector<PinId>{unpinned, released_with_lease, reclaimed}));
  EXPECT_EQ(recorder_.released_when_erased(), (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_EQ(released().size(), 3u);
  EXPECT_TRUE(recorder_.records().empty());
}

TEST_F(PinRecordingTest, RestoredPinsAreOrphansThatEndOnlyThroughReclaim) {
  pin::FilePin restored;
  restored.id = 40;
  restored.client = ClientIdentity{(1ull << 48), 300, 0, "old", 12};
  restored.ino = kIno;
  restored.file_range = {0, 2 * kMiB};
  restored.extents = {{0, 8 * kMiB, 2 * kMiB}};
  ASSERT_TRUE(manager_->restore_orphaned_pins({restored}).ok());
  // Quarantine found on the media: what the restored pin covers waits.
  EXPECT_EQ(manager_->adopt_quarantine({{8 * kMiB, 2 * kMiB}, {50 * kMiB, kMiB}}),
            (std::vector<ByteRange>{{50 * kMiB, kMiB}}));
  EXPECT_TRUE(manager_->is_pinned(8 * kMiB, kMiB));
  pin::testing::FaultInjectingReclaimProbes probes;
  EXPECT_TRUE(manager_->reclaim(probes).reclaimed.empty());
  probes.set_process_gone(300, true);
  EXPECT_EQ(manager_->reclaim(probes).reclaimed, std::vector<PinId>{40});
  EXPECT_EQ(recorder_.erased(), std::vector<PinId>{40});
  EXPECT_EQ(released(), (std::vector<ByteRange>{{8 * kMiB, 2 * kMiB}}));
  // A new pin never takes a restored id.
  connect(kAlice, kAlicePid);
  EXPECT_GT(pin(kAlice, take(kAlice, LeaseType::read), {0, kMiB}, 60 * kMiB), 40u);
}

}  // namespace
}  // namespace pinfs::lease
