// Shared pieces of the lease tests: an event sink that records what a
// holder is told and lets a test thread wait for it, and a fixture that
// connects clients, takes leases and pins ranges.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lease/lease_manager.h"

namespace pinfs::lease::testing {

inline constexpr std::uint64_t kMiB = 1ull << 20;
inline constexpr fs::InodeNumber kIno = 42;
inline const std::string kPath = "/mnt/pinfs/data";
inline constexpr ByteRange kWholeFile{0, fs::kToEnd};
// Long enough that a test relying on "nothing waits" would visibly hang.
inline constexpr std::uint32_t kNeverMs = 60000;

inline fs::LayoutChange layout_change(fs::LayoutChangeKind kind, std::uint64_t offset,
                                      std::uint64_t length, pid_t pid, fs::InodeNumber ino = kIno) {
  fs::LayoutChange change{kind, ino, offset, length, fs::Caller{pid, 0, 0}};
  return change;
}

// Records every event a client is told. An optional reaction runs on the
// delivering thread (no manager lock is held there).
class RecordingSink final : public LeaseEventSink {
 public:
  void react(std::function<void(const LeaseEvent&)> reaction) {
    std::lock_guard lock(mu_);
    reaction_ = std::move(reaction);
  }

  void on_lease_event(const LeaseEvent& event) override {
    std::function<void(const LeaseEvent&)> reaction;
    {
      std::lock_guard lock(mu_);
      events_.push_back(event);
      reaction = reaction_;
    }
    changed_.notify_all();
    if (reaction) reaction(event);
  }

  // The next event of `kind` not returned before, waiting up to `timeout`.
  std::optional<LeaseEvent> wait_for(LeaseEventKind kind,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    std::optional<LeaseEvent> found;
    changed_.wait_for(lock, timeout, [&] {
      taken_.resize(events_.size(), false);
      for (std::size_t i = 0; i < events_.size(); ++i) {
        if (events_[i].kind == kind && !taken_[i]) {
          taken_[i] = true;
          found = events_[i];
          return true;
        }
      }
      return false;
    });
    return found;
  }

  std::vector<LeaseEventKind> kinds() const {
    std::lock_guard lock(mu_);
    std::vector<LeaseEventKind> out;
    for (const LeaseEvent& event : events_) out.push_back(event.kind);
    return out;
  }
  std::vector<LeaseEvent> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<LeaseEvent> events_;
  std::vector<bool> taken_;
  std::function<void(const LeaseEvent&)> reaction_;
};

class LeaseTest : public ::testing::Test {
 protected:
  void make_manager(LeaseManagerOptions options) {
    options.on_quarantine_released = [this](const std::vector<ByteRange>& ranges) {
      std::lock_guard lock(released_mu_);
      released_.insert(released_.end(), ranges.begin(), ranges.end());
    };
    manager_ = std::make_unique<LeaseManager>(std::move(options));
  }
  void make_manager(std::uint32_t lease_break_ms, BreakPolicy policy) {
    LeaseManagerOptions options;
    options.lease_break_ms = lease_break_ms;
    options.break_policy = policy;
    make_manager(std::move(options));
  }

  std::shared_ptr<RecordingSink> connect(ClientId id, pid_t pid, std::string command = "rdma_app") {
    auto sink = std::make_shared<RecordingSink>();
    Status status = manager_->connect_client(ClientIdentity{id, pid, 1000, std::move(command), 0}, sink);
    EXPECT_TRUE(status.ok()) << status.error().message();
    return sink;
  }

  Result<LeaseId> try_take(ClientId client, LeaseType type, ByteRange range = kWholeFile,
                           fs::InodeNumber ino = kIno) {
    return manager_->acquire(LeaseRequest{client, ino, ino == kIno ? kPath : "", range, type});
  }
  LeaseId take(ClientId client, LeaseType type, ByteRange range = kWholeFile) {
    Result<LeaseId> lease = try_take(client, type, range);
    EXPECT_TRUE(lease.ok()) << lease.error().message();
    return lease.ok() ? *lease : 0;
  }

  // Pins file_range, backed by one media extent at media_offset, following
  // the protocol: generation first, then the extents, then the pin.
  Result<PinId> try_pin(ClientId client, LeaseId lease, ByteRange file_range,
                        std::uint64_t media_offset, fs::InodeNumber ino = kIno) {
    PinRequest request;
    request.client = client;
    request.lease = lease;
    request.range = file_range;
    request.layout_generation = manager_->layout_generation(ino);
    request.extents = {fs::Extent{file_range.offset, media_offset, file_range.length}};
    return manager_->pin(request);
  }
  PinId pin(ClientId client, LeaseId lease, ByteRange file_range, std::uint64_t media_offset) {
    Result<PinId> id = try_pin(client, lease, file_range, media_offset);
    EXPECT_TRUE(id.ok()) << id.error().message();
    return id.ok() ? *id : 0;
  }

  std::vector<ByteRange> released() {
    std::lock_guard lock(released_mu_);
    return released_;
  }

  std::unique_ptr<LeaseManager> manager_;

 private:
  std::mutex released_mu_;
  std::vector<ByteRange> released_;
};

}  // namespace pinfs::lease::testing
