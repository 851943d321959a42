// FaultInjectingReclaimProbes: a ReclaimProbes whose answers the test sets,
// standing in for pidfd and the rdma netlink resource table. It exists to
// inject the faults those give in real life — a process that outlives its
// socket, a registration that outlives its process (a child holding the
// uverbs file), a netlink query that fails — deterministically.
//
// By default every process is alive and every registration is listed: the
// conservative answers, under which nothing may be reclaimed.
#pragma once

#include <cerrno>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "pin/reclaim_probes.h"

namespace pinfs::pin::testing {

class FaultInjectingReclaimProbes final : public ReclaimProbes {
 public:
  void set_process_gone(pid_t pid, bool gone) {
    std::lock_guard lock(mu_);
    if (gone) {
      gone_pids_.insert(pid);
    } else {
      gone_pids_.erase(pid);
    }
  }
  // Registrations are named by device and rkey, as the kernel table names them.
  void set_registration_alive(const std::string& device, std::uint32_t rkey, bool alive) {
    std::lock_guard lock(mu_);
    if (alive) {
      dead_registrations_.erase({device, rkey});
    } else {
      dead_registrations_.insert({device, rkey});
    }
  }
  // Every query of that kind fails with errnum until cleared with 0.
  void fail_process_queries(int errnum) {
    std::lock_guard lock(mu_);
    process_query_error_ = errnum;
  }
  void fail_registration_queries(int errnum) {
    std::lock_guard lock(mu_);
    registration_query_error_ = errnum;
  }
  int process_queries() const {
    std::lock_guard lock(mu_);
    return process_queries_;
  }
  int registration_queries() const {
    std::lock_guard lock(mu_);
    return registration_queries_;
  }

  Result<bool> process_gone(const ClientIdentity& client) override {
    std::lock_guard lock(mu_);
    ++process_queries_;
    if (process_query_error_ != 0) {
      return Error(process_query_error_, "poll pidfd", "pid " + std::to_string(client.pid),
                   "injected fault");
    }
    return gone_pids_.count(client.pid) != 0;
  }
  Result<bool> registration_alive(const ClientIdentity&, const Registration& registration) override {
    std::lock_guard lock(mu_);
    ++registration_queries_;
    if (registration_query_error_ != 0) {
      return Error(registration_query_error_, "read rdma resource table",
                   "'" + registration.device_name + "'", "injected fault");
    }
    return dead_registrations_.count({registration.device_name, registration.rkey}) == 0;
  }

 private:
  mutable std::mutex mu_;
  std::set<pid_t> gone_pids_;
  std::set<std::pair<std::string, std::uint32_t>> dead_registrations_;
  int process_query_error_ = 0;
  int registration_query_error_ = 0;
  int process_queries_ = 0;
  int registration_queries_ = 0;
};

}  // namespace pinfs::pin::testing
