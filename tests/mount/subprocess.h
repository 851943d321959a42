// Subprocess: runs the real programs the mount tests drive (pinfsd, pinfs,
// cp, tar, dd, fusermount3, fsx) without a shell, so that no argument is
// ever re-split or globbed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace pinfs::mount_test {

// How a process ended.
struct ExitStatus {
  int code = -1;    // exit code when it exited, else -1
  int signal = 0;   // the signal that killed it, else 0
  bool timed_out = false;  // killed by run() because it overran its timeout

  bool success() const { return code == 0 && signal == 0 && !timed_out; }
  std::string describe() const;  // "exit 0", "killed by signal 9 (Killed)", ...
};

struct Output {
  ExitStatus status;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Joins argv for messages: cp -a '/usr/include/linux' '/tmp/x/mnt/linux'.
std::string quote_command(const std::vector<std::string>& argv);

// Runs argv[0] (searched in PATH) to completion, capturing stdout and stderr.
// A program that overruns `timeout` is killed with SIGKILL and reported as
// timed out.
Output run(const std::vector<std::string>& argv,
           std::chrono::milliseconds timeout = std::chrono::minutes(5));

// What a failed run() said, for assertion messages.
std::string describe_run(const std::vector<std::string>& argv, const Output& output);

// A child process that runs in the background (the daemon), with its stdout
// and stderr sent to files. Move-only; the destructor kills (SIGKILL) and
// reaps a child that is still running, so no test leaves one behind.
class Process {
 public:
  // Starts argv with stdout and stderr appended to the given files ("" for
  // /dev/null). A failed exec shows as exit 127 with the reason in the
  // stderr file.
  static Process spawn(const std::vector<std::string>& argv, const std::string& stdout_path,
                       const std::string& stderr_path);

  Process() = default;
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  // True while the child runs; reaps it (and remembers how it ended) once
  // it has exited.
  bool alive();
  // Waits up to `timeout` for the child to end; nullopt if it still runs.
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);
  // How the child ended, once alive() or wait_for() has seen it end.
  const std::optional<ExitStatus>& exit_status() const { return status_; }
  // Sends a signal; false if the child has already been reaped.
  bool send_signal(int signal);

 private:
  explicit Process(pid_t pid) : pid_(pid) {}
  void reap_blocking();

  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

}  // namespace pinfs::mount_test
