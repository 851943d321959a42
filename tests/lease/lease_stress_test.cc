// Real threads: two clients pin and unpin under leases while an
// administrator thread punches, truncates, unlinks and moves files. One
// client answers every BREAK at once; the other never does.
//
// The clients keep their own record of what they hold (`truth`): a pin
// enters it once pin() has returned and leaves it before unpin() is called.
// The fake file system checks, under its lock, every block it frees against
// that record — a block freed while a client holds a pin on it breaks
// invariant 1 — and checks after every pin that the pinned blocks still
// belong to the file (or are quarantined): a pin on blocks the file has
// given up would be the race between the hooks' check and the allocator.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lease/lease_manager.h"
#include "tests/pin/fault_injecting_reclaim_probes.h"

namespace pinfs::lease {
namespace {

using fs::LayoutChangeKind;

constexpr std::uint64_t kBlock = 4096;
constexpr std::uint64_t kMediaBlocks = 512;
constexpr fs::InodeNumber kFirstIno = 10;
constexpr int kInodes = 3;
constexpr std::uint64_t kFileBlocks = 32;
constexpr int kClientOps = 8000;
constexpr int kAdminOps = 1000;

class Stress {
 public:
  explicit Stress(BreakPolicy policy) {
    LeaseManagerOptions options;
    options.lease_break_ms = 5;
    options.break_policy = policy;
    options.on_quarantine_released = [this](const std::vector<ByteRange>& ranges) {
      std::lock_guard lock(fs_mu_);
      for (const ByteRange& range : ranges) {
        auto it = quarantine_.find(range.offset / kBlock);
        if (it == quarantine_.end() || it->second != range.length / kBlock) {
          violation("released a range that was not quarantined");
          continue;
        }
        for (std::uint64_t b = it->first; b < it->first + it->second; ++b) {
          if (truth_.count(b) != 0) violation("quarantine released while a client pins block " + std::to_string(b));
          free_[b] = true;
        }
        quarantine_.erase(it);
      }
    };
    manager_ = std::make_unique<LeaseManager>(std::move(options));
    free_.assign(kMediaBlocks, true);
    for (int i = 0; i < 2; ++i) {
      clients_[i].id = static_cast<ClientId>(i + 1);
      clients_[i].pid = 3000 + i;
      clients_[i].cooperative = i == 0;
      Client* client = &clients_[i];
      auto sink = std::make_shared<Sink>([this, client](const LeaseEvent& event) { on_event(*client, event); });
      EXPECT_TRUE(manager_->connect_client(ClientIdentity{client->id, client->pid, 0, "stress", 0}, sink).ok());
    }
  }

  void run() {
    // The administrator works for as long as the clients do, at least
    // kAdminOps changes: the threads must overlap to race.
    std::thread first([this] { client_loop(clients_[0], 101); });
    std::thread second([this] { client_loop(clients_[1], 202); });
    std::thread admin([this] { admin_loop(); });
    first.join();
    second.join();
    clients_done_ = true;
    admin.join();

    // Both clients die; their processes exit; everything comes back.
    pin::testing::FaultInjectingReclaimProbes probes;
    for (Client& client : clients_) {
      manager_->drop_client(client.id);
      probes.set_process_gone(client.pid, true);
    }
    {
      std::lock_guard lock(fs_mu_);
      truth_.clear();
    }
    (void)manager_->reclaim(probes);
    std::lock_guard lock(fs_mu_);
    EXPECT_TRUE(quarantine_.empty());
    std::size_t in_files = 0;
    for (const auto& [ino, file] : files_) in_files += file.size();
    EXPECT_EQ(static_cast<std::size_t>(std::count(free_.begin(), free_.end(), true)) + in_files, kMediaBlocks);
    EXPECT_EQ(manager_->stats().pins, 0u);
    EXPECT_EQ(manager_->stats().layout_changes_in_progress, 0u);
  }

  std::vector<std::string> violations() {
    std::lock_guard lock(fs_mu_);
    return violations_;
  }
  int pins_made() const { return pins_made_; }
  int changes_applied() const { return changes_applied_; }
  int changes_refused() const { return changes_refused_; }
  LeaseStats stats() const { return manager_->stats(); }

