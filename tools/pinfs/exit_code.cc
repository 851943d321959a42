#include "tools/pinfs/commands.h"

namespace pinfs::tools {
namespace {
int g_exit_code = kExitOk;
}
int exit_code() { return g_exit_code; }
void set_exit_code(int code) { g_exit_code = code; }
}  // namespace pinfs::tools
