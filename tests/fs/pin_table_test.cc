// The pin table (docs/format.md, "Pin table"): records survive a remount,
// erases stick, a large pin spans slots, a full table says ENOSPC, a record
// is whole or absent at every persist point, damage refuses mount and is
// named by check, and check reports a recorded pin whose extents are free.
#include <sys/stat.h>

#include <algorithm>
#include <random>

#include "fs/crc.h"
#include "fs/format.h"
#include "fs/geometry.h"
#include "fs/le.h"
#include "fs/superblock.h"
#include "tests/fs/fs_test_env.h"

namespace pinfs::fs::testing {
namespace {

class PinTableTest : public FsTest {
 protected:
  std::uint64_t media_bytes() const override { return 64ull << 20; }

  // A file of `blocks` separate 4 KiB extents (every other file block
  // written, so they never merge) and a pin record over all of them.
  PinRecord pinned_file(const std::string& name, std::uint64_t pin_id, int blocks,
                        int registrations = 1) {
    InodeNumber f = create(kRootInode, name);
    for (int i = 0; i < blocks; ++i) {
      write_string(f, static_cast<std::uint64_t>(i) * 8192, std::string(4096, 'p'));
    }
    auto extents = fs_->extents(f, 0, kToEnd);
    EXPECT_TRUE(extents.ok());
    PinRecord r;
    r.pin_id = pin_id;
    r.ino = f;
    r.file_offset = 0;
    r.file_length = static_cast<std::uint64_t>(blocks) * 8192;
    r.owner_pid = 4242;
    r.owner_uid = 1000;
    r.owner_start_ticks = 123456789;
    for (std::size_t i = 0; i < r.boot_id.size(); ++i) r.boot_id[i] = static_cast<std::uint8_t>(i + 1);
    r.command = "rdma_server";
    r.created_sec = 1700000000;
    if (extents.ok()) r.extents = *extents;
    for (int i = 0; i < registrations; ++i) {
      r.registrations.push_back(RecordedRegistration{"rxe" + std::to_string(i % 2), 100u + i, 200u + i,
                                                     0x7f0000000000ull + i, r.file_length, 7});
    }
    return r;
  }
  std::vector<PinRecord> recorded() {
    auto pins = fs_->recorded_pins();
    EXPECT_TRUE(pins.ok());
    return pins.ok() ? *pins : std::vector<PinRecord>{};
  }
};

TEST_F(PinTableTest, AFreshFileSystemHasAnEmptyPinTable) {
  EXPECT_TRUE(fs_->has_pin_table());
  EXPECT_TRUE(recorded().empty());
}

TEST_F(PinTableTest, ARecordedPinSurvivesARemountAndACrash) {
  PinRecord r = pinned_file("f", 7, 3);
  ASSERT_EQ(r.extents.size(), 3u);
  ASSERT_OK(fs_->record_pin(r));
  remount();
  EXPECT_EQ(recorded(), std::vector<PinRecord>{r});
  // Without an unmount (a daemon crash).
  fs_.reset();
  auto media = Media::open(path_);
  ASSERT_OK(media);
  auto fs = FileSystem::mount(std::move(*media));
  ASSERT_OK(fs);
  fs_ = std::move(*fs);
  EXPECT_EQ(recorded(), std::vector<PinRecord>{r});
}

TEST_F(PinTableTest, AnErasedPinIsGoneAfterARemountAndErasingAnUnknownPinIsNoError) {
  PinRecord a = pinned_file("a", 1, 1);
  PinRecord b = pinned_file("b", 2, 1);
  ASSERT_OK(fs_->record_pin(a));
  ASSERT_OK(fs_->record_pin(b));
  ASSERT_OK(fs_->erase_pin(1));
  EXPECT_OK(fs_->erase_pin(99));
  remount();
  EXPECT_EQ(recorded(), std::vector<PinRecord>{b});
}

TEST_F(PinTableTest, RecordingAgainReplacesTheRecordWithItsNewRegistrations) {
  PinRecord r = pinned_file("f", 5, 2, 1);
  ASSERT_OK(fs_->record_pin(r));
  r.registrations.push_back(RecordedRegistration{"mlx5_0", 1, 2, 3, 4096, 1});
  ASSERT_OK(fs_->record_pin(r));
  r.registrations.erase(r.registrations.begin());
  ASSERT_OK(fs_->record_pin(r));
  remount();
  EXPECT_EQ(recorded(), std::vector<PinRecord>{r});
}

TEST_F(PinTableTest, APinWithManyExtentsAndRegistrationsSpansSlotsAndRoundTrips) {
  PinRecord r = pinned_file("f", 11, 20, 64);
  ASSERT_EQ(r.extents.size(), 20u);
  ASSERT_OK(fs_->record_pin(r));
  PinRecord small = pinned_file("g", 12, 1);
  ASSERT_OK(fs_->record_pin(small));
  remount();
  EXPECT_EQ(recorded(), (std::vector<PinRecord>{r, small}));
}

TEST_F(PinTableTest, AFullTableRefusesPinsWithEnospcUntilOneIsErased) {
  PinRecord r = pinned_file("f", 1, 1, 0);
  const std::uint64_t slots = pin_table_chunks_for(media_bytes()) * format::kPinSlotsPerChunk;
  for (std::uint64_t id = 1; id <= slots; ++id) {
    r.pin_id = id;
    ASSERT_OK(fs_->record_pin(r));
  }
  r.pin_id = slots + 1;
  EXPECT_ERRNO(fs_->record_pin(r), ENOSPC);
  ASSERT_OK(fs_->erase_pin(3));
  EXPECT_OK(fs_->record_pin(r));
  EXPECT_EQ(recorded().size(), slots);
}

TEST_F(PinTableTest, BadRecordsAreRefusedWithEinval) {
  PinRecord r = pinned_file("f", 1, 1);
  PinRecord zero = r;
  zero.pin_id = 0;
  EXPECT_ERRNO(fs_->record_pin(zero), EINVAL);
  PinRecord outside = r;
  outside.extents[0].media_offset = 0;  // the superblock
  EXPECT_ERRNO(fs_->record_pin(outside), EINVAL);
  PinRecord long_name = r;
  long_name.registrations[0].device_name = std::string(64, 'd');
  EXPECT_ERRNO(fs_->record_pin(long_name), EINVAL);
  EXPECT_TRUE(recorded().empty());
}

// Edits an unmounted image behind the file system's back.
class PinTableDamageTest : public PinTableTest {
 protected:
  Geometry geometry() {
    auto sbs = read_superblocks(*media_);
    auto g = geometry_from_superblock(*sbs.primary, media_->size_bytes());
    EXPECT_TRUE(g.ok());
    return *g;
  }
};

TEST_F(PinTableDamageTest, ATornOrCorruptChunkRefusesMountWithoutWritingAndCheckNamesIt) {
  ASSERT_OK(fs_->record_pin(pinned_file("f", 3, 2)));
  unmount_for_editing();
  const Geometry g = geometry();
  // Half of a slot overwritten (a torn store, or rot): the chunk's CRC fails.
  const std::uint64_t slot = g.pin_table_offset + sizeof(format::ChunkHeader);
  std::vector<std::byte> garbage(136, std::byte{0xA5});
  media_->store(slot, garbage.data(), garbage.size());
  std::vector<std::byte> before(media_->data(), media_->data() + media_->size_bytes());
  EXPECT_TRUE(mentions(check(), "pin-table chunk 0", "checksum")) << describe(check());
  auto fs = FileSystem::mount(std::move(media_));
  ASSERT_FALSE(fs.ok());
  EXPECT_EQ(fs.error().errnum(), EUCLEAN);
  EXPECT_NE(fs.error().message().find("pin-table chunk 0"), std::string::npos) << fs.error().message();
  auto reopened = Media::open(path_);
  ASSERT_OK(reopened);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), (*reopened)->data())) << "a refused mount wrote";
}

