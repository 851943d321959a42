#include "bench/pin_throughput.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <numeric>
#include <optional>

#include <fmt/format.h>

#include "bench/interruption.h"

#include "pinfs/client.h"

namespace pinfs::bench {
namespace {

// One client's share: its connection, the file and a read lease on all of it.
struct LeaseHolder {
  Client client;
  File file;
  Lease lease;
};

// Allocates the whole file through the mount: fallocate (mode 0), or
// written with zeros where the file system does not offer it. Pins need
// allocated extents (docs/leases.md: a hole is never pinned).
Status check_interrupted(std::uint64_t i) {
  if (i % 1024 == 0 && interrupted()) return Error(ECANCELED, "pin throughput", "", "interrupted");
  return ok_status();
}

Status allocate_file(const std::string& path, std::uint64_t bytes) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error::from_errno("create", path);
  Status st = ok_status();
  if (::fallocate(fd, 0, 0, static_cast<off_t>(bytes)) != 0) {
    if (errno != EOPNOTSUPP) {
      st = Error::from_errno("fallocate", path);
    } else {
      const std::vector<char> zeros(1 << 20, 0);
      for (std::uint64_t at = 0; at < bytes && st.ok(); at += zeros.size()) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), bytes - at));
        if (::pwrite(fd, zeros.data(), n, static_cast<off_t>(at)) != static_cast<ssize_t>(n)) {
          st = Error::from_errno("write", path);
        }
      }
    }
  }
  if (::close(fd) != 0 && st.ok()) st = Error::from_errno("close", path);
  return st;
}

// A stride coprime with n: i -> i * stride mod n visits every slot once,
// scattered over the file (the registry's trees see no sorted insertions).
std::uint64_t scatter_stride(std::uint64_t n) {
  std::uint64_t stride = 7919;  // a prime
  while (n > 1 && std::gcd(stride, n) != 1) stride += 2;
  return stride % n == 0 ? 1 : stride;
}

// pinfsd's CPU time (all threads, ended ones included), in µs.
class DaemonCpuClock {
 public:
  explicit DaemonCpuClock(pid_t pid) {
    if (pid > 0 && ::clock_getcpuclockid(pid, &clock_) == 0) valid_ = true;
  }
  std::optional<double> now_us() const {
    timespec ts{};
    if (!valid_ || ::clock_gettime(clock_, &ts) != 0) return std::nullopt;
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
  }

 private:
  clockid_t clock_{};
  bool valid_ = false;
};

class Phase {
 public:
  explicit Phase(const DaemonCpuClock& cpu) : cpu_(cpu), cpu_start_us_(cpu.now_us()), t0_ns_(now_ns()) {}
  void finish(std::uint64_t ops, PhaseFigures& into) const {
    const double elapsed_s = static_cast<double>(now_ns() - t0_ns_) / 1e9;
    const auto cpu_end_us = cpu_.now_us();
    into.ops_per_s.push_back(static_cast<double>(ops) / elapsed_s);
    into.daemon_cpu_us_per_op.push_back(cpu_start_us_ && cpu_end_us
                                            ? (*cpu_end_us - *cpu_start_us_) / static_cast<double>(ops)
                                            : -1);
  }

 private:
  static std::int64_t now_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  }
  const DaemonCpuClock& cpu_;
  std::optional<double> cpu_start_us_;
  std::int64_t t0_ns_;
};

}  // namespace

