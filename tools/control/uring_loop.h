// UringLoop: the control plane's io_uring (liburing) — every wait of the
// control server goes through it: accepting, receiving, sending, the
// pidfds of client processes, the mailbox eventfd and the reclaim timer.
//
// Each submitted operation carries a handler, called with the CQE's result
// (>= 0, or -errno) on the loop's thread by run_once(). The caller keeps
// every buffer an operation uses alive until its handler has run; handlers
// capture what they need by shared_ptr for that reason.
//
// Not thread-safe: one thread submits and runs (the server's loop thread).
#pragma once

#include <liburing.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>

#include "pinfs/error.h"

namespace pinfs::control {

class UringLoop {
 public:
  using Handler = std::function<void(int result)>;

  // entries: the submission queue's size; submissions beyond it are flushed
  // to the kernel early, never refused.
  [[nodiscard]] static Result<std::unique_ptr<UringLoop>> create(unsigned entries);
  ~UringLoop();
  UringLoop(const UringLoop&) = delete;
  UringLoop& operator=(const UringLoop&) = delete;

  // Each returns the operation's token, for cancel().
  using Token = std::uint64_t;
  Token accept(int listen_fd, Handler handler);
  Token receive(int fd, std::span<std::byte> buffer, Handler handler);
  Token send(int fd, std::span<const std::byte> bytes, Handler handler);
  // msg and everything it points to must live until the handler runs.
  Token send_message(int fd, msghdr* msg, Handler handler);
  // POLLIN on fd (a pidfd is readable once its process has exited).
  Token poll_readable(int fd, Handler handler);
  Token read(int fd, std::span<std::byte> buffer, Handler handler);
  Token sleep_for(std::chrono::milliseconds duration, Handler handler);
  // Cancels one pending operation, or all of them; their handlers run with
  // -ECANCELED (or their result, if they completed first).
  void cancel(Token token);
  void cancel_all();

  // Submits what is queued, waits for at least one completion and runs the
  // handlers of all that are ready.
  [[nodiscard]] Status run_once();
  std::size_t pending() const { return handlers_.size(); }

 private:
  UringLoop() = default;
  io_uring_sqe* next_sqe();
  Token arm(io_uring_sqe* sqe, Handler handler);

  io_uring ring_{};
  bool initialised_ = false;
  std::uint64_t next_token_ = 1;
  std::unordered_map<std::uint64_t, Handler> handlers_;
  // Timeouts need their timespec to stay put until submitted.
  std::unordered_map<std::uint64_t, std::unique_ptr<__kernel_timespec>> timespecs_;
};

}  // namespace pinfs::control
