// Stopwatch: wall-clock time on the monotonic clock, in seconds.
#pragma once

#include <chrono>

namespace pinfs::bench {

class Stopwatch {
 public:
  Stopwatch() : start_(Clock::now()) {}
  void restart() { start_ = Clock::now(); }
  double elapsed_s() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point start_;
};

}  // namespace pinfs::bench
