#include <fmt/format.h>

#include "tools/pinfs/commands.h"

namespace pinfs::tools {
namespace {
int g_exit_code = kExitOk;
}
int exit_code() { return g_exit_code; }
void set_exit_code(int code) { g_exit_code = code; }

int exit_code_for(const Error& error) {
  const int e = error.errnum();
  if (error.op() == "connect") {
    // connect_to_daemon() (daemon_connection.h) names every failure to reach
    // pinfsd "connect": nothing listening, not allowed, or not pinfsd.
    if (e == ENOENT || e == ECONNREFUSED) return kExitNoDaemon;
    if (e == EACCES || e == EPERM) return kExitDenied;
    return kExitNotPinfsd;
  }
  switch (e) {
    case EACCES:
    case EPERM:
      return kExitDenied;
    case ETXTBSY:
    case EDEADLK:
    case EAGAIN:
      return kExitBusy;
    default:
      return kExitFailed;
  }
}

void report_failure(const Error& error) { report_failure(error, exit_code_for(error)); }

void report_failure(const Error& error, int exit_code) {
  fmt::print(stderr, "pinfs: {}\n", error.message());
  set_exit_code(exit_code);
}

}  // namespace pinfs::tools
