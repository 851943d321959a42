#include "bench/break_round_trip.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <array>
#include <memory>

#include <fmt/format.h>

#include "bench/interruption.h"

namespace pinfs::bench {
namespace {

constexpr const char* kPinfsHolderName = "pinfs holder";
constexpr const char* kKernelHolderName = "kernel holder";

// The bytes written back after each round, so that the next round's change
// has allocated blocks to free (a punch over a hole frees nothing).
std::vector<char> fill_bytes(std::uint64_t length) {
  std::vector<char> bytes(length);
  for (std::uint64_t i = 0; i < length; ++i) bytes[i] = static_cast<char>('a' + i % 23);
  return bytes;
}

Status write_range(int fd, const std::vector<char>& bytes, const std::string& path) {
  std::uint64_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error::from_errno("rewrite", path);
    done += static_cast<std::uint64_t>(n);
  }
  return ok_status();
}

Status write_file(const std::string& path, const std::vector<char>& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Error::from_errno("create", path);
  Status st = write_range(fd, bytes, path);
  if (::close(fd) != 0 && st.ok()) st = Error::from_errno("close", path);
  return st;
}

// A layout change to time, and how to undo it untimed.
class LayoutChange {
 public:
  virtual ~LayoutChange() = default;
  virtual const char* name() const = 0;
  // The timed call.
  [[nodiscard]] virtual Status change() = 0;
  // Untimed: what the next round needs (data back in the range, writers
  // closed).
  [[nodiscard]] virtual Status restore() = 0;
};

// fallocate(PUNCH_HOLE | KEEP_SIZE) over [0, range) through the mount, on a
// descriptor kept open for the whole run: the call and nothing else.
class PunchThroughMount final : public LayoutChange {
 public:
  static Result<std::unique_ptr<PunchThroughMount>> open(const std::string& path, std::uint64_t range_bytes) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return Error::from_errno("open", path);
    return std::unique_ptr<PunchThroughMount>(new PunchThroughMount(path, fd, range_bytes));
  }
  ~PunchThroughMount() override { ::close(fd_); }
  const char* name() const override { return "punch"; }
  Status change() override {
    if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(bytes_.size())) != 0) {
      return Error::from_errno("fallocate PUNCH_HOLE", path_);
    }
    return ok_status();
  }
  Status restore() override { return write_range(fd_, bytes_, path_); }

 private:
  PunchThroughMount(std::string path, int fd, std::uint64_t range_bytes)
      : path_(std::move(path)), fd_(fd), bytes_(fill_bytes(range_bytes)) {}
  std::string path_;
  int fd_;
  std::vector<char> bytes_;
};

// open(O_WRONLY | O_TRUNC) of a tmpfs file: the timed call is the open,
// which under a read lease blocks in break_lease(). The descriptor is closed
// untimed, and the data written back through a plain open: a read lease can
// only be taken again once no writer has the file open.
class TruncatingOpen final : public LayoutChange {
 public:
  TruncatingOpen(std::string path, std::uint64_t range_bytes)
      : path_(std::move(path)), bytes_(fill_bytes(range_bytes)) {}
  ~TruncatingOpen() override {
    if (fd_ >= 0) ::close(fd_);
  }
  const char* name() const override { return "open(O_TRUNC)"; }
  Status change() override {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd_ < 0) return Error::from_errno("open O_TRUNC", path_);
    return ok_status();
  }
  Status restore() override {
    Status st = write_range(fd_, bytes_, path_);
    if (::close(fd_) != 0 && st.ok()) st = Error::from_errno("close", path_);
    fd_ = -1;
    return st;
  }

 private:
  std::string path_;
  std::vector<char> bytes_;
  int fd_ = -1;
};

struct Subject {
  LayoutChange* change;
  const MeasurerEnd* holder;  // null: nobody holds a lease
  const char* holder_name;
  BreakSamples* samples;
};

