// lease_break_bench: the lease-break round trip of pinfs against the
// kernel's own lease break, and pin/unpin throughput with 100,000 live pins
// against none, all through a real pinfsd this program starts (issue:
// leases). STYLE.md rule 13: the anchor runs in the same run, interleaved,
// and every figure is printed with its ratio.
//
//   1. round trip: fallocate(PUNCH_HOLE) through the mount over a range a
//      cooperative holder (client library, another process) has pinned
//      under a read layout lease, p50/p99/max; the kernel anchor is
//      open(O_TRUNC) of a tmpfs file under another process's F_SETLEASE
//      read lease, released from its SIGIO handler. Each also without a
//      lease, the floor of the call itself.
//   2. pin+unpin pairs through the daemon with 100,000 live pins and with
//      none; filling and draining the 100,000.
//
// pinfsd: `-f --pool` on a new file in /dev/shm, `--socket` and the mount
// point in a temporary directory; unmounted with fusermount3 -u at the end,
// and it must exit 0. Progress on stderr; the report (or --json) on stdout.
// Exit status: 0 reported, 1 a step failed, 2 bad usage or a missing tool,
// 3 refused (debug build).
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "bench/break_round_trip.h"
#include "bench/build_check.h"
#include "bench/child_process.h"
#include "bench/holder_channel.h"
#include "bench/interruption.h"
#include "bench/kernel_lease_holder.h"
#include "bench/percentiles.h"
#include "bench/pin_throughput.h"
#include "bench/pinfs_break_holder.h"
#include "bench/pinfsd_instance.h"
#include "fs/units.h"
#include "lease/lease_options.h"
#include "pinfs/client.h"

#ifndef PINFS_BENCH_PINFSD
#define PINFS_BENCH_PINFSD "pinfsd"
#endif

namespace {

using namespace std::chrono_literals;
using pinfs::Error;
using pinfs::Result;
using pinfs::Status;
using pinfs::ok_status;
namespace bench = pinfs::bench;
namespace pfs = pinfs::fs;
using nlohmann::json;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct Options {
  std::string pinfsd = PINFS_BENCH_PINFSD;
  std::string pool_size = "8G";  // room for 100,000 recorded pins (fs/geometry.h)
  std::optional<std::uint32_t> lease_break_ms;  // unset: pinfsd's default
  unsigned rounds = 200;
  unsigned warmup_rounds = 10;
  std::string range_size = "1M";
  std::uint64_t live_pins = 100000;
  std::uint64_t pairs = 20000;
  std::string pin_size = "4K";
  unsigned pin_rounds = 3;
  bool skip_round_trip = false;
  bool skip_pins = false;
  bool json = false;
};

void progress(const std::string& what) { fmt::print(stderr, "lease_break_bench: {}\n", what); }

struct Report {
  std::string pinfsd_path;
  std::uint32_t lease_break_ms = 0;
  std::string kernel_lease_break_time_s;
  std::uint64_t range_bytes = 0;
  std::uint64_t pin_bytes = 0;
  std::uint64_t max_pins_per_client = pinfs::lease::kDefaultMaxPinsPerClient;
  std::optional<bench::BreakRoundTripResults> round_trip;
  std::optional<bench::PinThroughputResults> pins;
};

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line.empty() ? "?" : line;
}

// --- running -----------------------------------------------------------------

