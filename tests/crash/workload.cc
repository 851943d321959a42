#include "tests/crash/workload.h"

#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

namespace pinfs::crashtest {

namespace {

constexpr std::uint64_t kKiB = 1024;

bool is_regular(const FsModel& m, const std::string& p) { return m.at(p).type == S_IFREG; }
bool is_dir(const FsModel& m, const std::string& p) { return m.at(p).type == S_IFDIR; }
bool is_non_dir(const FsModel& m, const std::string& p) { return m.at(p).type != S_IFDIR; }
bool is_sub_dir(const FsModel& m, const std::string& p) {
  return p != "/" && m.at(p).type == S_IFDIR;
}
bool is_non_root(const FsModel&, const std::string& p) { return p != "/"; }
bool has_xattrs(const FsModel& m, const std::string& p) { return !m.at(p).xattrs.empty(); }
bool takes_xattrs(const FsModel& m, const std::string& p) {
  return m.at(p).type == S_IFREG || m.at(p).type == S_IFDIR;
}

const std::array<const char*, 6> kXattrNames = {
    "user.a", "user.b", "user.checksum", "user.mime_type", "user.c",
    "user.a_rather_long_attribute_name_that_needs_more_room_than_a_short_one"};

}  // namespace

// Tells the observer that a mutating call starts, and, when the scope ends
// (after the model took the result), that it ended.
class OperationScope {
 public:
  OperationScope(OperationObserver* observer, const std::string& description,
                 const InFlight& in_flight)
      : observer_(observer) {
    if (observer_ != nullptr) observer_->operation_begins(description, in_flight);
  }
  ~OperationScope() {
    if (observer_ != nullptr) observer_->operation_ends();
  }
  OperationScope(const OperationScope&) = delete;
  OperationScope& operator=(const OperationScope&) = delete;

 private:
  OperationObserver* observer_;
};

Workload::Workload(fs::FileSystem& filesystem, FsModel& model, WorkloadOptions options,
                   OperationObserver* observer)
    : fs_(filesystem),
      model_(model),
      options_(options),
      observer_(observer),
      rng_(options.seed),
      caller_{::getpid(), 0, 0} {
  auto st = fs_.statfs();
  if (st.ok()) {
    block_bytes_ = st->block_size != 0 ? st->block_size : 4096;
    aligned_unit_bytes_ = st->aligned_unit_bytes;
  }
}

std::string Workload::tally() const {
  std::string out;
  for (const auto& [kind, c] : counts_) {
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", kind, c.succeeded);
    if (c.expected_errors != 0) out += fmt::format("+{}err", c.expected_errors);
    if (c.no_space != 0) out += fmt::format("+{}nospc", c.no_space);
  }
  return out;
}

std::string Workload::new_name(const char* prefix) {
  std::string name = fmt::format("{}{}", prefix, ++names_);
  if (chance(0.04)) {
    name += '_';
    name.append(uniform(60, fs::kNameMaxBytes - name.size()), static_cast<char>('a' + names_ % 26));
  }
  return name;
}

std::vector<std::string> Workload::paths_where(
    bool (*pred)(const FsModel&, const std::string&)) const {
  std::vector<std::string> out;
  for (const auto& [path, id] : model_.paths()) {
    if (pred(model_, path)) out.push_back(path);
  }
  return out;
}

std::string Workload::random_dir() { return pick(paths_where(is_dir)); }

Bytes Workload::random_bytes(std::size_t n) {
  Bytes out(n);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t v = rng_();
    std::memcpy(out.data() + i, &v, 8);
  }
  for (; i < n; ++i) out[i] = static_cast<std::byte>(rng_());
  return out;
}

Result<fs::InodeNumber> Workload::resolve(const std::string& path) {
  fs::InodeNumber ino = fs::kRootInode;
  std::size_t pos = 1;
  while (pos < path.size()) {
    std::size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    PINFS_ASSIGN_OR_RETURN(fs::Attr a, fs_.lookup(ino, std::string_view(path).substr(pos, slash - pos)));
    ino = a.ino;
    pos = slash + 1;
  }
  return ino;
}

Status Workload::expect(const std::string& kind, const std::string& description, bool ok,
                        int errnum, const std::string& message, int expected_errno,
                        bool may_run_out_of_space, bool* no_space) {
  OperationCount& count = counts_[kind];
  if (no_space != nullptr) *no_space = false;
  if (options_.trace) {
    std::printf("op #%llu %s: %s\n", static_cast<unsigned long long>(operations_),
                description.c_str(), ok ? "ok" : message.c_str());
  }
  if (expected_errno == 0) {
    if (ok) {
      ++count.succeeded;
      return ok_status();
    }
    if (errnum == ENOSPC && may_run_out_of_space) {
      ++count.no_space;
      if (no_space != nullptr) *no_space = true;
      return ok_status();
    }
    return Error(EPROTO, description, "", "expected success, got: " + message);
  }
  if (ok) {
    return Error(EPROTO, description, "",
                 "expected " + Error::strerror_name(expected_errno) + ", got success");
  }
  if (errnum != expected_errno) {
    return Error(EPROTO, description, "",
                 "expected " + Error::strerror_name(expected_errno) + ", got: " + message);
  }
  ++count.expected_errors;
  return ok_status();
}

