// The daemon's side of invariant 3 in process, on a real pool file: what
// restore_recorded_pins does with the records mount loaded — this boot's
// pins come back as orphans of their owners, an earlier boot's are erased,
// quarantine no record covers is freed and the rest waits.
#include "tools/control/media_pin_recorder.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace pinfs::control {
namespace {

constexpr std::uint64_t kMiB = 1ull << 20;

class MediaPinRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/dev/shm/pinfs-recorder-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    auto media = fs::Media::open(dir_ + "/pool", {.create_size_bytes = 64 * kMiB});
    ASSERT_TRUE(media.ok()) << media.error().message();
    ASSERT_TRUE(fs::FileSystem::mkfs(**media, {}).ok());
    auto mounted = fs::FileSystem::mount(std::move(*media));
    ASSERT_TRUE(mounted.ok()) << mounted.error().message();
    fs_ = std::move(*mounted);
    // A 4 MiB file: its second unit is an aligned unit of its own.
    auto file = fs_->mknod(fs::kRootInode, "f", S_IFREG | 0644, 0, caller_);
    ASSERT_TRUE(file.ok());
    ino_ = file->ino;
    std::string data(4 * kMiB, 'x');
    ASSERT_TRUE(fs_->write(ino_, 0, std::as_bytes(std::span(data.data(), data.size())), caller_).ok());
    auto extents = fs_->extents(ino_, 2 * kMiB, 2 * kMiB);
    ASSERT_TRUE(extents.ok());
    ASSERT_EQ(extents->size(), 1u);
    unit_ = extents->front();
    ASSERT_EQ(unit_.length, 2 * kMiB);
  }
  void TearDown() override {
    if (fs_) {
      fs_->set_layout_hooks(nullptr);
      auto report = fs::FileSystem::check(fs_->media());
      ASSERT_TRUE(report.ok());
      EXPECT_TRUE(report->clean()) << report->findings.front().where << ": " << report->findings.front().what;
      EXPECT_TRUE(fs_->unmount().ok());
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  pin::FilePin pin_of(pin::PinId id, pid_t pid, std::uint64_t start_ticks) {
    pin::FilePin pin;
    pin.id = id;
    pin.client = pin::ClientIdentity{1, pid, 0, "holder", start_ticks};
    pin.ino = ino_;
    pin.file_range = {unit_.file_offset, unit_.length};
    pin.extents = {unit_};
    pin.registrations = {pin::Registration{"rxe0", 1, 2, 0x1000, unit_.length, 7}};
    return pin;
  }
  // Frees the pinned unit: with the manager as hooks, it goes to quarantine.
  void punch() {
    ASSERT_TRUE(fs_->fallocate(ino_, 0x01 | 0x02 /* KEEP_SIZE | PUNCH_HOLE */, unit_.file_offset,
                               unit_.length, caller_)
                    .ok());
  }
  std::uint64_t quarantined_bytes() { return fs_->statfs()->quarantined_bytes; }

  std::string dir_;
  std::unique_ptr<fs::FileSystem> fs_;
  fs::Caller caller_{1, 0, 0};
  fs::InodeNumber ino_ = 0;
  fs::Extent unit_;
};

TEST_F(MediaPinRecorderTest, APinOfThisBootComesBackAsAnOrphanThatKeepsItsExtentsQuarantined) {
  ASSERT_TRUE(current_boot_id().has_value()) << "no /proc/sys/kernel/random/boot_id";
  MediaPinRecorder recorder(*fs_);
  // Our own process: alive, with its real start time.
  ASSERT_TRUE(recorder.record(pin_of(9, ::getpid(), 0)).ok());
  lease::LeaseManager manager;
  fs_->set_layout_hooks(&manager);
  auto report = restore_recorded_pins(*fs_, manager);
  ASSERT_TRUE(report.ok()) << report.error().message();
  EXPECT_EQ(report->restored_pins, 1u);
  auto restored = manager.pins().find(9);
  ASSERT_TRUE(restored.has_value());
  EXPECT_EQ(restored->state, pin::PinState::orphaned);
  EXPECT_GE(restored->client.id, kRestoredClientIdBase);
  EXPECT_EQ(restored->registrations.size(), 1u);
  punch();
  EXPECT_EQ(quarantined_bytes(), unit_.length);
  fs_->set_layout_hooks(nullptr);
}

TEST_F(MediaPinRecorderTest, APinOfAnEarlierBootIsErasedAndItsQuarantineFreedAtRestore) {
  MediaPinRecorder recorder(*fs_);
  ASSERT_TRUE(recorder.record(pin_of(9, ::getpid(), 0)).ok());
  // The record says another boot made it.
  auto records = fs_->recorded_pins();
  ASSERT_TRUE(records.ok());
  fs::PinRecord old = records->front();
  old.boot_id[0] ^= 0xFF;
  ASSERT_TRUE(fs_->record_pin(old).ok());
  // Quarantine left from before the restart.
  struct AllPinned : fs::LayoutHooks {
    Status begin_layout_change(const fs::LayoutChange&) override { return ok_status(); }
    void end_layout_change(const fs::LayoutChange&) override {}
    bool is_pinned(std::uint64_t, std::uint64_t) const override { return true; }
  } pinned;
  fs_->set_layout_hooks(&pinned);
  punch();
  ASSERT_EQ(quarantined_bytes(), unit_.length);

  lease::LeaseManager manager;
  fs_->set_layout_hooks(&manager);
  auto report = restore_recorded_pins(*fs_, manager);
  ASSERT_TRUE(report.ok()) << report.error().message();
  EXPECT_EQ(report->restored_pins, 0u);
  EXPECT_EQ(report->dead_boot_records, 1u);
  EXPECT_EQ(report->released_quarantine_bytes, unit_.length);
  EXPECT_TRUE(fs_->recorded_pins()->empty());
  EXPECT_EQ(quarantined_bytes(), 0u);
  fs_->set_layout_hooks(nullptr);
}

TEST_F(MediaPinRecorderTest, AnUnpinErasesTheRecordThroughTheManager) {
  MediaPinRecorder recorder(*fs_);
  lease::LeaseManagerOptions options;
  options.recorder = &recorder;
  lease::LeaseManager manager(std::move(options));
  ASSERT_TRUE(manager.connect_client(pin::ClientIdentity{1, ::getpid(), 0, "me", 0}, nullptr).ok());
  auto lease = manager.acquire(lease::LeaseRequest{1, ino_, "/f", {0, 4 * kMiB}, lease::LeaseType::read});
  ASSERT_TRUE(lease.ok());
  lease::PinRequest request;
  request.client = 1;
  request.lease = *lease;
  request.range = {unit_.file_offset, unit_.length};
  request.extents = {unit_};
  request.layout_generation = manager.layout_generation(ino_);
  auto id = manager.pin(request);
  ASSERT_TRUE(id.ok()) << id.error().message();
  ASSERT_EQ(fs_->recorded_pins()->size(), 1u);
  EXPECT_EQ(fs_->recorded_pins()->front().pin_id, *id);
  ASSERT_TRUE(manager.unpin(1, *id).ok());
  EXPECT_TRUE(fs_->recorded_pins()->empty());
}

}  // namespace
}  // namespace pinfs::control
