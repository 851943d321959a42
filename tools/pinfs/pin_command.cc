// pinfs pin FILE [--range OFF:LEN] [--lease read|unbreakable|write]
//                [--downgrade-to read|unbreakable] [--ignore-breaks]
//
// Holds a pin from the shell until interrupted (SIGINT, SIGTERM, SIGHUP),
// then releases it and exits 0 — for operators reproducing a problem and
// for the tests. It prints one line once the pin is held, and one line per
// lease event. A BREAK is answered by releasing and exiting 0, unless
// --ignore-breaks makes it a holder that never answers (the break then
// times out and the daemon's policy applies). A revoked lease or a lost
// connection ends it with kExitFailed.
//
// --lease write takes a write lease, allocates the range's holes, downgrades
// to --downgrade-to and pins, in one request (DESIGN.md §4): no window in
// which another process could change the layout before the pin.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>
#include <deque>
#include <memory>
#include <string>

#include "pin/byte_range.h"
#include "tools/pinfs/commands.h"
#include "tools/pinfs/daemon_connection.h"
#include "tools/pinfs/range_option.h"

namespace pinfs::tools {
namespace {

struct PinArgs {
  std::string socket;
  std::string file;
  std::string range;
  std::string lease = "read";
  std::string downgrade_to = "read";
  bool ignore_breaks = false;
};

LeaseKind lease_kind(const std::string& name) {
  if (name == "unbreakable") return LeaseKind::unbreakable;
  if (name == "write") return LeaseKind::write;
  return LeaseKind::read;
}

std::string format(FileRange r) { return pin::format_range(pin::ByteRange{r.offset, r.length}); }

// Lines go out as they happen: a script (or a test) waits for them.
template <typename... Args>
void say(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print(format, std::forward<Args>(args)...);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::string describe_change(const LeaseEvent& e) {
  std::string ranges;
  for (const FileRange& r : e.ranges) ranges += (ranges.empty() ? "" : ", ") + format(r);
  return fmt::format("{} {} by pid {}", e.change, ranges, e.requester_pid);
}

// SIGINT, SIGTERM and SIGHUP, read from a descriptor so that the wait for
// them and for lease events is one poll(2).
Result<int> signal_descriptor() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, s);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return Error::from_errno("pin", "signals", "sigprocmask");
  int fd = ::signalfd(-1, &set, SFD_CLOEXEC);
  if (fd < 0) return Error::from_errno("pin", "signals", "signalfd");
  return fd;
}

// The exit code once the pin is held: how the holding ended.
int hold(Client& client, Lease& lease, Pin& pin, const std::deque<LeaseEvent>& events,
         const PinArgs& a, int signal_fd) {
  // Teardown order: the pin, then the lease (there is no registration).
  auto release = [&](const std::string& why) {
    for (Status st : {pin.release(), lease.release()}) {
      if (!st.ok()) {
        report_failure(st.error());
        return exit_code();
      }
    }
    say("released pin {} and lease {} ({})", pin.id(), lease.id(), why);
    return kExitOk;
  };
  std::size_t seen = 0;
  for (;;) {
    pollfd fds[2] = {{signal_fd, POLLIN, 0}, {client.event_fd(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      report_failure(Error::from_errno("pin", a.file, "poll"));
      return exit_code();
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      (void)!::read(signal_fd, &info, sizeof info);
      return release(strsignal(static_cast<int>(info.ssi_signo)));
    }
    auto processed = client.process_events();
    for (; seen < events.size(); ++seen) {
      const LeaseEvent& e = events[seen];
      switch (e.kind) {
        case LeaseEventKind::break_requested:
          if (a.ignore_breaks) {
            say("ignoring a break: {} (deadline in {} ms)", describe_change(e),
                std::chrono::duration_cast<std::chrono::milliseconds>(e.deadline - std::chrono::steady_clock::now())
                    .count());
            break;
          }
          return release("break: " + describe_change(e));
        case LeaseEventKind::break_abandoned:
          say("the break was abandoned: {}; still holding", describe_change(e));
          break;
        case LeaseEventKind::break_denied:
          say("refused with ETXTBSY (unbreakable lease): {}", describe_change(e));
          break;
        case LeaseEventKind::revoked:
          say("lease {} was revoked: the pinned extents stay quarantined until the pin is released", lease.id());
          if (Status st = pin.release(); !st.ok()) report_failure(st.error());
          say("released pin {}", pin.id());
          return kExitFailed;
        case LeaseEventKind::connection_lost:
          say("the connection to pinfsd was lost: nothing holds the pin any more");
          return kExitFailed;
      }
    }
    if (!processed.ok()) {
      report_failure(processed.error(), kExitFailed);
      return kExitFailed;
    }
  }
}

// Takes the lease and the pin, then holds them; the exit code of hold().
Result<int> pin_and_hold(const PinArgs& a, FileRange range, int signal_fd) {
  PINFS_ASSIGN_OR_RETURN(Client client, connect_to_daemon(a.socket));
  const std::string path = absolute_path(a.file);
  PINFS_ASSIGN_OR_RETURN(File file, client.open(path));
  // The callback queues; hold() reacts on its own loop.
  auto events = std::make_shared<std::deque<LeaseEvent>>();
  const LeaseKind kind = lease_kind(a.lease);
  const LeaseKind pinned_under = kind == LeaseKind::write ? lease_kind(a.downgrade_to) : kind;
  PINFS_ASSIGN_OR_RETURN(Lease lease,
                         file.lease(kind, range, [events](const LeaseEvent& e) { events->push_back(e); }));
  PINFS_ASSIGN_OR_RETURN(Pin pin, kind == LeaseKind::write
                                      ? lease.pin(range, /*allocate=*/true, pinned_under)
                                      : lease.pin(range));
  const FileRange pinned = pin.range();
  say("pinned '{}' {} ({} bytes): pin {} under {} lease {}, pid {}; interrupt to release", path,
      format(pinned), pinned.length, pin.id(), to_string(pinned_under), lease.id(), ::getpid());
  return hold(client, lease, pin, *events, a, signal_fd);
}

void run_pin(const PinArgs& a) {
  auto range = parse_range_option(a.range);
  if (!range.ok()) return report_failure(range.error(), kExitUsage);
  // Signals are blocked before anything is held: an interrupt that comes
  // while the pin is being made waits until the pin can be released.
  auto signal_fd = signal_descriptor();
  if (!signal_fd.ok()) return report_failure(signal_fd.error());
  auto held = pin_and_hold(a, *range, *signal_fd);
  ::close(*signal_fd);
  if (!held.ok()) return report_failure(held.error());
  set_exit_code(*held);
}

}  // namespace

void add_pin_command(CLI::App& app) {
  auto args = std::make_shared<PinArgs>();
  CLI::App* cmd = app.add_subcommand("pin", "hold a pin on a file range until interrupted (to reproduce problems)");
  add_socket_option(cmd, args->socket);
  cmd->add_option("FILE", args->file, "a file on the mount")->required();
  cmd->add_option("--range", args->range, "OFFSET:LENGTH to pin (default: the whole file, allocated)");
  cmd->add_option("--lease", args->lease,
                  "read (breakable), unbreakable, or write (allocate, downgrade, pin in one step)")
      ->capture_default_str()
      ->check(CLI::IsMember({"read", "unbreakable", "write"}));
  cmd->add_option("--downgrade-to", args->downgrade_to, "with --lease write: the kind to pin under")
      ->capture_default_str()
      ->check(CLI::IsMember({"read", "unbreakable"}));
  cmd->add_flag("--ignore-breaks", args->ignore_breaks,
                "do not answer BREAK events (a stuck holder: the break times out)");
  cmd->callback([args] { run_pin(*args); });
}

}  // namespace pinfs::tools
