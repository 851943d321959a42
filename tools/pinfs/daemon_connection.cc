#include "tools/pinfs/daemon_connection.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "tools/pinfs/commands.h"

namespace pinfs::tools {
namespace {

// Ends the process if the handshake has not finished by the deadline. The
// handshake blocks in recvmsg(2) inside the client library; only another
// thread can notice that it takes too long.
class HelloWatchdog {
 public:
  explicit HelloWatchdog(std::string socket_path)
      : socket_path_(std::move(socket_path)), thread_([this] { watch(); }) {}
  ~HelloWatchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  HelloWatchdog(const HelloWatchdog&) = delete;
  HelloWatchdog& operator=(const HelloWatchdog&) = delete;

 private:
  void watch() {
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, kHelloTimeout, [this] { return done_; })) return;
    report_failure(Error(ETIMEDOUT, "connect", socket_path_,
                         fmt::format("no answer to HELLO within {} s: is this pinfsd's control socket?",
                                     kHelloTimeout.count())));
    std::fflush(stderr);
    std::_Exit(exit_code());
  }

  const std::string socket_path_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;  // last: started once the fields above exist
};

}  // namespace

void add_socket_option(CLI::App* command, std::string& socket_path) {
  socket_path = kDefaultSocketPath;
  command->add_option("--socket", socket_path, "pinfsd's control socket")->capture_default_str();
}

Result<Client> connect_to_daemon(const std::string& socket_path) {
  struct stat st {};
  if (::stat(socket_path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) {
    // connect(2) answers ECONNREFUSED for a regular file, which would read
    // as "pinfsd is not running".
    return Error(ENOTSOCK, "connect", socket_path,
                 "not a socket: give pinfsd's --socket (default " + std::string(kDefaultSocketPath) + ")");
  }
  Result<Client> client = [&] {
    HelloWatchdog watchdog(socket_path);
    return Client::connect(socket_path);
  }();
  if (client.ok()) return client;
  const Error& e = client.error();
  if (e.op() == "connect" && e.object() == socket_path) return client;
  // The socket accepted the connection, but what answered (or hung up) did
  // not speak the protocol, or no version in common.
  return Error(e.errnum(), "connect", socket_path,
               fmt::format("the handshake failed, is this pinfsd's control socket? ({})", e.message()));
}

std::string absolute_path(const std::string& path) {
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  if (ec) return path;
  std::string out = absolute.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace pinfs::tools