Status Workload::verify_live() {
  auto snap = read_tree(fs_);
  if (!snap.ok()) {
    return Error(EPROTO, "read the live tree", "", snap.error().message());
  }
  auto d = diff(model_, *snap);
  if (d.empty()) return ok_status();
  std::string all;
  for (const auto& s : d) all += "\n    " + s;
  return Error(EPROTO, "the live tree differs from the model", "", all);
}

Status Workload::step() {
  ++operations_;
  enum Kind {
    kCreate, kFifo, kMkdir, kSymlink, kLink, kWrite, kTruncate, kUnlink, kRmdir, kRename,
    kSetattr, kSetxattr, kRemovexattr, kFallocate, kMappable, kProbe, kFsync, kKinds
  };
  std::array<double, kKinds> w{};
  w[kCreate] = 9; w[kFifo] = 1; w[kMkdir] = 4; w[kSymlink] = 3; w[kLink] = 3;
  w[kWrite] = 22; w[kTruncate] = 6; w[kUnlink] = 5; w[kRmdir] = 3; w[kRename] = 9;
  w[kSetattr] = 3; w[kSetxattr] = 5; w[kRemovexattr] = 2; w[kFallocate] = 11;
  w[kMappable] = 3; w[kProbe] = 3; w[kFsync] = 1;
  if (model_.paths().size() >= options_.max_paths) {
    w[kCreate] = w[kFifo] = w[kMkdir] = w[kSymlink] = w[kLink] = 0;
    w[kUnlink] *= 3;
    w[kRmdir] *= 3;
  }
  if (model_.total_data_bytes() >= options_.max_total_bytes) {
    w[kWrite] = 4;
    w[kTruncate] *= 3;
    w[kUnlink] *= 2;
  }
  std::discrete_distribution<int> choose(w.begin(), w.end());
  Status status;
  switch (choose(rng_)) {
    case kCreate: status = create_node(S_IFREG); break;
    case kFifo: status = create_node(S_IFIFO); break;
    case kMkdir: status = create_node(S_IFDIR); break;
    case kSymlink: status = make_symlink(); break;
    case kLink: status = make_link(); break;
    case kWrite: status = write_file(); break;
    case kTruncate: status = truncate_file(); break;
    case kUnlink: status = remove_node(); break;
    case kRmdir: status = remove_dir(); break;
    case kRename: status = rename_node(); break;
    case kSetattr: status = change_attributes(); break;
    case kSetxattr: status = set_xattr(); break;
    case kRemovexattr: status = remove_xattr(); break;
    case kFallocate: status = fallocate_file(); break;
    case kMappable: status = make_mappable(); break;
    case kProbe: status = probe_expected_error(); break;
    default: status = sync_file(); break;
  }
  PINFS_TRY(status);
  if (options_.verify_live_tree) PINFS_TRY(verify_live());
  return ok_status();
}

bool Workload::may_have_aligned_units(ModelId id) const {
  return may_have_aligned_units_.contains(id) || model_.node(id).xattrs.contains(kLayoutXattr);
}

void Workload::note_allocation(ModelId id, std::uint64_t end_bytes) {
  // pinfs gives a file aligned units for what it stores past its first unit.
  if (end_bytes > aligned_unit_bytes_) may_have_aligned_units_.insert(id);
}

Status Workload::create_node(std::uint32_t type) {
  if (model_.paths().size() >= options_.max_paths) return remove_node();
  static constexpr std::array<std::uint32_t, 4> kFilePerms = {0644, 0600, 0640, 0755};
  static constexpr std::array<std::uint32_t, 4> kDirPerms = {0755, 0700, 0750, 0775};
  std::uint32_t perm = type == S_IFDIR ? pick(kDirPerms) : pick(kFilePerms);
  std::string dir = random_dir();
  std::string name = new_name(type == S_IFDIR ? "d" : type == S_IFIFO ? "p" : "f");
  std::string path = FsModel::join(dir, name);
  const char* kind = type == S_IFDIR ? "mkdir" : type == S_IFIFO ? "mkfifo" : "create";
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber parent, resolve(dir));
  std::string description = fmt::format("{} '{}' {:04o}", kind, path, perm);
  OperationScope op(observer_, description, {});
  auto r = type == S_IFDIR ? fs_.mkdir(parent, name, perm, caller_)
                           : fs_.mknod(parent, name, type | perm, 0, caller_);
  bool no_space = false;
  PINFS_TRY(expect(kind, description, r, 0, true, &no_space));
  if (no_space) return ok_status();
  if (r->mode != (type | perm)) {
    return Error(EPROTO, description, "",
                 fmt::format("returned mode {:o}, expected {:o}", r->mode, type | perm));
  }
  ModelNode node;
  node.type = type;
  node.perm = perm;
  node.uid = caller_.uid;
  node.gid = caller_.gid;
  model_.create(path, std::move(node));
  return ok_status();
}

