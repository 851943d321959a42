// Ctrl-C, SIGTERM and SIGHUP during lease_break_bench: the handler only
// sets a flag; the measuring loops look at it between operations and stop
// with ECANCELED, so the normal way out unmounts, stops pinfsd and removes
// the temporary directories (pinfsd runs in its own process group and never
// sees the terminal's signal itself).
#pragma once

#include <signal.h>

namespace pinfs::bench {

inline volatile sig_atomic_t g_interrupted = 0;

inline bool interrupted() { return g_interrupted != 0; }

inline void install_interruption_handlers() {
  struct sigaction action {};
  action.sa_handler = [](int) { g_interrupted = 1; };
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signal, &action, nullptr);
}

}  // namespace pinfs::bench
