// example_pin_rdma: registers a file of a pinfs mount for RDMA and survives
// lease breaks (docs/client.md walks through it).
//
//   example_pin_rdma [--socket PATH] [--length BYTES] [--breaks N]
//                    [--timeout-s S] [--no-rdma] FILE
//
// It maps FILE, takes a read lease, pins the allocated runs of the first
// --length bytes (default: the whole file), registers each on the first RDMA
// device (ibv_reg_mr) and reports the registrations. When a layout change breaks
// the lease, the callback tears down in the required order — deregister,
// unpin, release — and the main loop maps the file again (its layout has
// changed), re-takes the lease and re-pins. It exits 0 once registered
// again after --breaks breaks (default 1; 0: once registered), 1 on an
// error, a timeout or when the daemon goes away,
// 2 on bad arguments or without an RDMA device (unless --no-rdma, which does
// everything but the registration).
#include <infiniband/verbs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pinfs/client.h"

namespace {

using namespace std::chrono_literals;

struct Options {
  std::string socket = pinfs::kDefaultSocketPath;
  std::string file;
  std::uint64_t length = 0;  // 0: the whole file
  int breaks = 1;
  int timeout_s = 60;
  bool rdma = true;
};

// The first RDMA device, opened, with a protection domain.
struct RdmaDevice {
  ibv_context* context = nullptr;
  ibv_pd* pd = nullptr;
  std::string name;
  ~RdmaDevice() {
    if (pd != nullptr) ibv_dealloc_pd(pd);
    if (context != nullptr) ibv_close_device(context);
  }
};

bool open_first_device(RdmaDevice& device) {
  int count = 0;
  ibv_device** list = ibv_get_device_list(&count);
  if (list == nullptr || count == 0) {
    if (list != nullptr) ibv_free_device_list(list);
    std::fprintf(stderr, "example_pin_rdma: no RDMA device (run with --no-rdma to exercise leases only)\n");
    return false;
  }
  device.name = ibv_get_device_name(list[0]);
  device.context = ibv_open_device(list[0]);
  ibv_free_device_list(list);
  if (device.context == nullptr) {
    std::fprintf(stderr, "example_pin_rdma: open %s: %s\n", device.name.c_str(), std::strerror(errno));
    return false;
  }
  device.pd = ibv_alloc_pd(device.context);
  if (device.pd == nullptr) {
    std::fprintf(stderr, "example_pin_rdma: allocate PD on %s: %s\n", device.name.c_str(), std::strerror(errno));
    return false;
  }
  return true;
}

// One allocated run of the file: its pin and the memory region over it.
// (A hole cannot be pinned, and an MR cannot span the PROT_NONE of a hole:
// a file with holes takes one piece per run.)
struct Piece {
  std::optional<pinfs::Pin> pin;
  ibv_mr* mr = nullptr;
};

// Everything held while registered, torn down in dependency order.
struct Session {
  pinfs::Mapping mapping;
  std::optional<pinfs::Lease> lease;
  std::vector<Piece> pieces;
  std::string device;