TEST_F(PinTableDamageTest, ARecordMissingAPartIsNamedByCheckAndRefusesMount) {
  ASSERT_OK(fs_->record_pin(pinned_file("f", 9, 2, 8)));  // several slots
  unmount_for_editing();
  const Geometry g = geometry();
  // Free the second part, re-sealed: only the record's structure is wrong.
  const std::uint64_t chunk = g.pin_table_offset;
  const std::uint64_t part1 = chunk + sizeof(format::ChunkHeader) + sizeof(format::PinSlot);
  auto slot = load_as<format::PinSlot>(media_->data() + part1);
  ASSERT_EQ(slot.pin_id.get(), 9u);
  ASSERT_EQ(slot.part.get(), 1u);
  std::vector<std::byte> bytes(media_->data() + chunk, media_->data() + chunk + format::kChunkBytes);
  std::fill(bytes.begin() + static_cast<long>(part1 - chunk),
            bytes.begin() + static_cast<long>(part1 - chunk + sizeof(format::PinSlot)), std::byte{0});
  seal_record(bytes, format::kKindPinTable, chunk, g.seed);
  media_->store(chunk, bytes.data(), bytes.size());
  EXPECT_TRUE(mentions(check(), "pin 9", "parts")) << describe(check());
  auto fs = FileSystem::mount(std::move(media_));
  ASSERT_FALSE(fs.ok());
  EXPECT_EQ(fs.error().errnum(), EUCLEAN);
}