Status run_round_trip(const Options& o, const bench::PinfsdInstance& daemon, Report& report) {
  bench::BreakRoundTripConfig config;
  config.pinfs_leased_file = daemon.mountpoint() + "/break-leased";
  config.pinfs_plain_file = daemon.mountpoint() + "/break-plain";
  config.kernel_leased_file = daemon.scratch_dir() + "/break-leased";
  config.kernel_plain_file = daemon.scratch_dir() + "/break-plain";
  config.range_bytes = report.range_bytes;
  config.rounds = o.rounds;
  config.warmup_rounds = o.warmup_rounds;
  PINFS_TRY(bench::prepare_break_files(config));

  // Forked while this process has one thread and no connection to the
  // daemon of its own (a child would inherit the socket).
  PINFS_ASSIGN_OR_RETURN(auto pinfs_pipes, bench::HolderPipes::create());
  PINFS_ASSIGN_OR_RETURN(
      auto pinfs_holder, bench::ChildProcess::fork_and_run([&] {
        return bench::run_pinfs_break_holder(daemon.socket_path(), config.pinfs_leased_file,
                                             config.range_bytes, pinfs_pipes.into_holder_end());
      }));
  bench::MeasurerEnd pinfs_end = pinfs_pipes.into_measurer_end();
  PINFS_ASSIGN_OR_RETURN(auto kernel_pipes, bench::HolderPipes::create());
  PINFS_ASSIGN_OR_RETURN(
      auto kernel_holder, bench::ChildProcess::fork_and_run([&] {
        return bench::run_kernel_lease_holder(config.kernel_leased_file, kernel_pipes.into_holder_end());
      }));
  bench::MeasurerEnd kernel_end = kernel_pipes.into_measurer_end();
  PINFS_TRY(pinfs_end.expect(bench::HolderReportKind::ready, config.holder_timeout, "pinfs holder"));
  PINFS_TRY(kernel_end.expect(bench::HolderReportKind::ready, config.holder_timeout, "kernel holder"));

  PINFS_ASSIGN_OR_RETURN(report.round_trip,
                         bench::measure_break_round_trip(config, pinfs_end, kernel_end, progress));
  for (auto* holder : {&pinfs_holder, &kernel_holder}) {
    auto status = holder->wait_for(10s);
    if (!status || !bench::exited_zero(*status)) {
      return Error(ECHILD, "stop lease holder", std::to_string(holder->pid()),
                   status ? bench::describe_wait_status(*status) : "did not exit when told to quit");
    }
  }
  return ok_status();
}

Status run_all(const Options& o, Report& report) {
  PINFS_ASSIGN_OR_RETURN(report.range_bytes, pfs::parse_size(o.range_size));
  PINFS_ASSIGN_OR_RETURN(report.pin_bytes, pfs::parse_size(o.pin_size));
  report.pinfsd_path = o.pinfsd;
  report.kernel_lease_break_time_s = read_first_line("/proc/sys/fs/lease-break-time");

  bench::PinfsdConfig config;
  config.pinfsd_path = o.pinfsd;
  config.pool_size = o.pool_size;
  if (o.lease_break_ms) config.extra_args = {"--lease-break-ms", std::to_string(*o.lease_break_ms)};
  progress(fmt::format("starting {} on a {} pool in /dev/shm", o.pinfsd, o.pool_size));
  PINFS_ASSIGN_OR_RETURN(auto daemon, bench::PinfsdInstance::start(config));
  {
    PINFS_ASSIGN_OR_RETURN(auto hello, pinfs::Client::connect(daemon.socket_path()));
    report.lease_break_ms = hello.lease_break_ms();
  }

  if (!o.skip_round_trip) PINFS_TRY(run_round_trip(o, daemon, report));
  if (!o.skip_pins) {
    bench::PinThroughputConfig pins;
    pins.socket_path = daemon.socket_path();
    pins.file_path = daemon.mountpoint() + "/pins";
    pins.live_pins = o.live_pins;
    pins.pairs = o.pairs;
    pins.pin_bytes = report.pin_bytes;
    pins.rounds = o.pin_rounds;
    pins.max_pins_per_client = report.max_pins_per_client;
    pins.daemon_pid = daemon.pid();
    PINFS_ASSIGN_OR_RETURN(report.pins, bench::measure_pin_throughput(pins, progress));
  }
  progress("unmounting (fusermount3 -u)");
  return daemon.stop();
}

// --- reporting ---------------------------------------------------------------

// Anchor time over pinfs time: > 1 means pinfs is faster (bench/README.md).
double speed_ratio(double pinfs_us, double anchor_us) { return pinfs_us > 0 ? anchor_us / pinfs_us : NAN; }

std::string us(double v) { return fmt::format("{:.1f}", v); }
std::string ratio(double v) { return std::isnan(v) ? "n/a" : fmt::format("{:.2f}", v); }
std::string ops(double v) { return fmt::format("{:.0f}", v); }
std::string cpu(double v) { return v < 0 ? "n/a" : fmt::format("{:.2f}", v); }

json latency_json(const bench::BreakSamples& s) {
  auto one = [](const std::vector<double>& v) {
    const auto l = bench::summarize_latency_us(v);
    return json{{"p50_us", l.p50_us}, {"p99_us", l.p99_us}, {"max_us", l.max_us}};
  };
  json out = one(s.call_us);
  out["rounds_count"] = s.call_us.size();
  if (!s.notify_us.empty()) {
    out["notify"] = one(s.notify_us);
    out["answer"] = one(s.answer_us);
    out["holder_release"] = one(s.holder_release_us);
  }
  return out;
}

