#include "tests/crash/crash_checker.h"

#include <utility>

#include <fmt/format.h>

namespace pinfs::crashtest {

namespace {

using Clock = std::chrono::steady_clock;

double ms(std::chrono::nanoseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

CrashChecker::CrashChecker(fs::Media& tracked_media, const FsModel& model,
                           CrashCheckerOptions options,
                           std::function<bool(std::uint64_t)> sampled)
    : media_(tracked_media),
      model_(model),
      options_(options),
      sampled_(std::move(sampled)),
      rng_(options.seed ^ 0x9E3779B97F4A7C15ull) {
  media_.tracker()->set_persist_hook([this](std::uint64_t point) { on_persist_point(point); });
}

CrashChecker::~CrashChecker() { media_.tracker()->set_persist_hook(nullptr); }

std::string CrashChecker::timing() const {
  const auto& c = counts_;
  double n = c.images_checked != 0 ? static_cast<double>(c.images_checked) : 1.0;
  return fmt::format(
      "per image: crash_image {:.2f} ms, mount {:.2f} ms, read tree {:.2f} ms, unmount+check "
      "{:.2f} ms",
      ms(c.image_time) / n, ms(c.mount_time) / n, ms(c.read_time) / n, ms(c.check_time) / n);
}

void CrashChecker::operation_begins(const std::string& description, const InFlight& in_flight) {
  in_flight_active_ = true;
  in_flight_description_ = description;
  in_flight_ = in_flight;
  ++operation_index_;
  before_.reset();
  pending_.clear();
}

void CrashChecker::operation_ends() {
  // The model now holds the operation's result: every image that did not
  // show the state before it must show the state after it (or a legal mix).
  for (const auto& p : pending_) {
    auto d = diff_in_flight(*before_, model_, in_flight_, p.snapshot);
    if (d.empty()) {
      if (diff(model_, p.snapshot).empty()) {
        ++counts_.images_matching_after;
      } else {
        ++counts_.images_mixed;
      }
      continue;
    }
    std::string all;
    for (const auto& line : d) all += "\n      " + line;
    fail(p.point, p.image, "the recovered tree " + all);
  }
  pending_.clear();
  before_.reset();
  in_flight_active_ = false;
  in_flight_description_ = "(between operations)";
}

void CrashChecker::check_now(const std::string& label) {
  std::string saved = std::exchange(in_flight_description_, label);
  ++counts_.points_checked;
  int n = media_.tracker()->pending_lines() == 0 ? 1 : options_.images_per_point;
  for (int i = 0; i < n && failures_.size() < options_.max_failures; ++i) {
    auto start = Clock::now();
    auto image = media_.tracker()->crash_image(rng_);
    counts_.image_time += Clock::now() - start;
    check_image(std::move(image), media_.tracker()->persist_points(), i);
  }
  in_flight_description_ = saved;
}

void CrashChecker::on_persist_point(std::uint64_t point) {
  ++counts_.persist_points_seen;
  if (failures_.size() >= options_.max_failures || !sampled_(point)) return;
  ++counts_.points_checked;
  // Without lines in flight every image is the persisted one.
  int n = media_.tracker()->pending_lines() == 0 ? 1 : options_.images_per_point;
  for (int i = 0; i < n; ++i) {
    auto start = Clock::now();
    auto image = media_.tracker()->crash_image(rng_);
    counts_.image_time += Clock::now() - start;
    check_image(std::move(image), point, i);
  }
}

void CrashChecker::fail(std::uint64_t point, int image, const std::string& what) {
  if (failures_.size() >= options_.max_failures) return;
  failures_.push_back(fmt::format(
      "seed {} persist point {} image {} (operation #{} in flight: {}): {}", options_.seed, point,
      image, operation_index_, in_flight_description_, what));
}

void CrashChecker::check_image(std::vector<std::byte> image, std::uint64_t point, int index) {
  if (fault_injecting_filter_) fault_injecting_filter_(image);
  ++counts_.images_checked;
  auto start = Clock::now();
  auto mounted = fs::FileSystem::mount(
      fs::Media::from_image(std::move(image), options_.map_alignment_bytes, false));
  auto mounted_at = Clock::now();
  counts_.mount_time += mounted_at - start;
  if (!mounted.ok()) {
    fail(point, index, "recovery failed: " + mounted.error().message());
    return;
  }
  fs::FileSystem& recovered = **mounted;
  auto snapshot = read_tree(recovered);
  auto read_at = Clock::now();
  counts_.read_time += read_at - mounted_at;
  if (!snapshot.ok()) {
    fail(point, index, "reading the recovered tree failed: " + snapshot.error().message());
    return;
  }
  if (auto st = recovered.unmount(); !st.ok()) {
    fail(point, index, "unmount after recovery failed: " + st.error().message());
    return;
  }
  auto report = fs::FileSystem::check(recovered.media());
  counts_.check_time += Clock::now() - read_at;
  if (!report.ok()) {
    fail(point, index, "check of the recovered image failed: " + report.error().message());
    return;
  }
  if (!report->clean()) {
    std::string all;
    for (std::size_t i = 0; i < report->findings.size() && i < 8; ++i) {
      all += fmt::format("\n      {}: {}", report->findings[i].where, report->findings[i].what);
    }
    fail(point, index,
         fmt::format("check found {} problems in the recovered image:{}",
                     report->findings.size(), all));
    return;
  }
  auto d = diff(model_, *snapshot);
  if (d.empty()) return;
  if (in_flight_active_) {
    // Not (yet) the state before the operation: decided when it returns.
    if (!before_) before_.emplace(model_);
    pending_.push_back({point, index, std::move(*snapshot)});
    return;
  }
  std::string all;
  for (const auto& line : d) all += "\n      " + line;
  fail(point, index, "the recovered tree differs from the model:" + all);
}

}  // namespace pinfs::crashtest
