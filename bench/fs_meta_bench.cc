// fs_meta_bench: pinfs through its C++ API (no FUSE) against tmpfs through
// the kernel, measured in the same run, interleaved round by round.
//
//   create / stat / unlink of --files files in one directory
//   write (allocating), overwrite and read of a --file-size file, sequential,
//     in 4 KiB and in 1 MiB blocks
//   mkfs, mount and unmount time and the resident memory a mount adds, on a
//     1 TiB sparse pool (anchor: mkfs.ext4 on the same size)
//   mount of a copy of the pool taken with all files present (a power cut:
//     recovery runs), then a clean mount of it
//
// Prints a table, or JSON with --json. Refuses to run from a debug build.
// Exit status: 0 reported, 1 a workload failed, 2 bad usage, 3 debug build.
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/build_check.h"
#include "bench/mount_cost.h"
#include "bench/pinfs_target.h"
#include "bench/posix_target.h"
#include "bench/report.h"
#include "bench/sparse_copy.h"
#include "bench/stopwatch.h"
#include "bench/workloads.h"
#include "fs/filesystem.h"
#include "fs/media.h"
#include "fs/units.h"

namespace {

using pinfs::Error;
using pinfs::Result;
using pinfs::Status;
namespace bench = pinfs::bench;
namespace pfs = pinfs::fs;

constexpr const char* kPrefix = "fs_meta_bench";
constexpr const char* kBenchDirName = "bench";
// Inodes beyond --files: the benchmark directory, the data files, the root.
constexpr std::uint64_t kSpareInodes = 1024;

struct Options {
  std::string pool;  // empty: a fresh file in /dev/shm, removed at the end
  // Populated whole (below), so it costs its size in RAM while the run lasts.
  std::string pool_size = "2G";
  bool overwrite = false;
  std::string anchor_dir = "/dev/shm";
  std::uint64_t file_count = 100000;
  std::string file_size = "256M";
  std::vector<std::string> block_sizes = {"4K", "1M"};
  unsigned rounds = 3;
  unsigned warmup_rounds = 1;
  // mkfs's inode count; unset: --files plus kSpareInodes, so that a small
  // pool holds the metadata workload (mkfs alone derives one per 64 KiB).
  std::optional<std::uint64_t> inode_count;
  bool cold_pool = false;
  std::string big_pool_dir = "/var/tmp";
  std::string big_pool_size = "1T";
  bool skip_big_pool = false;
  bool ext4_anchor = true;
  bool skip_remount = false;
  bool json = false;
};

// Progress goes to stderr, so that stdout holds only the report.
void progress(const std::string& what) { fmt::print(stderr, "fs_meta_bench: {}\n", what); }

struct Run {
  std::string subject_description;
  std::string anchor_description;
  std::string pool_media_kind;
  std::vector<bench::Comparison> rows;
  std::optional<bench::MkfsMountCost> mkfs_mount;
  std::optional<bench::RemountCost> remount;
  std::string remount_skipped_reason;
  double mkfs_main_pool_s = 0;
  double mount_main_pool_s = 0;
  std::uint64_t main_pool_inode_count = 0;  // what mkfs was asked for; 0 = its default
  std::optional<double> populate_s;         // unset: --cold-pool or not supported
  std::string populate_note;
};

// Removes a file we created, on every way out.
struct RemoveOnExit {
  std::string path;
  ~RemoveOnExit() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

Result<std::unique_ptr<pfs::FileSystem>> make_pool(const Options& o, std::string& pool_path,
                                                   RemoveOnExit& remove_pool, Run& run) {
  pfs::MediaOpenOptions open_options;
  pfs::MkfsOptions mkfs_options;
  mkfs_options.inode_count = o.inode_count.value_or(o.file_count + kSpareInodes);
  run.main_pool_inode_count = mkfs_options.inode_count;
  if (o.pool.empty()) {
    pool_path = fmt::format("/dev/shm/{}.{}.pool", kPrefix, ::getpid());
    PINFS_ASSIGN_OR_RETURN(open_options.create_size_bytes, pfs::parse_size(o.pool_size));
    remove_pool.path = pool_path;
  } else {
    pool_path = o.pool;
    std::error_code ec;
    if (std::filesystem::exists(pool_path, ec)) {
      if (!o.overwrite) {
        return Error(EEXIST, "format pool", pool_path,
                     "exists; pass --overwrite to let the benchmark format it");
      }
      mkfs_options.force = true;
    } else {
      PINFS_ASSIGN_OR_RETURN(open_options.create_size_bytes, pfs::parse_size(o.pool_size));
      remove_pool.path = pool_path;
    }
  }
  PINFS_ASSIGN_OR_RETURN(auto media, pfs::Media::open(pool_path, open_options));
  run.pool_media_kind = pfs::to_string(media->kind());
  bench::Stopwatch mkfs_sw;
  PINFS_TRY(pfs::FileSystem::mkfs(*media, mkfs_options));
  run.mkfs_main_pool_s = mkfs_sw.elapsed_s();
  bench::Stopwatch mount_sw;
  PINFS_ASSIGN_OR_RETURN(auto filesystem, pfs::FileSystem::mount(std::move(media)));
  run.mount_main_pool_s = mount_sw.elapsed_s();
  if (o.cold_pool) {
    run.populate_note = "not populated (--cold-pool): first touches of pool pages are timed";
  } else {
    // Maps every page of the pool into this process now, untimed. A device
    // is there to be used, but a pool file on a tmpfs allocates each page
    // on its first touch, inside a 4 KiB page fault (about 8 us on this kind
    // of virtual machine): a cost of the emulation, not of pinfs, which
    // pinfs's next-fit allocator would otherwise pay on every round as it
    // moves on to blocks it has not used yet. Populating reads nothing and
    // changes no byte.
    pfs::Media& m = filesystem->media();
    bench::Stopwatch sw;
    if (::madvise(const_cast<std::byte*>(m.data()), m.size_bytes(), MADV_POPULATE_WRITE) == 0) {
      run.populate_s = sw.elapsed_s();
    } else {
      run.populate_note = fmt::format("madvise(MADV_POPULATE_WRITE) failed: {}; pool left cold",
                                      Error::strerror_name(errno));
    }
  }
  return filesystem;
}

Status run_all(const Options& o, Run& run) {
  PINFS_ASSIGN_OR_RETURN(std::uint64_t file_bytes, pfs::parse_size(o.file_size));
  std::vector<std::uint64_t> block_bytes;
  for (const auto& b : o.block_sizes) {
    PINFS_ASSIGN_OR_RETURN(std::uint64_t v, pfs::parse_size(b));
    block_bytes.push_back(v);
  }

  // First, while this process is still small: the RSS figures then show the
  // mount, not the benchmark's own buffers.
  if (!o.skip_big_pool) {
    PINFS_ASSIGN_OR_RETURN(std::uint64_t big_bytes, pfs::parse_size(o.big_pool_size));
    progress(fmt::format("mkfs and mount of a {} sparse pool in {}",
                         pfs::format_size(big_bytes), o.big_pool_dir));
    PINFS_ASSIGN_OR_RETURN(
        run.mkfs_mount,
        bench::measure_mkfs_and_mount(o.big_pool_dir, kPrefix, big_bytes, o.ext4_anchor));
  }

  std::string pool_path;
  RemoveOnExit remove_pool;
  RemoveOnExit remove_image;
  PINFS_ASSIGN_OR_RETURN(auto filesystem, make_pool(o, pool_path, remove_pool, run));
  // The pinfs target and the tmpfs anchor live for the whole run; each
  // workload leaves its directory empty.
  PINFS_ASSIGN_OR_RETURN(auto pinfs_target,
                         bench::PinfsTarget::create(*filesystem, "pinfs", kBenchDirName));
  PINFS_ASSIGN_OR_RETURN(auto anchor_target,
                         bench::PosixTarget::create(o.anchor_dir, "tmpfs", kPrefix));
  run.subject_description = pinfs_target->describe();
  run.anchor_description = anchor_target->describe();

  // A crash image needs a pool file to copy; a device is skipped.
  std::string image_path;
  struct stat pool_st {};
  if (o.skip_remount) {
    run.remount_skipped_reason = "not asked for (--skip-remount)";
  } else if (::stat(pool_path.c_str(), &pool_st) == 0 && S_ISREG(pool_st.st_mode)) {
    image_path = pool_path + ".crash-image";
  } else {
    run.remount_skipped_reason = "the pool is not a regular file; nothing cheap to snapshot";
  }
  auto snapshot = [&]() -> Status {
    progress(fmt::format("copying the live pool with {} files to {}", o.file_count,
                         image_path));
    remove_image.path = image_path;
    return bench::copy_sparse(pool_path, image_path);
  };

  // Warm-up rounds run everything once, unreported, so that the first
  // measured round does not also pay for first use: the directory's index
  // growing to 100,000 entries, the allocator's and the kernel's caches.
  const unsigned total_rounds = o.warmup_rounds + o.rounds;
  for (unsigned round = 0; round < total_rounds; ++round) {
    const bool warmup = round < o.warmup_rounds;
    const std::string label =
        warmup ? fmt::format("warm-up {}/{}", round + 1, o.warmup_rounds)
               : fmt::format("round {}/{}", round - o.warmup_rounds + 1, o.rounds);
    auto record = [&](const std::vector<bench::Measurement>& ms, bool subject) {
      if (!warmup) bench::add_round(run.rows, ms, subject);
    };
    // Alternate who goes first, so that a drift in machine load (other
    // builds) does not always favour the same side.
    std::vector<bench::BenchTarget*> order = {anchor_target.get(), pinfs_target.get()};
    if (round % 2 == 1) std::swap(order[0], order[1]);
    for (bench::BenchTarget* t : order) {
      const bool subject = t == pinfs_target.get();
      progress(fmt::format("{}: create/stat/unlink {} files on {}", label, o.file_count,
                           t->name()));
      const bool take_image = subject && round + 1 == total_rounds && !image_path.empty();
      auto meta = bench::run_meta_workload(
          *t, o.file_count,
          take_image ? std::function<Status()>(snapshot) : std::function<Status()>());
      if (!meta.ok()) {
        Error e = std::move(meta).error();
        if (subject && e.errnum() == ENOSPC) {
          e.with_detail(fmt::format("{} files need a larger --pool-size or --inodes",
                                    o.file_count));
        }
        return e;
      }
      record(*meta, subject);
    }
    for (std::uint64_t bs : block_bytes) {
      for (bench::BenchTarget* t : order) {
        const bool subject = t == pinfs_target.get();
        progress(fmt::format("{}: {} file in {} blocks on {}", label,
                             pfs::format_size(file_bytes), pfs::format_size(bs), t->name()));
        PINFS_ASSIGN_OR_RETURN(auto data, bench::run_data_workload(*t, bs, file_bytes));
        record(data, subject);
      }
    }
  }
  pinfs_target.reset();
  anchor_target.reset();
  PINFS_TRY(filesystem->unmount());
  filesystem.reset();

  if (!image_path.empty()) {
    progress("mounting the copy taken with all files present (recovery), then clean");
    PINFS_ASSIGN_OR_RETURN(run.remount,
                           bench::measure_remount(image_path, kBenchDirName, o.file_count));
  }
  return {};
}

std::string rss_line(const bench::ResidentMemory& r) {
  return fmt::format("{} KiB (anon {}, file {}, shmem {})", bench::group_digits(r.vm_rss_kib),
                     bench::group_digits(r.rss_anon_kib), bench::group_digits(r.rss_file_kib),
                     bench::group_digits(r.rss_shmem_kib));
}

// "0.214 s", or "3.127 ms" below a second: mount times span six decades.
std::string seconds(double s) {
  return s >= 1.0 ? fmt::format("{:.3f} s", s) : fmt::format("{:.3f} ms", s * 1000.0);
}

void print_table(const Options& o, const Run& run) {
  fmt::print("fs_meta_bench: pinfs through its API against tmpfs through the kernel, same run\n");
  fmt::print("  build    buildtype={} optimization={} assertions=off\n", bench::kBuildType,
             bench::kOptimization);
  fmt::print("  pinfs    {}\n", run.subject_description);
  fmt::print("  anchor   {}\n", run.anchor_description);
  fmt::print("  rounds   {} after {} warm-up (median of each; ratios are of medians, > 1 = "
             "pinfs faster)\n",
             o.rounds, o.warmup_rounds);
  fmt::print("  pool     mkfs {} (inodes {}), mount {}, {}\n\n", seconds(run.mkfs_main_pool_s),
             bench::group_digits(static_cast<double>(run.main_pool_inode_count)),
             seconds(run.mount_main_pool_s),
             run.populate_s ? "populated in " + seconds(*run.populate_s) : run.populate_note);

  bench::TextTable t({"workload", "pinfs ops/s", "pinfs MiB/s", "tmpfs ops/s", "tmpfs MiB/s",
                      "pinfs/tmpfs"});
  for (const auto& row : run.rows) {
    const auto& s = row.subject.median();
    const auto& a = row.anchor.median();
    const bool data = s.byte_count != 0;
    std::string name = row.workload;
    if (s.op_count > 1 && !data) name += fmt::format(" ({} files)", bench::group_digits(s.op_count));
    t.add_row({name, bench::group_digits(s.ops_per_s()),
               data ? bench::group_digits(s.mib_per_s()) : "-", bench::group_digits(a.ops_per_s()),
               data ? bench::group_digits(a.mib_per_s()) : "-", bench::format_ratio(row.ratio())});
  }
  t.print(stdout);

  fmt::print("\nper-operation cost as the directory fills (time of the last tenth / first tenth;\n"
             "~1 = independent of directory size, ~2 or more = grows with it)\n");
  bench::TextTable scaling({"workload", "pinfs", "tmpfs"});
  for (const auto& row : run.rows) {
    const auto& s = row.subject.median();
    if (s.byte_count != 0 || s.op_count < 2) continue;
    scaling.add_row({row.workload, bench::format_ratio(s.last_over_first_slice()),
                     bench::format_ratio(row.anchor.median().last_over_first_slice())});
  }
  scaling.print(stdout);

  if (run.mkfs_mount) {
    const auto& m = *run.mkfs_mount;
    fmt::print("\nmkfs and mount, {} sparse pool {} ({} on {})\n",
               pfs::format_size(m.pool_size_bytes), m.pool_path, m.media_kind,
               m.pool_dir_fs_type);
    bench::TextTable mt({"figure", "pinfs", "anchor", "pinfs/anchor (time)"});
    if (m.anchor_mkfs_s) {
      mt.add_row({"mkfs", seconds(m.mkfs_s), seconds(*m.anchor_mkfs_s) + " (mkfs.ext4)",
                  bench::format_ratio(*m.anchor_mkfs_s > 0 ? m.mkfs_s / *m.anchor_mkfs_s : NAN)});
    } else {
      mt.add_row({"mkfs", seconds(m.mkfs_s), "n/a", "n/a"});
    }
    mt.add_row({"media open", seconds(m.media_open_s), "-", "-"});
    mt.add_row({"mount (recovery included)", seconds(m.mount_s), "-", "-"});
    mt.add_row({"unmount", seconds(m.unmount_s), "-", "-"});
    mt.print(stdout);
    if (!m.anchor_mkfs_s) fmt::print("  no mkfs anchor: {}\n", m.anchor_missing_reason);
    fmt::print("  pool bytes allocated by mkfs  {}\n", pfs::format_size(m.pool_allocated_bytes));
    fmt::print("  RSS before mount  {}\n", rss_line(m.before_mount));
    fmt::print("  RSS after mount   {}\n", rss_line(m.after_mount));
    fmt::print("  added by mount    {} KiB\n",
               bench::group_digits(static_cast<double>(m.after_mount.vm_rss_kib) -
                                   static_cast<double>(m.before_mount.vm_rss_kib)));
  }

  fmt::print("\nmount with {} files in one directory (a copy of the live pool: a power cut)\n",
             bench::group_digits(o.file_count));
  if (run.remount) {
    const auto& r = *run.remount;
    fmt::print("  mount after the power cut (recovery)  {}\n", seconds(r.mount_after_crash_s));
    fmt::print("  unmount                               {}\n", seconds(r.unmount_s));
    fmt::print("  mount again, clean                    {}\n", seconds(r.mount_clean_s));
    fmt::print("  RSS added by the mount                {} KiB\n",
               bench::group_digits(static_cast<double>(r.after_mount.vm_rss_kib) -
                                   static_cast<double>(r.before_mount.vm_rss_kib)));
  } else {
    fmt::print("  skipped: {}\n", run.remount_skipped_reason);
  }
}

nlohmann::json to_json(const Options& o, const Run& run) {
  nlohmann::json j;
  j["benchmark"] = "fs_meta_bench";
  j["build"] = {{"buildtype", bench::kBuildType},
                {"optimization", bench::kOptimization},
                {"assertions", bench::assertions_enabled()}};
  j["subject"] = {{"name", "pinfs"}, {"target", run.subject_description},
                  {"media_kind", run.pool_media_kind}};
  j["anchor"] = {{"name", "tmpfs"}, {"target", run.anchor_description}};
  j["config"] = {{"file_count", o.file_count}, {"round_count", o.rounds},
                 {"warmup_round_count", o.warmup_rounds},
                 {"file_size", o.file_size}, {"block_sizes", o.block_sizes}};
  j["main_pool"] = {{"mkfs_s", run.mkfs_main_pool_s},
                    {"mount_s", run.mount_main_pool_s},
                    {"inode_count", run.main_pool_inode_count},
                    {"populated", run.populate_s.has_value()}};
  if (run.populate_s) j["main_pool"]["populate_s"] = *run.populate_s;
  else j["main_pool"]["populate_note"] = run.populate_note;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : run.rows) {
    const auto& s = row.subject.median();
    nlohmann::json r{{"workload", row.workload},
                     {"op_count", s.op_count},
                     {"byte_count", s.byte_count},
                     {"pinfs", row.subject.to_json()},
                     {"tmpfs", row.anchor.to_json()}};
    double ratio = row.ratio();
    r["ratio_pinfs_over_tmpfs"] = std::isfinite(ratio) ? nlohmann::json(ratio) : nlohmann::json();
    rows.push_back(std::move(r));
  }
  j["results"] = std::move(rows);
  if (run.mkfs_mount) j["mkfs_mount"] = run.mkfs_mount->to_json();
  if (run.remount) j["remount_with_files"] = run.remount->to_json();
  else j["remount_with_files"] = {{"skipped_reason", run.remount_skipped_reason}};
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"fs_meta_bench: pinfs through its API against tmpfs through the kernel"};
  app.add_option("--pool", o.pool,
                 "pool to format and use: a file or a devdax device (default: a new file in "
                 "/dev/shm, removed afterwards)");
  app.add_option("--pool-size", o.pool_size, "size of a pool file the benchmark creates")
      ->capture_default_str();
  app.add_flag("--overwrite", o.overwrite, "format --pool even though it exists");
  app.add_option("--anchor-dir", o.anchor_dir, "where the kernel anchor runs (a tmpfs)")
      ->capture_default_str();
  app.add_option("--files", o.file_count, "files in the metadata workload")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100000000}));
  app.add_option("--file-size", o.file_size, "size of the data file")->capture_default_str();
  app.add_option("--block-size", o.block_sizes, "block sizes of the data workload (repeatable)")
      ->capture_default_str();
  app.add_option("--rounds", o.rounds, "rounds; the median is reported")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100u));
  app.add_option("--warmup-rounds", o.warmup_rounds, "unreported rounds run first")
      ->capture_default_str()
      ->check(CLI::Range(0u, 10u));
  app.add_option("--inodes", o.inode_count,
                 "inode count for mkfs (default: --files + 1024; 0: mkfs derives it from the "
                 "size)");
  app.add_flag("--cold-pool", o.cold_pool,
               "do not populate the pool's pages before the rounds (time first touches)");
  app.add_option("--big-pool-dir", o.big_pool_dir, "where the large sparse pool file goes")
      ->capture_default_str();
  app.add_option("--big-pool-size", o.big_pool_size, "size of the large sparse pool")
      ->capture_default_str();
  app.add_flag("--skip-big-pool", o.skip_big_pool, "skip mkfs/mount of the large pool");
  app.add_flag("!--no-ext4-anchor", o.ext4_anchor, "do not time mkfs.ext4 as the mkfs anchor");
  app.add_flag("--skip-remount", o.skip_remount, "skip mounting a copy of the full pool");
  app.add_flag("--json", o.json, "print JSON instead of tables");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  if (auto why = bench::debug_build_reason()) {
    fmt::print(stderr, "refusing: debug build ({})\n", *why);
    return bench::kExitRefusedDebugBuild;
  }

  Run run;
  Status st = run_all(o, run);
  if (!st.ok()) {
    fmt::print(stderr, "fs_meta_bench: {}\n", st.error().message());
    return 1;
  }
  if (o.json) fmt::print("{}\n", to_json(o, run).dump(2));
  else print_table(o, run);
  return 0;
}
