#include "bench/holder_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

namespace pinfs::bench {
namespace {

// The record on the wire: kind, then the two times.
struct WireReport {
  std::uint8_t kind;
  std::uint8_t pad[7];
  std::int64_t break_seen_ns;
  std::int64_t released_ns;
};
static_assert(sizeof(WireReport) == 24);

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

std::int64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

bool HolderEnd::report(const HolderReport& report) const {
  WireReport wire{};
  wire.kind = static_cast<std::uint8_t>(report.kind);
  wire.break_seen_ns = report.break_seen_ns;
  wire.released_ns = report.released_ns;
  ssize_t n;
  do {
    n = ::write(report_fd_, &wire, sizeof wire);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof wire);
}

HolderCommand HolderEnd::next_command() const {
  std::uint8_t byte = 0;
  ssize_t n;
  do {
    n = ::read(command_fd_, &byte, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) return HolderCommand::quit;
  return byte == static_cast<std::uint8_t>(HolderCommand::next) ? HolderCommand::next
                                                                : HolderCommand::quit;
}

MeasurerEnd::MeasurerEnd(MeasurerEnd&& other) noexcept
    : report_fd_(other.report_fd_), command_fd_(other.command_fd_) {
  other.report_fd_ = -1;
  other.command_fd_ = -1;
}

MeasurerEnd& MeasurerEnd::operator=(MeasurerEnd&& other) noexcept {
  if (this != &other) {
    close_all();
    report_fd_ = other.report_fd_;
    command_fd_ = other.command_fd_;
    other.report_fd_ = -1;
    other.command_fd_ = -1;
  }
  return *this;
}

MeasurerEnd::~MeasurerEnd() { close_all(); }

void MeasurerEnd::close_all() {
  close_fd(report_fd_);
  close_fd(command_fd_);
}

Result<HolderReport> MeasurerEnd::expect(HolderReportKind kind, std::chrono::milliseconds timeout,
                                         const char* holder_name) const {
  WireReport wire{};
  std::size_t got = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (got < sizeof wire) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Error(ETIMEDOUT, "wait for lease holder", holder_name,
                   fmt::format("no '{}' report within {} ms", static_cast<char>(kind), timeout.count()));
    }
    pollfd p{report_fd_, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno != EINTR) return Error::from_errno("poll lease holder", holder_name);
    if (rc <= 0) continue;
    const ssize_t n = ::read(report_fd_, reinterpret_cast<char*>(&wire) + got, sizeof wire - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("read from lease holder", holder_name);
    if (n == 0) {
      return Error(EPIPE, "read from lease holder", holder_name,
                   "it closed its pipe (exited; its error, if any, is on stderr)");
    }
    got += static_cast<std::size_t>(n);
  }
  if (wire.kind != static_cast<std::uint8_t>(kind)) {
    return Error(EPROTO, "read from lease holder", holder_name,
                 fmt::format("expected report '{}', got '{}'", static_cast<char>(kind),
                             static_cast<char>(wire.kind)));
  }
  return HolderReport{kind, wire.break_seen_ns, wire.released_ns};
}

Status MeasurerEnd::send(HolderCommand command, const char* holder_name) const {
  const auto byte = static_cast<std::uint8_t>(command);
  ssize_t n;
  do {
    n = ::write(command_fd_, &byte, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) return Error::from_errno("command lease holder", holder_name);
  return ok_status();
}

Result<HolderPipes> HolderPipes::create() {
  HolderPipes pipes;
  if (::pipe2(pipes.report_, O_CLOEXEC) != 0) return Error::from_errno("pipe", "holder reports");
  if (::pipe2(pipes.command_, O_CLOEXEC) != 0) return Error::from_errno("pipe", "holder commands");
  return pipes;
}

HolderPipes::HolderPipes(HolderPipes&& other) noexcept {
  std::memcpy(report_, other.report_, sizeof report_);
  std::memcpy(command_, other.command_, sizeof command_);
  other.report_[0] = other.report_[1] = -1;
  other.command_[0] = other.command_[1] = -1;
}

HolderPipes::~HolderPipes() {
  for (int& fd : report_) close_fd(fd);
  for (int& fd : command_) close_fd(fd);
}

HolderEnd HolderPipes::into_holder_end() {
  close_fd(report_[0]);
  close_fd(command_[1]);
  HolderEnd end(report_[1], command_[0]);
  report_[1] = command_[0] = -1;  // the child keeps them until it exits
  return end;
}

MeasurerEnd HolderPipes::into_measurer_end() {
  close_fd(report_[1]);
  close_fd(command_[0]);
  MeasurerEnd end(report_[0], command_[1]);
  report_[0] = command_[1] = -1;
  return end;
}

}  // namespace pinfs::bench
