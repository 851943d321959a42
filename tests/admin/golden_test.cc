// Golden tests of what `pinfs pins`, `pinfs leases` and `pinfs stat` print,
// for a scripted set of pins and leases: every state a pin can be in (held,
// breaking, revoked, orphaned), every lease kind, registrations, a relative
// path, a range to the end of the file. The input goes through the daemon's
// own serialisers (tools/control/listing_json.h), so a change on either side
// of the socket that breaks the other fails here.
//
// The tables are compared byte for byte with tests/admin/golden/*.txt; the
// JSON documents are parsed and compared as values with golden/*.json, and
// their fields checked one by one. PINFS_UPDATE_GOLDEN=1 rewrites the golden
// files from the current output (review the diff before keeping it).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/control/listing_json.h"
#include "tools/pinfs/listings.h"

#ifndef PINFS_ADMIN_GOLDEN_DIR
#error "meson defines PINFS_ADMIN_GOLDEN_DIR"
#endif

namespace pinfs::tools {
namespace {

using nlohmann::json;
using std::chrono::system_clock;

constexpr std::int64_t kNow = 1718000000;  // the listing's "now", Unix seconds
constexpr std::uint64_t kMiB = 1ull << 20;
constexpr const char* kMount = "/mnt/pinfs";

system_clock::time_point seconds_ago(std::int64_t s) { return system_clock::from_time_t(kNow - s); }

pin::ClientIdentity holder(pin::ClientId id, pid_t pid, uid_t uid, const char* command) {
  return pin::ClientIdentity{id, pid, uid, command, 0};
}

pin::FilePin make_pin(pin::PinId id, pin::ClientIdentity client, pin::LeaseId lease, fs::InodeNumber ino,
                      std::string path, std::uint64_t offset, std::uint64_t length, std::int64_t age_s,
                      pin::PinState state = pin::PinState::active) {
  pin::FilePin p;
  p.id = id;
  p.client = std::move(client);
  p.lease_id = lease;
  p.ino = ino;
  p.path = std::move(path);
  p.file_range = {offset, length};
  p.extents = {fs::Extent{offset, 64 * kMiB + offset, length}};
  p.created_at = seconds_ago(age_s);
  p.state = state;
  return p;
}

lease::LeaseInfo make_lease(pin::LeaseId id, pin::ClientIdentity client, fs::InodeNumber ino, std::string path,
                            std::uint64_t offset, std::uint64_t length, lease::LeaseType type, std::size_t pins,
                            std::int64_t age_s) {
  lease::LeaseInfo l;
  l.id = id;
  l.holder = std::move(client);
  l.ino = ino;
  l.path = std::move(path);
  l.range = {offset, length};
  l.type = type;
  l.pins = pins;
  l.acquired_at = seconds_ago(age_s);
  return l;
}

// The scripted daemon state.
struct Scripted {
  std::string pins_json;
  std::string leases_json;
};

Scripted scripted_state() {
  const auto app = holder(7, 4242, 1000, "rdma_app");
  const auto server = holder(8, 5151, 0, "ib_server");
  const auto stuck = holder(9, 6000, 1001, "stuck");
  const auto crashed = holder(10, 7000, 1000, "crashed");
  const auto writer = holder(11, 8080, 1000, "writer");

  std::vector<pin::FilePin> pins;
  pins.push_back(make_pin(5, server, 4, 18, "logs/ring", 2 * kMiB, 4 * kMiB, 3 * 3600 + 7 * 60 + 9));
  pins.back().registrations = {{"mlx5_0", 0x11, 0x22, 0x7f0000200000, 4 * kMiB, 0xf},
                               {"mlx5_1", 0x33, 0x44, 0x7f0000200000, 4 * kMiB, 0x5}};
  pins.push_back(make_pin(3, app, 2, 17, "/mnt/pinfs/data/f1", 0, 8 * kMiB, 125));
  pins.back().registrations = {{"rxe0", 0x1234, 0x5678, 0x7fff00000000, 8 * kMiB, 7}};
  pins.push_back(make_pin(9, stuck, 6, 19, "/mnt/pinfs/data/f2", 0, 2 * kMiB, 42));
  pins.push_back(make_pin(11, stuck, 8, 20, "/mnt/pinfs/data/f3", 4096, 12288, 2 * 86400 + 4 * 3600,
                          pin::PinState::revoked));
  pins.push_back(make_pin(12, crashed, 10, 21, "/mnt/pinfs/data/f4", 0, 2 * kMiB, 0, pin::PinState::orphaned));

  std::vector<lease::LeaseInfo> leases;
  leases.push_back(make_lease(2, app, 17, "/mnt/pinfs/data/f1", 0, fs::kToEnd, lease::LeaseType::read, 1, 130));
  leases.push_back(make_lease(4, server, 18, "logs/ring", 0, fs::kToEnd, lease::LeaseType::unbreakable, 1, 11300));
  leases.push_back(make_lease(6, stuck, 19, "/mnt/pinfs/data/f2", 0, 2 * kMiB, lease::LeaseType::read, 1, 50));
  leases.back().breaking = true;
  leases.back().break_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(3500);
  leases.push_back(make_lease(7, writer, 22, "/mnt/pinfs/new", 0, 4 * kMiB, lease::LeaseType::write, 0, 5));

  Scripted s{control::pins_json(pins), control::leases_json(leases)};
  // The daemon counts a break deadline in milliseconds from the moment it
  // lists (a steady clock): fix it at what it was scripted as.
  json l = json::parse(s.leases_json);
  for (json& lease : l["leases"]) {
    if (!lease["break_deadline_ms"].is_null()) lease["break_deadline_ms"] = 3500;
  }
  s.leases_json = l.dump();
  return s;
}

std::string stat_input() {
  control::DaemonFacts d;
  d.version = "pinfsd 0.1.0";
  d.mountpoint = kMount;
  d.socket = "/run/pinfs/pinfsd.sock";
  d.lease_break_ms = 5000;
  d.break_policy = lease::BreakPolicy::fail;
  d.map_group = "rdma";
  d.map_alignment_bytes = 2 * kMiB;
  d.sessions = 5;
  lease::LeaseStats s;
  s.break_events_sent = 9;
  s.breaks_completed = 4;
  s.breaks_timed_out = 2;
  s.breaks_failed = 3;
  s.leases_revoked = 1;
  s.clients = 5;
  s.leases = 4;
  s.read_leases = 2;
  s.unbreakable_leases = 1;
  s.write_leases = 1;
  s.pins = 5;
  s.revoked_pins = 1;
  s.orphaned_pins = 1;
  s.pinned_bytes = 16 * kMiB + 12288;
  s.quarantined_bytes = 12288;
  fs::FsStat f;
  f.block_size = 4096;
  f.total_blocks = 262144;  // 1 GiB
  f.free_blocks = 250000;
  f.total_inodes = 65536;
  f.free_inodes = 65500;
  f.aligned_unit_bytes = 2 * kMiB;
  f.quarantined_bytes = 2 * kMiB;
  return control::stat_json(d, s, f);
}

const ListingContext kContext{kMount, kNow};

std::string golden_path(const std::string& name) { return std::string(PINFS_ADMIN_GOLDEN_DIR) + "/" + name; }

bool updating_goldens() {
  const char* v = std::getenv("PINFS_UPDATE_GOLDEN");
  return v != nullptr && std::string(v) == "1";
}

std::string read_golden(const std::string& name) {
  std::ifstream in(golden_path(name));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void expect_golden_text(const std::string& name, const std::string& actual) {
  if (updating_goldens()) {
    std::ofstream(golden_path(name)) << actual;
    return;
  }
  const std::string golden = read_golden(name);
  ASSERT_FALSE(golden.empty()) << golden_path(name) << " is missing (PINFS_UPDATE_GOLDEN=1 writes it)";
  EXPECT_EQ(actual, golden) << "differs from " << golden_path(name) << "; actual:\n" << actual;
}

void expect_golden_json(const std::string& name, const json& actual) {
  if (updating_goldens()) {
    std::ofstream(golden_path(name)) << actual.dump(2) << "\n";
    return;
  }
  const std::string golden = read_golden(name);
  ASSERT_FALSE(golden.empty()) << golden_path(name) << " is missing (PINFS_UPDATE_GOLDEN=1 writes it)";
  json expected;
  ASSERT_NO_THROW(expected = json::parse(golden)) << golden_path(name) << " is not JSON";
  EXPECT_EQ(actual, expected) << "differs from " << golden_path(name) << "; actual:\n" << actual.dump(2);
}

const json& entry_with_id(const json& list, std::uint64_t id) {
  for (const json& e : list) {
    if (e.at("id") == id) return e;
  }
  static const json kNone;
  ADD_FAILURE() << "no entry with id " << id << " in " << list.dump();
  return kNone;
}

// The documents of the scripted state. A document that cannot be built
// fails the test (and is null).
json scripted_pins(const ListingFilter& filter = {}) {
  const Scripted s = scripted_state();
  auto document = pins_document(s.pins_json, s.leases_json, kContext, filter);
  EXPECT_TRUE(document.ok()) << document.error().message();
  return document.ok() ? *document : json();
}
json scripted_leases() {
  auto document = leases_document(scripted_state().leases_json, kContext, {});
  EXPECT_TRUE(document.ok()) << document.error().message();
  return document.ok() ? *document : json();
}
json scripted_stat() {
  auto document = stat_document(stat_input());
  EXPECT_TRUE(document.ok()) << document.error().message();
  return document.ok() ? *document : json();
}
// What a table renderer printed; a failure fails the test.
std::string text_of(const Result<std::string>& rendered) {
  EXPECT_TRUE(rendered.ok()) << rendered.error().message();
  return rendered.ok() ? *rendered : std::string();
}
// What --json prints, parsed again: the document is compared as it travels.
json as_printed(const json& document) { return json::parse(document.dump(2)); }

// --- pins ------------------------------------------------------------------

TEST(PinsListingTest, TableMatchesTheGoldenFile) {
  expect_golden_text("pins.txt", text_of(pins_table(scripted_pins())));
}

TEST(PinsListingTest, JsonMatchesTheGoldenFile) {
  expect_golden_json("pins.json", as_printed(scripted_pins()));
}

TEST(PinsListingTest, JsonJoinsEachPinWithItsLeaseAndState) {
  const json pins = as_printed(scripted_pins())["pins"];
  ASSERT_EQ(pins.size(), 5u);
  // Ordered by pin id.
  EXPECT_EQ(pins[0]["id"], 3);
  EXPECT_EQ(pins[4]["id"], 12);

  const json& held = entry_with_id(pins, 3);
  EXPECT_EQ(held["pid"], 4242);
  EXPECT_EQ(held["command"], "rdma_app");
  EXPECT_EQ(held["uid"], 1000);
  EXPECT_EQ(held["path"], "/mnt/pinfs/data/f1");
  EXPECT_EQ(held["offset"], 0);
  EXPECT_EQ(held["bytes"], 8 * kMiB);
  EXPECT_EQ(held["end"], 8 * kMiB);
  EXPECT_EQ(held["lease"], 2);
  EXPECT_EQ(held["lease_type"], "read");
  EXPECT_EQ(held["lease_state"], "held");
  EXPECT_TRUE(held["break_deadline_ms"].is_null());
  EXPECT_EQ(held["age_s"], 125);
  ASSERT_EQ(held["registrations"].size(), 1u);
  EXPECT_EQ(held["registrations"][0]["device"], "rxe0");
  EXPECT_EQ(held["registrations"][0]["lkey"], 0x1234);
  EXPECT_EQ(held["registrations"][0]["rkey"], 0x5678);
  EXPECT_EQ(held["registrations"][0]["access"], 7);

  const json& relative = entry_with_id(pins, 5);
  EXPECT_EQ(relative["path"], "/mnt/pinfs/logs/ring") << "a relative path is relative to the mount";
  EXPECT_EQ(relative["lease_type"], "unbreakable");
  EXPECT_EQ(relative["registrations"].size(), 2u);

  const json& breaking = entry_with_id(pins, 9);
  EXPECT_EQ(breaking["lease_state"], "breaking");
  EXPECT_EQ(breaking["break_deadline_ms"], 3500);

  const json& revoked = entry_with_id(pins, 11);
  EXPECT_EQ(revoked["lease_state"], "revoked");
  EXPECT_TRUE(revoked["lease_type"].is_null());
  EXPECT_EQ(revoked["lease"], 8) << "the revoked lease's id stays, for people";

  const json& orphaned = entry_with_id(pins, 12);
  EXPECT_EQ(orphaned["lease_state"], "orphaned");
  EXPECT_EQ(orphaned["age_s"], 0);
}

TEST(PinsListingTest, FiltersKeepOneFileOrOneProcess) {
  const json by_file = scripted_pins(ListingFilter{.ino = 18, .pid = {}});
  ASSERT_EQ(by_file["pins"].size(), 1u);
  EXPECT_EQ(by_file["pins"][0]["id"], 5);

  const json by_pid = scripted_pins(ListingFilter{.ino = {}, .pid = 6000});
  ASSERT_EQ(by_pid["pins"].size(), 2u);
  EXPECT_EQ(by_pid["pins"][0]["id"], 9);
  EXPECT_EQ(by_pid["pins"][1]["id"], 11);

  const json none = scripted_pins(ListingFilter{.ino = 18, .pid = 6000});
  EXPECT_TRUE(none["pins"].empty());
  const std::string table = text_of(pins_table(none));
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 1) << "only the header:\n" << table;
}

TEST(PinsListingTest, AListingWithoutAFieldIsEbadmsgNamingIt) {
  const Scripted s = scripted_state();
  json pins = json::parse(s.pins_json);
  pins["pins"][0].erase("lease");
  auto document = pins_document(pins.dump(), s.leases_json, kContext, {});
  ASSERT_FALSE(document.ok());
  EXPECT_EQ(document.error().errnum(), EBADMSG);
  EXPECT_EQ(document.error().object(), "LIST_PINS");
  EXPECT_NE(document.error().detail().find("lease"), std::string::npos) << document.error().message();

  auto garbage = pins_document("{\"pins\": [", s.leases_json, kContext, {});
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().errnum(), EBADMSG);
}

// --- leases ----------------------------------------------------------------

TEST(LeasesListingTest, TableMatchesTheGoldenFile) {
  expect_golden_text("leases.txt", text_of(leases_table(scripted_leases())));
}

TEST(LeasesListingTest, JsonMatchesTheGoldenFileAndCarriesBreakState) {
  const json parsed = as_printed(scripted_leases());
  expect_golden_json("leases.json", parsed);
  const json& leases = parsed["leases"];
  ASSERT_EQ(leases.size(), 4u);
  const json& breaking = entry_with_id(leases, 6);
  EXPECT_EQ(breaking["state"], "breaking");
  EXPECT_EQ(breaking["breaking"], true);
  EXPECT_EQ(breaking["break_deadline_ms"], 3500);
  EXPECT_EQ(breaking["end"], 2 * kMiB);
  const json& whole = entry_with_id(leases, 2);
  EXPECT_EQ(whole["state"], "held");
  EXPECT_TRUE(whole["length"].is_null()) << "to the end of the file";
  EXPECT_TRUE(whole["break_deadline_ms"].is_null());
  EXPECT_EQ(whole["age_s"], 130);
  EXPECT_EQ(entry_with_id(leases, 7)["type"], "write");
  EXPECT_EQ(entry_with_id(leases, 4)["path"], "/mnt/pinfs/logs/ring");
}

// --- stat ------------------------------------------------------------------

TEST(StatReportTest, TextMatchesTheGoldenFile) {
  expect_golden_text("stat.txt", text_of(stat_report(scripted_stat())));
}

TEST(StatReportTest, JsonAddsCapacityUsedAndFree) {
  const json parsed = as_printed(scripted_stat());
  expect_golden_json("stat.json", parsed);
  EXPECT_EQ(parsed["fs"]["capacity_bytes"], 1024 * kMiB);
  EXPECT_EQ(parsed["fs"]["free_bytes"], 250000ull * 4096);
  EXPECT_EQ(parsed["fs"]["used_bytes"], (262144ull - 250000) * 4096);
  EXPECT_EQ(parsed["leases"]["pinned_bytes"], 16 * kMiB + 12288);
  EXPECT_EQ(parsed["leases"]["breaks_completed"], 4);
  EXPECT_EQ(parsed["leases"]["breaks_timed_out"], 2);
  EXPECT_EQ(parsed["leases"]["breaks_failed"], 3);
  EXPECT_EQ(parsed["daemon"]["on_break_timeout"], "fail");
}

TEST(StatReportTest, AStatWithoutAFieldIsEbadmsg) {
  json stat = json::parse(stat_input());
  stat["leases"].erase("pinned_bytes");
  auto document = stat_document(stat.dump());
  ASSERT_FALSE(document.ok());
  EXPECT_EQ(document.error().errnum(), EBADMSG);
  EXPECT_NE(document.error().detail().find("pinned_bytes"), std::string::npos) << document.error().message();
}

}  // namespace
}  // namespace pinfs::tools
