#include "fs/durability_tracker.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "fs/media.h"

namespace pinfs::fs {
namespace {

constexpr std::uint64_t kImageBytes = 1 << 20;

std::unique_ptr<Media> tracked_media() {
  return Media::from_image(std::vector<std::byte>(kImageBytes), 4096, /*track_durability=*/true);
}

std::uint64_t read_u64(const std::vector<std::byte>& image, std::uint64_t off) {
  std::uint64_t v = 0;
  std::memcpy(&v, image.data() + off, sizeof v);
  return v;
}

TEST(DurabilityTrackerTest, PersistedStoreIsInEveryCrashImage) {
  auto media = tracked_media();
  const std::uint64_t v = 0x1122334455667788;
  media->store(4096, &v, sizeof v);
  media->persist(4096, sizeof v);
  std::mt19937_64 rng(1);
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(read_u64(media->tracker()->crash_image(rng), 4096), v);
  }
  EXPECT_EQ(read_u64(media->tracker()->persisted_image(), 4096), v);
  EXPECT_EQ(media->tracker()->pending_lines(), 0u);
}

TEST(DurabilityTrackerTest, UnpersistedStoreIsAbsentFromPersistedImageAndInSomeReplays) {
  auto media = tracked_media();
  const std::uint64_t v = 77;
  media->store(8192, &v, sizeof v);
  EXPECT_EQ(read_u64(media->tracker()->persisted_image(), 8192), 0u);
  EXPECT_EQ(media->tracker()->pending_lines(), 1u);
  std::mt19937_64 rng(2);
  int present = 0, absent = 0;
  for (int i = 0; i < 64; ++i) {
    (read_u64(media->tracker()->crash_image(rng), 8192) == v ? present : absent)++;
  }
  EXPECT_GT(present, 0);
  EXPECT_GT(absent, 0);
}

TEST(DurabilityTrackerTest, StoreAfterFlushIsNotMadeDurableByThatFlush) {
  auto media = tracked_media();
  const std::uint64_t first = 1, second = 2;
  media->store(0, &first, sizeof first);
  media->flush(0, sizeof first);
  media->store(0, &second, sizeof second);
  media->drain();
  // The drain made the flushed version durable, not the later store.
  EXPECT_EQ(read_u64(media->tracker()->persisted_image(), 0), first);
  EXPECT_EQ(media->tracker()->pending_lines(), 1u);
}

TEST(DurabilityTrackerTest, PersistHookRunsBeforeEachDrain) {
  auto media = tracked_media();
  std::vector<std::uint64_t> seen;
  std::vector<std::uint64_t> persisted_at_hook;
  media->tracker()->set_persist_hook([&](std::uint64_t point) {
    seen.push_back(point);
    persisted_at_hook.push_back(read_u64(media->tracker()->persisted_image(), 0));
  });
  const std::uint64_t v = 5;
  media->store_persist(0, &v, sizeof v);
  media->store_persist(64, &v, sizeof v);
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(persisted_at_hook[0], 0u);  // the first drain had not happened yet
  EXPECT_EQ(media->tracker()->persist_points(), 2u);
}

// A toy log: a data record of two cache lines and a commit record holding
// the data's checksum. Recovery trusts the data only when the commit
// matches, so a commit that can reach the media before its data is a bug.
constexpr std::uint64_t kDataOffset = 4096;
constexpr std::uint64_t kCommitOffset = 8192;
constexpr std::uint64_t kCommitMagic = 0xC0FFEE;

std::uint64_t checksum(const std::byte* p, std::size_t n) {
  std::uint64_t h = 1469598103934665603ull;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ static_cast<std::uint64_t>(p[i])) * 1099511628211ull;
  return h;
}

// Returns true when the image is consistent: no commit, or a commit whose
// data is all there.
bool recovered_image_is_consistent(const std::vector<std::byte>& image) {
  if (read_u64(image, kCommitOffset) != kCommitMagic) return true;
  return read_u64(image, kCommitOffset + 8) == checksum(image.data() + kDataOffset, 128);
}

using Writer = std::function<void(Media&)>;

// Replays several crash images at every persist point of the writer and
// counts the inconsistent ones.
int inconsistent_replays(const Writer& writer) {
  auto media = tracked_media();
  std::mt19937_64 rng(42);
  int bad = 0;
  media->tracker()->set_persist_hook([&](std::uint64_t) {
    for (int i = 0; i < 16; ++i) {
      if (!recovered_image_is_consistent(media->tracker()->crash_image(rng))) ++bad;
    }
  });
  writer(*media);
  for (int i = 0; i < 16; ++i) {
    if (!recovered_image_is_consistent(media->tracker()->crash_image(rng))) ++bad;
  }
  return bad;
}

std::vector<std::byte> data_record() {
  std::vector<std::byte> data(128);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i + 1);
  return data;
}

void store_commit(Media& media, const std::vector<std::byte>& data) {
  const std::uint64_t commit[2] = {kCommitMagic, checksum(data.data(), data.size())};
  media.store(kCommitOffset, commit, sizeof commit);
}

TEST(DurabilityTrackerTest, ReplaysCatchACommitPersistedBeforeItsData) {
  const auto data = data_record();
  int bad = inconsistent_replays([&](Media& media) {
    media.store(kDataOffset, data.data(), data.size());
    store_commit(media, data);
    media.persist(kCommitOffset, 16);  // bug: the data is still in flight
    media.persist(kDataOffset, data.size());
  });
  EXPECT_GT(bad, 0);
}

TEST(DurabilityTrackerTest, ReplaysAcceptDataPersistedBeforeItsCommit) {
  const auto data = data_record();
  int bad = inconsistent_replays([&](Media& media) {
    media.store(kDataOffset, data.data(), data.size());
    media.persist(kDataOffset, data.size());
    store_commit(media, data);
    media.persist(kCommitOffset, 16);
  });
  EXPECT_EQ(bad, 0);
}

}  // namespace
}  // namespace pinfs::fs