 private:
  class Sink final : public LeaseEventSink {
   public:
    explicit Sink(std::function<void(const LeaseEvent&)> fn) : fn_(std::move(fn)) {}
    void on_lease_event(const LeaseEvent& event) override { fn_(event); }

   private:
    std::function<void(const LeaseEvent&)> fn_;
  };

  struct HeldPin {
    LeaseId lease;
    std::vector<std::uint64_t> blocks;
  };
  struct Held {
    fs::InodeNumber ino;
    ByteRange range;
  };
  struct Client {
    ClientId id = 0;
    pid_t pid = 0;
    bool cooperative = false;
    std::mutex mu;  // lock order: Client::mu, then fs_mu_
    std::map<LeaseId, Held> leases;             // GUARDED_BY(mu)
    std::map<PinId, HeldPin> pins;              // GUARDED_BY(mu)
  };

  void violation(std::string what) { violations_.push_back(std::move(what)); }  // fs_mu_ held

  // Forget pins (truth first, then the manager).
  void drop_truth_locked(const HeldPin& pin) {
    for (std::uint64_t b : pin.blocks) {
      auto it = truth_.find(b);
      if (it != truth_.end() && --it->second == 0) truth_.erase(it);
    }
  }

  void on_event(Client& client, const LeaseEvent& event) {
    std::lock_guard client_lock(client.mu);
    if (event.kind == LeaseEventKind::revoked) {
      // The lease is gone; its pins are not: they stay in the truth until unpinned.
      client.leases.erase(event.lease);
      return;
    }
    if (event.kind != LeaseEventKind::break_requested || !client.cooperative) return;
    if (client.leases.erase(event.lease) == 0) return;
    {
      std::lock_guard fs_lock(fs_mu_);
      for (const auto& [id, pin] : client.pins) {
        if (pin.lease == event.lease) drop_truth_locked(pin);
      }
    }
    for (auto it = client.pins.begin(); it != client.pins.end();) {
      it = it->second.lease == event.lease ? client.pins.erase(it) : std::next(it);
    }
    (void)manager_->release(client.id, event.lease);
  }

  void client_loop(Client& client, std::uint32_t seed) {
    std::mt19937_64 rng(seed);
    for (int op = 0; op < kClientOps; ++op) {
      while (client_ops_.load() > static_cast<long>(admin_ops_.load()) * 8 + 64) std::this_thread::yield();
      ++client_ops_;
      std::lock_guard client_lock(client.mu);
      int choice = static_cast<int>(rng() % 10);
      if (client.leases.empty() || (choice < 2 && client.leases.size() < 3)) {
        // A few leases at a time, mostly over part of a file, rarely unbreakable.
        fs::InodeNumber ino = kFirstIno + rng() % kInodes;
        LeaseType type = rng() % 20 == 0 ? LeaseType::unbreakable : LeaseType::read;
        ByteRange range{0, fs::kToEnd};
        if (rng() % 4 != 0) {
          std::uint64_t first = rng() % kFileBlocks;
          range = ByteRange{first * kBlock, (1 + rng() % std::min<std::uint64_t>(8, kFileBlocks - first)) * kBlock};
        }
        Result<LeaseId> lease = manager_->acquire(LeaseRequest{client.id, ino, "", range, type});
        if (lease.ok()) client.leases[*lease] = Held{ino, range};
      } else if (choice < 6) {
        auto lease = client.leases.begin();
        std::advance(lease, static_cast<std::ptrdiff_t>(rng() % client.leases.size()));
        pin_some(client, lease->first, lease->second, rng);
      } else if (choice < 8 && !client.pins.empty()) {
        auto it = client.pins.begin();
        std::advance(it, static_cast<std::ptrdiff_t>(rng() % client.pins.size()));
        {
          std::lock_guard fs_lock(fs_mu_);
          drop_truth_locked(it->second);
        }
        PinId id = it->first;
        client.pins.erase(it);
        Status status = manager_->unpin(client.id, id);
        if (!status.ok()) {
          std::lock_guard fs_lock(fs_mu_);
          violation("unpin of a held pin failed: " + status.error().message());
        }
      } else if (!client.leases.empty()) {
        auto lease = client.leases.begin();
        std::advance(lease, static_cast<std::ptrdiff_t>(rng() % client.leases.size()));
        {
          std::lock_guard fs_lock(fs_mu_);
          for (const auto& [id, pin] : client.pins) {
            if (pin.lease == lease->first) drop_truth_locked(pin);
          }
        }
        for (auto it = client.pins.begin(); it != client.pins.end();) {
          it = it->second.lease == lease->first ? client.pins.erase(it) : std::next(it);
        }
        (void)manager_->release(client.id, lease->first);
        client.leases.erase(lease);
      }
    }
  }

