// HolderChannel: the two pipes between the measuring process and a lease
// holder it forked (lease_break_bench). The holder reports; the measuring
// process commands. Fixed-size binary records, one write each (well under
// PIPE_BUF, so never split).
//
// One round, as both holders run it:
//
//   holder                               measuring process
//   take lease (+ pin)  -> kReady
//                                        t0; layout change (blocks); t1
//   BREAK: release      -> kReleased     reads kReleased (the holder's
//                                        times of this round's break)
//                                        rewrites the range
//                       <- kNext / kQuit
//
// Times are CLOCK_MONOTONIC nanoseconds, the same clock in both processes
// (one machine), so the round trip splits into notify (t0 → the holder's
// callback), release (inside the holder) and resume (released → t1).
#pragma once

#include <chrono>
#include <cstdint>

#include "pinfs/error.h"

namespace pinfs::bench {

// CLOCK_MONOTONIC in nanoseconds. Async-signal-safe (clock_gettime is).
std::int64_t monotonic_ns();

enum class HolderReportKind : std::uint8_t { ready = 'R', released = 'B' };
enum class HolderCommand : std::uint8_t { next = 'n', quit = 'q' };

struct HolderReport {
  HolderReportKind kind = HolderReportKind::ready;
  // released: when the holder learnt of the break, and when its release
  // had completed.
  std::int64_t break_seen_ns = 0;
  std::int64_t released_ns = 0;
};

// The holder's end (in the child).
class HolderEnd {
 public:
  HolderEnd(int report_fd, int command_fd) : report_fd_(report_fd), command_fd_(command_fd) {}
  [[nodiscard]] bool report(const HolderReport& report) const;
  // Blocks for the next command; EOF (the measuring process is gone) and
  // any error read as quit.
  HolderCommand next_command() const;

 private:
  int report_fd_;
  int command_fd_;
};

// The measuring process's end. Owns its two descriptors.
class MeasurerEnd {
 public:
  MeasurerEnd() = default;
  MeasurerEnd(int report_fd, int command_fd) : report_fd_(report_fd), command_fd_(command_fd) {}
  MeasurerEnd(MeasurerEnd&& other) noexcept;
  MeasurerEnd& operator=(MeasurerEnd&& other) noexcept;
  MeasurerEnd(const MeasurerEnd&) = delete;
  MeasurerEnd& operator=(const MeasurerEnd&) = delete;
  ~MeasurerEnd();

  // The next report, which must be of `kind`. ETIMEDOUT after timeout;
  // EPIPE if the holder closed its end (it exited: see its stderr).
  [[nodiscard]] Result<HolderReport> expect(HolderReportKind kind, std::chrono::milliseconds timeout,
                                            const char* holder_name) const;
  [[nodiscard]] Status send(HolderCommand command, const char* holder_name) const;

 private:
  void close_all();
  int report_fd_ = -1;
  int command_fd_ = -1;
};

// A pair of pipes for one holder. After fork the child keeps holder_end()
// and calls close_measurer_side(); the parent takes measurer_end().
class HolderPipes {
 public:
  [[nodiscard]] static Result<HolderPipes> create();
  HolderPipes(HolderPipes&& other) noexcept;
  HolderPipes(const HolderPipes&) = delete;
  HolderPipes& operator=(const HolderPipes&) = delete;
  HolderPipes& operator=(HolderPipes&&) = delete;
  ~HolderPipes();

  // In the child: its end, after closing the parent's descriptors.
  HolderEnd into_holder_end();
  // In the parent: its end, after closing the child's descriptors.
  MeasurerEnd into_measurer_end();

 private:
  HolderPipes() = default;
  int report_[2] = {-1, -1};   // holder writes [1], measurer reads [0]
  int command_[2] = {-1, -1};  // measurer writes [1], holder reads [0]
};

}  // namespace pinfs::bench
