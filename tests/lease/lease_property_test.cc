// Seeded random interleavings of clients taking leases, pinning, unpinning,
// registering, downgrading, releasing and dying, of processes and
// registrations going away, and of layout changes by administrators and by
// lease holders — checked against a model after every step.
//
// The file system is a fake allocator over media blocks that asks the hooks
// exactly as the real one must: begin_layout_change before touching the
// layout, is_pinned for every extent that leaves a file, end after. It
// records every extent freed while the model says it is pinned: one such
// free breaks invariant 1 (DESIGN.md §4) and fails the test. The model also
// predicts the exact errno of every request.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "lease/lease_manager.h"
#include "tests/lease/lease_test_support.h"
#include "tests/pin/fault_injecting_reclaim_probes.h"

namespace pinfs::lease {
namespace {

using fs::LayoutChangeKind;

constexpr std::uint64_t kBlock = 4096;
constexpr std::uint64_t kMediaBlocks = 1024;
constexpr fs::InodeNumber kFirstIno = 10;
constexpr int kInodes = 5;
constexpr std::uint64_t kFileBlocks = 48;  // files live in [0, 48 blocks)
constexpr std::size_t kMaxConnected = 6;
constexpr int kStepsPerSeed = 12000;

std::string where(std::uint32_t seed, int step) {
  return "seed " + std::to_string(seed) + " step " + std::to_string(step);
}

// What the manager should hold, kept by the test from the requests that
// succeeded and the events that arrived.
struct Model {
  struct Lease {
    ClientId client;
    pid_t pid;
    fs::InodeNumber ino;
    ByteRange range;
    LeaseType type;
  };
  struct Pin {
    ClientId client;
    pid_t pid;
    LeaseId lease;
    std::vector<std::uint64_t> blocks;  // media blocks
    pin::PinState state;
    std::vector<std::uint32_t> rkeys;
  };
  std::map<LeaseId, Lease> leases;
  std::map<PinId, Pin> pins;
  std::map<fs::InodeNumber, int> changes_begun;  // per inode, for stale generations

  bool pinned(std::uint64_t block) const {
    for (const auto& [id, pin] : pins) {
      if (std::find(pin.blocks.begin(), pin.blocks.end(), block) != pin.blocks.end()) return true;
    }
    return false;
  }
  bool any_pinned(std::uint64_t first, std::uint64_t count) const {
    for (std::uint64_t b = first; b < first + count; ++b) {
      if (pinned(b)) return true;
    }
    return false;
  }
  void release_lease(LeaseId id) {
    leases.erase(id);
    for (auto it = pins.begin(); it != pins.end();) {
      if (it->second.lease == id && it->second.state == pin::PinState::active) {
        it = pins.erase(it);
      } else {
        ++it;
      }
    }
  }
};

struct SimClient {
  ClientId id = 0;
  pid_t pid = 0;
  bool connected = false;
  bool cooperative = false;  // releases a lease as soon as it is asked to
};

class PropertySink final : public LeaseEventSink {
 public:
  explicit PropertySink(std::function<void(const LeaseEvent&)> on_event) : on_event_(std::move(on_event)) {}
  void on_lease_event(const LeaseEvent& event) override { on_event_(event); }

 private:
  std::function<void(const LeaseEvent&)> on_event_;
};

class Simulation {
 public:
  Simulation(std::uint32_t seed, BreakPolicy policy) : seed_(seed), rng_(seed), policy_(policy) {
    LeaseManagerOptions options;
    options.lease_break_ms = 0;  // unresponsive holders time out at once
    options.break_policy = policy;
    options.on_quarantine_released = [this](const std::vector<ByteRange>& ranges) {
      for (const ByteRange& range : ranges) release_quarantined(range);
    };
    manager_ = std::make_unique<LeaseManager>(std::move(options));
    free_.assign(kMediaBlocks, true);
  }

  void run(int steps) {
    for (step_ = 0; step_ < steps && !::testing::Test::HasFailure(); ++step_) {
      int op = static_cast<int>(rng_() % 100);
      if (op < 5) {
        connect();
      } else if (op < 20) {
        acquire();
      } else if (op < 37) {
        pin();
      } else if (op < 45) {
        unpin();
      } else if (op < 50) {
        release();
      } else if (op < 54) {
        downgrade();
      } else if (op < 57) {
        die();
      } else if (op < 62) {
        process_or_registration_ends();
      } else if (op < 66) {
        reclaim();
      } else if (op < 70) {
        report_registration();
      } else if (op < 80) {
        allocate();
      } else {
        change_layout();
      }
      check_invariants(step_ % 50 == 0);
    }
    finish();
  }

