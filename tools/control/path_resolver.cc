#include "tools/control/path_resolver.h"

#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include <fmt/format.h>

#include "tools/control/file_access.h"

namespace pinfs::control {
namespace {

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    std::string part = path.substr(start, slash - start);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(std::move(part));
    }
    start = slash + 1;
  }
  return parts;
}

}  // namespace

Result<ResolvedFile> resolve_path(fs::FileSystem& fs, const std::string& mountpoint,
                                  const std::string& path, const PeerCredentials& peer,
                                  const std::string& op) {
  std::string relative = path;
  if (!path.empty() && path.front() == '/') {
    const bool under = path == mountpoint ||
                       (path.size() > mountpoint.size() && path.compare(0, mountpoint.size(), mountpoint) == 0 &&
                        (mountpoint == "/" || path[mountpoint.size()] == '/'));
    if (!under) {
      return Error(EXDEV, op, path,
                   "not under pinfsd's mount point " + mountpoint +
                       "; give a path under it, or one relative to the file system's root");
    }
    relative = path.substr(mountpoint.size());
  }
  const std::vector<std::string> parts = split(relative);
  PINFS_ASSIGN_OR_RETURN(fs::Attr attr, fs.getattr(fs::kRootInode));
  std::string walked;
  for (const std::string& part : parts) {
    if (!S_ISDIR(attr.mode)) {
      return Error(ENOTDIR, op, path,
                   fmt::format("'{}' is not a directory", walked.empty() ? "/" : walked));
    }
    PINFS_TRY(check_access(attr, peer, X_OK, op, path));
    auto child = fs.lookup(attr.ino, part);
    if (!child.ok()) {
      return Error(child.error().errnum(), op, path,
                   child.error().errnum() == ENOENT ? "no '" + part + "' in '" + (walked.empty() ? "/" : walked) + "'"
                                                    : child.error().message());
    }
    walked += "/" + part;
    if (S_ISLNK(child->mode)) {
      return Error(ELOOP, op, path, "'" + walked + "' is a symbolic link; pinfsd does not follow them");
    }
    attr = *child;
  }
  return ResolvedFile{attr, walked};
}

}  // namespace pinfs::control