Status Workload::make_symlink() {
  if (model_.paths().size() >= options_.max_paths) return remove_node();
  std::uint64_t length = chance(0.7) ? uniform(1, 60)
                         : chance(0.85) ? uniform(61, 1000)
                                        : uniform(1001, fs::kSymlinkMaxBytes);
  std::string target;
  while (target.size() < length) target += fmt::format("../t{}/", rng_() % 1000);
  target.resize(length);
  std::string dir = random_dir();
  std::string name = new_name("s");
  std::string path = FsModel::join(dir, name);
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber parent, resolve(dir));
  std::string description = fmt::format("symlink '{}' -> {} bytes", path, target.size());
  OperationScope op(observer_, description, {});
  auto r = fs_.symlink(parent, name, target, caller_);
  bool no_space = false;
  PINFS_TRY(expect("symlink", description, r, 0, true, &no_space));
  if (no_space) return ok_status();
  ModelNode node;
  node.type = S_IFLNK;
  node.perm = 0777;
  node.target = target;
  node.uid = caller_.uid;
  node.gid = caller_.gid;
  model_.create(path, std::move(node));
  return ok_status();
}

Status Workload::make_link() {
  auto sources = paths_where(is_non_dir);
  if (sources.empty() || model_.paths().size() >= options_.max_paths) return create_node(S_IFREG);
  std::string from = pick(sources);
  std::string dir = random_dir();
  std::string name = new_name("l");
  std::string path = FsModel::join(dir, name);
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber ino, resolve(from));
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber parent, resolve(dir));
  std::string description = fmt::format("link '{}' -> '{}'", path, from);
  OperationScope op(observer_, description, {});
  auto r = fs_.link(ino, parent, name, caller_);
  bool no_space = false;
  PINFS_TRY(expect("link", description, r, 0, true, &no_space));
  if (no_space) return ok_status();
  std::uint32_t want = model_.nlink(model_.id_of(from)) + 1;
  if (r->nlink != want) {
    return Error(EPROTO, description, "",
                 fmt::format("returned nlink {}, expected {}", r->nlink, want));
  }
  model_.link(from, path);
  return ok_status();
}

Status Workload::write_file() {
  auto files = paths_where(is_regular);
  if (files.empty()) return create_node(S_IFREG);
  std::string path = pick(files);
  ModelId id = model_.id_of(path);
  std::uint64_t size = model_.node(id).data->size();
  const std::uint64_t max = options_.max_file_bytes;
  bool full = model_.total_data_bytes() >= options_.max_total_bytes;

  std::uint64_t length = 0;
  double size_roll = std::uniform_real_distribution<double>(0, 1)(rng_);
  if (size_roll < 0.3) {
    length = uniform(1, 64);
  } else if (size_roll < 0.6) {
    length = uniform(65, 4 * kKiB);
  } else if (size_roll < 0.92) {
    length = uniform(1, 8) * block_bytes_ - (chance(0.5) ? 0 : uniform(1, 100));
  } else {
    length = uniform(64 * kKiB, 192 * kKiB);
  }
  std::uint64_t offset = 0;
  double where = std::uniform_real_distribution<double>(0, 1)(rng_);
  if (full || where < 0.4) {
    offset = uniform(0, size);  // overwrite, maybe past the end
  } else if (where < 0.65) {
    offset = size;  // append
  } else if (where < 0.8) {
    offset = size + uniform(1, 64 * kKiB);  // leaves a hole
  } else {
    offset = uniform(0, (size + 16 * kKiB) / block_bytes_) * block_bytes_;  // aligned
  }
  if (full) length = std::min(length, size > offset ? size - offset : 1);
  if (offset >= max) offset = uniform(0, max - 1);
  length = std::clamp<std::uint64_t>(length, 1, max - offset);

  Bytes bytes = random_bytes(length);
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber ino, resolve(path));
  std::string description =
      fmt::format("write '{}' [{}, +{}) (size {})", path, offset, length, size);
  InFlight flight{true, id, offset, offset + length};
  OperationScope op(observer_, description, flight);
  auto r = fs_.write(ino, offset, bytes, caller_);
  bool no_space = false;
  PINFS_TRY(expect("write", description, r, 0, true, &no_space));
  if (no_space) return ok_status();
  if (*r > length) {
    return Error(EPROTO, description, "", fmt::format("returned {} bytes", *r));
  }
  if (*r < length) {
    ++counts_["write"].no_space;  // a short write: the file system ran out of room
    bytes.resize(*r);
  }
  model_.write(id, offset, bytes);
  note_allocation(id, offset + bytes.size());
  last_written_ = std::move(bytes);
  return ok_status();
}

