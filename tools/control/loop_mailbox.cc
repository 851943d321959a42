#include "tools/control/loop_mailbox.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <utility>

namespace pinfs::control {

Result<std::shared_ptr<LoopMailbox>> LoopMailbox::create() {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return Error::from_errno("create mailbox", "control server", "eventfd");
  return std::shared_ptr<LoopMailbox>(new LoopMailbox(fd));
}

LoopMailbox::~LoopMailbox() { ::close(event_fd_); }

void LoopMailbox::post(std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    queued_.push_back(std::move(work));
  }
  const std::uint64_t one = 1;
  (void)!::write(event_fd_, &one, sizeof one);
}

std::vector<std::function<void()>> LoopMailbox::take() {
  std::uint64_t count;
  (void)!::read(event_fd_, &count, sizeof count);
  std::lock_guard lock(mu_);
  return std::exchange(queued_, {});
}

void LoopMailbox::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  queued_.clear();
}

}  // namespace pinfs::control
