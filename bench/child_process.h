// ChildProcess: a process this benchmark forked, owned until it is reaped.
// Move-only; the destructor kills (SIGKILL, by its own pid) and reaps a
// child nobody waited for, so no way out of the benchmark leaves one behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pinfs/error.h"

namespace pinfs::bench {

class ChildProcess {
 public:
  ChildProcess() = default;
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // Runs argv (execvp) with stdout and stderr appended to log_path. With
  // own_process_group the child leaves our process group, so a Ctrl-C at
  // the terminal reaches only us and we stop it in order.
  [[nodiscard]] static Result<ChildProcess> spawn(const std::vector<std::string>& argv,
                                                  const std::string& log_path,
                                                  bool own_process_group);
  // Forks and runs body in the child, which then _exits with its value
  // (never returns into the caller's stack, runs no destructors of it).
  // Fork only while this process has one thread.
  [[nodiscard]] static Result<ChildProcess> fork_and_run(const std::function<int()>& body);

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Reaps the child if it has ended; nullopt if still running after
  // `timeout`. The wait status (as from waitpid) once reaped.
  [[nodiscard]] std::optional<int> wait_for(std::chrono::milliseconds timeout);
  void send_signal(int signal) const;
  // SIGKILL and reap (no-op once reaped).
  void kill_and_reap();

 private:
  pid_t pid_ = -1;
};

// "exited 0", "exited 3", "killed by signal 9 (Killed)".
std::string describe_wait_status(int status);
bool exited_zero(int status);

// Runs argv to completion (up to timeout) with its output appended to
// log_path; the wait status.
[[nodiscard]] Result<int> run_command(const std::vector<std::string>& argv,
                                      const std::string& log_path,
                                      std::chrono::milliseconds timeout);

}  // namespace pinfs::bench
