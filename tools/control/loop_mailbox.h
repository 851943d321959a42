// LoopMailbox: how other threads hand work to the control server's loop
// thread — lease events raised by FUSE threads, replies computed on
// workers. post() queues a closure and writes an eventfd that the loop
// reads through io_uring; the loop then runs the closures in order.
//
// Thread-safe. Closures run on the loop thread only, so they may touch the
// server's state without locks.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "pinfs/error.h"

namespace pinfs::control {

class LoopMailbox {
 public:
  [[nodiscard]] static Result<std::shared_ptr<LoopMailbox>> create();
  ~LoopMailbox();
  LoopMailbox(const LoopMailbox&) = delete;
  LoopMailbox& operator=(const LoopMailbox&) = delete;

  // Queues work for the loop. After close(), work is dropped: the server
  // is stopping and nobody is left to do it.
  void post(std::function<void()> work);
  // For the loop: takes everything queued (and resets the eventfd).
  std::vector<std::function<void()>> take();
  void close();
  int event_fd() const { return event_fd_; }

 private:
  explicit LoopMailbox(int event_fd) : event_fd_(event_fd) {}

  const int event_fd_;
  std::mutex mu_;
  std::vector<std::function<void()>> queued_;  // GUARDED_BY(mu_)
  bool closed_ = false;                        // GUARDED_BY(mu_)
};

}  // namespace pinfs::control
