#include "bench/pinfs_break_holder.h"

#include <chrono>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "pinfs/client.h"

namespace pinfs::bench {
namespace {

using namespace std::chrono_literals;

int fail(const std::string& what) {
  fmt::print(stderr, "lease_break_bench: pinfs holder: {}\n", what);
  return 1;
}

// A lease or pin request may meet the tail of the previous round's change
// (EAGAIN: "a layout change is in progress"); the measuring process only
// sends kNext after its call returned, so this is rare and short.
template <typename Take>
auto retry_on_eagain(Take take) -> decltype(take()) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    auto result = take();
    if (result.ok() || result.error().errnum() != EAGAIN ||
        std::chrono::steady_clock::now() >= deadline) {
      return result;
    }
    std::this_thread::sleep_for(100us);
  }
}

}  // namespace

int run_pinfs_break_holder(const std::string& socket_path, const std::string& file_path,
                           std::uint64_t pin_bytes, const HolderEnd& channel) {
  auto client = Client::connect(socket_path);
  if (!client.ok()) return fail(client.error().message());
  auto file = client->open(file_path);
  if (!file.ok()) return fail(file.error().message());

  for (;;) {
    // Declared before the lease, so that the callback can reach both.
    std::optional<Lease> lease;
    std::optional<Pin> pin;
    bool released = false;
    std::optional<Error> release_error;
    HolderReport times{HolderReportKind::released, 0, 0};
    auto on_event = [&](const LeaseEvent& event) {
      if (event.kind != LeaseEventKind::break_requested || released) return;
      times.break_seen_ns = monotonic_ns();
      if (auto st = pin->release(); !st.ok()) release_error = st.error();
      if (auto st = lease->release(); !st.ok() && !release_error) release_error = st.error();
      times.released_ns = monotonic_ns();
      released = true;
    };
    auto taken = retry_on_eagain([&] { return file->lease(LeaseKind::read, {}, on_event); });
    if (!taken.ok()) return fail(taken.error().message());
    lease.emplace(std::move(*taken));
    auto pinned = retry_on_eagain([&] { return lease->pin({0, pin_bytes}); });
    if (!pinned.ok()) return fail(pinned.error().message());
    pin.emplace(std::move(*pinned));
    if (!channel.report({HolderReportKind::ready, 0, 0})) return fail("report ready: pipe closed");

    while (!released) {
      auto processed = client->wait_for_events(1000ms);
      if (!processed.ok()) return fail(processed.error().message());
    }
    if (release_error) return fail("release on BREAK: " + release_error->message());
    if (!channel.report(times)) return fail("report released: pipe closed");
    if (channel.next_command() == HolderCommand::quit) return 0;
  }
}

}  // namespace pinfs::bench