  // Client::mu held.
  void pin_some(Client& client, LeaseId lease, const Held& held, std::mt19937_64& rng) {
    const fs::InodeNumber ino = held.ino;
    const std::uint64_t lease_first = held.range.offset / kBlock;
    const std::uint64_t lease_end = std::min<std::uint64_t>(kFileBlocks, held.range.end() / kBlock);
    std::uint64_t first = lease_first + rng() % (lease_end - lease_first);
    std::uint64_t count = 1 + rng() % std::min<std::uint64_t>(4, lease_end - first);
    PinRequest request;
    request.client = client.id;
    request.lease = lease;
    request.range = ByteRange{first * kBlock, count * kBlock};
    request.layout_generation = manager_->layout_generation(ino);
    std::vector<std::uint64_t> blocks;
    {
      std::lock_guard fs_lock(fs_mu_);
      FileMap& file = files_[ino];
      for (std::uint64_t fb = first; fb < first + count; ++fb) {
        auto it = file.find(fb);
        if (it == file.end()) {  // allocate the hole first (not a layout change)
          std::uint64_t block = take_free_block_locked(rng);
          if (block == UINT64_MAX) return;
          it = file.emplace(fb, block).first;
        }
        blocks.push_back(it->second);
        request.extents.push_back(fs::Extent{fb * kBlock, it->second * kBlock, kBlock});
      }
    }
    Result<PinId> id = manager_->pin(request);
    if (!id.ok()) return;  // EAGAIN (a change got there first), EPERM (lease gone): fine
    std::lock_guard fs_lock(fs_mu_);
    const FileMap& file = files_[ino];
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      auto it = file.find(first + i);
      bool still_in_file = it != file.end() && it->second == blocks[i];
      bool quarantined = false;
      for (const auto& [q, n] : quarantine_) quarantined = quarantined || (blocks[i] >= q && blocks[i] < q + n);
      if (!still_in_file && !quarantined) {
        violation("pinned block " + std::to_string(blocks[i]) + " that the file had given up");
      }
      ++truth_[blocks[i]];
    }
    client.pins[*id] = HeldPin{lease, blocks};
    ++pins_made_;
  }

  using FileMap = std::map<std::uint64_t, std::uint64_t>;

  std::uint64_t take_free_block_locked(std::mt19937_64& rng) {
    std::vector<std::uint64_t> candidates;
    for (std::uint64_t b = 0; b < kMediaBlocks; ++b) {
      if (free_[b]) candidates.push_back(b);
    }
    if (candidates.empty()) return UINT64_MAX;
    std::uint64_t block = candidates[rng() % candidates.size()];
    free_[block] = false;
    return block;
  }