json phase_json(const bench::PhaseFigures& f) {
  return json{{"ops_per_s", bench::median_of(f.ops_per_s)},
              {"pinfsd_cpu_us_per_op", bench::median_of(f.daemon_cpu_us_per_op)},
              {"rounds_ops_per_s", f.ops_per_s}};
}

json to_json(const Options& o, const Report& r) {
  json out;
  out["pinfsd"] = r.pinfsd_path;
  out["pinfsd_lease_break_ms"] = r.lease_break_ms;
  out["kernel_lease_break_time_s"] = r.kernel_lease_break_time_s;
  if (r.round_trip) {
    const auto& rt = *r.round_trip;
    json j;
    j["range_bytes"] = r.range_bytes;
    j["rounds_count"] = o.rounds;
    j["warmup_rounds_count"] = o.warmup_rounds;
    j["pinfs_punch_break"] = latency_json(rt.pinfs_break);
    j["kernel_open_trunc_break"] = latency_json(rt.kernel_break);
    j["pinfs_punch_no_lease"] = latency_json(rt.pinfs_no_lease);
    j["kernel_open_trunc_no_lease"] = latency_json(rt.kernel_no_lease);
    const auto pb = bench::summarize_latency_us(rt.pinfs_break.call_us);
    const auto kb = bench::summarize_latency_us(rt.kernel_break.call_us);
    j["p50_speed_ratio"] = speed_ratio(pb.p50_us, kb.p50_us);
    j["p99_speed_ratio"] = speed_ratio(pb.p99_us, kb.p99_us);
    out["round_trip"] = j;
  }
  if (r.pins) {
    const auto& p = *r.pins;
    json j;
    j["live_pins_requested_count"] = o.live_pins;
    j["live_pins_count"] = p.live_pins_count;
    if (!p.capacity_error.empty()) j["live_pins_capacity_error"] = p.capacity_error;
    j["pairs_count"] = o.pairs;
    j["pin_bytes"] = r.pin_bytes;
    j["clients_count"] = p.clients_count;
    j["max_pins_per_client_count"] = r.max_pins_per_client;
    j["rounds_count"] = o.pin_rounds;
    j["pairs_without_live_pins"] = phase_json(p.pairs_without_live_pins);
    j["pairs_with_live_pins"] = phase_json(p.pairs_with_live_pins);
    j["fill"] = phase_json(p.fill);
    j["drain"] = phase_json(p.drain);
    j["live_over_empty_ops_ratio"] = bench::median_of(p.pairs_with_live_pins.ops_per_s) /
                                     bench::median_of(p.pairs_without_live_pins.ops_per_s);
    out["pins"] = j;
  }
  return out;
}

void print_row(const std::vector<std::string>& cells, const std::vector<int>& widths) {
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    line += i == 0 ? fmt::format("{:<{}}", cells[i], widths[i]) : fmt::format(" {:>{}}", cells[i], widths[i]);
  }
  fmt::print("{}\n", line);
}