Result<PinThroughputResults> measure_pin_throughput(
    const PinThroughputConfig& config, const std::function<void(const std::string&)>& progress) {
  if (config.live_pins == 0 || config.pairs == 0 || config.pin_bytes == 0) {
    return Error(EINVAL, "pin throughput", config.file_path, "live pins, pairs and pin size must be > 0");
  }
  PinThroughputResults results;
  const std::uint64_t slots = config.live_pins;  // of each kind: even live, odd pairs
  results.file_bytes = 2 * slots * config.pin_bytes;
  // The pairs' pin is live alongside the others: leave room for it.
  const std::uint64_t per_client = config.max_pins_per_client > 1 ? config.max_pins_per_client - 1 : 1;
  results.clients_count = (config.live_pins + per_client - 1) / per_client;

  progress(fmt::format("pin throughput: allocating {} MiB ({} slots of {} bytes) on the mount",
                       results.file_bytes >> 20, 2 * slots, config.pin_bytes));
  PINFS_TRY(allocate_file(config.file_path, results.file_bytes));

  std::vector<LeaseHolder> holders;
  for (std::uint64_t c = 0; c < results.clients_count; ++c) {
    PINFS_ASSIGN_OR_RETURN(Client client, Client::connect(config.socket_path));
    PINFS_ASSIGN_OR_RETURN(File file, client.open(config.file_path));
    PINFS_ASSIGN_OR_RETURN(Lease lease, file.lease(LeaseKind::read));
    holders.push_back(LeaseHolder{std::move(client), std::move(file), std::move(lease)});
  }

  const std::uint64_t stride = scatter_stride(slots);
  auto slot_range = [&](std::uint64_t i, bool odd) {
    const std::uint64_t slot = 2 * ((i % slots) * stride % slots) + (odd ? 1 : 0);
    return FileRange{slot * config.pin_bytes, config.pin_bytes};
  };
  const DaemonCpuClock cpu(config.daemon_pid);
  std::vector<Pin> live;
  live.reserve(config.live_pins);

  auto pairs = [&](PhaseFigures& into) -> Status {
    Lease& lease = holders.front().lease;
    Phase phase(cpu);
    for (std::uint64_t i = 0; i < config.pairs; ++i) {
      PINFS_TRY(check_interrupted(i));
      PINFS_ASSIGN_OR_RETURN(Pin pin, lease.pin(slot_range(i, true)));
      PINFS_TRY(pin.release());
    }
    phase.finish(2 * config.pairs, into);
    return ok_status();
  };
  results.live_pins_count = config.live_pins;
  auto fill = [&]() -> Status {
    Phase phase(cpu);
    for (std::uint64_t i = 0; i < results.live_pins_count; ++i) {
      PINFS_TRY(check_interrupted(i));
      auto pin = holders[i % holders.size()].lease.pin(slot_range(i, false));
      if (!pin.ok()) {
        const bool first_fill = results.fill.ops_per_s.empty();
        if (pin.error().errnum() != ENOSPC || !first_fill || live.size() < 2) {
          return Error(pin.error()).with_detail(fmt::format("while {} pins were live", live.size()));
        }
        // Full: keep one slot free for the pairs and measure what fits.
        results.capacity_error = pin.error().message();
        PINFS_TRY(live.back().release());
        live.pop_back();
        results.live_pins_count = live.size();
        progress(fmt::format("pin throughput: pinfsd holds at most {} live pins: {}", live.size() + 1,
                             results.capacity_error));
        break;
      }
      live.push_back(std::move(*pin));
    }
    phase.finish(live.size(), results.fill);
    return ok_status();
  };
  auto drain = [&]() -> Status {
    Phase phase(cpu);
    for (Pin& pin : live) PINFS_TRY(pin.release());
    phase.finish(live.size(), results.drain);
    live.clear();
    return ok_status();
  };

  for (unsigned round = 0; round < config.rounds; ++round) {
    progress(fmt::format("pin throughput: round {} of {}", round + 1, config.rounds));
    const bool empty_first = round % 2 == 0;
    if (empty_first) PINFS_TRY(pairs(results.pairs_without_live_pins));
    PINFS_TRY(fill());
    PINFS_TRY(pairs(results.pairs_with_live_pins));
    PINFS_TRY(drain());
    if (!empty_first) PINFS_TRY(pairs(results.pairs_without_live_pins));
  }
  for (LeaseHolder& h : holders) PINFS_TRY(h.lease.release());
  holders.clear();
  if (::unlink(config.file_path.c_str()) != 0) return Error::from_errno("unlink", config.file_path);
  return results;
}

}  // namespace pinfs::bench