Status Workload::truncate_file() {
  auto files = paths_where(is_regular);
  if (files.empty()) return create_node(S_IFREG);
  std::string path = pick(files);
  ModelId id = model_.id_of(path);
  std::uint64_t size = model_.node(id).data->size();
  std::uint64_t to = 0;
  double roll = std::uniform_real_distribution<double>(0, 1)(rng_);
  bool full = model_.total_data_bytes() >= options_.max_total_bytes;
  if (full || roll < 0.45) {
    to = uniform(0, size);
  } else if (roll < 0.8) {
    to = size + uniform(1, 128 * kKiB);
  } else {
    to = uniform(0, (size + 64 * kKiB) / block_bytes_) * block_bytes_ + uniform(0, 2) - 1;
    if (to > size + 64 * kKiB) to = 0;
  }
  to = std::min(to, options_.max_file_bytes);
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber ino, resolve(path));
  std::string description = fmt::format("truncate '{}' {} -> {}", path, size, to);
  fs::SetAttr change;
  change.size = to;
  OperationScope op(observer_, description, {});
  auto r = fs_.setattr(ino, change, caller_);
  bool no_space = false;
  PINFS_TRY(expect(to < size ? "truncate-down" : "truncate-up", description, r, 0, true,
                   &no_space));
  if (no_space) return ok_status();
  if (r->size != to) {
    return Error(EPROTO, description, "", fmt::format("returned size {}", r->size));
  }
  model_.resize(id, to);
  return ok_status();
}

Status Workload::remove_node() {
  auto victims = paths_where(is_non_dir);
  if (victims.empty()) return create_node(S_IFREG);
  std::string path = pick(victims);
  if (model_.at(path).type == S_IFREG && chance(0.15)) {
    return unlink_open_file();
  }
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber parent, resolve(FsModel::parent_of(path)));
  std::string description = fmt::format("unlink '{}'", path);
  OperationScope op(observer_, description, {});
  auto r = fs_.unlink(parent, FsModel::name_of(path), caller_);
  PINFS_TRY(expect("unlink", description, r, 0, false));
  model_.remove(path);
  return ok_status();
}

// An unlinked file that is still open: its data must live until the release
// and then go, also when the power fails in between (recovery frees it).
Status Workload::unlink_open_file() {
  auto files = paths_where(is_regular);
  if (files.empty()) return create_node(S_IFREG);
  std::string path = pick(files);
  ModelId id = model_.id_of(path);
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber ino, resolve(path));
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber parent, resolve(FsModel::parent_of(path)));
  {
    std::string description = fmt::format("acquire '{}' (inode {})", path, ino);
    OperationScope op(observer_, description, {});
    PINFS_TRY(expect("acquire", description, fs_.acquire(ino), 0, false));
  }
  {
    std::string description = fmt::format("unlink open '{}'", path);
    OperationScope op(observer_, description, {});
    auto r = fs_.unlink(parent, FsModel::name_of(path), caller_);
    PINFS_TRY(expect("unlink-open", description, r, 0, false));
    model_.remove(path);
  }
  {
    bool still_linked = model_.nodes().contains(id);
    std::uint64_t size = still_linked ? model_.node(id).data->size() : 0;
    std::uint64_t offset = uniform(0, std::min<std::uint64_t>(size, 64 * kKiB));
    Bytes bytes = random_bytes(uniform(1, 3 * block_bytes_));
    std::string description =
        fmt::format("write unlinked inode {} [{}, +{})", ino, offset, bytes.size());
    InFlight flight;
    if (still_linked) flight = {true, id, offset, offset + bytes.size()};
    OperationScope op(observer_, description, flight);
    auto r = fs_.write(ino, offset, bytes, caller_);
    bool no_space = false;
    PINFS_TRY(expect("write-unlinked", description, r, 0, true, &no_space));
    if (!no_space && still_linked) {
      bytes.resize(*r);
      model_.write(id, offset, bytes);
      note_allocation(id, offset + bytes.size());
    }
  }
  {
    std::string description = fmt::format("release inode {}", ino);
    OperationScope op(observer_, description, {});
    fs_.release(ino);
    ++counts_["release"].succeeded;
  }
  return ok_status();
}