void print_round_trip(const Options& o, const Report& r) {
  const auto& rt = *r.round_trip;
  const auto pb = bench::summarize_latency_us(rt.pinfs_break.call_us);
  const auto kb = bench::summarize_latency_us(rt.kernel_break.call_us);
  const auto pn = bench::summarize_latency_us(rt.pinfs_no_lease.call_us);
  const auto kn = bench::summarize_latency_us(rt.kernel_no_lease.call_us);
  fmt::print("Lease-break round trip: {} rounds (+{} warm-up), {} range, the four calls interleaved\n",
             o.rounds, o.warmup_rounds, pfs::format_size(r.range_bytes));
  fmt::print("  pinfs:  fallocate(PUNCH_HOLE|KEEP_SIZE) through the FUSE mount over a range another process\n"
             "          pinned under a read layout lease; its BREAK callback releases pin and lease\n"
             "          (pinfsd --lease-break-ms {})\n",
             r.lease_break_ms);
  fmt::print("  kernel: open(O_WRONLY|O_TRUNC) of a tmpfs file another process holds an F_SETLEASE read\n"
             "          lease on; its SIGIO handler releases (F_UNLCK) (lease-break-time {} s, not reached)\n\n",
             r.kernel_lease_break_time_s);
  const std::vector<int> w = {46, 10, 10, 10};
  print_row({"call", "p50_us", "p99_us", "max_us"}, w);
  print_row({"pinfs punch, holder breaks (round trip)", us(pb.p50_us), us(pb.p99_us), us(pb.max_us)}, w);
  print_row({"kernel open(O_TRUNC), holder breaks", us(kb.p50_us), us(kb.p99_us), us(kb.max_us)}, w);
  print_row({"speed ratio kernel/pinfs (> 1: pinfs faster)", ratio(speed_ratio(pb.p50_us, kb.p50_us)),
             ratio(speed_ratio(pb.p99_us, kb.p99_us)), ratio(speed_ratio(pb.max_us, kb.max_us))},
            w);
  print_row({"pinfs punch, no lease (floor)", us(pn.p50_us), us(pn.p99_us), us(pn.max_us)}, w);
  print_row({"kernel open(O_TRUNC), no lease (floor)", us(kn.p50_us), us(kn.p99_us), us(kn.max_us)}, w);
  print_row({"speed ratio kernel/pinfs, no lease", ratio(speed_ratio(pn.p50_us, kn.p50_us)),
             ratio(speed_ratio(pn.p99_us, kn.p99_us)), ratio(speed_ratio(pn.max_us, kn.max_us))},
            w);
  fmt::print("\n");
  const std::vector<int> w2 = {46, 16, 16, 20};
  print_row({"where the round trip goes (p50_us / p99_us)", "notify_us", "answer_us", "holder_release_us"}, w2);
  auto parts = [&](const char* name, const bench::BreakSamples& s) {
    auto pair = [](const std::vector<double>& v) {
      const auto l = bench::summarize_latency_us(v);
      return fmt::format("{} / {}", us(l.p50_us), us(l.p99_us));
    };
    print_row({name, pair(s.notify_us), pair(s.answer_us), pair(s.holder_release_us)}, w2);
  };
  parts("pinfs", rt.pinfs_break);
  parts("kernel", rt.kernel_break);
  fmt::print("  notify: call → holder's callback/handler starts; answer: → call returns (holder's release\n"
             "  + waking the caller); holder_release: inside the holder (pinfs: unpin + release lease,\n"
             "  two requests; kernel: F_UNLCK)\n\n");
  const double notify_p50 = bench::summarize_latency_us(rt.pinfs_break.notify_us).p50_us;
  fmt::print("Interpretation: a cooperative pinfs lease break costs {} us at p50 ({} us over a punch with no\n"
             "lease), {:.1f}x the kernel's own read-lease break ({} us, {} us over its floor); {:.0f}% of the pinfs\n"
             "round trip is spent before the holder's callback runs.\n\n",
             us(pb.p50_us), us(pb.p50_us - pn.p50_us), kb.p50_us > 0 ? pb.p50_us / kb.p50_us : NAN,
             us(kb.p50_us), us(kb.p50_us - kn.p50_us), pb.p50_us > 0 ? 100.0 * notify_p50 / pb.p50_us : NAN);
}

