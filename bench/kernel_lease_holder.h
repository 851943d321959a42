// The kernel's own lease break, the anchor of lease_break_bench: a child
// process opens a tmpfs file read-only and takes a read lease on it
// (fcntl F_SETLEASE F_RDLCK), with F_SETSIG SIGIO and a SIGIO handler that
// gives the lease up (F_UNLCK) at once, in the handler. Another process's
// open(O_TRUNC) then blocks in the kernel's break_lease() until the
// handler's F_UNLCK: the kernel's cooperative round trip, with nothing
// between the two processes but a signal. (Without the F_UNLCK the opener
// would wait /proc/sys/fs/lease-break-time, 45 s by default.)
//
// Same rounds and reports as the pinfs holder (holder_channel.h); on kNext
// it takes the lease again, which needs the file open for writing nowhere.
#pragma once

#include <string>

#include "bench/holder_channel.h"

namespace pinfs::bench {

// The child's whole life; its exit status (0: quit when told).
int run_kernel_lease_holder(const std::string& file_path, const HolderEnd& channel);

}  // namespace pinfs::bench
