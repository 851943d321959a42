// Runs a piece of a test as another user, in a forked child that drops to
// that uid and gid (setgroups, setresgid, setresuid) before the operation:
// what the kernel's default_permissions checks (and pinfs records as owner)
// is then exactly what it would be for a real unprivileged process.
#pragma once

#include <sys/types.h>

#include <functional>

namespace pinfs::mount_test {

// The conventional unprivileged identity.
inline constexpr uid_t kNobodyUid = 65534;
inline constexpr gid_t kNobodyGid = 65534;

// Runs `op` as uid/gid with no supplementary groups and returns what it
// returned (by convention 0 for success or an errno; see errno_of()).
// Returns -1 if the child could not be made or could not drop privileges,
// which no errno-returning op can return.
int run_as(uid_t uid, gid_t gid, const std::function<int()>& op);

inline int as_nobody(const std::function<int()>& op) { return run_as(kNobodyUid, kNobodyGid, op); }

}  // namespace pinfs::mount_test