void print_pins(const Options& o, const Report& r) {
  const auto& p = *r.pins;
  fmt::print("Pin/unpin through pinfsd and the client library: {} rounds, medians; {} live pins of {} on {}\n"
             "client{} (pinfsd's limit: {} pins per client), {} pin+unpin pairs per state\n",
             o.pin_rounds, p.live_pins_count, pfs::format_size(r.pin_bytes), p.clients_count,
             p.clients_count == 1 ? "" : "s", r.max_pins_per_client, o.pairs);
  if (!p.capacity_error.empty()) {
    fmt::print("  NOTE: {} live pins were asked for, but pinfsd refused pin {}:\n    {}\n"
               "  so every figure below is with {} live pins, not {}. That limit is the\n"
               "  file system's (all clients together): more clients would not lift it.\n",
               o.live_pins, p.live_pins_count + 2, p.capacity_error, p.live_pins_count, o.live_pins);
  }
  fmt::print("\n");
  const std::vector<int> w = {46, 12, 22};
  print_row({"phase", "ops_per_s", "pinfsd_cpu_us_per_op"}, w);
  auto row = [&](const std::string& name, const bench::PhaseFigures& f) {
    print_row({name, ops(bench::median_of(f.ops_per_s)), cpu(bench::median_of(f.daemon_cpu_us_per_op))}, w);
  };
  const std::string live = fmt::format("{}", p.live_pins_count);
  row("pin+unpin pairs, no other live pins", p.pairs_without_live_pins);
  row("pin+unpin pairs, " + live + " live pins", p.pairs_with_live_pins);
  const double empty_ops = bench::median_of(p.pairs_without_live_pins.ops_per_s);
  const double live_ops = bench::median_of(p.pairs_with_live_pins.ops_per_s);
  const double empty_cpu = bench::median_of(p.pairs_without_live_pins.daemon_cpu_us_per_op);
  const double live_cpu = bench::median_of(p.pairs_with_live_pins.daemon_cpu_us_per_op);
  const double ops_ratio = empty_ops > 0 ? live_ops / empty_ops : NAN;
  const double cpu_ratio = empty_cpu > 0 && live_cpu > 0 ? empty_cpu / live_cpu : NAN;
  print_row({"ratio live/none (1: cost independent of pins)", ratio(ops_ratio), ratio(cpu_ratio)}, w);
  row("pin, filling 0 → " + live, p.fill);
  row("unpin, draining " + live + " → 0", p.drain);
  fmt::print("  ops: a pair is two (pin, unpin), each one request and reply on the control socket; the\n"
             "  CPU ratio is none/live, so < 1 means the daemon spends more per operation with live pins\n\n");
  const bool scales = ops_ratio >= 0.8 && (std::isnan(cpu_ratio) || cpu_ratio >= 0.8);
  fmt::print("Interpretation: with {} live pins pin+unpin runs at {:.2f}x the rate without (pinfsd CPU per\n"
             "operation {} us vs {} us): {}.\n",
             p.live_pins_count, ops_ratio, cpu(live_cpu), cpu(empty_cpu),
             scales ? "the registry scales to that many pins (within 20%)"
                    : "the registry's cost grows with the live pins");
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"lease_break_bench: pinfs lease-break round trip against the kernel's, and pin/unpin "
               "throughput with 100,000 live pins, through a pinfsd it starts"};
  app.add_option("--pinfsd", o.pinfsd, "the pinfsd to run")->capture_default_str();
  app.add_option("--pool-size", o.pool_size, "size of the pool file in /dev/shm (sparse)")
      ->capture_default_str();
  app.add_option("--lease-break-ms", o.lease_break_ms, "pinfsd --lease-break-ms (default: pinfsd's)");
  app.add_option("--rounds", o.rounds, "round-trip rounds, each side")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--warmup-rounds", o.warmup_rounds, "unreported round-trip rounds first")
      ->capture_default_str()
      ->check(CLI::Range(0u, 10000u));
  app.add_option("--range-size", o.range_size, "bytes pinned and punched (kernel: truncated) per round")
      ->capture_default_str();
  app.add_option("--live-pins", o.live_pins, "live pins in the loaded state")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{10000000}));
  app.add_option("--pairs", o.pairs, "timed pin+unpin pairs per state and round")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100000000}));
  app.add_option("--pin-size", o.pin_size, "bytes per pin")->capture_default_str();
  app.add_option("--pin-rounds", o.pin_rounds, "pin throughput rounds; the median is reported")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100u));
  app.add_flag("--skip-round-trip", o.skip_round_trip, "skip the lease-break round trip");
  app.add_flag("--skip-pins", o.skip_pins, "skip the pin throughput");
  app.add_flag("--json", o.json, "print JSON instead of tables");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }

  if (auto why = bench::debug_build_reason()) {
    fmt::print(stderr, "refusing: debug build ({})\n", *why);
    return bench::kExitRefusedDebugBuild;
  }
  if (::access("/dev/fuse", R_OK | W_OK) != 0) {
    fmt::print(stderr, "lease_break_bench: /dev/fuse is not usable: {}\n", Error::strerror_name(errno));
    return kExitUsage;
  }
  for (const char* tool : {"fusermount3"}) {
    auto status = bench::run_command({tool, "-V"}, "/dev/null", 10s);
    if (!status.ok() || !bench::exited_zero(*status)) {
      fmt::print(stderr, "lease_break_bench: {} is missing (fuse3)\n", tool);
      return kExitUsage;
    }
  }
  bench::install_interruption_handlers();

  Report report;
  Status st = run_all(o, report);
  if (!st.ok()) {
    fmt::print(stderr, "lease_break_bench: {}\n", st.error().message());
    return kExitFailed;
  }
  if (o.json) {
    fmt::print("{}\n", to_json(o, report).dump(2));
    return 0;
  }
  fmt::print("lease_break_bench: {} (build: {}, -O{})\n\n", report.pinfsd_path, bench::kBuildType,
             bench::kOptimization);
  if (report.round_trip) print_round_trip(o, report);
  if (report.pins) print_pins(o, report);
  return 0;
}
