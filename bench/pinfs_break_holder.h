// The cooperative pinfs lease holder of lease_break_bench, run in a child
// process: it connects with the client library, opens the file, takes a
// read layout lease with a break callback and pins [0, pin_bytes). When a
// layout change sends BREAK, the callback releases the pin, then the lease
// (docs/client.md's teardown order, without a registration to withdraw),
// and the holder reports the times (holder_channel.h). On kNext it takes
// the lease and the pin again for the next round.
#pragma once

#include <cstdint>
#include <string>

#include "bench/holder_channel.h"

namespace pinfs::bench {

// The child's whole life; its exit status (0: quit when told).
int run_pinfs_break_holder(const std::string& socket_path, const std::string& file_path,
                           std::uint64_t pin_bytes, const HolderEnd& channel);

}  // namespace pinfs::bench
