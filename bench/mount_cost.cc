#include "bench/mount_cost.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include <fmt/format.h>

#include "bench/posix_target.h"
#include "bench/stopwatch.h"
#include "fs/filesystem.h"
#include "fs/media.h"

extern char** environ;

namespace pinfs::bench {
namespace {

// Removes a file when the scope ends, whatever happened in it.
struct RemoveOnExit {
  std::string path;
  ~RemoveOnExit() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

// Runs argv with stdout and stderr on /dev/null; the wall time it took, or
// an error when it could not start or did not exit 0.
Result<double> time_command(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  Stopwatch sw;
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Error(rc, "run", argv[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Error::from_errno("wait for", argv[0]);
  }
  double elapsed = sw.elapsed_s();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Error(EIO, "run", argv[0], fmt::format("exit status {:#x}", status));
  }
  return elapsed;
}

std::uint64_t allocated_bytes(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

}  // namespace

Result<MkfsMountCost> measure_mkfs_and_mount(const std::string& dir, const std::string& prefix,
                                             std::uint64_t size_bytes, bool with_anchor) {
  MkfsMountCost cost;
  cost.pool_path = fmt::format("{}/{}.{}.pool", dir, prefix, ::getpid());
  cost.pool_dir_fs_type = file_system_type(dir);
  cost.pool_size_bytes = size_bytes;
  {
    RemoveOnExit remove_pool{cost.pool_path};
    {
      PINFS_ASSIGN_OR_RETURN(auto media,
                             fs::Media::open(cost.pool_path, {.create_size_bytes = size_bytes}));
      cost.media_kind = fs::to_string(media->kind());
      Stopwatch sw;
      PINFS_TRY(fs::FileSystem::mkfs(*media, {}));
      cost.mkfs_s = sw.elapsed_s();
    }  // unmapped: the mount below starts from a cold mapping, as a daemon does
    cost.pool_allocated_bytes = allocated_bytes(cost.pool_path);

    Stopwatch open_sw;
    PINFS_ASSIGN_OR_RETURN(auto media, fs::Media::open(cost.pool_path));
    cost.media_open_s = open_sw.elapsed_s();
    cost.before_mount = ResidentMemory::of_self();
    Stopwatch mount_sw;
    PINFS_ASSIGN_OR_RETURN(auto filesystem, fs::FileSystem::mount(std::move(media)));
    cost.mount_s = mount_sw.elapsed_s();
    cost.after_mount = ResidentMemory::of_self();
    Stopwatch unmount_sw;
    PINFS_TRY(filesystem->unmount());
    filesystem.reset();
    cost.unmount_s = unmount_sw.elapsed_s();
  }

  if (with_anchor) {
    std::string anchor_path = fmt::format("{}/{}.{}.ext4", dir, prefix, ::getpid());
    RemoveOnExit remove_anchor{anchor_path};
    int fd = ::open(anchor_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Error::from_errno("create", anchor_path);
    int rc = ::ftruncate(fd, static_cast<off_t>(size_bytes));
    ::close(fd);
    if (rc != 0) return Error::from_errno("ftruncate", anchor_path);
    cost.anchor_command = {"mkfs.ext4", "-q", "-F", anchor_path};
    auto t = time_command(cost.anchor_command);
    if (t.ok()) cost.anchor_mkfs_s = *t;
    else cost.anchor_missing_reason = t.error().message();
  } else {
    cost.anchor_missing_reason = "not asked for (--no-ext4-anchor)";
  }
  return cost;
}

Result<RemountCost> measure_remount(const std::string& image_path, const std::string& dir_name,
                                    std::uint64_t file_count) {
  RemountCost cost;
  cost.image_path = image_path;
  cost.file_count = file_count;
  {
    PINFS_ASSIGN_OR_RETURN(auto media, fs::Media::open(image_path));
    cost.before_mount = ResidentMemory::of_self();
    Stopwatch sw;
    PINFS_ASSIGN_OR_RETURN(auto filesystem, fs::FileSystem::mount(std::move(media)));
    cost.mount_after_crash_s = sw.elapsed_s();
    cost.after_mount = ResidentMemory::of_self();

    // Untimed: a fast mount that lost the files would be no result.
    PINFS_ASSIGN_OR_RETURN(fs::Attr dir, filesystem->lookup(fs::kRootInode, dir_name));
    std::uint64_t entries = 0;
    PINFS_TRY(filesystem->readdir(dir.ino, 0, [&](const fs::DirEntry& e) {
      if (e.name != "." && e.name != "..") ++entries;
      return true;
    }));
    if (entries != file_count) {
      return Error(EUCLEAN, "remount", image_path,
                   fmt::format("/{} holds {} entries after recovery, {} before the power cut",
                               dir_name, entries, file_count));
    }
    Stopwatch unmount_sw;
    PINFS_TRY(filesystem->unmount());
    filesystem.reset();
    cost.unmount_s = unmount_sw.elapsed_s();
  }
  PINFS_ASSIGN_OR_RETURN(auto media, fs::Media::open(image_path));
  Stopwatch sw;
  PINFS_ASSIGN_OR_RETURN(auto filesystem, fs::FileSystem::mount(std::move(media)));
  cost.mount_clean_s = sw.elapsed_s();
  PINFS_TRY(filesystem->unmount());
  return cost;
}

nlohmann::json MkfsMountCost::to_json() const {
  nlohmann::json j{{"pool_path", pool_path},
                   {"pool_dir_fs_type", pool_dir_fs_type},
                   {"pool_size_bytes", pool_size_bytes},
                   {"pool_allocated_after_mkfs_bytes", pool_allocated_bytes},
                   {"media_kind", media_kind},
                   {"mkfs_s", mkfs_s},
                   {"media_open_s", media_open_s},
                   {"mount_s", mount_s},
                   {"unmount_s", unmount_s},
                   {"rss_before_mount", before_mount.to_json()},
                   {"rss_after_mount", after_mount.to_json()},
                   {"rss_added_by_mount_kib",
                    static_cast<std::int64_t>(after_mount.vm_rss_kib) -
                        static_cast<std::int64_t>(before_mount.vm_rss_kib)},
                   {"anchor_command", anchor_command}};
  if (anchor_mkfs_s) {
    j["anchor_mkfs_ext4_s"] = *anchor_mkfs_s;
    j["mkfs_time_ratio_pinfs_over_ext4"] = *anchor_mkfs_s > 0 ? mkfs_s / *anchor_mkfs_s : 0.0;
  } else {
    j["anchor_missing_reason"] = anchor_missing_reason;
  }
  return j;
}

nlohmann::json RemountCost::to_json() const {
  return {{"image_path", image_path},
          {"file_count", file_count},
          {"mount_after_crash_s", mount_after_crash_s},
          {"unmount_s", unmount_s},
          {"mount_clean_s", mount_clean_s},
          {"rss_before_mount", before_mount.to_json()},
          {"rss_after_mount", after_mount.to_json()},
          {"rss_added_by_mount_kib", static_cast<std::int64_t>(after_mount.vm_rss_kib) -
                                         static_cast<std::int64_t>(before_mount.vm_rss_kib)}};
}

}  // namespace pinfs::bench