Status run_round(const Subject& s, const BreakRoundTripConfig& config, bool record, bool last) {
  const std::int64_t t0 = monotonic_ns();
  Status st = s.change->change();
  const std::int64_t t1 = monotonic_ns();
  if (!st.ok()) return st;
  HolderReport report{};
  if (s.holder != nullptr) {
    PINFS_ASSIGN_OR_RETURN(report, s.holder->expect(HolderReportKind::released, config.holder_timeout, s.holder_name));
    // The call must have waited for the holder: the holder heard of the
    // break after the call began and before it returned. (Its "released"
    // reading may come after the return: the daemon or the kernel wakes
    // the caller before the holder's release call has returned to it.)
    if (report.break_seen_ns < t0 || report.break_seen_ns > t1) {
      return Error(EPROTO, s.change->name(), s.holder_name,
                   "the call did not wait for the holder's release (no break happened?)");
    }
  }
  PINFS_TRY(s.change->restore());
  if (s.holder != nullptr) {
    PINFS_TRY(s.holder->send(last ? HolderCommand::quit : HolderCommand::next, s.holder_name));
    if (!last) {
      PINFS_TRY(s.holder->expect(HolderReportKind::ready, config.holder_timeout, s.holder_name));
    }
  }
  if (!record) return ok_status();
  auto us = [](std::int64_t from, std::int64_t to) { return static_cast<double>(to - from) / 1000.0; };
  s.samples->call_us.push_back(us(t0, t1));
  if (s.holder != nullptr) {
    s.samples->notify_us.push_back(us(t0, report.break_seen_ns));
    s.samples->answer_us.push_back(us(report.break_seen_ns, t1));
    s.samples->holder_release_us.push_back(us(report.break_seen_ns, report.released_ns));
  }
  return ok_status();
}

}  // namespace

Status prepare_break_files(const BreakRoundTripConfig& config) {
  const std::vector<char> bytes = fill_bytes(config.range_bytes);
  for (const std::string* path : {&config.pinfs_leased_file, &config.pinfs_plain_file,
                                  &config.kernel_leased_file, &config.kernel_plain_file}) {
    PINFS_TRY(write_file(*path, bytes));
  }
  return ok_status();
}

Result<BreakRoundTripResults> measure_break_round_trip(
    const BreakRoundTripConfig& config, const MeasurerEnd& pinfs_holder,
    const MeasurerEnd& kernel_holder, const std::function<void(const std::string&)>& progress) {
  BreakRoundTripResults results;
  PINFS_ASSIGN_OR_RETURN(auto pinfs_leased, PunchThroughMount::open(config.pinfs_leased_file, config.range_bytes));
  PINFS_ASSIGN_OR_RETURN(auto pinfs_plain, PunchThroughMount::open(config.pinfs_plain_file, config.range_bytes));
  TruncatingOpen kernel_leased(config.kernel_leased_file, config.range_bytes);
  TruncatingOpen kernel_plain(config.kernel_plain_file, config.range_bytes);
  const std::array<Subject, 4> subjects = {
      Subject{pinfs_leased.get(), &pinfs_holder, kPinfsHolderName, &results.pinfs_break},
      Subject{&kernel_leased, &kernel_holder, kKernelHolderName, &results.kernel_break},
      Subject{pinfs_plain.get(), nullptr, "", &results.pinfs_no_lease},
      Subject{&kernel_plain, nullptr, "", &results.kernel_no_lease},
  };
  const unsigned total = config.warmup_rounds + config.rounds;
  for (unsigned round = 0; round < total; ++round) {
    const bool record = round >= config.warmup_rounds;
    const bool last = round + 1 == total;
    if (round == config.warmup_rounds || (record && (round - config.warmup_rounds) % 50 == 0)) {
      progress(fmt::format("break round trip: round {} of {}", round - config.warmup_rounds + 1, config.rounds));
    }
    if (interrupted()) return Error(ECANCELED, "break round trip", "", "interrupted");
    for (std::size_t i = 0; i < subjects.size(); ++i) {
      const Subject& s = subjects[(round + i) % subjects.size()];
      Status st = run_round(s, config, record, last);
      if (!st.ok()) {
        return Error(st.error()).with_detail(fmt::format("round {} ({}{})", round, s.change->name(),
                                                         s.holder ? ", leased" : ", no lease"));
      }
    }
  }
  return results;
}

}  // namespace pinfs::bench
