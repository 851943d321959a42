#include "bench/workloads.h"

#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <random>

#include <fmt/format.h>

#include "bench/stopwatch.h"
#include "fs/units.h"

namespace pinfs::bench {
namespace {

// Runs op(i) for i in [0, count) and times it, slice by slice. Stops at the
// first error: a benchmark that skipped failed operations would report a
// figure for work it did not do.
Result<Measurement> timed_loop(std::string workload, std::uint64_t count,
                               std::uint64_t bytes_per_op,
                               const std::function<Status(std::uint64_t)>& op) {
  Measurement m;
  m.workload = std::move(workload);
  m.op_count = count;
  m.byte_count = count * bytes_per_op;
  Stopwatch total;
  Stopwatch slice;
  std::uint64_t next_boundary_index = 1;
  auto boundary = [&](std::uint64_t k) { return count * k / kScalingSlices; };
  for (std::uint64_t i = 0; i < count; ++i) {
    if (Status st = op(i); !st.ok()) return std::move(st).error();
    if (i + 1 == boundary(next_boundary_index)) {
      // Several boundaries coincide when count < kScalingSlices.
      while (next_boundary_index <= kScalingSlices && i + 1 == boundary(next_boundary_index)) {
        m.slice_elapsed_s.push_back(slice.elapsed_s());
        slice.restart();
        ++next_boundary_index;
      }
    }
  }
  m.elapsed_s = total.elapsed_s();
  return m;
}

// Blocks carry an 8-byte stamp; nobody benchmarks sub-sector I/O anyway.
constexpr std::uint64_t kMinBlockBytes = 512;

// An aligned buffer (page-aligned, as an application doing large I/O uses).
struct AlignedBuffer {
  explicit AlignedBuffer(std::size_t bytes)
      : data(static_cast<std::byte*>(std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096))),
        size(bytes) {
    if (data == nullptr) throw std::bad_alloc();
  }
  ~AlignedBuffer() { std::free(data); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  std::span<std::byte> span() { return {data, size}; }
  std::byte* data;
  std::size_t size;
};

// The first 8 bytes of every block carry its index, so a read that returns
// the wrong block (or nothing) fails the run instead of looking fast.
void stamp(std::span<std::byte> block, std::uint64_t index) {
  std::memcpy(block.data(), &index, sizeof index);
}
Status check_stamp(std::span<const std::byte> block, std::uint64_t index,
                   const std::string& where) {
  std::uint64_t found = 0;
  std::memcpy(&found, block.data(), sizeof found);
  if (found != index) {
    return Error(EIO, "verify read", where,
                 fmt::format("block {} holds the stamp of block {}", index, found));
  }
  return {};
}

}  // namespace

Result<std::vector<Measurement>> run_meta_workload(BenchTarget& target,
                                                   std::uint64_t file_count,
                                                   const std::function<Status()>& after_stat) {
  std::vector<std::string> names;
  names.reserve(file_count);
  for (std::uint64_t i = 0; i < file_count; ++i) names.push_back(fmt::format("f{:07}", i));

  std::vector<Measurement> out;
  PINFS_ASSIGN_OR_RETURN(Measurement create,
                         timed_loop("create", file_count, 0,
                                    [&](std::uint64_t i) { return target.create_file(names[i]); }));
  out.push_back(std::move(create));
  PINFS_ASSIGN_OR_RETURN(Measurement stat,
                         timed_loop("stat", file_count, 0,
                                    [&](std::uint64_t i) { return target.stat_file(names[i]); }));
  out.push_back(std::move(stat));
  if (after_stat) PINFS_TRY(after_stat());
  PINFS_ASSIGN_OR_RETURN(Measurement unlink,
                         timed_loop("unlink", file_count, 0,
                                    [&](std::uint64_t i) { return target.unlink_file(names[i]); }));
  out.push_back(std::move(unlink));
  return out;
}

Result<std::vector<Measurement>> run_data_workload(BenchTarget& target,
                                                   std::uint64_t block_bytes,
                                                   std::uint64_t file_bytes) {
  if (block_bytes < kMinBlockBytes || file_bytes < block_bytes ||
      file_bytes % block_bytes != 0) {
    return Error(EINVAL, "data workload", target.name(),
                 fmt::format("file size {} is not a whole number of {}-byte blocks (at least {})",
                             file_bytes, block_bytes, kMinBlockBytes));
  }
  const std::string bs = fs::format_size(block_bytes);
  const std::string file_name = fmt::format("data.{}", block_bytes);
  const std::uint64_t blocks = file_bytes / block_bytes;

  AlignedBuffer wbuf(block_bytes);
  AlignedBuffer rbuf(block_bytes);
  // Incompressible, non-zero data: nobody on the path can shortcut zeros.
  std::mt19937_64 rng(42);
  for (std::size_t i = 0; i + 8 <= wbuf.size; i += 8) {
    std::uint64_t v = rng();
    std::memcpy(wbuf.data + i, &v, 8);
  }

  std::vector<Measurement> out;
  PINFS_ASSIGN_OR_RETURN(std::unique_ptr<DataFile> file, target.create_data_file(file_name));
  auto write_pass = [&](const std::string& row) -> Result<Measurement> {
    Stopwatch sw;
    PINFS_ASSIGN_OR_RETURN(Measurement m,
                           timed_loop(row, blocks, block_bytes, [&](std::uint64_t i) {
                             stamp(wbuf.span(), i);
                             return file->write_at(i * block_bytes, wbuf.span());
                           }));
    PINFS_TRY(file->sync());
    m.elapsed_s = sw.elapsed_s();  // the closing sync counts
    return m;
  };
  PINFS_ASSIGN_OR_RETURN(Measurement write, write_pass("write " + bs));
  out.push_back(std::move(write));
  PINFS_ASSIGN_OR_RETURN(Measurement overwrite, write_pass("overwrite " + bs));
  out.push_back(std::move(overwrite));
  PINFS_ASSIGN_OR_RETURN(Measurement read,
                         timed_loop("read " + bs, blocks, block_bytes, [&](std::uint64_t i) -> Status {
                           PINFS_TRY(file->read_at(i * block_bytes, rbuf.span()));
                           return check_stamp(rbuf.span(), i, file_name);
                         }));
  out.push_back(std::move(read));
  file.reset();
  PINFS_ASSIGN_OR_RETURN(Measurement unlink,
                         timed_loop(fmt::format("unlink {} file of {} blocks", fs::format_size(file_bytes), bs),
                                    1, 0,
                                    [&](std::uint64_t) { return target.unlink_file(file_name); }));
  out.push_back(std::move(unlink));
  return out;
}

}  // namespace pinfs::bench
