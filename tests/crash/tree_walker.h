// walk_everything: touches everything reachable in a mounted pinfs that may
// be damaged — readdir of every directory, lookup, getattr, read of every
// file, readlink, xattrs, extents, statfs — and tolerates errors.
//
// The corrupter test and the image fuzzer use it to drive the code that
// parses a damaged image. Every bound (entries, depth, bytes) is explicit, so
// a directory cycle or an absurd size in a corrupt image cannot make the
// walk itself run away. Errors are counted and checked for being "clear":
// a non-zero errno and a message that names the operation.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "fs/filesystem.h"
#include "pinfs/error.h"

namespace pinfs::crashtest {

struct WalkLimits {
  std::size_t max_entries = 20'000;
  std::size_t max_depth = 64;
  std::size_t max_readdir_calls_per_dir = 4'096;
  std::uint64_t max_read_bytes_per_file = 1 << 20;
  std::uint64_t max_read_bytes_total = 16 << 20;
};

struct WalkCounts {
  std::uint64_t entries = 0;
  std::uint64_t directories = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t calls = 0;
  // errno -> how many calls failed with it.
  std::map<int, std::uint64_t> errors;
  // The first error that was not clear (errnum 0 or an empty message).
  std::string unclear_error;
  // The first EUCLEAN or EIO: damage found by using the file system.
  std::string first_damage;
};

// Is this a clear error: a positive errno, and a message with an operation?
bool is_clear(const Error& error);

WalkCounts walk_everything(fs::FileSystem& filesystem, const WalkLimits& limits = {});

}  // namespace pinfs::crashtest
