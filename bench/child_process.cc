#include "bench/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <thread>

#include <fmt/format.h>

namespace pinfs::bench {

ChildProcess::ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = other.pid_;
    other.pid_ = -1;
  }
  return *this;
}

ChildProcess::~ChildProcess() { kill_and_reap(); }

Result<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv,
                                         const std::string& log_path, bool own_process_group) {
  if (argv.empty()) return Error(EINVAL, "spawn", "<empty command>");
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Error::from_errno("open log", log_path);
  const pid_t pid = ::fork();
  if (pid < 0) {
    Error e = Error::from_errno("fork", argv[0]);
    ::close(log_fd);
    return e;
  }
  if (pid == 0) {
    if (own_process_group) ::setpgid(0, 0);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::execvp(args[0], args.data());
    static const char kMessage[] = "exec failed\n";
    (void)!::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
    ::_exit(127);
  }
  ::close(log_fd);
  return ChildProcess(pid);
}

Result<ChildProcess> ChildProcess::fork_and_run(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno("fork", "lease holder");
  if (pid == 0) {
    // A holder must not outlive the benchmark, whatever kills it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int rc = 1;
    try {
      rc = body();
    } catch (const std::exception& e) {
      fmt::print(stderr, "lease_break_bench: child {}: {}\n", ::getpid(), e.what());
    }
    std::fflush(stderr);
    ::_exit(rc);
  }
  return ChildProcess(pid);
}

std::optional<int> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return status;
    }
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void ChildProcess::send_signal(int signal) const {
  if (pid_ > 0) ::kill(pid_, signal);
}

void ChildProcess::kill_and_reap() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return fmt::format("killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
  }
  return fmt::format("wait status {:#x}", status);
}

bool exited_zero(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

Result<int> run_command(const std::vector<std::string>& argv, const std::string& log_path,
                        std::chrono::milliseconds timeout) {
  PINFS_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::spawn(argv, log_path, false));
  auto status = child.wait_for(timeout);
  if (!status) {
    return Error(ETIMEDOUT, "run", argv[0],
                 fmt::format("no exit within {} ms; killed", timeout.count()));
  }
  return *status;
}

}  // namespace pinfs::bench