TEST_F(PinTableDamageTest, CheckReportsAPinnedExtentThatIsFree) {
  PinRecord r = pinned_file("f", 4, 2);
  ASSERT_OK(fs_->record_pin(r));
  // The file goes, its blocks freed (no hooks: nothing says they are
  // pinned), while the record stays: what invariant 1 forbids.
  ASSERT_OK(fs_->unlink(kRootInode, "f", caller_));
  unmount_for_editing();
  EXPECT_TRUE(mentions(check(), "pin 4", "not wholly in a file or the quarantine")) << describe(check());
}

TEST_F(PinTableTest, CheckIsCleanWithAPinnedExtentInTheQuarantine) {
  struct AllPinned : LayoutHooks {
    Status begin_layout_change(const LayoutChange&) override { return ok_status(); }
    void end_layout_change(const LayoutChange&) override {}
    bool is_pinned(std::uint64_t, std::uint64_t) const override { return true; }
  } hooks;
  PinRecord r = pinned_file("f", 4, 2);
  ASSERT_OK(fs_->record_pin(r));
  fs_->set_layout_hooks(&hooks);
  ASSERT_OK(fs_->unlink(kRootInode, "f", caller_));
  fs_->set_layout_hooks(nullptr);
  auto quarantined = fs_->quarantined();
  ASSERT_OK(quarantined);
  EXPECT_FALSE(quarantined->empty());
  // TearDown checks the image: clean, the pinned blocks being quarantined.
}

// A pin record is whole or absent at every persist point of its record and
// of its erase (it goes through the journal like every metadata change).
TEST(PinTablePersistTest, ARecordIsWholeOrAbsentAtEveryPersistPoint) {
  ScratchDir scratch;
  auto opened = Media::open(scratch.path() + "/pool",
                            {.create_size_bytes = 12ull << 20, .track_durability = true});
  ASSERT_OK(opened);
  Media* media = (*opened).get();
  MkfsOptions o;
  o.aligned_unit_bytes = 256 << 10;
  ASSERT_OK(FileSystem::mkfs(*media, o));
  auto mounted = FileSystem::mount(std::move(*opened));
  ASSERT_OK(mounted);
  std::unique_ptr<FileSystem> fs = std::move(*mounted);
  Caller caller{1, 0, 0};
  auto f = fs->mknod(kRootInode, "f", S_IFREG | 0644, 0, caller);
  ASSERT_OK(f);
  std::string data(64 << 10, 'x');
  ASSERT_OK(fs->write(f->ino, 0, as_bytes(data), caller));
  auto extents = fs->extents(f->ino, 0, kToEnd);
  ASSERT_OK(extents);
  PinRecord r;
  r.pin_id = 1;
  r.ino = f->ino;
  r.file_length = data.size();
  r.owner_pid = 77;
  r.extents = *extents;
  for (int i = 0; i < 10; ++i) r.registrations.push_back({"rxe0", 1, 2u + i, 3, 4096, 0});

  std::mt19937_64 rng(11);
  int points = 0;
  auto verify = [&](bool may_be_absent, bool may_be_present) {
    ++points;
    for (int variant = 0; variant < 3; ++variant) {
      std::vector<std::byte> image =
          variant == 0 ? media->tracker()->persisted_image() : media->tracker()->crash_image(rng);
      auto copy = Media::from_image(std::move(image), media->map_alignment_bytes());
      auto recovered = FileSystem::mount(std::move(copy));
      ASSERT_TRUE(recovered.ok()) << "at persist point " << points << ": " << recovered.error().message();
      auto pins = (*recovered)->recorded_pins();
      ASSERT_OK(pins);
      if (pins->empty()) {
        EXPECT_TRUE(may_be_absent) << "at persist point " << points;
      } else {
        EXPECT_TRUE(may_be_present) << "at persist point " << points;
        EXPECT_EQ(*pins, std::vector<PinRecord>{r}) << "a torn record at persist point " << points;
      }
      auto report = FileSystem::check((*recovered)->media());
      ASSERT_OK(report);
      EXPECT_TRUE(report->clean()) << describe(*report);
    }
  };
  media->tracker()->set_persist_hook([&](std::uint64_t) { verify(true, true); });
  ASSERT_OK(fs->record_pin(r));
  media->tracker()->set_persist_hook(nullptr);
  verify(false, true);  // returned: durable
  media->tracker()->set_persist_hook([&](std::uint64_t) { verify(true, true); });
  ASSERT_OK(fs->erase_pin(1));
  media->tracker()->set_persist_hook(nullptr);
  verify(true, false);
  EXPECT_GT(points, 4);
  EXPECT_OK(fs->unmount());
}

}  // namespace
}  // namespace pinfs::fs::testing
