#include "tests/mount/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

#include <fmt/format.h>

namespace pinfs::mount_test {
namespace {

using Clock = std::chrono::steady_clock;

ExitStatus decode(int wstatus) {
  ExitStatus s;
  if (WIFEXITED(wstatus)) s.code = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) s.signal = WTERMSIG(wstatus);
  return s;
}

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  out.reserve(argv.size() + 1);
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

// In the child after fork: only async-signal-safe calls until exec.
[[noreturn]] void exec_or_die(const std::vector<char*>& argv) {
  execvp(argv[0], argv.data());
  const char* what = strerror(errno);
  (void)!write(STDERR_FILENO, "exec ", 5);
  (void)!write(STDERR_FILENO, argv[0], strlen(argv[0]));
  (void)!write(STDERR_FILENO, ": ", 2);
  (void)!write(STDERR_FILENO, what, strlen(what));
  (void)!write(STDERR_FILENO, "\n", 1);
  _exit(127);
}

void redirect(int target_fd, const char* path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) _exit(126);
  if (dup2(fd, target_fd) < 0) _exit(126);
}

}  // namespace

std::string ExitStatus::describe() const {
  if (timed_out) return signal != 0 ? fmt::format("timed out (killed by signal {})", signal)
                                    : "timed out";
  if (signal != 0) return fmt::format("killed by signal {} ({})", signal, strsignal(signal));
  return fmt::format("exit {}", code);
}

std::string quote_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty() && a.find_first_of(" \t'\"\\$*?[]{}();&|<>") == std::string::npos;
    out += plain ? a : "'" + a + "'";
  }
  return out;
}

Output run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  Output result;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.err = fmt::format("pipe: {}", strerror(errno));
    return result;
  }
  auto args = c_argv(argv);
  pid_t pid = fork();
  if (pid < 0) {
    result.err = fmt::format("fork: {}", strerror(errno));
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    return result;
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    exec_or_die(args);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);

  const auto deadline = Clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  bool timed_out = false;
  char buf[65536];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    int n = poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  if (timed_out) kill(pid, SIGKILL);
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  result.status = decode(wstatus);
  result.status.timed_out = timed_out;
  return result;
}

std::string describe_run(const std::vector<std::string>& argv, const Output& output) {
  auto tail = [](const std::string& s) {
    constexpr size_t kMax = 4000;
    return s.size() <= kMax ? s : "..." + s.substr(s.size() - kMax);
  };
  return fmt::format("`{}`: {}\n--- stdout ---\n{}\n--- stderr ---\n{}", quote_command(argv),
                     output.status.describe(), tail(output.out), tail(output.err));
}

Process Process::spawn(const std::vector<std::string>& argv, const std::string& stdout_path,
                       const std::string& stderr_path) {
  auto args = c_argv(argv);
  const std::string out = stdout_path.empty() ? "/dev/null" : stdout_path;
  const std::string err = stderr_path.empty() ? "/dev/null" : stderr_path;
  pid_t pid = fork();
  if (pid < 0) return Process();
  if (pid == 0) {
    // Its own process group, so that a terminal's ^C goes to the test
    // only and the test decides how the daemon ends.
    setpgid(0, 0);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    redirect(STDOUT_FILENO, out.c_str());
    redirect(STDERR_FILENO, err.c_str());
    exec_or_die(args);
  }
  return Process(pid);
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::move(other.status_)) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (started() && !status_) {
      kill(pid_, SIGKILL);
      reap_blocking();
    }
    pid_ = std::exchange(other.pid_, -1);
    status_ = std::move(other.status_);
  }
  return *this;
}

Process::~Process() {
  if (started() && !status_) {
    kill(pid_, SIGKILL);
    reap_blocking();
  }
}

void Process::reap_blocking() {
  int wstatus = 0;
  while (waitpid(pid_, &wstatus, 0) < 0) {
    if (errno != EINTR) return;
  }
  status_ = decode(wstatus);
}

bool Process::alive() {
  if (!started() || status_) return false;
  int wstatus = 0;
  pid_t r = waitpid(pid_, &wstatus, WNOHANG);
  if (r == pid_) {
    status_ = decode(wstatus);
    return false;
  }
  return r == 0;
}

std::optional<ExitStatus> Process::wait_for(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (alive()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status_;
}

bool Process::send_signal(int signal) {
  if (!started() || status_) return false;
  return kill(pid_, signal) == 0;
}

}  // namespace pinfs::mount_test
