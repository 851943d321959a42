// WorkerPool: threads for the requests that may wait — mapping (moving a
// file into aligned extents), allocation and the administrator's BREAK are
// layout changes, and a layout change waits for lease holders to answer a
// BREAK for up to --lease-break-ms. The loop thread never waits: it hands
// such a request here and carries on serving everyone else, including the
// holder whose answer the layout change waits for.
//
// A client has at most one request on a worker at a time (the server reads
// its next request only after the reply), so kControlWorkerThreads clients
// can wait at once; more queue.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pinfs::control {

// Eight: more than the clients that map or allocate at the same moment on
// one machine, and few enough to cost nothing when idle.
inline constexpr std::size_t kControlWorkerThreads = 8;

class WorkerPool {
 public:
  explicit WorkerPool(std::size_t threads = kControlWorkerThreads);
  // Finishes the queued jobs, then joins.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void submit(std::function<void()> job);

 private:
  void run();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                   // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace pinfs::control
