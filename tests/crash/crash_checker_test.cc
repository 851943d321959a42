// The crash harness can fail: its comparisons flag a tree that is not the
// model, a half-applied operation, bytes outside the range of the write in
// flight; and a lost write injected into the crash images is caught.
#include "tests/crash/crash_checker.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/crash/fs_model.h"
#include "tests/crash/tree_snapshot.h"
#include "tests/crash/workload.h"

namespace pinfs::crashtest {
namespace {

Bytes bytes_of(std::initializer_list<int> values) {
  Bytes out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

// A snapshot that holds exactly what the model says, with inode numbers
// 100 + model id.
TreeSnapshot snapshot_of(const FsModel& model) {
  TreeSnapshot snap;
  for (const auto& [path, id] : model.paths()) {
    fs::InodeNumber ino = path == "/" ? fs::kRootInode : 100 + id;
    snap.paths.emplace(path, ino);
    const ModelNode& n = model.node(id);
    SnapshotNode s;
    s.ino = ino;
    s.mode = n.type | n.perm;
    s.nlink = model.nlink(id);
    s.uid = n.uid;
    s.gid = n.gid;
    s.size = n.size();
    s.data = *n.data;
    s.target = n.target;
    s.xattrs = n.xattrs;
    snap.nodes.emplace(ino, std::move(s));
  }
  return snap;
}

FsModel small_tree() {
  FsModel m;
  ModelNode dir;
  dir.type = S_IFDIR;
  dir.perm = 0755;
  m.create("/d", dir);
  ModelNode file;
  ModelId f = m.create("/d/f", file);
  m.write(f, 0, bytes_of({1, 2, 3, 4, 5, 6, 7, 8}));
  m.link("/d/f", "/g");
  ModelNode link;
  link.type = S_IFLNK;
  link.perm = 0777;
  link.target = "d/f";
  m.create("/s", link);
  return m;
}

TEST(FsModelTest, RenameMovesAWholeSubtreeAndKeepsLinkCounts) {
  FsModel m = small_tree();
  ModelNode sub;
  sub.type = S_IFDIR;
  m.create("/d/sub", sub);
  EXPECT_EQ(m.nlink(m.id_of("/d")), 3u);
  m.rename("/d", "/e", false);
  EXPECT_FALSE(m.exists("/d/f"));
  EXPECT_TRUE(m.exists("/e/f"));
  EXPECT_TRUE(m.exists("/e/sub"));
  EXPECT_EQ(m.id_of("/e/f"), m.id_of("/g"));
  EXPECT_EQ(m.nlink(m.id_of("/g")), 2u);
  EXPECT_EQ(m.nlink(m.id_of("/")), 3u);  // root: '.', '..' and /e
}

TEST(FsModelTest, ExchangeSwapsTwoSubtrees) {
  FsModel m = small_tree();
  ModelId f = m.id_of("/d/f");
  ModelId s = m.id_of("/s");
  m.rename("/d", "/s", true);
  EXPECT_EQ(m.id_of("/s/f"), f);
  EXPECT_EQ(m.id_of("/d"), s);
  EXPECT_EQ(m.at("/s").type, static_cast<std::uint32_t>(S_IFDIR));
}

TEST(FsModelTest, RenameOverTheLastLinkDropsTheInode) {
  FsModel m = small_tree();
  ModelNode other;
  ModelId gone = m.create("/h", other);
  m.rename("/s", "/h", false);
  EXPECT_FALSE(m.nodes().contains(gone));
  EXPECT_FALSE(m.exists("/s"));
  // Two links of one inode: rename is a no-op (POSIX).
  m.rename("/g", "/d/f", false);
  EXPECT_TRUE(m.exists("/g"));
  EXPECT_TRUE(m.exists("/d/f"));
}

TEST(FsModelTest, CollapseAndInsertShiftTheBytesAfterTheRange) {
  FsModel m = small_tree();
  ModelId f = m.id_of("/d/f");
  m.collapse(f, 2, 3);
  EXPECT_EQ(*m.node(f).data, bytes_of({1, 2, 6, 7, 8}));
  m.insert(f, 1, 2);
  EXPECT_EQ(*m.node(f).data, bytes_of({1, 0, 0, 2, 6, 7, 8}));
}

TEST(TreeDiffTest, AnExactSnapshotHasNoDifferences) {
  FsModel m = small_tree();
  EXPECT_TRUE(diff(m, snapshot_of(m)).empty());
}

TEST(TreeDiffTest, FlagsAMissingFileChangedDataAndABrokenHardLink) {
  FsModel m = small_tree();
  TreeSnapshot snap = snapshot_of(m);
  snap.paths.erase("/s");
  snap.nodes.at(snap.paths.at("/d/f")).data[3] = std::byte{0x42};
  auto d = diff(m, snap);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NE(d[0].find("missing '/s'"), std::string::npos) << d[0];
  EXPECT_NE(d[1].find("data"), std::string::npos) << d[1];

  TreeSnapshot split = snapshot_of(m);
  SnapshotNode copy = split.nodes.at(split.paths.at("/g"));
  copy.ino = 999;
  split.nodes.emplace(999, copy);
  split.paths["/g"] = 999;
  auto d2 = diff(m, split);
  ASSERT_FALSE(d2.empty());
  EXPECT_NE(d2[0].find("hard link"), std::string::npos) << d2[0];
}

TEST(TreeDiffTest, FlagsWrongModeOwnerLinkCountAndXattrs) {
  FsModel m = small_tree();
  TreeSnapshot snap = snapshot_of(m);
  SnapshotNode& f = snap.nodes.at(snap.paths.at("/d/f"));
  f.mode = S_IFREG | 0600;
  f.uid = 7;
  f.nlink = 1;
  f.xattrs["user.x"] = bytes_of({1});
  auto d = diff(m, snap);
  EXPECT_EQ(d.size(), 4u);
}

TEST(TreeDiffTest, AHalfAppliedRenameMatchesNeitherSide) {
  FsModel before = small_tree();
  FsModel after = before;
  after.rename("/s", "/t", false);
  // Both names present: the rename's link was added, the old one not removed.
  TreeSnapshot snap = snapshot_of(after);
  snap.paths.emplace("/s", snap.paths.at("/t"));
  EXPECT_FALSE(diff_in_flight(before, after, {}, snap).empty());
  EXPECT_TRUE(diff_in_flight(before, after, {}, snapshot_of(before)).empty());
  EXPECT_TRUE(diff_in_flight(before, after, {}, snapshot_of(after)).empty());
}

class WriteInFlightTest : public ::testing::Test {
 protected:
  void SetUp() override {
    before = small_tree();
    id = before.id_of("/d/f");
    after = before;
    // write [6, 10) over bytes 7, 8 and past the end.
    after.write(id, 6, bytes_of({0xA, 0xB, 0xC, 0xD}));
    flight = {true, id, 6, 10};
  }
  TreeSnapshot with_data(Bytes data) {
    TreeSnapshot snap = snapshot_of(after);
    SnapshotNode& n = snap.nodes.at(snap.paths.at("/d/f"));
    n.size = data.size();
    n.data = std::move(data);
    return snap;
  }
  FsModel before, after;
  ModelId id = 0;
  InFlight flight;
};

TEST_F(WriteInFlightTest, AcceptsAnyMixOfOldAndNewBytesWithinTheRange) {
  EXPECT_TRUE(diff_in_flight(before, after, flight, with_data(bytes_of({1, 2, 3, 4, 5, 6, 0xA, 8, 0xC})))
                  .empty());
  EXPECT_TRUE(diff_in_flight(before, after, flight, with_data(bytes_of({1, 2, 3, 4, 5, 6, 7, 0xB})))
                  .empty());
}

TEST_F(WriteInFlightTest, RejectsABytePastTheRangeOrGarbageWithinIt) {
  // A byte outside the range changed.
  EXPECT_FALSE(diff_in_flight(before, after, flight,
                              with_data(bytes_of({1, 2, 3, 4, 5, 0xEE, 0xA, 0xB, 0xC, 0xD})))
                   .empty());
  // A byte within the range that is neither old nor new (stale block data).
  EXPECT_FALSE(diff_in_flight(before, after, flight,
                              with_data(bytes_of({1, 2, 3, 4, 5, 6, 0x77, 0xB, 0xC, 0xD})))
                   .empty());
  // A size beyond what the write makes.
  EXPECT_FALSE(diff_in_flight(before, after, flight,
                              with_data(bytes_of({1, 2, 3, 4, 5, 6, 0xA, 0xB, 0xC, 0xD, 0})))
                   .empty());
}

TEST_F(WriteInFlightTest, AnAtomicOperationGetsNoByteTolerance) {
  EXPECT_FALSE(diff_in_flight(before, after, {}, with_data(bytes_of({1, 2, 3, 4, 5, 6, 0xA, 8, 0xC})))
                   .empty());
}

// The fault injection: after each write returned, every crash image loses
// that write's bytes (zeroed wherever they are on the media). The checker
// must report the recovered file's data as different from the model.
TEST(CrashCheckerTest, FlagsAWriteThatWasLostAfterItReturned) {
  auto media = fs::Media::from_image(std::vector<std::byte>(8 << 20), 4096, true);
  fs::MkfsOptions mkfs;
  mkfs.aligned_unit_bytes = 64 << 10;
  ASSERT_TRUE(fs::FileSystem::mkfs(*media, mkfs).ok());
  auto mounted = fs::FileSystem::mount(std::move(media));
  ASSERT_TRUE(mounted.ok()) << mounted.error().message();
  fs::FileSystem& f = **mounted;
  auto root = f.getattr(fs::kRootInode);
  ASSERT_TRUE(root.ok());
  FsModel model(root->mode & 07777);

  CrashCheckerOptions options;
  options.seed = 3;
  options.images_per_point = 1;
  CrashChecker checker(f.media(), model, options, [](std::uint64_t) { return true; });
  WorkloadOptions workload_options;
  workload_options.seed = 3;
  workload_options.verify_live_tree = false;
  Workload workload(f, model, workload_options, &checker);
  std::uint64_t lost = 0;
  checker.set_fault_injecting_image_filter([&](std::vector<std::byte>& image) {
    const Bytes& written = workload.last_written();
    if (written.size() < 48) return;
    auto needle_end = written.begin() + 48;
    for (auto it = image.begin();
         (it = std::search(it, image.end(), written.begin(), needle_end)) != image.end();) {
      std::fill(it, it + 48, std::byte{0});
      ++lost;
    }
  });
  for (int i = 0; i < 150 && checker.failures().empty(); ++i) {
    auto st = workload.step();
    ASSERT_TRUE(st.ok()) << st.error().message();
  }
  ASSERT_GT(lost, 0u) << "the fault injection never found a written block";
  ASSERT_FALSE(checker.failures().empty());
  EXPECT_TRUE(std::any_of(checker.failures().begin(), checker.failures().end(),
                          [](const std::string& f) { return f.find(" data") != std::string::npos; }))
      << checker.failures().front();
}

}  // namespace
}  // namespace pinfs::crashtest
