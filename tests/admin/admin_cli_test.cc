// `pinfs pins`, `leases`, `stat`, `break`, `revoke` and `devices` — the real
// binary against a real pinfsd — for pins and leases scripted through the
// client library, registrations included.
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "tests/admin/admin_test_fixture.h"
#include "tests/control/file_ops.h"

namespace pinfs::admin_test {
namespace {

using control_test::Background;
using control_test::EventLog;
using control_test::write_pattern;
using nlohmann::json;

constexpr std::uint64_t kMiB = 1ull << 20;

std::string own_command() {
  std::ifstream comm("/proc/self/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

const json* pin_with_path(const json& pins, const std::string& path) {
  for (const json& p : pins) {
    if (p["path"] == path) return &p;
  }
  return nullptr;
}

// Two files: f pinned [0, 2 MiB) under a read lease with a registration,
// g pinned [2 MiB, 4 MiB) under an unbreakable lease.
class ListingTest : public AdminTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(AdminTest::SetUp());
    if (IsSkipped()) return;
    ASSERT_EQ(write_pattern(path("f"), 4 * kMiB, 1), 0);
    ASSERT_EQ(write_pattern(path("g"), 4 * kMiB, 2), 0);
    auto client = connect();
    PINFS_ASSERT_OK(client);
    client_.emplace(std::move(*client));
    auto f = client_->open(path("f"));
    PINFS_ASSERT_OK(f);
    auto f_lease = f->lease(LeaseKind::read, {}, log_.callback());
    PINFS_ASSERT_OK(f_lease);
    auto f_pin = f_lease->pin({0, 2 * kMiB});
    PINFS_ASSERT_OK(f_pin);
    PINFS_ASSERT_OK(f_pin->report_registration({"mlx5_0", 0x1, 0x2, 0x7f0000000000, 2 * kMiB, 7}));
    auto g = client_->open("g");  // relative: to the file system's root
    PINFS_ASSERT_OK(g);
    auto g_lease = g->lease(LeaseKind::unbreakable, {2 * kMiB, 2 * kMiB});
    PINFS_ASSERT_OK(g_lease);
    auto g_pin = g_lease->pin({2 * kMiB, 2 * kMiB});
    PINFS_ASSERT_OK(g_pin);
    read_lease_.emplace(std::move(*f_lease));
    read_pin_.emplace(std::move(*f_pin));
    unbreakable_lease_.emplace(std::move(*g_lease));
    unbreakable_pin_.emplace(std::move(*g_pin));
  }

  EventLog log_;
  std::optional<Client> client_;
  std::optional<Lease> read_lease_, unbreakable_lease_;
  std::optional<Pin> read_pin_, unbreakable_pin_;
};

TEST_F(ListingTest, PinsJsonShowsEachPinWithHolderLeaseAndRegistrations) {
  const json doc = pinfs_json({"pins"});
  const json& pins = doc["pins"];
  ASSERT_EQ(pins.size(), 2u) << doc.dump(2);
  const json* f = pin_with_path(pins, path("f"));
  ASSERT_NE(f, nullptr) << doc.dump(2);
  EXPECT_EQ((*f)["id"], read_pin_->id());
  EXPECT_EQ((*f)["pid"], ::getpid());
  EXPECT_EQ((*f)["uid"], 0);
  EXPECT_EQ((*f)["command"], own_command());
  EXPECT_EQ((*f)["offset"], 0);
  EXPECT_EQ((*f)["bytes"], 2 * kMiB);
  EXPECT_EQ((*f)["lease"], read_lease_->id());
  EXPECT_EQ((*f)["lease_type"], "read");
  EXPECT_EQ((*f)["lease_state"], "held");
  EXPECT_GE((*f)["age_s"].get<std::int64_t>(), 0);
  ASSERT_EQ((*f)["registrations"].size(), 1u);
  EXPECT_EQ((*f)["registrations"][0]["device"], "mlx5_0");
  EXPECT_EQ((*f)["registrations"][0]["rkey"], 2);

  // Opened by a relative path, listed by its path on the mount.
  const json* g = pin_with_path(pins, path("g"));
  ASSERT_NE(g, nullptr) << doc.dump(2);
  EXPECT_EQ((*g)["offset"], 2 * kMiB);
  EXPECT_EQ((*g)["end"], 4 * kMiB);
  EXPECT_EQ((*g)["lease_type"], "unbreakable");
  EXPECT_TRUE((*g)["registrations"].empty());
}

TEST_F(ListingTest, PinsTableHasOneAlignedRowPerPin) {
  const Output out = pinfs({"pins"});
  ASSERT_EQ(out.status.code, 0) << out.err;
  std::vector<std::string> lines;
  std::istringstream in(out.out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u) << out.out;
  EXPECT_TRUE(lines[0].starts_with("PIN")) << lines[0];
  for (const char* heading : {"PID", "COMMAND", "UID", "PATH", "RANGE", "BYTES", "LEASE", "STATE", "AGE",
                              "REGISTRATIONS"}) {
    EXPECT_NE(lines[0].find(heading), std::string::npos) << heading;
  }
  // Every row's PATH starts in the header's PATH column.
  const auto path_column = lines[0].find("PATH");
  EXPECT_EQ(lines[1].find(path("f")), path_column) << out.out;
  EXPECT_EQ(lines[2].find(path("g")), path_column) << out.out;
  EXPECT_NE(lines[1].find("[0, 2 MiB)"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find(" read "), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("held"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("mlx5_0 lkey 0x1 rkey 0x2 access 0x7"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("[2 MiB, 4 MiB)"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("unbreakable"), std::string::npos) << lines[2];
}

TEST_F(ListingTest, PinsFilterByFileAndByPid) {
  const json by_file = pinfs_json({"pins", "--file", path("g")});
  ASSERT_EQ(by_file["pins"].size(), 1u) << by_file.dump(2);
  EXPECT_EQ(by_file["pins"][0]["id"], unbreakable_pin_->id());

  const json mine = pinfs_json({"pins", "--pid", std::to_string(::getpid())});
  EXPECT_EQ(mine["pins"].size(), 2u);
  const json none = pinfs_json({"pins", "--pid", "1"});
  EXPECT_TRUE(none["pins"].empty()) << none.dump(2);

  const Output missing = pinfs({"pins", "--file", path("nope")});
  EXPECT_EQ(missing.status.code, kExitFailed);
  EXPECT_TRUE(is_one_line_error(missing.err, "No such file or directory"));
}

TEST_F(ListingTest, LeasesShowTheBreakStateAndDeadlineWhileABreakWaits) {
  Output break_output;
  Background broken([&] {
    break_output = pinfs({"break", "--file", path("f")});
    return break_output.status.code;
  });
  ASSERT_TRUE(wait_for_event(*client_, log_, LeaseEventKind::break_requested));

  const json leases = pinfs_json({"leases"});
  ASSERT_EQ(leases["leases"].size(), 2u) << leases.dump(2);
  const json& read = leases["leases"][0]["id"] == read_lease_->id() ? leases["leases"][0] : leases["leases"][1];
  EXPECT_EQ(read["type"], "read");
  EXPECT_EQ(read["state"], "breaking");
  EXPECT_EQ(read["breaking"], true);
  ASSERT_TRUE(read["break_deadline_ms"].is_number()) << read.dump();
  EXPECT_GT(read["break_deadline_ms"].get<std::int64_t>(), 0);
  EXPECT_LE(read["break_deadline_ms"].get<std::int64_t>(), break_ms().count());
  EXPECT_EQ(read["pins"], 1);

  const json pins = pinfs_json({"pins", "--file", path("f")});
  ASSERT_EQ(pins["pins"].size(), 1u);
  EXPECT_EQ(pins["pins"][0]["lease_state"], "breaking");
  EXPECT_TRUE(pins["pins"][0]["break_deadline_ms"].is_number());

  const Output table = pinfs({"leases"});
  ASSERT_EQ(table.status.code, 0) << table.err;
  EXPECT_NE(table.out.find("breaking"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("s left"), std::string::npos) << table.out;

  PINFS_ASSERT_OK(read_pin_->release());
  PINFS_ASSERT_OK(read_lease_->release());
  EXPECT_EQ(broken.result(), 0) << break_output.err;
  EXPECT_NE(break_output.out.find("break '" + path("f") + "' [0, end): 1 lease holder released in time"),
            std::string::npos)
      << break_output.out;
  EXPECT_EQ(pinfs_json({"leases"})["leases"].size(), 1u);
}

TEST_F(ListingTest, StatShowsSpacePinnedBytesAndBreakCounters) {
  // A break refused by the unbreakable lease counts as failed.
  const Output refused = pinfs({"break", std::to_string(unbreakable_pin_->id())});
  EXPECT_EQ(refused.status.code, kExitBusy) << refused.err;
  EXPECT_TRUE(is_one_line_error(refused.err, "Text file busy"));

  const json stat = pinfs_json({"stat"});
  EXPECT_EQ(stat["daemon"]["mountpoint"], fs().mountpoint());
  EXPECT_EQ(stat["daemon"]["socket"], socket_path());
  EXPECT_EQ(stat["leases"]["pins"], 2);
  EXPECT_EQ(stat["leases"]["leases"], 2);
  EXPECT_EQ(stat["leases"]["pinned_bytes"], 4 * kMiB);
  EXPECT_GE(stat["leases"]["clients"].get<int>(), 1);
  EXPECT_EQ(stat["leases"]["breaks_failed"], 1);
  const json& space = stat["fs"];
  EXPECT_EQ(space["capacity_bytes"], space["total_blocks"].get<std::uint64_t>() * space["block_size"].get<std::uint64_t>());
  EXPECT_EQ(space["used_bytes"].get<std::uint64_t>() + space["free_bytes"].get<std::uint64_t>(),
            space["capacity_bytes"].get<std::uint64_t>());
  EXPECT_GE(space["used_bytes"].get<std::uint64_t>(), 8 * kMiB) << "f and g are 4 MiB each";

  const Output text = pinfs({"stat"});
  ASSERT_EQ(text.status.code, 0) << text.err;
  EXPECT_TRUE(text.out.starts_with("MOUNTPOINT")) << text.out;
  EXPECT_NE(text.out.find(fs().mountpoint()), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("4 MiB"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("0 completed, 0 timed out, 1 failed"), std::string::npos) << text.out;
}

TEST_F(ListingTest, BreakOfAPinThatIsNotThereIsEnoent) {
  const Output out = pinfs({"break", "999999"});
  EXPECT_EQ(out.status.code, kExitFailed);
  EXPECT_TRUE(is_one_line_error(out.err, "no such pin"));
}

TEST_F(ListingTest, RevokeIsRefusedWhileThePolicyIsFail) {
  const Output out = pinfs({"revoke", std::to_string(read_pin_->id())});
  EXPECT_EQ(out.status.code, kExitPolicy) << out.err;
  EXPECT_TRUE(is_one_line_error(out.err, "--on-break-timeout revoke"));
  EXPECT_TRUE(read_lease_->held());
  EXPECT_EQ(log_.count(LeaseEventKind::break_requested), 0u) << "no break was even started";
}

// Under `revoke`, pinfs revoke takes the lease of a holder that does not
// answer; its pin stays, revoked, keeping its extents.
class RevokePolicyTest : public AdminTest {
 protected:
  std::vector<std::string> daemon_args() const override {
    return {"--lease-break-ms", std::to_string(break_ms().count()), "--on-break-timeout", "revoke"};
  }
};

TEST_F(RevokePolicyTest, RevokeTakesTheLeaseOfAHolderThatDoesNotAnswer) {
  ASSERT_EQ(write_pattern(path("f"), 2 * kMiB, 3), 0);
  auto client = connect();
  PINFS_ASSERT_OK(client);
  auto file = client->open(path("f"));
  PINFS_ASSERT_OK(file);
  auto lease = file->lease(LeaseKind::read);  // nobody answers its events
  PINFS_ASSERT_OK(lease);
  auto pin = lease->pin({0, 2 * kMiB});
  PINFS_ASSERT_OK(pin);

  const Output out = pinfs({"revoke", std::to_string(pin->id())});
  EXPECT_EQ(out.status.code, 0) << out.err;
  EXPECT_NE(out.out.find("revoke '" + path("f") + "' [0, 2 MiB): 1 lease revoked after the"), std::string::npos) << out.out;

  const json pins = pinfs_json({"pins"});
  ASSERT_EQ(pins["pins"].size(), 1u) << pins.dump(2);
  EXPECT_EQ(pins["pins"][0]["state"], "revoked");
  EXPECT_EQ(pins["pins"][0]["lease_state"], "revoked");
  EXPECT_TRUE(pins["pins"][0]["lease_type"].is_null());
  EXPECT_TRUE(pinfs_json({"leases"})["leases"].empty());
  EXPECT_EQ(pinfs_json({"stat"})["leases"]["leases_revoked"], 1);
}

TEST_F(AdminTest, BreakWithNoLeaseOverTheFileSaysSo) {
  ASSERT_EQ(write_pattern(path("f"), 4096, 4), 0);
  const Output out = pinfs({"break", "--file", path("f"), "--range", "0:4K"});
  EXPECT_EQ(out.status.code, 0) << out.err;
  EXPECT_NE(out.out.find("break '" + path("f") + "' [0, 4 KiB): no lease to break"), std::string::npos) << out.out;
}

TEST_F(AdminTest, DevicesListsThePoolFileAsPinfsMountedHere) {
  const std::string plain = fs().scratch_dir() + "/not-pinfs";
  {
    std::ofstream out(plain);
    out << std::string(1 << 20, '\0');
  }
  const Output listed = pinfs_without_socket({"devices", plain, "--json"});  // devices has no --socket
  ASSERT_EQ(listed.status.code, 0) << listed.err;
  const json doc = parse_json_output(listed);
  const json* pool = nullptr;
  const json* other = nullptr;
  for (const json& d : doc["devices"]) {
    if (d["path"] == fs().target()) pool = &d;
    if (d["path"] == plain) other = &d;
  }
  ASSERT_NE(pool, nullptr) << "the mounted pool is found through the mount table:\n" << doc.dump(2);
  EXPECT_EQ((*pool)["mountpoint"], fs().mountpoint());
  if (fs().on_device()) {
    // The VM serves /dev/dax0.0: found through libdaxctl and the mount table.
    EXPECT_EQ((*pool)["kind"], "devdax");
    EXPECT_EQ((*pool)["align_bytes"], 2u << 20);
    EXPECT_GE((*pool)["size_bytes"].get<std::uint64_t>(), 1ull << 30);
  } else {
    EXPECT_EQ((*pool)["kind"], "file");
    EXPECT_EQ((*pool)["size_bytes"], 1ull << 30);
  }
  EXPECT_TRUE((*pool)["error"].is_null()) << (*pool)["error"];
  ASSERT_TRUE((*pool)["pinfs"].is_object()) << pool->dump(2);
  EXPECT_EQ((*pool)["pinfs"]["superblock"], "valid");
  EXPECT_EQ((*pool)["pinfs"]["format_version"], 1);
  EXPECT_EQ((*pool)["pinfs"]["block_size"], 4096);

  ASSERT_NE(other, nullptr) << doc.dump(2);
  EXPECT_TRUE((*other)["pinfs"].is_null()) << other->dump(2);
  EXPECT_TRUE((*other)["mountpoint"].is_null());

  const Output table = pinfs_without_socket({"devices", plain});
  ASSERT_EQ(table.status.code, 0) << table.err;
  EXPECT_TRUE(table.out.starts_with("PATH")) << table.out;
  EXPECT_NE(table.out.find("v1, unit "), std::string::npos) << table.out;

  const Output missing = pinfs_without_socket({"devices", fs().scratch_dir() + "/nope"});
  EXPECT_EQ(missing.status.code, kExitFailed);
  EXPECT_TRUE(is_one_line_error(missing.err, "No such file or directory"));
}

}  // namespace
}  // namespace pinfs::admin_test