Status Workload::remove_dir() {
  auto dirs = paths_where(is_sub_dir);
  if (dirs.empty()) return create_node(S_IFDIR);
  std::vector<std::string> empty, full;
  for (const auto& d : dirs) (model_.children(d).empty() ? empty : full).push_back(d);
  bool want_empty = !empty.empty() && (full.empty() || chance(0.9));
  std::string path = want_empty ? pick(empty) : pick(full);
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber parent, resolve(FsModel::parent_of(path)));
  std::string description = fmt::format("rmdir '{}'", path);
  OperationScope op(observer_, description, {});
  auto r = fs_.rmdir(parent, FsModel::name_of(path), caller_);
  PINFS_TRY(expect("rmdir", description, r, want_empty ? 0 : ENOTEMPTY, false));
  if (want_empty) model_.remove(path);
  return ok_status();
}

Status Workload::rename_node() {
  auto sources = paths_where(is_non_root);
  if (sources.empty()) return create_node(S_IFREG);
  std::string from, to;
  unsigned flags = 0;
  const char* kind = "rename";
  double roll = std::uniform_real_distribution<double>(0, 1)(rng_);
  auto unrelated = [](const std::string& a, const std::string& b) {
    return a != b && !FsModel::is_ancestor(a, b) && !FsModel::is_ancestor(b, a);
  };
  if (roll < 0.4) {
    from = pick(sources);
    std::vector<std::string> dirs;
    for (const auto& d : paths_where(is_dir)) {
      if (d != from && !FsModel::is_ancestor(from, d)) dirs.push_back(d);
    }
    to = FsModel::join(pick(dirs), new_name("r"));
    flags = chance(0.5) ? RENAME_NOREPLACE : 0;
  } else if (roll < 0.62) {
    auto files = paths_where(is_non_dir);
    if (files.size() < 2) return create_node(S_IFREG);
    from = pick(files);
    do {
      to = pick(files);
    } while (to == from);
    kind = "rename-over";
  } else if (roll < 0.72) {
    std::vector<std::pair<std::string, std::string>> pairs;
    auto dirs = paths_where(is_sub_dir);
    for (const auto& a : dirs) {
      for (const auto& b : dirs) {
        if (unrelated(a, b) && model_.children(b).empty()) pairs.emplace_back(a, b);
      }
    }
    if (pairs.empty()) return create_node(S_IFDIR);
    std::tie(from, to) = pick(pairs);
    kind = "rename-dir-over";
  } else if (roll < 0.97) {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (std::size_t tries = 0; tries < 20 && pairs.empty(); ++tries) {
      std::string a = pick(sources), b = pick(sources);
      if (unrelated(a, b)) pairs.emplace_back(a, b);
    }
    if (pairs.empty()) return create_node(S_IFREG);
    std::tie(from, to) = pairs.front();
    flags = RENAME_EXCHANGE;
    kind = "exchange";
  } else {
    from = to = pick(sources);
    kind = "rename-to-itself";
  }
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber from_parent, resolve(FsModel::parent_of(from)));
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber to_parent, resolve(FsModel::parent_of(to)));
  std::string description = fmt::format("{} '{}' -> '{}'", kind, from, to);
  OperationScope op(observer_, description, {});
  auto r = fs_.rename(from_parent, FsModel::name_of(from), to_parent, FsModel::name_of(to), flags,
                      caller_);
  bool no_space = false;
  PINFS_TRY(expect(kind, description, r, 0, true, &no_space));
  if (no_space) return ok_status();
  if (from != to) model_.rename(from, to, flags == RENAME_EXCHANGE);
  return ok_status();
}

