// ControlServer: pinfsd's control plane (DESIGN.md §3, docs/protocol.md).
// Serves the control socket on one loop thread driven by io_uring: accepts,
// receives, sends, watches each client's process through a pidfd, and
// wakes for lease events and worker replies through a mailbox eventfd.
//
// It is a thin adapter (request_handlers.h) over the lease manager, which
// the file system already consults through fs::LayoutHooks: layout changes
// made through the FUSE mount break the leases that clients took here.
//
// When a client goes (its socket closes, or its pidfd reports that its
// process exited), its leases are dropped at once and its pins orphaned.
// Orphaned pins end — and the extents they kept in quarantine return to the
// free pool (FileSystem::release_quarantined, through the manager's
// on_quarantine_released) — only once the process has exited AND the
// kernel no longer lists the registrations reported on them
// (kernel_reclaim_probes.h). The server runs the manager's reclaim when a
// pidfd fires and then every kReclaimIntervalMs while orphans wait; and at
// start() when pins restored from the media after a daemon restart wait
// for their recorded owners (media_pin_recorder.h, invariant 3).
//
// Lifecycle: create() binds the socket (before the FUSE mount, while the
// process is single-threaded, so a daemonizing fork keeps it); start()
// starts the loop thread (after daemonizing: threads do not survive a
// fork); stop() closes every connection and joins. Thread-safe: start and
// stop from the main thread; everything else happens on the loop thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <unordered_map>

#include "fs/filesystem.h"
#include "lease/lease_manager.h"
#include "pinfs/error.h"
#include "tools/control/client_session.h"
#include "tools/control/kernel_reclaim_probes.h"
#include "tools/control/loop_mailbox.h"
#include "tools/control/request_handlers.h"
#include "tools/control/uring_loop.h"
#include "tools/control/worker_pool.h"

namespace pinfs::control {

// Connections served at once; more are accepted and closed at once, with a
// log line. 1024: far above the clients of one machine.
inline constexpr std::size_t kMaxClients = 1024;
// How often orphaned pins are checked again while some wait for their
// process or registrations to go: 500 ms.
inline constexpr std::chrono::milliseconds kReclaimInterval{500};

class ControlServer {
 public:
  [[nodiscard]] static Result<std::unique_ptr<ControlServer>> create(
      fs::FileSystem& fs, lease::LeaseManager& manager, ControlServerOptions options);
  ~ControlServer();  // stop()
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  [[nodiscard]] Status start();
  void stop();

 private:
  ControlServer(fs::FileSystem& fs, lease::LeaseManager& manager, ControlServerOptions options);

  void run();  // the loop thread
  void arm_accept();
  void on_accept(int result);
  void arm_receive(const std::shared_ptr<ClientSession>& session);
  void on_receive(const std::shared_ptr<ClientSession>& session, int result);
  void serve_frames(const std::shared_ptr<ClientSession>& session);
  void on_hello(const std::shared_ptr<ClientSession>& session, const protocol::Frame& frame);
  void dispatch(const std::shared_ptr<ClientSession>& session, const protocol::Frame& frame);
  void finish_deferred(pin::ClientId client, Reply reply);
  void queue_send(const std::shared_ptr<ClientSession>& session, Reply reply);
  void send_next(const std::shared_ptr<ClientSession>& session);
  void deliver_event(pin::ClientId client, std::vector<std::byte> bytes);
  void close_session(const std::shared_ptr<ClientSession>& session, const std::string& reason,
                     bool misbehaved);

  // Process watches: one pidfd per client whose process may still hold
  // pins or registrations.
  void watch_process(pin::ClientId client, int pidfd);
  void on_process_exit(pin::ClientId client);
  void end_watch_if_done(pin::ClientId client);
  void reclaim();
  void arm_mailbox();
  DaemonFacts facts() const;

  fs::FileSystem& fs_;
  lease::LeaseManager& manager_;
  const ControlServerOptions options_;
  int listen_fd_ = -1;
  std::unique_ptr<UringLoop> loop_;
  std::shared_ptr<LoopMailbox> mailbox_;
  KernelReclaimProbes probes_;
  RequestHandlers handlers_;
  std::unique_ptr<WorkerPool> workers_;
  std::thread thread_;
  bool started_ = false;

  // Loop thread only.
  struct ProcessWatch {
    int pidfd = -1;
    UringLoop::Token poll = 0;
    bool exited = false;
  };
  std::unordered_map<pin::ClientId, std::shared_ptr<ClientSession>> sessions_;
  std::unordered_map<pin::ClientId, ProcessWatch> watches_;
  pin::ClientId next_client_id_ = 1;
  bool stopping_ = false;
  bool reclaim_armed_ = false;
  bool logged_pidfd_only_ = false;
  std::atomic<std::size_t> session_count_{0};
};

}  // namespace pinfs::control