  void admin_loop() {
    std::mt19937_64 rng(303);
    for (int op = 0; op < kAdminOps || !clients_done_; ++op) {
      // Paced against the clients, both ways (about one change per eight
      // client requests), so that the threads interleave finely instead of
      // taking turns a timeslice each on a loaded machine.
      while (!clients_done_ && client_ops_.load() < static_cast<long>(op) * 8) std::this_thread::yield();
      if (clients_done_ && op >= kAdminOps) break;
      admin_ops_ = op;
      fs::LayoutChange change{};
      change.ino = kFirstIno + rng() % kInodes;
      change.caller = fs::Caller{1, 0, 0};
      switch (rng() % 4) {
        case 0:
          change.kind = LayoutChangeKind::punch_hole;
          change.offset = (rng() % kFileBlocks) * kBlock;
          change.length = (1 + rng() % 4) * kBlock;
          break;
        case 1:
          change.kind = LayoutChangeKind::truncate_down;
          change.offset = (rng() % kFileBlocks) * kBlock;
          change.length = fs::kToEnd;
          break;
        case 2:
          change.kind = LayoutChangeKind::final_unlink;
          change.length = fs::kToEnd;
          break;
        default:
          change.kind = LayoutChangeKind::make_mappable;
          change.length = fs::kToEnd;
          break;
      }
      if (!manager_->begin_layout_change(change).ok()) {
        ++changes_refused_;
        continue;
      }
      {
        std::lock_guard fs_lock(fs_mu_);
        FileMap& file = files_[change.ino];
        std::vector<std::uint64_t> leaving;
        ByteRange range = effective_range(change);
        if (change.kind == LayoutChangeKind::make_mappable) {
          for (auto& [fb, block] : file) {
            std::uint64_t fresh = take_free_block_locked(rng);
            if (fresh == UINT64_MAX) break;
            leaving.push_back(block);
            block = fresh;
          }
        } else {
          std::uint64_t end_block = range.end() == UINT64_MAX ? UINT64_MAX : range.end() / kBlock;
          for (auto it = file.lower_bound(range.offset / kBlock); it != file.end() && it->first < end_block;) {
            leaving.push_back(it->second);
            it = file.erase(it);
          }
        }
        for (std::uint64_t block : leaving) {
          if (manager_->is_pinned(block * kBlock, kBlock)) {
            quarantine_.emplace(block, 1);
          } else {
            if (truth_.count(block) != 0) violation("INVARIANT 1 BROKEN: freed block " + std::to_string(block) + " while a client pins it");
            free_[block] = true;
          }
        }
      }
      manager_->end_layout_change(change);
      ++changes_applied_;
    }
  }

  std::unique_ptr<LeaseManager> manager_;
  Client clients_[2];
  std::mutex fs_mu_;  // the fake file system's lock; also guards the clients' truth
  std::map<fs::InodeNumber, FileMap> files_;    // GUARDED_BY(fs_mu_)
  std::vector<bool> free_;                      // GUARDED_BY(fs_mu_)
  std::map<std::uint64_t, std::uint64_t> quarantine_;  // GUARDED_BY(fs_mu_)
  std::map<std::uint64_t, int> truth_;          // GUARDED_BY(fs_mu_): block -> pins held
  std::vector<std::string> violations_;         // GUARDED_BY(fs_mu_)
  std::atomic<int> pins_made_{0};
  int changes_applied_ = 0;  // admin thread only
  int changes_refused_ = 0;  // admin thread only
  std::atomic<bool> clients_done_{false};
  std::atomic<long> client_ops_{0};
  std::atomic<int> admin_ops_{0};
};

TEST(LeaseStressTest, ConcurrentClientsAndLayoutChangesNeverFreeAPinnedBlockUnderRevoke) {
  Stress stress(BreakPolicy::revoke);
  stress.run();
  LeaseStats stats = stress.stats();
  std::printf("stress (revoke): %d pins, %d layout changes applied, %d refused; breaks: %llu completed, "
              "%llu timed out, %llu leases revoked\n",
              stress.pins_made(), stress.changes_applied(), stress.changes_refused(),
              static_cast<unsigned long long>(stats.breaks_completed),
              static_cast<unsigned long long>(stats.breaks_timed_out),
              static_cast<unsigned long long>(stats.leases_revoked));
  EXPECT_EQ(stress.violations(), std::vector<std::string>{});
  EXPECT_GT(stress.pins_made(), 100);
  EXPECT_GT(stress.changes_applied(), 100);
}

TEST(LeaseStressTest, ConcurrentClientsAndLayoutChangesNeverFreeAPinnedBlockUnderFail) {
  Stress stress(BreakPolicy::fail);
  stress.run();
  LeaseStats stats = stress.stats();
  std::printf("stress (fail): %d pins, %d layout changes applied, %d refused; breaks: %llu completed, "
              "%llu timed out, %llu leases revoked\n",
              stress.pins_made(), stress.changes_applied(), stress.changes_refused(),
              static_cast<unsigned long long>(stats.breaks_completed),
              static_cast<unsigned long long>(stats.breaks_timed_out),
              static_cast<unsigned long long>(stats.leases_revoked));
  EXPECT_EQ(stress.violations(), std::vector<std::string>{});
  EXPECT_GT(stress.pins_made(), 100);
  EXPECT_GT(stress.changes_applied(), 10);
}

}  // namespace
}  // namespace pinfs::lease