Status Workload::change_attributes() {
  std::vector<std::string> targets;
  for (const auto& [path, id] : model_.paths()) {
    if (model_.node(id).type != S_IFLNK) targets.push_back(path);
  }
  std::string path = pick(targets);
  ModelNode& node = model_.at(path);
  static constexpr std::array<std::uint32_t, 6> kPerms = {0600, 0644, 0640, 0700, 0755, 0751};
  static constexpr std::array<std::uint32_t, 3> kIds = {0, 1000, 1001};
  fs::SetAttr change;
  double roll = std::uniform_real_distribution<double>(0, 1)(rng_);
  if (roll < 0.5) {
    change.mode = pick(kPerms);
  } else if (roll < 0.8) {
    change.uid = pick(kIds);
    change.gid = pick(kIds);
  } else {
    change.mtime = fs::Timespec{static_cast<std::int64_t>(uniform(0, 2'000'000'000)),
                                static_cast<std::uint32_t>(uniform(0, 999'999'999))};
    change.atime_now = true;
  }
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber ino, resolve(path));
  std::string description = fmt::format("setattr '{}'{}{}{}", path,
                                        change.mode ? fmt::format(" mode {:04o}", *change.mode) : "",
                                        change.uid ? fmt::format(" owner {}:{}", *change.uid, *change.gid) : "",
                                        change.mtime ? " times" : "");
  OperationScope op(observer_, description, {});
  auto r = fs_.setattr(ino, change, caller_);
  PINFS_TRY(expect("setattr", description, r, 0, false));
  std::uint32_t perm = change.mode.value_or(node.perm);
  std::uint32_t uid = change.uid.value_or(node.uid);
  std::uint32_t gid = change.gid.value_or(node.gid);
  if ((r->mode & 07777) != perm || r->uid != uid || r->gid != gid) {
    return Error(EPROTO, description, "",
                 fmt::format("returned mode {:04o} owner {}:{}", r->mode & 07777, r->uid, r->gid));
  }
  if (change.mtime && r->mtime != *change.mtime) {
    return Error(EPROTO, description, "", "returned a different mtime");
  }
  node.perm = perm;
  node.uid = uid;
  node.gid = gid;
  return ok_status();
}

Status Workload::set_xattr() {
  std::string path = pick(paths_where(takes_xattrs));
  ModelNode& node = model_.at(path);
  std::string name = pick(kXattrNames);
  std::size_t length = chance(0.6) ? uniform(0, 64)
                       : chance(0.75) ? uniform(65, 1024)
                       : chance(0.9)  ? uniform(1025, 16 * kKiB)
                                      : uniform(16 * kKiB, fs::kXattrValueMaxBytes);
  Bytes value = random_bytes(length);
  // The aligned policy, set or cleared through its xattr.
  const bool policy = chance(0.12);
  if (policy) {
    name = kLayoutXattr;
    value = layout_value(chance(0.6) ? "aligned" : "small");
    length = value.size();
  }
  bool exists = node.xattrs.contains(name);
  int flags = chance(0.5) ? 0 : exists ? XATTR_REPLACE : XATTR_CREATE;
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber ino, resolve(path));
  std::string description =
      fmt::format("setxattr '{}' {} {} bytes flags {}", path, name, length, flags);
  OperationScope op(observer_, description, {});
  auto r = fs_.setxattr(ino, name, value, flags, caller_);
  bool no_space = false;
  bool clears = policy && value == layout_value("small");
  // "small" with XATTR_REPLACE needs the policy set, like any replace.
  PINFS_TRY(expect(policy ? "set-layout-policy" : "setxattr", description, r, 0, true, &no_space));
  if (no_space) return ok_status();
  if (clears) {
    node.xattrs.erase(name);
  } else {
    node.xattrs[name] = std::move(value);
  }
  return ok_status();
}

Status Workload::remove_xattr() {
  auto candidates = paths_where(has_xattrs);
  if (candidates.empty()) return set_xattr();
  std::string path = pick(candidates);
  ModelNode& node = model_.at(path);
  std::vector<std::string> names;
  for (const auto& [name, value] : node.xattrs) names.push_back(name);
  std::string name = pick(names);
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber ino, resolve(path));
  std::string description = fmt::format("removexattr '{}' {}", path, name);
  OperationScope op(observer_, description, {});
  auto r = fs_.removexattr(ino, name, caller_);
  PINFS_TRY(expect("removexattr", description, r, 0, false));
  node.xattrs.erase(name);
  return ok_status();
}

