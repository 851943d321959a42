// BenchTarget: the place a workload runs — a directory through the kernel's
// system calls (posix_target.h) or a directory of a pinfs file system through
// its C++ API (pinfs_target.h). The workloads (workloads.h) see only this
// interface, so the anchor and pinfs run exactly the same sequence of
// operations.
//
// Names are plain entry names inside the target's one benchmark directory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "pinfs/error.h"

namespace pinfs::bench {

// One open data file. Reads and writes are whole: a short transfer is an
// error, so the workloads count bytes that really moved.
class DataFile {
 public:
  virtual ~DataFile() = default;
  virtual Status write_at(std::uint64_t offset, std::span<const std::byte> data) = 0;
  virtual Status read_at(std::uint64_t offset, std::span<std::byte> out) = 0;
  // What an application calls before it counts its writes as durable.
  virtual Status sync() = 0;
};

class BenchTarget {
 public:
  virtual ~BenchTarget() = default;
  // "tmpfs", "pinfs", ...: the column name in tables and the key in JSON.
  virtual const std::string& name() const = 0;
  // A one-line description: path, file system, media kind.
  virtual std::string describe() const = 0;

  // Creates an empty regular file (O_CREAT|O_EXCL; mknod through the API).
  virtual Status create_file(const std::string& name) = 0;
  // Looks the name up and reads its attributes (fstatat; lookup through the API).
  virtual Status stat_file(const std::string& name) = 0;
  virtual Status unlink_file(const std::string& name) = 0;

  // Creates an empty file and opens it for reading and writing.
  virtual Result<std::unique_ptr<DataFile>> create_data_file(const std::string& name) = 0;
};

}  // namespace pinfs::bench
