// Pin and unpin through the lease manager (leases checked, generations
// compared, the registry updated) with 100,000 live pins, against an anchor
// of 1,000 live pins measured in the same run (STYLE.md rule 13).
#include <gtest/gtest.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "lease/lease_manager.h"

namespace pinfs::lease {
namespace {

constexpr std::uint64_t kPage = 4096;
constexpr ClientId kClients = 8;

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// `live` pins spread over kClients clients, each with a read lease on its
// own file; each round unpins a random pin and pins its slot again.
class LivePins {
 public:
  explicit LivePins(std::size_t live) : ids_(live), rng_(7) {
    for (ClientId client = 1; client <= kClients; ++client) {
      EXPECT_TRUE(manager_.connect_client(ClientIdentity{client, static_cast<pid_t>(1000 + client), 0, "bench", 0}, nullptr).ok());
      Result<LeaseId> lease = manager_.acquire(
          LeaseRequest{client, 100 + client, "/bench", ByteRange{0, fs::kToEnd}, LeaseType::read});
      EXPECT_TRUE(lease.ok());
      leases_.push_back(*lease);
    }
    for (std::size_t slot = 0; slot < live; ++slot) ids_[slot] = pin_slot(slot);
  }

  double ops_per_s(std::size_t rounds) {
    const double start = thread_cpu_s();
    for (std::size_t round = 0; round < rounds; ++round) {
      std::size_t slot = rng_() % ids_.size();
      if (!manager_.unpin(client_of(slot), ids_[slot]).ok()) ADD_FAILURE() << "unpin failed";
      ids_[slot] = pin_slot(slot);
    }
    return static_cast<double>(2 * rounds) / (thread_cpu_s() - start);
  }

 private:
  static ClientId client_of(std::size_t slot) { return 1 + slot % kClients; }

  PinId pin_slot(std::size_t slot) {
    const ClientId client = client_of(slot);
    PinRequest request;
    request.client = client;
    request.lease = leases_[client - 1];
    request.range = ByteRange{slot * kPage, kPage};
    request.extents = {fs::Extent{slot * kPage, slot * 2 * kPage, kPage}};
    request.layout_generation = manager_.layout_generation(100 + client);
    Result<PinId> id = manager_.pin(request);
    if (!id.ok()) {
      ADD_FAILURE() << id.error().message();
      return 0;
    }
    return *id;
  }

  LeaseManager manager_;
  std::vector<LeaseId> leases_;
  std::vector<PinId> ids_;
  std::mt19937_64 rng_;
};

TEST(LeaseThroughputTest, PinAndUnpinThroughTheManagerWith100000LivePins) {
  LivePins anchor(1000);
  LivePins measured(100000);
  double anchor_ops_per_s = 0;
  double ops_per_s = 0;
  for (int trial = 0; trial < 3; ++trial) {
    anchor_ops_per_s = std::max(anchor_ops_per_s, anchor.ops_per_s(50000));
    ops_per_s = std::max(ops_per_s, measured.ops_per_s(50000));
  }
  const double ratio = ops_per_s / anchor_ops_per_s;
  std::printf("lease_manager pin+unpin: live_pins=100000 ops_per_s=%.0f; anchor live_pins=1000 "
              "ops_per_s=%.0f; ratio=%.2f\n",
              ops_per_s, anchor_ops_per_s, ratio);
  RecordProperty("ops_per_s_100000_live", static_cast<int>(ops_per_s));
  RecordProperty("ops_per_s_1000_live", static_cast<int>(anchor_ops_per_s));
  EXPECT_GT(ratio, 0.1);
#if defined(NDEBUG) && defined(__OPTIMIZE__)
  EXPECT_GT(ops_per_s, 100000.0) << "pin/unpin should run at 100k+ operations per CPU second";
#endif
}

}  // namespace
}  // namespace pinfs::lease
