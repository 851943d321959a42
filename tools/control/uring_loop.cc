#include "tools/control/uring_loop.h"

#include <poll.h>

#include <vector>

namespace pinfs::control {
namespace {

// Token 0 marks cancel requests themselves: their completions have no
// handler.
constexpr std::uint64_t kNoHandler = 0;

}  // namespace

Result<std::unique_ptr<UringLoop>> UringLoop::create(unsigned entries) {
  std::unique_ptr<UringLoop> loop(new UringLoop());
  int rc = io_uring_queue_init(entries, &loop->ring_, 0);
  if (rc < 0) {
    return Error::from_negative(rc, "set up io_uring", "control server",
                                "is io_uring disabled (sysctl kernel.io_uring_disabled)?");
  }
  loop->initialised_ = true;
  return loop;
}

UringLoop::~UringLoop() {
  if (initialised_) io_uring_queue_exit(&ring_);
}

io_uring_sqe* UringLoop::next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // The queue is full: hand what is there to the kernel and take a slot.
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;  // never null after a submit: the queue was just emptied
}

UringLoop::Token UringLoop::arm(io_uring_sqe* sqe, Handler handler) {
  const Token token = next_token_++;
  io_uring_sqe_set_data64(sqe, token);
  handlers_.emplace(token, std::move(handler));
  return token;
}

UringLoop::Token UringLoop::accept(int listen_fd, Handler handler) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_accept(sqe, listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  return arm(sqe, std::move(handler));
}

UringLoop::Token UringLoop::receive(int fd, std::span<std::byte> buffer, Handler handler) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_recv(sqe, fd, buffer.data(), buffer.size(), 0);
  return arm(sqe, std::move(handler));
}

UringLoop::Token UringLoop::send(int fd, std::span<const std::byte> bytes, Handler handler) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_send(sqe, fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  return arm(sqe, std::move(handler));
}

UringLoop::Token UringLoop::send_message(int fd, msghdr* msg, Handler handler) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_sendmsg(sqe, fd, msg, MSG_NOSIGNAL);
  return arm(sqe, std::move(handler));
}

UringLoop::Token UringLoop::poll_readable(int fd, Handler handler) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_poll_add(sqe, fd, POLLIN);
  return arm(sqe, std::move(handler));
}

UringLoop::Token UringLoop::read(int fd, std::span<std::byte> buffer, Handler handler) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_read(sqe, fd, buffer.data(), static_cast<unsigned>(buffer.size()), 0);
  return arm(sqe, std::move(handler));
}

UringLoop::Token UringLoop::sleep_for(std::chrono::milliseconds duration, Handler handler) {
  auto ts = std::make_unique<__kernel_timespec>();
  ts->tv_sec = duration.count() / 1000;
  ts->tv_nsec = (duration.count() % 1000) * 1000000;
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_timeout(sqe, ts.get(), 0, 0);
  const Token token = arm(sqe, std::move(handler));
  timespecs_.emplace(token, std::move(ts));
  return token;
}

void UringLoop::cancel(Token token) {
  if (handlers_.find(token) == handlers_.end()) return;  // already completed
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_cancel64(sqe, token, 0);
  io_uring_sqe_set_data64(sqe, kNoHandler);
}

void UringLoop::cancel_all() {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
  io_uring_sqe_set_data64(sqe, kNoHandler);
}

Status UringLoop::run_once() {
  int rc;
  do {
    rc = io_uring_submit_and_wait(&ring_, 1);
  } while (rc == -EINTR);
  if (rc < 0) return Error::from_negative(rc, "wait for io_uring completions", "control server");
  // Collect first, then run: a handler submits new operations, which must
  // not disturb the completion queue being walked.
  std::vector<std::pair<std::uint64_t, int>> ready;
  io_uring_cqe* cqe;
  unsigned head;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ready.emplace_back(io_uring_cqe_get_data64(cqe), cqe->res);
  }
  io_uring_cq_advance(&ring_, static_cast<unsigned>(ready.size()));
  for (auto [token, result] : ready) {
    if (token == kNoHandler) continue;
    auto it = handlers_.find(token);
    if (it == handlers_.end()) continue;
    Handler handler = std::move(it->second);
    handlers_.erase(it);
    timespecs_.erase(token);
    handler(result);
  }
  return ok_status();
}

}  // namespace pinfs::control