  int changes_applied() const { return changes_applied_; }
  int refusals() const { return refusals_; }
  std::string summary() const {
    return std::to_string(changes_applied_) + " layout changes applied, " + std::to_string(refusals_) +
           " refused, " + std::to_string(pins_made_) + " pins, " + std::to_string(quarantined_extents_) +
           " extents quarantined, " + std::to_string(quarantine_releases_) + " released";
  }

 private:
  // --- the fake file system -------------------------------------------------

  using FileMap = std::map<std::uint64_t, std::uint64_t>;  // file block -> media block

  std::uint64_t take_free_block() {
    std::vector<std::uint64_t> candidates;
    for (std::uint64_t b = 0; b < kMediaBlocks; ++b) {
      if (free_[b]) candidates.push_back(b);
    }
    if (candidates.empty()) return UINT64_MAX;
    std::uint64_t block = candidates[rng_() % candidates.size()];
    EXPECT_FALSE(model_.pinned(block)) << where(seed_, step_) << ": allocated pinned block " << block;
    free_[block] = false;
    return block;
  }

  // Extents leave a file: contiguous media runs are asked about as one
  // extent, as the file system does.
  void free_blocks(std::vector<std::uint64_t> blocks) {
    std::sort(blocks.begin(), blocks.end());
    for (std::size_t i = 0; i < blocks.size();) {
      std::size_t j = i + 1;
      while (j < blocks.size() && blocks[j] == blocks[j - 1] + 1) ++j;
      std::uint64_t first = blocks[i];
      std::uint64_t count = j - i;
      const bool model_pinned = model_.any_pinned(first, count);
      const bool hooks_pinned = manager_->is_pinned(first * kBlock, count * kBlock);
      EXPECT_EQ(hooks_pinned, model_pinned)
          << where(seed_, step_) << ": is_pinned(blocks " << first << "+" << count << ")";
      if (hooks_pinned) {
        quarantine_.emplace(first, count);
        ++quarantined_extents_;
      } else {
        if (model_pinned) {
          ADD_FAILURE() << where(seed_, step_) << ": INVARIANT 1 BROKEN: freed pinned blocks "
                        << first << "+" << count;
        }
        for (std::uint64_t b = first; b < first + count; ++b) free_[b] = true;
      }
      i = j;
    }
  }

  void release_quarantined(const ByteRange& range) {
    std::uint64_t first = range.offset / kBlock;
    std::uint64_t count = range.length / kBlock;
    auto it = quarantine_.find(first);
    if (it == quarantine_.end() || it->second != count) {
      ADD_FAILURE() << where(seed_, step_) << ": released blocks " << first << "+" << count
                    << " that were not quarantined as one extent";
      return;
    }
    EXPECT_FALSE(model_.any_pinned(first, count))
        << where(seed_, step_) << ": INVARIANT 1 BROKEN: quarantine released while pinned";
    quarantine_.erase(it);
    for (std::uint64_t b = first; b < first + count; ++b) free_[b] = true;
    ++quarantine_releases_;
  }

  // --- requests -------------------------------------------------------------

  SimClient* random_connected() {
    std::vector<SimClient*> connected;
    for (SimClient& client : clients_) {
      if (client.connected) connected.push_back(&client);
    }
    if (connected.empty()) return nullptr;
    return connected[rng_() % connected.size()];
  }

  std::size_t connected_count() const {
    return static_cast<std::size_t>(std::count_if(clients_.begin(), clients_.end(),
                                                  [](const SimClient& c) { return c.connected; }));
  }

  fs::InodeNumber random_ino() { return kFirstIno + rng_() % kInodes; }

  ByteRange random_file_range() {
    if (rng_() % 4 == 0) return ByteRange{0, fs::kToEnd};
    std::uint64_t first = rng_() % kFileBlocks;
    std::uint64_t count = 1 + rng_() % std::min<std::uint64_t>(12, kFileBlocks - first);
    return ByteRange{first * kBlock, count * kBlock};
  }

