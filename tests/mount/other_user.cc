#include "tests/mount/other_user.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace pinfs::mount_test {

int run_as(uid_t uid, gid_t gid, const std::function<int()>& op) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    close(fds[0]);
    int result = -1;
    if (setgroups(0, nullptr) == 0 && setresgid(gid, gid, gid) == 0 &&
        setresuid(uid, uid, uid) == 0) {
      result = op();
    }
    (void)!write(fds[1], &result, sizeof result);
    _exit(0);
  }
  close(fds[1]);
  int result = -1;
  ssize_t n;
  do {
    n = read(fds[0], &result, sizeof result);
  } while (n < 0 && errno == EINTR);
  if (n != sizeof result) result = -1;
  close(fds[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  return result;
}

}  // namespace pinfs::mount_test