Status Workload::fallocate_file() {
  auto files = paths_where(is_regular);
  if (files.empty()) return create_node(S_IFREG);
  std::string path = pick(files);
  ModelId id = model_.id_of(path);
  const std::uint64_t size = model_.node(id).data->size();
  const std::uint64_t max = options_.max_file_bytes;
  // Collapse and insert move whole aligned units in a file that has any
  // (EINVAL otherwise); a unit is also a multiple of the block.
  const std::uint64_t block = may_have_aligned_units(id) ? aligned_unit_bytes_ : block_bytes_;
  bool full = model_.total_data_bytes() >= options_.max_total_bytes;
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber ino, resolve(path));

  int mode = 0;
  std::uint64_t offset = 0, length = 0;
  const char* kind = nullptr;
  InFlight flight;
  double roll = std::uniform_real_distribution<double>(0, 1)(rng_);
  std::uint64_t last_full_block = size == 0 ? 0 : (size - 1) / block;  // blocks before the last byte
  if (roll < 0.15 && !full) {
    kind = "falloc-allocate";
    offset = uniform(0, size + 64 * kKiB);
    length = uniform(1, 128 * kKiB);
  } else if (roll < 0.27 && !full) {
    kind = "falloc-keep-size";
    mode = FALLOC_FL_KEEP_SIZE;
    offset = uniform(size / 2, size + 128 * kKiB);
    length = uniform(1, 128 * kKiB);
  } else if (roll < 0.5 || (full && roll < 0.6)) {
    kind = "punch-hole";
    mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    offset = chance(0.5) ? uniform(0, size) : uniform(0, size / block) * block;
    length = chance(0.5) ? uniform(1, size - std::min(offset, size) + 16 * kKiB)
                         : uniform(1, 16) * block;
  } else if (roll < 0.68) {
    kind = "zero-range";
    mode = FALLOC_FL_ZERO_RANGE | (full || chance(0.5) ? FALLOC_FL_KEEP_SIZE : 0);
    offset = uniform(0, size);
    length = uniform(1, 64 * kKiB);
  } else if (roll < 0.84 && last_full_block >= 1) {
    kind = "collapse-range";
    mode = FALLOC_FL_COLLAPSE_RANGE;
    std::uint64_t blocks = uniform(1, std::max<std::uint64_t>(1, last_full_block / 2));
    offset = uniform(0, last_full_block - blocks) * block;
    length = blocks * block;
  } else if (size > 0 && size + block <= max) {
    kind = "insert-range";
    mode = FALLOC_FL_INSERT_RANGE;
    offset = uniform(0, last_full_block) * block;
    length = uniform(1, std::min<std::uint64_t>(16, (max - size) / block)) * block;
  } else if (size + block > max && size > 0) {
    return truncate_file();
  } else {
    return write_file();
  }
  if (!(mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE))) {
    if (offset >= max) offset = uniform(0, max - 1);
    length = std::clamp<std::uint64_t>(length, 1, max - offset);
  }
  if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
    flight = {true, id, offset, offset + length};
  }
  std::string description =
      fmt::format("{} '{}' [{}, +{}) (size {})", kind, path, offset, length, size);
  OperationScope op(observer_, description, flight);
  auto r = fs_.fallocate(ino, mode, offset, length, caller_);
  bool no_space = false;
  PINFS_TRY(expect(kind, description, r, 0, true, &no_space));
  if (no_space) return ok_status();
  bool keep_size = (mode & FALLOC_FL_KEEP_SIZE) != 0;
  if (!(mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE))) {
    note_allocation(id, (mode & FALLOC_FL_INSERT_RANGE) ? size + length : offset + length);
  }
  if (mode & FALLOC_FL_COLLAPSE_RANGE) {
    model_.collapse(id, offset, length);
  } else if (mode & FALLOC_FL_INSERT_RANGE) {
    model_.insert(id, offset, length);
  } else {
    if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) model_.zero(id, offset, length);
    if (!keep_size && offset + length > size) model_.resize(id, offset + length);
  }
  return ok_status();
}

Status Workload::make_mappable() {
  auto files = paths_where(is_regular);
  if (files.empty()) return create_node(S_IFREG);
  std::string path = pick(files);
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber ino, resolve(path));
  std::string description = fmt::format("make_mappable '{}' (size {})", path,
                                        model_.at(path).data->size());
  {
    OperationScope op(observer_, description, {});
    auto r = fs_.make_mappable(ino, caller_);
    bool no_space = false;
    PINFS_TRY(expect("make-mappable", description, r, 0, true, &no_space));
    if (no_space) return ok_status();
    model_.at(path).xattrs[kLayoutXattr] = layout_value("aligned");
    note_allocation(model_.id_of(path), UINT64_MAX);
  }
  // What a client maps must start on the aligned unit, in the file and on
  // the media (DESIGN.md §3).
  PINFS_ASSIGN_OR_RETURN(std::vector<fs::Extent> extents, fs_.extents(ino, 0, fs::kToEnd));
  for (const auto& e : extents) {
    if (aligned_unit_bytes_ != 0 &&
        (e.media_offset % aligned_unit_bytes_ != 0 || e.file_offset % aligned_unit_bytes_ != 0)) {
      return Error(EPROTO, description, "",
                   fmt::format("extent file [{}, +{}) at media {} is not aligned to {}",
                               e.file_offset, e.length, e.media_offset, aligned_unit_bytes_));
    }
  }
  return ok_status();
}