  void on_event(ClientId client_id, const LeaseEvent& event) {
    const SimClient& client = clients_.at(client_id - 1);
    switch (event.kind) {
      case LeaseEventKind::break_requested:
        if (client.cooperative) {
          // The model first: the quarantine callback checks against it.
          model_.release_lease(event.lease);
          Status status = manager_->release(client_id, event.lease);
          EXPECT_TRUE(status.ok()) << where(seed_, step_) << ": " << status.error().message();
        }
        break;
      case LeaseEventKind::revoked: {
        EXPECT_EQ(policy_, BreakPolicy::revoke) << where(seed_, step_);
        std::vector<PinId> expected;
        for (auto& [id, pin] : model_.pins) {
          if (pin.lease == event.lease && pin.state == pin::PinState::active) {
            pin.state = pin::PinState::revoked;
            expected.push_back(id);
          }
        }
        EXPECT_EQ(event.revoked_pins, expected) << where(seed_, step_);
        model_.leases.erase(event.lease);
        break;
      }
      case LeaseEventKind::break_abandoned:
      case LeaseEventKind::break_denied:
        break;
    }
  }

  void connect() {
    if (connected_count() >= kMaxConnected) return;
    SimClient client;
    client.id = clients_.size() + 1;
    client.pid = static_cast<pid_t>(10000 + client.id);
    client.connected = true;
    client.cooperative = rng_() % 2 == 0;
    clients_.push_back(client);
    const ClientId id = client.id;
    auto sink = std::make_shared<PropertySink>([this, id](const LeaseEvent& event) { on_event(id, event); });
    ASSERT_TRUE(manager_->connect_client(ClientIdentity{id, client.pid, 1000, "sim", 0}, sink).ok());
  }

  void acquire() {
    SimClient* client = random_connected();
    if (client == nullptr) return;
    const fs::InodeNumber ino = random_ino();
    const ByteRange range = random_file_range();
    const LeaseType type = static_cast<LeaseType>(rng_() % 3);
    bool conflict = false;
    for (const auto& [id, lease] : model_.leases) {
      if (lease.ino == ino && lease.client != client->id && lease.range.overlaps(range) &&
          (type == LeaseType::write || lease.type == LeaseType::write)) {
        conflict = true;
      }
    }
    Result<LeaseId> lease = manager_->acquire(LeaseRequest{client->id, ino, "/f" + std::to_string(ino), range, type});
    if (conflict) {
      ASSERT_FALSE(lease.ok()) << where(seed_, step_);
      EXPECT_EQ(lease.error().errnum(), EAGAIN) << where(seed_, step_);
      return;
    }
    ASSERT_TRUE(lease.ok()) << where(seed_, step_) << ": " << lease.error().message();
    model_.leases[*lease] = Model::Lease{client->id, client->pid, ino, range, type};
  }

  void pin() {
    SimClient* client = random_connected();
    if (client == nullptr) return;
    // Mostly its own leases; sometimes a lease of another client or none.
    std::vector<LeaseId> own;
    for (const auto& [id, lease] : model_.leases) {
      if (lease.client == client->id) own.push_back(id);
    }
    LeaseId lease_id = 0;
    if (!own.empty() && rng_() % 10 != 0) {
      lease_id = own[rng_() % own.size()];
    } else if (!model_.leases.empty() && rng_() % 2 == 0) {
      auto it = model_.leases.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(rng_() % model_.leases.size()));
      lease_id = it->first;
    }
    const auto lease_it = model_.leases.find(lease_id);
    const fs::InodeNumber ino = lease_it != model_.leases.end() ? lease_it->second.ino : random_ino();

    // A range mostly inside the lease, within the file's blocks.
    std::uint64_t first = rng_() % kFileBlocks;
    std::uint64_t count = 1 + rng_() % std::min<std::uint64_t>(6, kFileBlocks - first);
    if (lease_it != model_.leases.end() && rng_() % 8 != 0) {
      const ByteRange& lr = lease_it->second.range;
      std::uint64_t lease_first = lr.offset / kBlock;
      std::uint64_t lease_end = std::min<std::uint64_t>(kFileBlocks, lr.end() / kBlock);
      if (lease_first >= lease_end) return;
      first = lease_first + rng_() % (lease_end - lease_first);
      count = 1 + rng_() % std::min<std::uint64_t>(6, lease_end - first);
    }
    const ByteRange range{first * kBlock, count * kBlock};