  // Deregister, unpin, release the lease, unmap: the order DESIGN.md §4 and
  // the house style require. Reports every failure and goes on.
  void tear_down() {
    for (Piece& piece : pieces) {
      if (piece.mr == nullptr) continue;
      const std::uint32_t rkey = piece.mr->rkey;
      if (int rc = ibv_dereg_mr(piece.mr); rc != 0) {
        std::fprintf(stderr, "example_pin_rdma: deregister: %s\n", std::strerror(rc));
      }
      piece.mr = nullptr;
      if (piece.pin) (void)piece.pin->withdraw_registration(device, rkey);
    }
    for (Piece& piece : pieces) {
      if (!piece.pin) continue;
      if (auto st = piece.pin->release(); !st.ok()) {
        std::fprintf(stderr, "example_pin_rdma: %s\n", st.error().message().c_str());
      }
    }
    pieces.clear();
    if (lease) {
      if (auto st = lease->release(); !st.ok()) {
        std::fprintf(stderr, "example_pin_rdma: %s\n", st.error().message().c_str());
      }
      lease.reset();
    }
    (void)mapping.unmap();
  }
};

// The file's allocated runs inside [0, limit): contiguous in the file (the
// media behind one run may be several extents).
std::vector<pinfs::FileRange> allocated_runs(const pinfs::Mapping& mapping, std::uint64_t limit) {
  std::vector<pinfs::FileRange> runs;
  for (const pinfs::Extent& e : mapping.extents()) {
    const std::uint64_t begin = e.file_offset;
    const std::uint64_t end = std::min(e.file_offset + e.length, limit);
    if (begin >= end) continue;
    if (!runs.empty() && runs.back().offset + runs.back().length == begin) {
      runs.back().length = end - runs.back().offset;
    } else {
      runs.push_back({begin, end - begin});
    }
  }
  return runs;
}

// Maps, leases, pins and registers. EAGAIN (a layout change still running)
// is retried by the caller.
pinfs::Status set_up(pinfs::File& file, const Options& o, RdmaDevice* device, Session& session,
                     pinfs::LeaseCallback on_event) {
  // Map first: mapping may move the file's data into aligned extents, a
  // layout change that would break our own read lease.
  PINFS_ASSIGN_OR_RETURN(session.mapping, file.map());
  PINFS_ASSIGN_OR_RETURN(pinfs::Lease lease, file.lease(pinfs::LeaseKind::read, {}, std::move(on_event)));
  session.lease.emplace(std::move(lease));
  const std::uint64_t limit =
      o.length != 0 ? std::min(o.length, session.mapping.file_size()) : session.mapping.file_size();
  const std::vector<pinfs::FileRange> runs = allocated_runs(session.mapping, limit);
  if (runs.empty()) std::printf("nothing allocated in [0, %llu) to pin\n", static_cast<unsigned long long>(limit));
  for (const pinfs::FileRange& run : runs) {
    Piece& piece = session.pieces.emplace_back();
    PINFS_ASSIGN_OR_RETURN(pinfs::Pin pin, session.lease->pin(run));
    piece.pin.emplace(std::move(pin));
    // The layout may have changed between map() and the lease: then the
    // mapping shows the old extents, and registering it would pin the
    // wrong blocks. The pin's extents are the truth under the lease.
    if (!session.mapping.matches(piece.pin->extents())) {
      return pinfs::Error(EAGAIN, "pin", file.path(), "the layout changed after mapping; mapping again");
    }
    std::printf("pinned [%llu, %llu) of %s as pin %llu (%zu extents)\n",
                static_cast<unsigned long long>(run.offset),
                static_cast<unsigned long long>(run.offset + run.length), file.path().c_str(),
                static_cast<unsigned long long>(piece.pin->id()), piece.pin->extents().size());
    if (device == nullptr) continue;
    const int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
    void* address = session.mapping.data() + run.offset;
    piece.mr = ibv_reg_mr(device->pd, address, run.length, access);
    if (piece.mr == nullptr) {
      return pinfs::Error::from_errno("register", file.path(), "ibv_reg_mr on " + device->name);
    }
    session.device = device->name;
    pinfs::Registration registration{device->name, piece.mr->lkey, piece.mr->rkey,
                                     reinterpret_cast<std::uintptr_t>(address), run.length, access};
    PINFS_TRY(piece.pin->report_registration(registration));
    std::printf("registered on %s: lkey %#x rkey %#x, %llu bytes\n", device->name.c_str(),
                piece.mr->lkey, piece.mr->rkey, static_cast<unsigned long long>(run.length));
  }
  return pinfs::ok_status();
}

int usage() {
  std::fprintf(stderr,
               "usage: example_pin_rdma [--socket PATH] [--length BYTES] [--breaks N] "
               "[--timeout-s S] [--no-rdma] FILE\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--socket") {
      const char* v = value();
      if (v == nullptr) return usage();
      o.socket = v;
    } else if (arg == "--length") {
      const char* v = value();
      if (v == nullptr) return usage();
      o.length = std::strtoull(v, nullptr, 0);
    } else if (arg == "--breaks") {
      const char* v = value();
      if (v == nullptr) return usage();
      o.breaks = std::atoi(v);
    } else if (arg == "--timeout-s") {
      const char* v = value();
      if (v == nullptr) return usage();
      o.timeout_s = std::atoi(v);
    } else if (arg == "--no-rdma") {
      o.rdma = false;
    } else if (!arg.empty() && arg[0] != '-' && o.file.empty()) {
      o.file = arg;
    } else {
      return usage();
    }
  }
  if (o.file.empty()) return usage();
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines, for tests and people

  RdmaDevice device;
  if (o.rdma && !open_first_device(device)) return 2;
  auto client = pinfs::Client::connect(o.socket);
  if (!client.ok()) {
    std::fprintf(stderr, "example_pin_rdma: %s\n", client.error().message().c_str());
    return 1;
  }
  auto file = client->open(o.file);
  if (!file.ok()) {
    std::fprintf(stderr, "example_pin_rdma: %s\n", file.error().message().c_str());
    return 1;
  }

  Session session;
  int survived = 0;
  bool lost = false;
  // Runs inside process_events(): tearing down here, the lease included, is
  // allowed and is what the daemon waits for.
  pinfs::LeaseCallback on_event = [&](const pinfs::LeaseEvent& event) {
    std::printf("event: %s of lease %llu (%s by pid %d)\n", pinfs::to_string(event.kind),
                static_cast<unsigned long long>(event.lease_id), event.change.c_str(),
                static_cast<int>(event.requester_pid));
    if (event.kind == pinfs::LeaseEventKind::break_requested ||
        event.kind == pinfs::LeaseEventKind::revoked) {
      session.tear_down();
      ++survived;
    } else if (event.kind == pinfs::LeaseEventKind::connection_lost) {
      session.tear_down();
      lost = true;
    }
  };

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.timeout_s);
  while (std::chrono::steady_clock::now() < deadline && !lost) {
    if (!session.lease) {
      auto st = set_up(*file, o, o.rdma ? &device : nullptr, session, on_event);
      if (!st.ok()) {
        session.tear_down();
        if (st.error().errnum() != EAGAIN) {
          std::fprintf(stderr, "example_pin_rdma: %s\n", st.error().message().c_str());
          return 1;
        }
        std::this_thread::sleep_for(50ms);  // a layout change is still running
        continue;
      }
      if (survived > 0) std::printf("re-pinned after %d break(s)\n", survived);
      std::printf("ready\n");
      if (survived >= o.breaks) break;
    }
    auto events = client->wait_for_events(200ms);
    if (!events.ok() && !lost) {
      std::fprintf(stderr, "example_pin_rdma: %s\n", events.error().message().c_str());
      return 1;
    }
  }
  session.tear_down();
  if (lost) {
    std::fprintf(stderr, "example_pin_rdma: the daemon closed the connection\n");
    return 1;
  }
  std::printf("survived %d lease break(s)\n", survived);
  return survived >= o.breaks ? 0 : 1;
}