Status Workload::probe_expected_error() {
  auto non_root = paths_where(is_non_root);
  std::string existing = non_root.empty() ? std::string("/") : pick(non_root);
  auto run_probe = [&](const std::string& kind, const std::string& description, int expected,
                       auto call) -> Status {
    OperationScope op(observer_, description, {});
    auto r = call();
    return expect(kind, description, r, expected, false);
  };
  int which = static_cast<int>(uniform(0, 8));
  if (existing == "/") which = 5;
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber parent, resolve(FsModel::parent_of(existing)));
  std::string name = FsModel::name_of(existing);
  switch (which) {
    case 0:
      return run_probe("probe-create-existing", fmt::format("create existing '{}'", existing),
                       EEXIST, [&] { return fs_.mknod(parent, name, S_IFREG | 0644, 0, caller_); });
    case 1:
      return run_probe("probe-mkdir-existing", fmt::format("mkdir existing '{}'", existing),
                       EEXIST, [&] { return fs_.mkdir(parent, name, 0755, caller_); });
    case 2: {
      std::vector<std::string> full;
      for (const auto& d : paths_where(is_sub_dir)) {
        if (!model_.children(d).empty()) full.push_back(d);
      }
      if (full.empty()) break;
      std::string d = pick(full);
      PINFS_ASSIGN_OR_RETURN(fs::InodeNumber p, resolve(FsModel::parent_of(d)));
      auto n = FsModel::name_of(d);
      PINFS_TRY(run_probe("probe-rmdir-non-empty", fmt::format("rmdir non-empty '{}'", d),
                          ENOTEMPTY, [&] { return fs_.rmdir(p, n, caller_); }));
      // And a rename of that directory into itself.
      PINFS_ASSIGN_OR_RETURN(fs::InodeNumber self, resolve(d));
      return run_probe("probe-rename-into-itself",
                       fmt::format("rename '{}' into its own subtree", d), EINVAL,
                       [&] { return fs_.rename(p, n, self, "inside", 0, caller_); });
    }
    case 3: {
      std::string other = pick(non_root);
      if (other == existing || FsModel::is_ancestor(existing, other) ||
          FsModel::is_ancestor(other, existing)) {
        break;
      }
      PINFS_ASSIGN_OR_RETURN(fs::InodeNumber p, resolve(FsModel::parent_of(other)));
      auto n = FsModel::name_of(other);
      return run_probe("probe-noreplace",
                       fmt::format("rename noreplace '{}' -> '{}'", existing, other), EEXIST,
                       [&] { return fs_.rename(parent, name, p, n, RENAME_NOREPLACE, caller_); });
    }
    case 4: {
      PINFS_ASSIGN_OR_RETURN(fs::InodeNumber ino, resolve(existing));
      return run_probe("probe-removexattr-missing",
                       fmt::format("removexattr missing on '{}'", existing), ENODATA,
                       [&] { return fs_.removexattr(ino, "user.never-set", caller_); });
    }
    case 5:
      return run_probe("probe-unlink-missing", "unlink missing '/no-such-name'", ENOENT,
                       [&] { return fs_.unlink(fs::kRootInode, "no-such-name", caller_); });
    case 6: {
      auto dirs = paths_where(is_sub_dir);
      if (dirs.empty()) break;
      std::string d = pick(dirs);
      PINFS_ASSIGN_OR_RETURN(fs::InodeNumber ino, resolve(d));
      return run_probe("probe-link-dir", fmt::format("link directory '{}'", d), EPERM,
                       [&] { return fs_.link(ino, fs::kRootInode, "dirlink", caller_); });
    }
    case 7: {
      if (model_.at(existing).type == S_IFDIR) break;
      return run_probe("probe-rmdir-file", fmt::format("rmdir file '{}'", existing), ENOTDIR,
                       [&] { return fs_.rmdir(parent, name, caller_); });
    }
    default: {
      if (!takes_xattrs(model_, existing)) break;
      PINFS_ASSIGN_OR_RETURN(fs::InodeNumber ino, resolve(existing));
      Bytes value = random_bytes(8);
      return run_probe("probe-xattr-replace-missing",
                       fmt::format("setxattr replace missing on '{}'", existing), ENODATA,
                       [&] {
                         return fs_.setxattr(ino, "user.never-set", value, XATTR_REPLACE, caller_);
                       });
    }
  }
  return run_probe("probe-unlink-missing", "unlink missing '/no-such-name'", ENOENT,
                   [&] { return fs_.unlink(fs::kRootInode, "no-such-name", caller_); });
}

Status Workload::sync_file() {
  auto files = paths_where(is_regular);
  if (files.empty()) return create_node(S_IFREG);
  std::string path = pick(files);
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber ino, resolve(path));
  std::string description = fmt::format("fsync '{}'", path);
  OperationScope op(observer_, description, {});
  return expect("fsync", description, fs_.fsync(ino), 0, false);
}

}  // namespace pinfs::crashtest