    // The extents, as the file system reports them (clipped to the range).
    const FileMap& file = files_[ino];
    std::vector<fs::Extent> extents;
    std::vector<std::uint64_t> blocks;
    bool hole = false;
    for (std::uint64_t fb = first; fb < first + count; ++fb) {
      auto it = file.find(fb);
      if (it == file.end()) {
        hole = true;
        continue;
      }
      blocks.push_back(it->second);
      if (!extents.empty() && extents.back().file_offset + extents.back().length == fb * kBlock &&
          extents.back().media_offset + extents.back().length == it->second * kBlock) {
        extents.back().length += kBlock;
      } else {
        extents.push_back(fs::Extent{fb * kBlock, it->second * kBlock, kBlock});
      }
    }

    // A stale generation now and then: read before a change of the file.
    std::uint64_t generation = manager_->layout_generation(ino);
    bool stale = false;
    auto remembered = generations_.find({client->id, ino});
    if (remembered != generations_.end() && rng_() % 5 == 0) {
      generation = remembered->second.first;
      stale = remembered->second.second != model_.changes_begun[ino];
    }
    generations_[{client->id, ino}] = {manager_->layout_generation(ino), model_.changes_begun[ino]};

    int expected = 0;
    if (lease_it == model_.leases.end() || lease_it->second.client != client->id ||
        lease_it->second.type == LeaseType::write || !lease_it->second.range.contains(range)) {
      expected = EPERM;
    } else if (stale) {
      expected = EAGAIN;
    } else if (hole) {
      expected = EINVAL;
    }

    PinRequest request{client->id, lease_id, range, extents, generation};
    Result<PinId> id = manager_->pin(request);
    if (!id.ok() && id.error().errnum() == EAGAIN && expected != EPERM && !stale &&
        generation != manager_->layout_generation(ino)) {
      // A remembered generation from before the inode's entry was made
      // again: refused without a change in between. Safe, and allowed.
      return;
    }
    if (expected != 0) {
      ASSERT_FALSE(id.ok()) << where(seed_, step_) << ": expected errno " << expected;
      EXPECT_EQ(id.error().errnum(), expected) << where(seed_, step_) << ": " << id.error().message();
      return;
    }
    ASSERT_TRUE(id.ok()) << where(seed_, step_) << ": " << id.error().message();
    model_.pins[*id] = Model::Pin{client->id, client->pid, lease_id, blocks, pin::PinState::active, {}};
    ++pins_made_;
  }

  std::vector<PinId> pins_of_connected() const {
    std::vector<PinId> out;
    for (const auto& [id, pin] : model_.pins) {
      if (pin.state != pin::PinState::orphaned) out.push_back(id);
    }
    return out;
  }

  void unpin() {
    std::vector<PinId> ids = pins_of_connected();
    if (ids.empty()) return;
    PinId id = ids[rng_() % ids.size()];
    const ClientId client = model_.pins.at(id).client;
    model_.pins.erase(id);  // the model first: the quarantine callback checks against it
    Status status = manager_->unpin(client, id);
    ASSERT_TRUE(status.ok()) << where(seed_, step_) << ": " << status.error().message();
  }

  void report_registration() {
    std::vector<PinId> ids = pins_of_connected();
    if (ids.empty()) return;
    PinId id = ids[rng_() % ids.size()];
    Model::Pin& pin = model_.pins.at(id);
    if (pin.rkeys.size() >= 3) return;
    const std::uint32_t rkey = next_rkey_++;
    ASSERT_TRUE(manager_->add_registration(pin.client, id,
                                           pin::Registration{"rxe0", rkey ^ 0xffff, rkey, 0, kBlock, 7})
                    .ok());
    pin.rkeys.push_back(rkey);
  }

  void release() {
    if (model_.leases.empty()) return;
    auto it = model_.leases.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(rng_() % model_.leases.size()));
    const LeaseId id = it->first;
    const ClientId client = it->second.client;
    model_.release_lease(id);  // the model first: the quarantine callback checks against it
    Status status = manager_->release(client, id);
    ASSERT_TRUE(status.ok()) << where(seed_, step_) << ": " << status.error().message();
  }

