#include "bench/kernel_lease_holder.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "pinfs/error.h"

namespace pinfs::bench {
namespace {

// Written by the SIGIO handler, read by the holder's loop only after
// sigsuspend returned: SIGIO is blocked everywhere else, so the handler
// never runs while the loop reads them.
int g_lease_fd = -1;
volatile sig_atomic_t g_released = 0;
int g_unlock_errno = 0;
std::int64_t g_break_seen_ns = 0;
std::int64_t g_released_ns = 0;

// Async-signal-safe only: clock_gettime and fcntl.
void on_lease_break(int, siginfo_t*, void*) {
  const int saved_errno = errno;
  g_break_seen_ns = monotonic_ns();
  if (::fcntl(g_lease_fd, F_SETLEASE, F_UNLCK) != 0) g_unlock_errno = errno;
  g_released_ns = monotonic_ns();
  g_released = 1;
  errno = saved_errno;
}

int fail(const std::string& what) {
  fmt::print(stderr, "lease_break_bench: kernel holder: {}\n", what);
  return 1;
}

// F_SETLEASE F_RDLCK is EAGAIN while anyone has the file open for writing;
// the measuring process closed its descriptors before kNext, but a close
// completes the file's release asynchronously (fput's task work), so allow a
// moment.
bool take_read_lease(int fd) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    if (::fcntl(fd, F_SETLEASE, F_RDLCK) == 0) return true;
    if (errno != EAGAIN || std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

}  // namespace

int run_kernel_lease_holder(const std::string& file_path, const HolderEnd& channel) {
  g_lease_fd = ::open(file_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (g_lease_fd < 0) return fail(Error::from_errno("open", file_path).message());

  struct sigaction action {};
  action.sa_sigaction = on_lease_break;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  if (::sigaction(SIGIO, &action, nullptr) != 0) {
    return fail(Error::from_errno("sigaction", "SIGIO").message());
  }
  sigset_t sigio, waiting;
  sigemptyset(&sigio);
  sigaddset(&sigio, SIGIO);
  if (::sigprocmask(SIG_BLOCK, &sigio, &waiting) != 0) {
    return fail(Error::from_errno("sigprocmask", "SIGIO").message());
  }
  sigdelset(&waiting, SIGIO);
  // A non-zero F_SETSIG makes the break a queued signal carrying si_fd.
  if (::fcntl(g_lease_fd, F_SETSIG, SIGIO) != 0) {
    return fail(Error::from_errno("fcntl F_SETSIG", file_path).message());
  }

  for (;;) {
    g_released = 0;
    if (!take_read_lease(g_lease_fd)) {
      return fail(Error::from_errno("fcntl F_SETLEASE F_RDLCK", file_path).message());
    }
    if (!channel.report({HolderReportKind::ready, 0, 0})) return fail("report ready: pipe closed");
    while (g_released == 0) ::sigsuspend(&waiting);
    if (g_unlock_errno != 0) {
      errno = g_unlock_errno;
      return fail(Error::from_errno("fcntl F_SETLEASE F_UNLCK", file_path, "in the SIGIO handler").message());
    }
    if (!channel.report({HolderReportKind::released, g_break_seen_ns, g_released_ns})) {
      return fail("report released: pipe closed");
    }
    if (channel.next_command() == HolderCommand::quit) return 0;
  }
}

}  // namespace pinfs::bench