  void downgrade() {
    std::vector<LeaseId> writes;
    for (const auto& [id, lease] : model_.leases) {
      if (lease.type == LeaseType::write) writes.push_back(id);
    }
    if (writes.empty()) return;
    LeaseId id = writes[rng_() % writes.size()];
    LeaseType to = rng_() % 2 == 0 ? LeaseType::read : LeaseType::unbreakable;
    ASSERT_TRUE(manager_->downgrade(model_.leases.at(id).client, id, to).ok()) << where(seed_, step_);
    model_.leases.at(id).type = to;
  }

  void die() {
    SimClient* client = random_connected();
    if (client == nullptr) return;
    manager_->drop_client(client->id);
    client->connected = false;
    for (auto it = model_.leases.begin(); it != model_.leases.end();) {
      it = it->second.client == client->id ? model_.leases.erase(it) : std::next(it);
    }
    for (auto& [id, pin] : model_.pins) {
      if (pin.client == client->id) pin.state = pin::PinState::orphaned;
    }
  }

  void process_or_registration_ends() {
    std::vector<PinId> orphans;
    for (const auto& [id, pin] : model_.pins) {
      if (pin.state == pin::PinState::orphaned) orphans.push_back(id);
    }
    if (orphans.empty()) return;
    const Model::Pin& pin = model_.pins.at(orphans[rng_() % orphans.size()]);
    if (rng_() % 2 == 0 || pin.rkeys.empty()) {
      gone_pids_.insert(pin.pid);
      probes_.set_process_gone(pin.pid, true);
    } else {
      std::uint32_t rkey = pin.rkeys[rng_() % pin.rkeys.size()];
      dead_rkeys_.insert(rkey);
      probes_.set_registration_alive("rxe0", rkey, false);
    }
  }

  void reclaim() {
    std::vector<PinId> expected;
    for (const auto& [id, pin] : model_.pins) {
      if (pin.state != pin::PinState::orphaned || gone_pids_.count(pin.pid) == 0) continue;
      bool all_dead = std::all_of(pin.rkeys.begin(), pin.rkeys.end(),
                                  [&](std::uint32_t rkey) { return dead_rkeys_.count(rkey) != 0; });
      if (all_dead) expected.push_back(id);
    }
    // The model first: the quarantine callback checks against it.
    std::map<PinId, Model::Pin> ending;
    for (PinId id : expected) {
      ending.emplace(id, model_.pins.at(id));
      model_.pins.erase(id);
    }
    pin::ReclaimReport report = manager_->reclaim(probes_);
    std::vector<PinId> reclaimed = report.reclaimed;
    std::sort(reclaimed.begin(), reclaimed.end());
    EXPECT_EQ(reclaimed, expected) << where(seed_, step_);
  }

  void allocate() {
    const fs::InodeNumber ino = random_ino();
    std::uint64_t first = rng_() % kFileBlocks;
    std::uint64_t count = 1 + rng_() % std::min<std::uint64_t>(16, kFileBlocks - first);
    FileMap& file = files_[ino];
    for (std::uint64_t fb = first; fb < first + count; ++fb) {
      if (file.count(fb) != 0) continue;
      std::uint64_t block = take_free_block();
      if (block == UINT64_MAX) return;
      file[fb] = block;
    }
  }

  // The errno §4's table predicts for this change, given the leases now and
  // which holders answer a BREAK.
  int expected_change_errno(const fs::LayoutChange& change) const {
    const ByteRange range = effective_range(change);
    bool own_unbreakable = false;
    bool other_unbreakable = false;
    bool unresponsive = false;
    for (const auto& [id, lease] : model_.leases) {
      if (lease.ino != change.ino || !lease.range.overlaps(range)) continue;
      if (lease.type == LeaseType::write && lease.pid == change.caller.pid) continue;
      if (lease.type == LeaseType::unbreakable) {
        (lease.pid == change.caller.pid ? own_unbreakable : other_unbreakable) = true;
        continue;
      }
      if (!clients_.at(lease.client - 1).cooperative) unresponsive = true;
    }
    if (own_unbreakable) return EDEADLK;
    if (other_unbreakable) return ETXTBSY;
    if (unresponsive && policy_ == BreakPolicy::fail) return ETXTBSY;
    return 0;
  }

  void change_layout() {
    const fs::InodeNumber ino = random_ino();
    pid_t caller = static_cast<pid_t>(1 + rng_() % 3);  // an administrator
    if (rng_() % 5 < 2) {
      if (SimClient* client = random_connected(); client != nullptr) caller = client->pid;
    }
    fs::LayoutChange change{};
    change.ino = ino;
    change.caller = fs::Caller{caller, 0, 0};
    switch (rng_() % 6) {
      case 0:
      case 1:
      case 2: {
        change.kind = LayoutChangeKind::punch_hole;
        std::uint64_t first = rng_() % kFileBlocks;
        change.offset = first * kBlock;
        change.length = (1 + rng_() % 8) * kBlock;
        break;
      }
      case 3:
        change.kind = LayoutChangeKind::truncate_down;
        change.offset = (rng_() % kFileBlocks) * kBlock;
        change.length = fs::kToEnd;
        break;
      case 4:
        change.kind = LayoutChangeKind::final_unlink;
        change.length = fs::kToEnd;
        break;
      default:
        change.kind = LayoutChangeKind::make_mappable;
        change.length = fs::kToEnd;
        break;
    }

    const int expected = expected_change_errno(change);
    Status status = manager_->begin_layout_change(change);
    if (expected != 0) {
      ASSERT_FALSE(status.ok()) << where(seed_, step_) << ": expected errno " << expected;
      EXPECT_EQ(status.error().errnum(), expected) << where(seed_, step_) << ": " << status.error().message();
      ++refusals_;
      return;
    }
    ASSERT_TRUE(status.ok()) << where(seed_, step_) << ": " << status.error().message();
    ++model_.changes_begun[ino];

    // Past begin: no lease of anyone else may overlap the change, and no
    // active pin may lie in it.
    const ByteRange range = effective_range(change);
    for (const auto& [id, lease] : model_.leases) {
      if (lease.ino != ino || !lease.range.overlaps(range)) continue;
      EXPECT_TRUE(lease.type == LeaseType::write && lease.pid == caller)
          << where(seed_, step_) << ": lease " << id << " survived a change over it";
    }

    FileMap& file = files_[ino];
    std::vector<std::uint64_t> leaving;
    const std::uint64_t first_block = range.offset / kBlock;
    const std::uint64_t end_block = range.end() == UINT64_MAX ? UINT64_MAX : range.end() / kBlock;
    if (change.kind == LayoutChangeKind::make_mappable) {
      // Move every block to a new one: the old ones leave the file.
      for (auto& [fb, block] : file) {
        std::uint64_t fresh = take_free_block();
        if (fresh == UINT64_MAX) break;
        leaving.push_back(block);
        block = fresh;
      }
    } else {
      for (auto it = file.lower_bound(first_block); it != file.end() && it->first < end_block;) {
        leaving.push_back(it->second);
        it = file.erase(it);
      }
    }
    free_blocks(std::move(leaving));
    manager_->end_layout_change(change);
    ++changes_applied_;
  }

  // --- invariants -----------------------------------------------------------

  void check_invariants(bool thorough) {
    const LeaseStats stats = manager_->stats();
    ASSERT_EQ(stats.pins, model_.pins.size()) << where(seed_, step_);
    ASSERT_EQ(stats.leases, model_.leases.size()) << where(seed_, step_);
    ASSERT_EQ(stats.layout_changes_in_progress, 0u) << where(seed_, step_);
    if (!thorough) return;
    std::vector<bool> pinned(kMediaBlocks, false);
    for (const auto& [id, pin] : model_.pins) {
      for (std::uint64_t b : pin.blocks) pinned[b] = true;
    }
    std::uint64_t pinned_blocks = 0;
    for (std::uint64_t b = 0; b < kMediaBlocks; ++b) {
      const bool model_pinned = pinned[b];
      ASSERT_EQ(manager_->pins().is_pinned({b * kBlock, kBlock}), model_pinned) << where(seed_, step_) << " block " << b;
      pinned_blocks += model_pinned;
    }
    ASSERT_EQ(stats.pinned_bytes, pinned_blocks * kBlock) << where(seed_, step_);
    // Quarantine is handed back as soon as nothing in it is pinned.
    std::uint64_t quarantined_blocks = 0;
    for (const auto& [first, count] : quarantine_) {
      EXPECT_TRUE(model_.any_pinned(first, count))
          << where(seed_, step_) << ": quarantined blocks " << first << "+" << count << " kept with no pin";
      quarantined_blocks += count;
    }
    ASSERT_EQ(stats.quarantined_bytes, quarantined_blocks * kBlock) << where(seed_, step_);
    // Every block is in exactly one place: free, in a file, or quarantined.
    std::uint64_t in_files = 0;
    for (const auto& [ino, file] : files_) in_files += file.size();
    std::uint64_t free_blocks = static_cast<std::uint64_t>(std::count(free_.begin(), free_.end(), true));
    ASSERT_EQ(free_blocks + in_files + quarantined_blocks, kMediaBlocks) << where(seed_, step_);
  }

  void finish() {
    // Everyone dies, every process exits, every registration goes: all the
    // quarantine comes back and nothing is left pinned.
    for (SimClient& client : clients_) {
      if (!client.connected) continue;
      step_ = -1;
      manager_->drop_client(client.id);
      client.connected = false;
      for (auto it = model_.leases.begin(); it != model_.leases.end();) {
        it = it->second.client == client.id ? model_.leases.erase(it) : std::next(it);
      }
      for (auto& [id, pin] : model_.pins) {
        if (pin.client == client.id) pin.state = pin::PinState::orphaned;
      }
    }
    for (const SimClient& client : clients_) {
      gone_pids_.insert(client.pid);
      probes_.set_process_gone(client.pid, true);
    }
    for (std::uint32_t rkey = 1; rkey < next_rkey_; ++rkey) {
      dead_rkeys_.insert(rkey);
      probes_.set_registration_alive("rxe0", rkey, false);
    }
    reclaim();
    check_invariants(true);
    EXPECT_TRUE(quarantine_.empty()) << "seed " << seed_;
    EXPECT_EQ(manager_->stats().pins, 0u);
    EXPECT_EQ(manager_->stats().pinned_bytes, 0u);
  }

  const std::uint32_t seed_;
  std::mt19937_64 rng_;
  const BreakPolicy policy_;
  int step_ = 0;
  std::unique_ptr<LeaseManager> manager_;
  pin::testing::FaultInjectingReclaimProbes probes_;
  Model model_;
  std::vector<SimClient> clients_;  // index = id - 1
  std::map<fs::InodeNumber, FileMap> files_;
  std::vector<bool> free_;
  std::map<std::uint64_t, std::uint64_t> quarantine_;  // first block -> count
  std::map<std::pair<ClientId, fs::InodeNumber>, std::pair<std::uint64_t, int>> generations_;
  std::set<pid_t> gone_pids_;
  std::set<std::uint32_t> dead_rkeys_;
  std::uint32_t next_rkey_ = 1;
  int changes_applied_ = 0;
  int refusals_ = 0;
  int pins_made_ = 0;
  int quarantined_extents_ = 0;
  int quarantine_releases_ = 0;
};

TEST(LeasePropertyTest, RandomInterleavingsUnderFailNeverFreeAPinnedExtent) {
  for (std::uint32_t seed : {11u, 12u, 13u}) {
    Simulation simulation(seed, BreakPolicy::fail);
    simulation.run(kStepsPerSeed);
    std::printf("seed %u (fail): %s\n", seed, simulation.summary().c_str());
    EXPECT_GT(simulation.changes_applied(), 100) << "seed " << seed;
    EXPECT_GT(simulation.refusals(), 10) << "seed " << seed;
  }
}

TEST(LeasePropertyTest, RandomInterleavingsUnderRevokeNeverFreeAPinnedExtent) {
  for (std::uint32_t seed : {21u, 22u, 23u}) {
    Simulation simulation(seed, BreakPolicy::revoke);
    simulation.run(kStepsPerSeed);
    std::printf("seed %u (revoke): %s\n", seed, simulation.summary().c_str());
    EXPECT_GT(simulation.changes_applied(), 100) << "seed " << seed;
  }
}

}  // namespace
}  // namespace pinfs::lease
